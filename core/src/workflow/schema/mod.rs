//! The typed front matter of `WORKFLOW.md`: every key baton, Symphony and Maestro define,
//! parsed once when the file is loaded. Components read these sections, never raw YAML, and
//! a key baton does not know is refused with its dotted path (`agent.max_turn`) instead of
//! being silently ignored. Maps owned by adapters stay free-form: `tracker.provider`,
//! `agent_provider.options` (beyond baton's own keys), `repo.provider` and
//! `codex.turn_sandbox_policy`.

mod accounts;
mod agent;
mod budgets;
mod errors;
mod notify;
mod profile;
mod tracker;
mod workspace;

pub use accounts::{
    default_env, AccountConfig, AccountsConfig, CredentialRef, ACCOUNT_PROVIDERS,
    AGENT_ACCOUNTS_ENV,
};
pub use agent::{
    AgentConfig, AgentProviderConfig, AgentProviderOptions, CodexConfig, AGENT_KINDS, RETRY_BASE,
};
pub use budgets::{usd_to_micro, BudgetLimit, BudgetsConfig, ModelPrice, DEFAULT_PRICE};
pub use notify::{NotifyConfig, NotifyEvent, SlackNotifyConfig, SlackTarget, SLACK_API_URL};
pub use profile::{ProfileSection, RouteStates, WorkflowSection};
pub use tracker::{PollingConfig, SourceSecret, TrackerConfig, TriggerConfig, WebhookSecretConfig};
pub use workspace::{
    HooksSection, RepoBranch, RepoRemote, RepoSection, ServerConfig, WorkspaceSection,
};

use super::gates::GatesConfig;
use super::profile::Profile;
use super::WorkflowError;
use serde::{Deserialize, Deserializer};

/// The whole front matter. Every section may be absent or empty (`agent:` alone).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowConfig {
    #[serde(deserialize_with = "nullable")]
    pub tracker: TrackerConfig,
    #[serde(deserialize_with = "nullable")]
    pub polling: PollingConfig,
    #[serde(deserialize_with = "nullable")]
    pub workspace: WorkspaceSection,
    #[serde(deserialize_with = "nullable")]
    pub hooks: HooksSection,
    #[serde(deserialize_with = "nullable")]
    pub agent: AgentConfig,
    #[serde(deserialize_with = "nullable")]
    pub codex: CodexConfig,
    #[serde(deserialize_with = "nullable")]
    pub agent_provider: AgentProviderConfig,
    #[serde(deserialize_with = "nullable")]
    pub repo: RepoSection,
    /// Symphony's optional HTTP server; baton serves its API elsewhere and accepts the key.
    #[serde(deserialize_with = "nullable")]
    pub server: ServerConfig,
    /// Maestro's observability settings: accepted as written, read by nothing yet.
    #[serde(deserialize_with = "nullable")]
    pub observability: serde_yaml::Mapping,
    #[serde(deserialize_with = "nullable")]
    pub triggers: TriggerConfig,
    #[serde(deserialize_with = "nullable")]
    pub webhooks: WebhookSecretConfig,
    #[serde(deserialize_with = "nullable")]
    pub gates: GatesConfig,
    /// Chat notifications of run outcomes (Slack).
    #[serde(deserialize_with = "nullable")]
    pub notify: NotifyConfig,
    /// Token and cost limits per run, per work item and per day, and the model prices.
    #[serde(deserialize_with = "nullable")]
    pub budgets: BudgetsConfig,
    /// The pools of agent credentials runs lease from.
    #[serde(deserialize_with = "nullable")]
    pub accounts: AccountsConfig,
    /// Maestro's `workflow.profile`, as written; [`WorkflowConfig::profile`] is its meaning.
    #[serde(rename = "workflow", deserialize_with = "nullable")]
    pub workflow_section: WorkflowSection,
    /// The profile `workflow.profile` names, resolved when the file is parsed.
    #[serde(skip)]
    pub profile: Profile,
}

/// A section written as `key:` with nothing after it counts as absent.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl WorkflowConfig {
    /// Parses and checks a front matter map: types and key names first (serde, naming the
    /// path), then what types cannot say (ranges, names of environment variables, profiles).
    pub(super) fn from_front_matter(map: serde_yaml::Mapping) -> Result<Self, WorkflowError> {
        let mut config: Self = errors::deserialize(serde_yaml::Value::Mapping(map))?;
        config.agent.normalize();
        config.profile = Profile::from_config(config.workflow_section.profile.as_ref())
            .map_err(WorkflowError::WorkflowParseError)?;
        config.validate()?;
        Ok(config)
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        self.tracker.validate()?;
        super::scope::validate(&self.tracker)?;
        self.triggers.validate()?;
        self.webhooks.validate()?;
        self.polling.validate()?;
        self.agent.validate()?;
        self.codex.validate()?;
        self.agent_provider.validate()?;
        self.repo.validate()?;
        self.notify.validate()?;
        self.budgets.validate(self.configured_model())?;
        self.accounts.validate()?;
        Ok(())
    }
}

/// A refused value: `workflow_parse_error` with the key and why.
pub(crate) fn invalid(key: &str, why: impl std::fmt::Display) -> WorkflowError {
    WorkflowError::WorkflowParseError(format!("`{key}` {why}"))
}

#[cfg(test)]
mod tests;
