//! The Content-Type rule, the same for every source, decided from the headers alone so a
//! wrong type is refused before the body is read.
//!
//! - No `Content-Type`: the body is read as JSON. Every real sender names a type; a relay
//!   or a hand-made test that drops it still carries a signed body, and refusing it would
//!   lose a delivery for nothing (the body must parse as JSON anyway).
//! - `application/json`, or any `application/*+json`, with any parameters: JSON.
//! - `application/x-www-form-urlencoded`: only where the sender uses it (GitHub's "form"
//!   content type puts the JSON in the `payload` field).
//! - Anything else: refused, 415 `unsupported_media_type`.

use super::signature::optional_header;
use super::ParseError;
use http::HeaderMap;

const CONTENT_TYPE: &str = "Content-Type";

/// How the body carries its JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    /// Form-encoded, the JSON in the `payload` field.
    Form,
}

/// The body's format from its `Content-Type`; `accepts_form` for the senders that can
/// form-encode.
pub fn body_format(headers: &HeaderMap, accepts_form: bool) -> Result<BodyFormat, ParseError> {
    let Some(content_type) =
        optional_header(headers, CONTENT_TYPE).map_err(|_| unsupported("?"))?
    else {
        return Ok(BodyFormat::Json);
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence, ""));
    if !kind.eq_ignore_ascii_case("application") {
        return Err(unsupported(content_type));
    }
    let subtype = subtype.to_ascii_lowercase();
    if subtype == "json" || (subtype.ends_with("+json") && subtype.len() > "+json".len()) {
        Ok(BodyFormat::Json)
    } else if accepts_form && subtype == "x-www-form-urlencoded" {
        Ok(BodyFormat::Form)
    } else {
        Err(unsupported(content_type))
    }
}

fn unsupported(content_type: &str) -> ParseError {
    ParseError::UnsupportedContentType(crate::domain::preview(content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(content_type: Option<&str>, accepts_form: bool) -> Result<BodyFormat, ParseError> {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert("content-type", value.parse().expect("header value"));
        }
        body_format(&headers, accepts_form)
    }

    #[test]
    fn json_types_with_or_without_parameters() {
        for value in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/vnd.github+json",
            "application/cloudevents+json;charset=UTF-8",
        ] {
            assert_eq!(format(Some(value), false), Ok(BodyFormat::Json), "{value}");
        }
        assert_eq!(format(None, false), Ok(BodyFormat::Json));
    }

    #[test]
    fn forms_only_where_the_sender_sends_them() {
        let form = "application/x-www-form-urlencoded";
        assert_eq!(format(Some(form), true), Ok(BodyFormat::Form));
        assert!(matches!(
            format(Some(form), false),
            Err(ParseError::UnsupportedContentType(_))
        ));
    }

    #[test]
    fn other_types_are_refused() {
        for value in [
            "text/plain",
            "text/json",
            "application/+json",
            "application/xml",
            "multipart/form-data; boundary=x",
            "json",
        ] {
            assert!(
                matches!(
                    format(Some(value), true),
                    Err(ParseError::UnsupportedContentType(_))
                ),
                "{value}"
            );
        }
    }
}
