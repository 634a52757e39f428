//! Turning serde's errors into messages a person can act on: the full dotted path of the
//! key (`agent.max_turn`), the closest known key when one was misspelled, and nothing of a
//! value under `webhooks` (it may be a secret written where a variable name belongs).

use super::tracker::is_webhook_key;
use crate::workflow::WorkflowError;
use serde::de::DeserializeOwned;

/// Deserializes `value`, naming the offending key on failure.
pub(super) fn deserialize<T: DeserializeOwned>(
    value: serde_yaml::Value,
) -> Result<T, WorkflowError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = plain_types(&error.into_inner().to_string());
        WorkflowError::WorkflowParseError(describe(&path, &message))
    })
}

fn describe(path: &str, message: &str) -> String {
    let unknown = unknown_field(message);
    if path.starts_with("webhooks") {
        let shown = if path.split('.').all(is_webhook_key) {
            path
        } else {
            "webhooks"
        };
        let what = if unknown.is_some() {
            "has an unknown key"
        } else {
            "is malformed"
        };
        return format!(
            "`{shown}` {what}: `webhooks` maps each webhook source ({}) to \
             `{{ secret: $VARIABLE }}` (the value is not shown: it may be a secret)",
            crate::sources::webhook_sources()
                .map(|source| source.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match unknown {
        Some((key, known)) => {
            let parent = path.rsplit_once('.').map(|(parent, _)| parent);
            let full = |name: &str| match parent {
                Some(parent) => format!("{parent}.{name}"),
                None => name.to_owned(),
            };
            let mut text = format!("unknown key `{}`", full(key));
            if let Some(near) = closest(key, &known) {
                text.push_str(&format!("; did you mean `{}`?", full(near)));
            } else if !known.is_empty() {
                text.push_str(&format!(" (known keys: {})", known.join(", ")));
            }
            text
        }
        None if path.is_empty() || path == "." => message.to_owned(),
        None => format!("`{path}`: {message}"),
    }
}

/// serde names Rust types (`expected struct PollingConfig`); a YAML author knows maps.
fn plain_types(message: &str) -> String {
    let mut text = message.replace("a YAML mapping", "a map");
    while let Some(start) = text.find("struct ") {
        let name_end = text[start + 7..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(text.len(), |end| start + 7 + end);
        text.replace_range(start..name_end, "a map");
    }
    text
}

/// serde's `unknown field `x`, expected one of `a`, `b`` as `("x", ["a", "b"])`.
fn unknown_field(message: &str) -> Option<(&str, Vec<&str>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let known = rest.split('`').skip(1).step_by(2).collect();
    Some((key, known))
}

/// The known key nearest to `key`, if it is near enough to be a slip of the fingers.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let (distance, best) = known
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .min()?;
    (distance <= (key.chars().count() / 3).max(2)).then_some(best)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closest_key_is_suggested_only_when_close() {
        assert_eq!(edit_distance("max_turn", "max_turns"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            closest("max_turn", &["max_turns", "max_attempts"]),
            Some("max_turns")
        );
        assert_eq!(closest("colour", &["max_turns", "max_attempts"]), None);
    }

    #[test]
    fn rust_type_names_are_not_shown() {
        assert_eq!(
            plain_types("invalid type: integer `5`, expected struct PollingConfig"),
            "invalid type: integer `5`, expected a map"
        );
    }

    #[test]
    fn serde_unknown_field_messages_are_read() {
        assert_eq!(
            unknown_field("unknown field `x`, expected one of `a`, `b`"),
            Some(("x", vec!["a", "b"]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, expected `a` or `b`"),
            Some(("x", vec!["a", "b"]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, there are no fields"),
            Some(("x", vec![]))
        );
        assert_eq!(unknown_field("invalid type: string"), None);
    }
}
