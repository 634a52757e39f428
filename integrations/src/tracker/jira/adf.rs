//! Atlassian Document Format, the rich-text JSON Jira Cloud's v3 API uses for descriptions and
//! comments: flattened to plain text for the agent's prompt, and built from baton's markdown
//! comments (paragraphs, line breaks and fenced code blocks; other markdown stays literal text,
//! which Jira shows as written).

use serde_json::{json, Value};

/// Inline nodes; everything else is a block whose children are laid out on their own lines.
const INLINE: &[&str] = &[
    "text",
    "hardBreak",
    "mention",
    "emoji",
    "inlineCard",
    "status",
    "date",
];

/// The text of a document: top-level blocks separated by a blank line. A JSON string (what an
/// older API version sends) is taken as it is; `null` is empty.
pub(super) fn to_text(document: &Value) -> String {
    match document {
        Value::String(text) => text.clone(),
        Value::Object(_) => children(document)
            .iter()
            .map(|block| node_text(block).trim_end().to_owned())
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n"),
        _ => String::new(),
    }
}

fn children(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn attr<'a>(node: &'a Value, name: &str) -> &'a str {
    node.get("attrs")
        .and_then(|attrs| attrs.get(name))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn node_text(node: &Value) -> String {
    let kind = node.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "text" => node
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        "hardBreak" => "\n".to_owned(),
        "mention" | "status" => attr(node, "text").to_owned(),
        "emoji" => match attr(node, "text") {
            "" => attr(node, "shortName").to_owned(),
            text => text.to_owned(),
        },
        "inlineCard" => attr(node, "url").to_owned(),
        "bulletList" => list_text(node, |_| "- ".to_owned()),
        "orderedList" => list_text(node, |n| format!("{}. ", n + 1)),
        _ => {
            let parts = children(node);
            let inline = parts.iter().all(|child| {
                child
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| INLINE.contains(&t))
            });
            let texts = parts.iter().map(node_text);
            if inline {
                texts.collect()
            } else {
                texts.collect::<Vec<_>>().join("\n")
            }
        }
    }
}

fn list_text(list: &Value, marker: impl Fn(usize) -> String) -> String {
    children(list)
        .iter()
        .enumerate()
        .map(|(n, item)| format!("{}{}", marker(n), node_text(item)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A document from markdown text: blank lines separate paragraphs, single newlines become
/// hard breaks, and ``` fences become code blocks. ADF forbids empty text nodes, so blank
/// lines never produce one.
pub(super) fn from_markdown(markdown: &str) -> Value {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut code: Option<(String, Vec<&str>)> = None;
    for line in markdown.lines() {
        if let Some((language, lines)) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                blocks.push(code_block(language, lines));
                code = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        if let Some(fence) = line.trim_start().strip_prefix("```") {
            blocks.extend(paragraph_block(&paragraph));
            paragraph.clear();
            code = Some((fence.trim().to_owned(), Vec::new()));
        } else if line.trim().is_empty() {
            blocks.extend(paragraph_block(&paragraph));
            paragraph.clear();
        } else {
            paragraph.push(line);
        }
    }
    // An unclosed fence still shows its lines as code.
    if let Some((language, lines)) = code {
        blocks.push(code_block(&language, &lines));
    }
    blocks.extend(paragraph_block(&paragraph));
    json!({ "type": "doc", "version": 1, "content": blocks })
}

fn paragraph_block(lines: &[&str]) -> Option<Value> {
    if lines.is_empty() {
        return None;
    }
    let mut content = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if n > 0 {
            content.push(json!({ "type": "hardBreak" }));
        }
        content.push(json!({ "type": "text", "text": line }));
    }
    Some(json!({ "type": "paragraph", "content": content }))
}

fn code_block(language: &str, lines: &[&str]) -> Value {
    let text = lines.join("\n");
    let content = if text.is_empty() {
        Vec::new()
    } else {
        vec![json!({ "type": "text", "text": text })]
    };
    let mut block = json!({ "type": "codeBlock", "content": content });
    if !language.is_empty() {
        block["attrs"] = json!({ "language": language });
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_flatten_to_paragraphs_separated_by_blank_lines() {
        let document = json!({
            "type": "doc", "version": 1,
            "content": [
                {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
                {"type": "paragraph", "content": [
                    {"type": "text", "text": "Open "},
                    {"type": "text", "text": "checkout", "marks": [{"type": "strong"}]},
                    {"type": "hardBreak"},
                    {"type": "mention", "attrs": {"id": "5b10", "text": "@Mia"}}
                ]},
                {"type": "bulletList", "content": [
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Safari"}]}]},
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Firefox"}]}]}
                ]},
                {"type": "paragraph", "content": []}
            ]
        });
        assert_eq!(
            to_text(&document),
            "Steps\n\nOpen checkout\n@Mia\n\n- Safari\n- Firefox"
        );
        assert_eq!(to_text(&Value::Null), "");
    }

    #[test]
    fn markdown_becomes_paragraphs_breaks_and_code() {
        let document = from_markdown("baton: run succeeded\nPR #4\n\n```sh\ncargo test\n```\n");
        assert_eq!(
            document["content"],
            json!([
                {"type": "paragraph", "content": [
                    {"type": "text", "text": "baton: run succeeded"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "PR #4"}
                ]},
                {"type": "codeBlock", "attrs": {"language": "sh"}, "content": [{"type": "text", "text": "cargo test"}]}
            ])
        );
        assert_eq!(
            to_text(&document),
            "baton: run succeeded\nPR #4\n\ncargo test"
        );
        assert_eq!(from_markdown("  \n\n")["content"], json!([]));
    }
}
