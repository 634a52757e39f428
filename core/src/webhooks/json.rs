//! Small serde building blocks shared by the sources' typed payloads.
//!
//! Payloads are parsed into borrowed structs: a string without escapes is a slice of the
//! body, so a 4 KB delivery allocates only for the fields that end up in the event.

use super::ParseError;
use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON string that borrows from the input when it contains no escapes.
///
/// `Cow<'a, str>` alone always allocates when it sits inside an `Option` (serde's special
/// borrowing only applies to a bare `Cow` field), hence this newtype.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(StrVisitor)
    }
}

/// An id that some senders write as a number and others as a string (`12345`, `"10001"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = Id;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id (integer or string)")
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Id(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Id(v.to_string()))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Id(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Id(v))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}

/// A string where one is expected, anything else (number, object, null) read as absent.
///
/// For loosely specified nested objects (Atlassian Document Format `attrs`) where a type
/// surprise must not fail the whole delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct LenientStr<'a>(pub Option<Str<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LenientVisitor;

        impl<'de> Visitor<'de> for LenientVisitor {
            type Value = LenientStr<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Str(Cow::Borrowed(v)))))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Str(Cow::Owned(v.to_owned())))))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LenientStr(Some(Str(Cow::Owned(v)))))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientStr(None))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(LenientStr(None))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(LenientStr(None))
            }
        }

        deserializer.deserialize_any(LenientVisitor)
    }
}

/// An id's text, `None` when absent or empty: an empty id identifies nothing.
pub(super) fn id_text(value: Option<Id>) -> Option<String> {
    value.map(|id| id.0).filter(|id| !id.is_empty())
}

/// The owned text of an optional string, empty when absent or null.
pub(super) fn text(value: Option<Str<'_>>) -> String {
    value.map(Str::into_string).unwrap_or_default()
}

/// The owned text of an optional string, `None` when absent, null or empty.
pub(super) fn non_empty(value: Option<Str<'_>>) -> Option<String> {
    value
        .filter(|v| !v.as_str().is_empty())
        .map(Str::into_string)
}

/// Parses a body into a typed payload, keeping error messages short: serde's messages can
/// quote whole input strings, and these end up in responses and logs.
pub(super) fn from_slice<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ParseError> {
    serde_json::from_slice(body).map_err(|error| ParseError::InvalidJson(describe(&error)))
}

fn describe(error: &serde_json::Error) -> String {
    const MAX: usize = 160;
    let message = error.to_string();
    if message.chars().count() <= MAX {
        message
    } else {
        let mut short: String = message.chars().take(MAX).collect();
        short.push_str("...");
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Sample<'a> {
        #[serde(borrow)]
        plain: Option<Str<'a>>,
        #[serde(borrow)]
        escaped: Option<Str<'a>>,
        #[serde(borrow)]
        missing: Option<Str<'a>>,
        id: Option<Id>,
        other: Option<Id>,
        number: Option<u64>,
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let body = br#"{"plain":"abc","escaped":"a\nb","id":42,"other":"10001"}"#;
        let sample: Sample<'_> = from_slice(body).expect("valid");
        assert!(matches!(sample.plain, Some(Str(Cow::Borrowed("abc")))));
        assert!(matches!(sample.escaped, Some(Str(Cow::Owned(ref s))) if s == "a\nb"));
        assert!(sample.missing.is_none());
        assert_eq!(sample.id, Some(Id("42".into())));
        assert_eq!(sample.other, Some(Id("10001".into())));
        assert_eq!(sample.number, None);
    }

    #[test]
    fn lenient_strings_accept_anything() {
        #[derive(Deserialize)]
        struct Loose<'a> {
            #[serde(borrow)]
            values: Vec<LenientStr<'a>>,
        }
        let body = br#"{"values":["a",1,-1,1.5,true,null,[1,[2]],{"x":{"y":1}},"b"]}"#;
        let loose: Loose<'_> = from_slice(body).expect("valid");
        let strings: Vec<Option<&str>> = loose
            .values
            .iter()
            .map(|v| v.0.as_ref().map(Str::as_str))
            .collect();
        assert_eq!(
            strings,
            [
                Some("a"),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                Some("b")
            ]
        );
    }

    #[test]
    fn long_errors_are_shortened() {
        let quoted = format!(r#"{{"number": "{}"}}"#, "y".repeat(10_000));
        let truncated = format!(r#"{{"plain": "{}"#, "z".repeat(10_000));
        for body in [quoted, truncated] {
            match from_slice::<Sample<'_>>(body.as_bytes()) {
                Err(ParseError::InvalidJson(message)) => assert!(message.len() < 200),
                Err(other) => panic!("unexpected error {other:?}"),
                Ok(_) => panic!("an error was expected"),
            }
        }
    }
}
