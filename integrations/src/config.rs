//! How adapters read their part of a workflow file: an options map (`tracker.provider`,
//! `repo.provider`) whose secrets are `$VARIABLE` references resolved from the environment.

use crate::http::RetryPolicy;
use serde_json::Value;

/// Looks up an environment variable; tests pass a map instead of the process environment.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Send + Sync);

/// One adapter's settings, as written in the workflow.
pub struct AdapterConfig<'a> {
    /// `github`, `linear`, `jira`, `gitlab`, `tapd`, `cnb`, `memory`.
    pub kind: &'a str,
    /// The adapter-owned options map (`Value::Null` when absent).
    pub options: &'a Value,
    pub env: EnvLookup<'a>,
    pub policy: RetryPolicy,
}

/// A setting that is missing or wrong; names the key so the workflow can be fixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl AdapterConfig<'_> {
    /// A plain string option.
    pub fn string(&self, key: &str) -> Option<String> {
        self.options
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.string(key)
            .ok_or_else(|| ConfigError::new(format!("{}.{key}", self.kind), "is required"))
    }

    /// The API base URL: `base_url` (or `api_base_url`, Maestro's name), else `default`.
    pub fn base_url(&self, default: &str) -> String {
        self.string("base_url")
            .or_else(|| self.string("api_base_url"))
            .or_else(|| self.string("endpoint"))
            .unwrap_or_else(|| default.to_owned())
    }

    /// A secret: the option names a variable as `$NAME` (secrets never live in the workflow
    /// file); without the option, `default_variable`. An empty value counts as missing.
    pub fn secret(&self, key: &str, default_variable: &str) -> Result<String, ConfigError> {
        let variable = match self.options.get(key).and_then(Value::as_str) {
            Some(reference) => reference.trim().strip_prefix('$').ok_or_else(|| {
                ConfigError::new(
                    format!("{}.{key}", self.kind),
                    "must name an environment variable as `$NAME`; secrets never live in the workflow file",
                )
            })?,
            None => default_variable,
        };
        let value = (self.env)(variable)
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    format!("{}.{key}", self.kind),
                    format!("environment variable `{variable}` is not set"),
                )
            })?;
        // Whatever the variable is called, its value is a credential: the log writer and
        // every redactor built from now on replace it.
        baton_telemetry::redact::remember([value.clone()]);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(" ".into()),
            _ => None,
        }
    }

    #[test]
    fn secrets_are_variable_references() {
        let options = json!({"token": "$TOKEN", "inline": "ghp_literal", "empty": "$EMPTY"});
        let config = AdapterConfig {
            kind: "github",
            options: &options,
            env: &env,
            policy: RetryPolicy::fast(),
        };
        assert_eq!(config.secret("token", "UNUSED").unwrap(), "s3cret");
        assert_eq!(config.secret("other", "TOKEN").unwrap(), "s3cret");
        let inline = config.secret("inline", "TOKEN").unwrap_err();
        assert!(inline.message.contains("$NAME"), "{inline}");
        assert!(!inline.to_string().contains("ghp_literal"));
        assert!(config.secret("empty", "TOKEN").is_err());
    }

    #[test]
    fn a_resolved_credential_is_redacted_whatever_its_variable_is_called() {
        let env = |name: &str| {
            (name == "ACME_GH").then(|| "acme-credential-from-a-plain-name".to_owned())
        };
        let options = json!({"token": "$ACME_GH"});
        let config = AdapterConfig {
            kind: "github",
            options: &options,
            env: &env,
            policy: RetryPolicy::fast(),
        };
        let value = config.secret("token", "UNUSED").expect("resolved");
        let line = format!("calling the API with {value}");
        let redacted = baton_telemetry::redact::known_secrets().redact(&line);
        assert!(!redacted.contains(&value), "{redacted}");
    }
}
