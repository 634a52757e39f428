use super::gates::GatesConfig;
use super::profile::Profile;
use super::WorkflowError;
use crate::domain::{Association, SourceKind};
use serde::Deserialize;

/// The front matter keys baton reads. Keys for later stages (agent, codex, hooks, workspace,
/// repo, ...) are kept in `extra` so nothing a user wrote is lost.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WorkflowConfig {
    #[serde(default)]
    pub tracker: TrackerConfig,
    #[serde(default)]
    pub triggers: TriggerConfig,
    #[serde(default)]
    pub webhooks: WebhookSecretConfig,
    #[serde(default)]
    pub gates: GatesConfig,
    /// `workflow.profile`, read from the `workflow` key by [`WorkflowConfig::read_profile`].
    #[serde(skip)]
    pub profile: Profile,
    #[serde(flatten)]
    pub extra: serde_yaml::Mapping,
}

impl WorkflowConfig {
    pub(super) fn read_profile(&mut self) -> Result<(), WorkflowError> {
        self.profile = Profile::from_config(self.extra.get("workflow"))
            .map_err(WorkflowError::WorkflowParseError)?;
        Ok(())
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        let invalid = |message: String| Err(WorkflowError::WorkflowParseError(message));
        if self.tracker.kind.trim().is_empty() {
            return invalid("`tracker.kind` is required".into());
        }
        super::scope::validate(&self.tracker)?;
        for name in &self.triggers.allowed_associations {
            if Association::from_config(name).is_none() {
                return invalid(format!(
                    "`triggers.allowed_associations`: unknown association `{name}` \
                     (owner, member, collaborator, contributor, first_timer, none, unknown)"
                ));
            }
        }
        if !self.triggers.command_prefix.starts_with('/') {
            return invalid("`triggers.command_prefix` must start with `/`".into());
        }
        for source in SourceKind::WEBHOOK_SOURCES {
            let variable = self.webhooks.secret_variable(source);
            if variable.is_empty()
                || !variable
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return invalid(format!(
                    "`webhooks.{source}.secret` must name an environment variable as `$NAME`; \
                     secrets never live in the workflow file"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct TrackerConfig {
    /// `github`, `linear`, `jira`, `gitlab` or `memory`. Its states apply to its own source;
    /// other sources use their built-in defaults.
    #[serde(default)]
    pub kind: String,
    /// The adapter-owned map (`repository`, `project`, `team`, `api_base_url`, ...). One of
    /// its keys scopes the workflow to a repository or project (see `workflow::scope`).
    #[serde(default)]
    pub provider: serde_yaml::Mapping,
    /// All must be present (case-insensitive) for an issue to be eligible.
    #[serde(default)]
    pub required_labels: Vec<String>,
    pub active_states: Option<Vec<String>>,
    pub terminal_states: Option<Vec<String>>,
    /// Keys baton does not read (Symphony's `project_slug`, ...), kept as written.
    #[serde(flatten)]
    pub extra: serde_yaml::Mapping,
}

impl TrackerConfig {
    /// `tracker.provider.<key>` when it is a string.
    pub fn provider_str(&self, key: &str) -> Option<&str> {
        self.provider.get(key).and_then(serde_yaml::Value::as_str)
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
            extra: serde_yaml::Mapping::new(),
        }
    }
}

/// Who and what starts, stops and retries runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
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

/// `webhooks.<source>.secret: $VARIABLE`, per source.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookSecretConfig {
    #[serde(default)]
    pub github: SourceSecret,
    #[serde(default)]
    pub linear: SourceSecret,
    #[serde(default)]
    pub jira: SourceSecret,
    #[serde(default)]
    pub gitlab: SourceSecret,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SourceSecret {
    pub secret: Option<String>,
}

impl WebhookSecretConfig {
    /// The environment variable that holds `source`'s secret.
    pub fn secret_variable(&self, source: SourceKind) -> &str {
        let configured = match source {
            SourceKind::Github => &self.github.secret,
            SourceKind::Linear => &self.linear.secret,
            SourceKind::Jira => &self.jira.secret,
            SourceKind::Gitlab => &self.gitlab.secret,
            // No webhooks, so no secret.
            SourceKind::Tapd | SourceKind::Memory => return "",
        };
        match configured {
            Some(reference) => reference.strip_prefix('$').unwrap_or(""),
            None => source.default_secret_env().unwrap_or(""),
        }
    }
}
