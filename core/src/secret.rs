//! A secret value that never prints itself.

use std::fmt;

/// Holds a webhook secret or token. `Debug` and `Display` are redacted so a secret cannot
/// reach a log line by accident; read it with [`Secret::expose`] at the one place it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// An empty value counts as missing. The value becomes known to the process's log
    /// redactor, so it is replaced in any log line that would show it.
    pub fn new(value: impl Into<String>) -> Option<Self> {
        let value = value.into();
        if value.is_empty() {
            None
        } else {
            baton_telemetry::redact::remember([value.clone()]);
            Some(Self(value))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_secret_is_missing() {
        assert!(Secret::new("").is_none());
    }

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("hunter2").expect("non-empty");
        assert!(!format!("{secret:?} {secret}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
