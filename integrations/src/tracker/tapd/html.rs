//! TAPD keeps descriptions and comments as HTML: stripped to text for the agent's prompt, and
//! built from baton's markdown comments as escaped paragraphs (TAPD shows comment text as
//! HTML, so markdown's own syntax stays literal).

/// Tags that start a new line; closing a paragraph-like one ends a paragraph.
const LINE_TAGS: &[&str] = &["br", "li", "tr"];
const PARAGRAPH_TAGS: &[&str] = &[
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "table",
];
/// Their content is not text a person wrote.
const SKIPPED_TAGS: &[&str] = &["script", "style"];

/// The text of an HTML fragment: tags dropped, entities decoded, paragraphs separated by a
/// blank line.
pub(super) fn to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    let mut skipping: Option<&str> = None;
    while let Some(open) = rest.find('<') {
        if skipping.is_none() {
            text.push_str(&decode_entities(&rest[..open]));
        }
        let Some(close) = rest[open..].find('>') else {
            // A lone `<` is text.
            if skipping.is_none() {
                text.push_str(&decode_entities(&rest[open..]));
            }
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let closing = tag.starts_with('/');
        let name = tag
            .trim_start_matches('/')
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Some(skipped) = skipping {
            if closing && name == skipped {
                skipping = None;
            }
            continue;
        }
        if let Some(skipped) = SKIPPED_TAGS.iter().find(|t| **t == name) {
            if !closing {
                skipping = Some(skipped);
            }
        } else if !closing && LINE_TAGS.contains(&name.as_str()) {
            text.push('\n');
        } else if closing && PARAGRAPH_TAGS.contains(&name.as_str()) {
            text.push_str("\n\n");
        }
    }
    if skipping.is_none() {
        text.push_str(&decode_entities(rest));
    }
    tidy(&text)
}

/// Trims each line and keeps at most one blank line between paragraphs.
fn tidy(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        let blank_before = lines.last().is_some_and(|l| l.is_empty());
        if line.is_empty() && (lines.is_empty() || blank_before) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

fn decode_entities(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let entity = rest
            .find(';')
            .filter(|end| *end <= 10)
            .and_then(|end| Some((decode_entity(&rest[1..end])?, end)));
        match entity {
            Some((c, end)) => {
                decoded.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// HTML from markdown text: blank lines separate `<p>` paragraphs, single newlines become
/// `<br/>`, and everything is escaped.
pub(super) fn from_markdown(markdown: &str) -> String {
    fn flush(paragraph: &mut Vec<String>, html: &mut String) {
        if !paragraph.is_empty() {
            html.push_str("<p>");
            html.push_str(&paragraph.join("<br/>"));
            html.push_str("</p>");
            paragraph.clear();
        }
    }
    let mut html = String::new();
    let mut paragraph: Vec<String> = Vec::new();
    for line in markdown.lines() {
        if line.trim().is_empty() {
            flush(&mut paragraph, &mut html);
        } else {
            paragraph.push(escape(line));
        }
    }
    flush(&mut paragraph, &mut html);
    html
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_paragraphs_of_text() {
        let html = "<div><p>Body of <b>it</b>.</p><p>Steps:<br/>1 &amp; 2 &lt;3&gt; &#x4e2d;</p>\
                    <script>alert(1)</script><ul><li>a</li><li>b</li></ul></div>";
        assert_eq!(to_text(html), "Body of it.\n\nSteps:\n1 & 2 <3> 中\n\na\nb");
        assert_eq!(
            to_text("plain a < b &unknown; c"),
            "plain a < b &unknown; c"
        );
        assert_eq!(to_text(""), "");
    }

    #[test]
    fn markdown_becomes_escaped_paragraphs() {
        let html = from_markdown("baton: <run> & done\nline two\n\n\nnext");
        assert_eq!(
            html,
            "<p>baton: &lt;run&gt; &amp; done<br/>line two</p><p>next</p>"
        );
        assert_eq!(to_text(&html), "baton: <run> & done\nline two\n\nnext");
    }
}
