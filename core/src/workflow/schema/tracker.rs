//! `tracker`, `polling`, `triggers` and `webhooks`: where issues come from and what starts a
//! run.

use super::{invalid, nullable};
use crate::domain::{Association, SourceKind};
use crate::workflow::WorkflowError;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    /// `github`, `linear`, `jira`, `gitlab`, `tapd` or `memory`. Its states apply to its own
    /// source; other sources use their built-in defaults.
    #[serde(default)]
    pub kind: String,
    /// The adapter-owned map (`repository`, `project`, `team`, `api_base_url`, ...). One of
    /// its keys scopes the workflow to a repository or project (see `workflow::scope`).
    #[serde(default, deserialize_with = "nullable")]
    pub provider: serde_yaml::Mapping,
    /// All must be present (case-insensitive) for an issue to be eligible.
    #[serde(default, deserialize_with = "nullable")]
    pub required_labels: Vec<String>,
    #[serde(default)]
    pub active_states: Option<Vec<String>>,
    #[serde(default)]
    pub terminal_states: Option<Vec<String>>,
    /// Symphony's older top-level tracker keys, accepted as written. The adapters read
    /// theirs from `provider`. Any scalar: Symphony allows a literal key here.
    #[serde(default)]
    pub api_key: Option<serde_yaml::Value>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub project_slug: Option<String>,
}

impl TrackerConfig {
    /// `tracker.provider.<key>` when it is a string.
    pub fn provider_str(&self, key: &str) -> Option<&str> {
        self.provider.get(key).and_then(serde_yaml::Value::as_str)
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        if self.kind.trim().is_empty() {
            return Err(invalid("tracker.kind", "is required"));
        }
        Ok(())
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            kind: "memory".into(),
            provider: serde_yaml::Mapping::new(),
            required_labels: Vec::new(),
            active_states: None,
            terminal_states: None,
            api_key: None,
            endpoint: None,
            project_slug: None,
        }
    }
}

/// `polling`: how often the reconciler lists each tracker (Symphony's key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PollingConfig {
    /// Milliseconds; unset: the reconciler's default.
    pub interval_ms: Option<u64>,
}

impl PollingConfig {
    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        if self.interval_ms == Some(0) {
            return Err(invalid(
                "polling.interval_ms",
                "must be a positive whole number of milliseconds",
            ));
        }
        Ok(())
    }
}

/// Who and what starts, stops and retries runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriggerConfig {
    /// The label that asks for a run; `null` makes every eligible issue a candidate.
    pub label: Option<String>,
    /// Comment commands: `<prefix> run`, `<prefix> stop`, `<prefix> retry`.
    pub command_prefix: String,
    /// Associations whose comments may run commands.
    pub allowed_associations: Vec<String>,
    /// Logins that may run commands whatever their association (needed for GitLab, which
    /// does not report one).
    pub allowed_authors: Vec<String>,
    /// Whether moving an issue into an active state starts a run (Linear, Jira).
    pub on_active_state: bool,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        Self {
            label: Some("baton".into()),
            command_prefix: "/baton".into(),
            allowed_associations: vec!["owner".into(), "member".into(), "collaborator".into()],
            allowed_authors: Vec::new(),
            on_active_state: true,
        }
    }
}

impl TriggerConfig {
    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        for name in &self.allowed_associations {
            if Association::from_config(name).is_none() {
                return Err(invalid(
                    "triggers.allowed_associations",
                    format!(
                        "names an unknown association `{name}` \
                         (owner, member, collaborator, contributor, first_timer, none, unknown)"
                    ),
                ));
            }
        }
        if !self.command_prefix.starts_with('/') {
            return Err(invalid("triggers.command_prefix", "must start with `/`"));
        }
        Ok(())
    }
}

/// `webhooks.<source>.secret: $VARIABLE`, per webhook source (the names
/// `crate::sources::webhook_sources` gives).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct WebhookSecretConfig(BTreeMap<String, Option<SourceSecret>>);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceSecret {
    pub secret: Option<String>,
}

/// Whether `segment` may appear in an error about `webhooks` (see `errors`): the section's
/// own names, never what a user wrote where a name belongs (it may be a secret).
pub(super) fn is_webhook_key(segment: &str) -> bool {
    matches!(segment, "webhooks" | "secret") || crate::sources::webhook_named(segment).is_some()
}

impl WebhookSecretConfig {
    /// The environment variable that holds `source`'s secret; empty for a source that
    /// sends no webhooks.
    pub fn secret_variable(&self, source: SourceKind) -> &str {
        let Some(webhook) = crate::sources::webhook(source) else {
            return "";
        };
        let configured = self
            .0
            .get(source.as_str())
            .and_then(|entry| entry.as_ref())
            .and_then(|entry| entry.secret.as_deref());
        match configured {
            Some(reference) => reference.strip_prefix('$').unwrap_or(""),
            None => webhook.secret_variable(),
        }
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        if self.0.keys().any(|name| !is_webhook_key(name)) {
            let known: Vec<&str> = crate::sources::webhook_sources()
                .map(SourceKind::as_str)
                .collect();
            return Err(invalid(
                "webhooks",
                format!(
                    "has an unknown key: it maps each webhook source ({}) to \
                     `{{ secret: $VARIABLE }}` (the key is not shown: it may be a secret)",
                    known.join(", ")
                ),
            ));
        }
        for source in crate::sources::webhook_sources() {
            let variable = self.secret_variable(source);
            if variable.is_empty()
                || !variable
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(invalid(
                    &format!("webhooks.{source}.secret"),
                    "must name an environment variable as `$NAME`; \
                     secrets never live in the workflow file",
                ));
            }
        }
        Ok(())
    }
}
