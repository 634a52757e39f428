//! Removes secret values from what the runner records: timeline events, errors, logs.
//!
//! The runner knows its secrets by value (webhook secrets, tokens in its own environment);
//! any occurrence in agent output, hook output or an error is replaced before it is stored.

use serde_json::Value;

/// Shown instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not treated as secrets: replacing `1` or `true` everywhere
/// would destroy the record and protect nothing.
const MIN_SECRET_LEN: usize = 8;

/// Name fragments of environment variables whose values are secrets.
const SECRET_NAME_HINTS: &[&str] = &[
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "API_KEY",
    "ACCESS_KEY",
    "SESSION_KEY",
];

/// Whether an environment variable's name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAME_HINTS.iter().any(|hint| upper.contains(hint))
}

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Longest first, so a secret containing another is replaced whole.
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// The secrets found in an environment by name (see [`is_secret_name`]), plus `extra`.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
        extra: impl IntoIterator<Item = String>,
    ) -> Self {
        Self::new(
            vars.into_iter()
                .filter(|(name, _)| is_secret_name(name))
                .map(|(_, value)| value)
                .chain(extra),
        )
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts every string in a JSON value, keys included.
    pub fn redact_json(&self, value: &mut Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            Value::String(s)
                if self
                    .secrets
                    .iter()
                    .any(|secret| s.contains(secret.as_str())) =>
            {
                *s = self.redact(s);
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.redact_json(&mut v);
                    map.insert(self.redact(&key), v);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_replaced_everywhere_in_text_and_json() {
        let redactor = Redactor::new(["ghp_supersecret123".to_owned(), "short".to_owned()]);
        assert_eq!(
            redactor.redact("token=ghp_supersecret123; again ghp_supersecret123"),
            "token=[redacted]; again [redacted]"
        );
        // Too short to be treated as a secret.
        assert_eq!(redactor.redact("short"), "short");
        let mut value = json!({"a": ["x ghp_supersecret123"], "ghp_supersecret123": 1});
        redactor.redact_json(&mut value);
        assert_eq!(value, json!({"a": ["x [redacted]"], "[redacted]": 1}));
    }

    #[test]
    fn secret_names_are_recognised() {
        let redactor = Redactor::from_env(
            [
                ("GITHUB_TOKEN".to_owned(), "gh-token-value".to_owned()),
                ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
            ],
            [],
        );
        assert_eq!(
            redactor.redact("gh-token-value /usr/bin:/bin"),
            "[redacted] /usr/bin:/bin"
        );
        assert!(is_secret_name("linear_api_key"));
        assert!(!is_secret_name("HOME"));
    }
}
