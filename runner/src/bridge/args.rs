//! Reading a tool call's arguments: every value comes from the model, so each is checked.

use serde_json::Value;

/// A non-empty string argument, at most `max` characters.
pub fn text(arguments: &Value, key: &str, max: usize) -> Result<String, String> {
    let value = arguments
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("`{key}` must be a non-empty string"))?;
    if value.chars().count() > max {
        return Err(format!("`{key}` is longer than {max} characters"));
    }
    Ok(value.to_owned())
}

/// A non-empty list of short names (logins, labels), each given once.
pub fn names(arguments: &Value, key: &str, max_items: usize) -> Result<Vec<String>, String> {
    let invalid = || format!("`{key}` must be a non-empty list of names");
    let items = arguments
        .get(key)
        .and_then(Value::as_array)
        .filter(|items| !items.is_empty())
        .ok_or_else(invalid)?;
    if items.len() > max_items {
        return Err(format!("`{key}` lists more than {max_items} names"));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .as_str()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= 100 && !n.chars().any(char::is_control))
            .ok_or_else(invalid)?;
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The JSON Schema of a list of names.
pub fn names_schema(key: &str, what: &str, max_items: usize) -> Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            key: {
                "type": "array",
                "description": what,
                "items": {"type": "string", "minLength": 1, "maxLength": 100},
                "minItems": 1,
                "maxItems": max_items
            }
        },
        "required": [key],
        "additionalProperties": false
    })
}

/// The JSON Schema of a tool without arguments.
pub fn no_arguments() -> Value {
    serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false})
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_from_the_model_are_checked() {
        assert_eq!(text(&json!({"body": " hi "}), "body", 10), Ok("hi".into()));
        assert!(text(&json!({"body": ""}), "body", 10).is_err());
        assert!(text(&json!({"body": 3}), "body", 10).is_err());
        assert!(text(&json!({"body": "x".repeat(11)}), "body", 10).is_err());
        assert_eq!(
            names(&json!({"labels": ["a", "b", "a"]}), "labels", 5),
            Ok(vec!["a".into(), "b".into()])
        );
        assert!(names(&json!({"labels": []}), "labels", 5).is_err());
        assert!(names(&json!({"labels": ["a\nb"]}), "labels", 5).is_err());
        assert!(names(&json!({"labels": ["a", "b"]}), "labels", 1).is_err());
    }
}
