//! Removes secret values from everything baton writes: log lines, run events, errors and
//! evidence.
//!
//! Secrets are known by value: the values of environment variables whose names say they are
//! secret, every `baton_core::secret::Secret` the process resolves (webhook secrets,
//! tokens named by a workflow), and whatever a component adds. Any occurrence, also in the
//! escaped forms JSON and `Debug` formatting give it, is replaced by [`REDACTED`].

use serde_json::Value;
use std::sync::{LazyLock, PoisonError, RwLock};

/// Shown instead of a secret.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not treated as secrets: replacing `1` or `true` everywhere
/// would destroy the record and protect nothing.
pub const MIN_SECRET_LEN: usize = 8;

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
    // BATON_CURSOR_KEY: it signs the status API's event cursors.
    "CURSOR_KEY",
];

/// Whether an environment variable's name says its value is a secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_NAME_HINTS.iter().any(|hint| upper.contains(hint))
}

/// Replaces known secret values in text and JSON.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every form a secret may take in output, longest first, so a secret containing another
    /// is replaced whole.
    patterns: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut redactor = Self::default();
        redactor.extend(secrets);
        redactor
    }

    /// The secrets found in an environment by name (see [`is_secret_name`]), plus `extra`.
    pub fn from_env(
        vars: impl IntoIterator<Item = (String, String)>,
        extra: impl IntoIterator<Item = String>,
    ) -> Self {
        Self::new(secret_env_values(vars).chain(extra))
    }

    /// Adds secrets; values shorter than [`MIN_SECRET_LEN`] are ignored.
    pub fn extend(&mut self, secrets: impl IntoIterator<Item = String>) {
        let before = self.patterns.len();
        for secret in secrets.into_iter().filter(|s| s.len() >= MIN_SECRET_LEN) {
            for form in output_forms(secret) {
                if !self.patterns.contains(&form) {
                    self.patterns.push(form);
                }
            }
        }
        if self.patterns.len() != before {
            self.patterns
                .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        }
    }

    /// This redactor with every secret `other` knows as well.
    pub fn merged(mut self, other: &Redactor) -> Redactor {
        let before = self.patterns.len();
        for pattern in &other.patterns {
            if !self.patterns.contains(pattern) {
                self.patterns.push(pattern.clone());
            }
        }
        if self.patterns.len() != before {
            self.patterns
                .sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        }
        self
    }

    /// Whether this redactor knows no secret at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `text` holds any known secret.
    pub fn finds_secret_in(&self, text: &str) -> bool {
        self.patterns.iter().any(|p| text.contains(p.as_str()))
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for pattern in &self.patterns {
            if out.contains(pattern.as_str()) {
                out = out.replace(pattern.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts every string in a JSON value, keys included.
    pub fn redact_json(&self, value: &mut Value) {
        if self.patterns.is_empty() {
            return;
        }
        match value {
            Value::String(s) if self.finds_secret_in(s) => *s = self.redact(s),
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

/// The values of the variables whose names say they are secret.
pub fn secret_env_values(
    vars: impl IntoIterator<Item = (String, String)>,
) -> impl Iterator<Item = String> {
    vars.into_iter()
        .filter(|(name, _)| is_secret_name(name))
        .map(|(_, value)| value)
}

/// The secret as written, and as JSON string escaping and Rust `Debug` formatting show it
/// (a secret with a quote or backslash is written escaped in a JSON log line).
fn output_forms(secret: String) -> Vec<String> {
    let json = serde_json::to_string(&secret)
        .ok()
        .map(|quoted| quoted[1..quoted.len() - 1].to_owned());
    let debug = format!("{secret:?}");
    let debug = debug[1..debug.len() - 1].to_owned();
    let mut forms = vec![secret];
    for form in json.into_iter().chain([debug]) {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// The values of this process's environment variables whose names say they are secret
/// (variables that are not valid Unicode are skipped).
pub fn process_env_secret_values() -> Vec<String> {
    secret_env_values(
        std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }),
    )
    .collect()
}

/// The secrets this process knows of, shared by its log writer and metrics.
static KNOWN_SECRETS: LazyLock<RwLock<Redactor>> =
    LazyLock::new(|| RwLock::new(Redactor::default()));

/// Makes `secrets` known to the process-wide redactor behind every log line.
pub fn remember(secrets: impl IntoIterator<Item = String>) {
    let secrets: Vec<String> = secrets
        .into_iter()
        .filter(|s| s.len() >= MIN_SECRET_LEN)
        .collect();
    if secrets.is_empty() {
        return;
    }
    let new: Vec<String> = {
        let known = KNOWN_SECRETS.read().unwrap_or_else(PoisonError::into_inner);
        secrets
            .into_iter()
            .filter(|s| !known.patterns.contains(s))
            .collect()
    };
    if new.is_empty() {
        return;
    }
    KNOWN_SECRETS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .extend(new);
}

/// Redacts `text` with every secret this process knows of.
pub fn redact_known(text: &str) -> String {
    let known = KNOWN_SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    if known.finds_secret_in(text) {
        known.redact(text)
    } else {
        text.to_owned()
    }
}

/// `value` with every secret this process knows of redacted from its strings, or `None`
/// when it holds none (the common case, which costs one serialization).
pub fn redact_known_in<T>(value: &T) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let known = KNOWN_SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    if known.is_empty() {
        return None;
    }
    // One serialization into one buffer: this runs for every webhook, and almost never
    // finds anything; the JSON tree is built only when there is something to replace.
    let mut text = Vec::with_capacity(8 * 1024);
    serde_json::to_writer(&mut text, value).ok()?;
    if !known.finds_secret_in(std::str::from_utf8(&text).ok()?) {
        return None;
    }
    let mut json: serde_json::Value = serde_json::from_slice(&text).ok()?;
    known.redact_json(&mut json);
    serde_json::from_value(json).ok()
}

/// A copy of the process-wide redactor, for components that redact what they store.
pub fn known_secrets() -> Redactor {
    KNOWN_SECRETS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
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
    fn a_merged_redactor_knows_both_sets_of_secrets_longest_first() {
        let own = Redactor::new(["own-secret-value".to_owned()]);
        let later = Redactor::new([
            "a-secret-learnt-later".to_owned(),
            "a-secret-learnt-later-and-longer".to_owned(),
        ]);
        let merged = own.clone().merged(&later);
        assert_eq!(
            merged.redact("own-secret-value a-secret-learnt-later-and-longer"),
            "[redacted] [redacted]"
        );
        assert_eq!(own.redact("a-secret-learnt-later"), "a-secret-learnt-later");
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

    #[test]
    fn escaped_forms_of_a_secret_are_redacted_too() {
        let secret = r#"pa"ss\word-123"#;
        let redactor = Redactor::new([secret.to_owned()]);
        let json_line = serde_json::to_string(&json!({ "message": secret })).expect("json");
        assert!(!json_line.contains(secret));
        assert_eq!(redactor.redact(&json_line), r#"{"message":"[redacted]"}"#);
        let debug = format!("{secret:?}");
        assert_eq!(redactor.redact(&debug), "\"[redacted]\"");
    }

    #[test]
    fn a_secret_containing_another_is_replaced_whole() {
        let redactor = Redactor::new(["abcdefgh".to_owned(), "abcdefgh-longer".to_owned()]);
        assert_eq!(redactor.redact("x abcdefgh-longer y"), "x [redacted] y");
    }

    #[test]
    fn known_secrets_are_redacted_from_typed_values() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct Issue {
            title: String,
            labels: Vec<String>,
        }
        remember(["typed-secret-value-31".to_owned()]);
        let clean = Issue {
            title: "nothing here".into(),
            labels: vec!["baton".into()],
        };
        assert_eq!(redact_known_in(&clean), None);
        let leaky = Issue {
            title: "key typed-secret-value-31 pasted".into(),
            labels: vec!["typed-secret-value-31".into()],
        };
        assert_eq!(
            redact_known_in(&leaky),
            Some(Issue {
                title: "key [redacted] pasted".into(),
                labels: vec!["[redacted]".into()],
            })
        );
    }

    #[test]
    fn remembered_secrets_reach_the_process_redactor() {
        remember(["remembered-secret-4711".to_owned()]);
        assert_eq!(
            redact_known("value remembered-secret-4711 here"),
            "value [redacted] here"
        );
        assert!(known_secrets().finds_secret_in("remembered-secret-4711"));
    }
}
