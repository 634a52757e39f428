//! Atlassian Document Format, flattened: Jira sends descriptions and comment bodies either
//! as a string (wiki markup) or as an ADF tree; both become plain text, one line per block.

use super::super::json::{LenientStr, Str};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// A text field that is either a plain string or an Atlassian Document Format tree.
pub(super) struct RichText<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for RichText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RichTextVisitor;

        impl<'de> Visitor<'de> for RichTextVisitor {
            type Value = RichText<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an Atlassian Document Format object")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RichText(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RichText(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RichText(Cow::Owned(v)))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let doc = AdfNode::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let mut text = String::new();
                doc.flatten_into(&mut text);
                let trimmed = text.trim_end().len();
                text.truncate(trimmed);
                Ok(RichText(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_any(RichTextVisitor)
    }
}

/// One node of an ADF tree; only what plain text needs.
#[derive(Deserialize)]
struct AdfNode<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<LenientStr<'a>>,
    #[serde(borrow)]
    text: Option<LenientStr<'a>>,
    #[serde(borrow)]
    content: Option<Vec<AdfNode<'a>>>,
    #[serde(borrow)]
    attrs: Option<AdfAttrs<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdfAttrs<'a> {
    /// Mentions, emoji, status lozenges.
    #[serde(borrow)]
    text: Option<LenientStr<'a>>,
    /// Inline and block cards.
    #[serde(borrow)]
    url: Option<LenientStr<'a>>,
    #[serde(borrow)]
    short_name: Option<LenientStr<'a>>,
}

fn lenient<'v>(value: &'v Option<LenientStr<'_>>) -> Option<&'v str> {
    value.as_ref().and_then(|v| v.0.as_ref()).map(Str::as_str)
}

impl AdfNode<'_> {
    /// Appends this node's text. serde_json's recursion limit bounds the depth.
    fn flatten_into(&self, out: &mut String) {
        let kind = lenient(&self.kind).unwrap_or_default();
        let attrs = self.attrs.as_ref();
        let attr_text = attrs.and_then(|a| lenient(&a.text));
        match kind {
            "text" => out.push_str(lenient(&self.text).unwrap_or_default()),
            "hardBreak" => out.push('\n'),
            "mention" | "status" | "date" => out.push_str(attr_text.unwrap_or_default()),
            "emoji" => out.push_str(
                attr_text
                    .or_else(|| attrs.and_then(|a| lenient(&a.short_name)))
                    .unwrap_or_default(),
            ),
            "inlineCard" | "blockCard" | "embedCard" => {
                out.push_str(attrs.and_then(|a| lenient(&a.url)).unwrap_or_default());
            }
            _ => {}
        }
        for child in self.content.iter().flatten() {
            child.flatten_into(out);
        }
        let is_block = matches!(
            kind,
            "paragraph"
                | "heading"
                | "codeBlock"
                | "blockquote"
                | "listItem"
                | "rule"
                | "panel"
                | "tableRow"
                | "blockCard"
                | "mediaSingle"
        );
        if is_block && !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    }
}
