//! `agent` (limits), `codex` (Symphony's agent keys) and `agent_provider` (Maestro's).

use super::{invalid, nullable};
use crate::workflow::WorkflowError;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// `agent:`. Symphony's keys and defaults, plus baton's own bounds on attempts,
/// continuations, tokens and sessions per repository.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Sessions at once across every runner (a counter in the store).
    pub max_concurrent_agents: u32,
    /// Sessions at once per tracker state (keys trimmed and lowercased).
    #[serde(deserialize_with = "nullable")]
    pub max_concurrent_agents_by_state: BTreeMap<String, u32>,
    /// Sessions at once per issue repository (`owner/name`), across every runner; unset: no
    /// limit.
    pub max_concurrent_agents_per_repository: Option<u32>,
    /// Turns in one session.
    pub max_turns: u32,
    /// The cap of the retry backoff.
    pub max_retry_backoff_ms: u64,
    /// A session that reports more tokens than this is stopped and the run fails.
    pub max_tokens_per_run: Option<u64>,
    /// Failed attempts before the job goes to the dead-letter queue (baton).
    pub max_attempts: u32,
    /// Continuation runs in a row while the issue stays active after a clean run (baton;
    /// Symphony continues without bound).
    pub max_continuations: u32,
    /// How long an agent's question waits for a person's answer before the work item fails
    /// with `input_timeout`; 0: it waits until answered (baton).
    pub input_timeout_ms: u64,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_concurrent_agents: 10,
            max_concurrent_agents_by_state: BTreeMap::new(),
            max_concurrent_agents_per_repository: None,
            max_turns: 20,
            max_retry_backoff_ms: 300_000,
            max_tokens_per_run: None,
            max_attempts: 5,
            max_continuations: 3,
            input_timeout_ms: 86_400_000,
        }
    }
}

/// A retry waits `min(10000 · 2^(attempt−1), max_retry_backoff_ms)` after failed `attempt`.
pub const RETRY_BASE: Duration = Duration::from_secs(10);

impl AgentConfig {
    /// Symphony compares states without case or surrounding blanks.
    pub(super) fn normalize(&mut self) {
        self.max_concurrent_agents_by_state =
            std::mem::take(&mut self.max_concurrent_agents_by_state)
                .into_iter()
                .map(|(state, limit)| (state.trim().to_lowercase(), limit))
                .collect();
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        for (key, value) in [
            (
                "agent.max_concurrent_agents",
                Some(self.max_concurrent_agents),
            ),
            ("agent.max_turns", Some(self.max_turns)),
            ("agent.max_attempts", Some(self.max_attempts)),
            (
                "agent.max_concurrent_agents_per_repository",
                self.max_concurrent_agents_per_repository,
            ),
        ] {
            if value == Some(0) {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }

    /// The limit for issues in `state`, if the workflow sets one.
    pub fn state_limit(&self, state: &str) -> Option<u32> {
        self.max_concurrent_agents_by_state
            .get(&state.trim().to_lowercase())
            .copied()
    }

    /// How long a question waits for its answer; `None`: until answered.
    pub fn input_timeout(&self) -> Option<Duration> {
        (self.input_timeout_ms > 0).then(|| Duration::from_millis(self.input_timeout_ms))
    }

    /// How long to wait before retrying after failed attempt `attempt` (1-based).
    pub fn retry_backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        let base = RETRY_BASE.as_millis() as u64;
        let delay = base.saturating_mul(1u64 << exponent);
        Duration::from_millis(delay.min(self.max_retry_backoff_ms))
    }
}

/// `codex:`, Symphony's agent keys.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CodexConfig {
    /// A shell string, run with `bash -lc`.
    pub command: Option<String>,
    /// Codex's approval policy: a name (`never`) or Codex's own map; passed through.
    pub approval_policy: Option<Value>,
    pub thread_sandbox: Option<String>,
    /// Codex's sandbox policy for each turn; passed through.
    pub turn_sandbox_policy: Option<Value>,
    /// baton: the model, when the command line does not choose one.
    pub model: Option<String>,
    pub turn_timeout_ms: Option<i64>,
    pub read_timeout_ms: Option<i64>,
    /// Zero or less disables stall detection (Symphony).
    pub stall_timeout_ms: Option<i64>,
}

impl CodexConfig {
    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        for (key, value) in [
            ("codex.turn_timeout_ms", self.turn_timeout_ms),
            ("codex.read_timeout_ms", self.read_timeout_ms),
        ] {
            if value.is_some_and(|ms| ms <= 0) {
                return Err(invalid(key, "must be positive (milliseconds)"));
            }
        }
        Ok(())
    }
}

/// The agent kinds baton can drive.
pub const AGENT_KINDS: &[&str] = &["codex", "claude_code", "opencode", "mock"];

/// `agent_provider:` (Maestro's shape).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentProviderConfig {
    /// One of [`AGENT_KINDS`]; unset: `codex`. Read through [`AgentProviderConfig::kind`].
    #[serde(rename = "kind")]
    pub kind_as_written: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub options: AgentProviderOptions,
}

/// `agent_provider.options`: baton's own keys, and the rest for the provider.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AgentProviderOptions {
    /// The agent's argv, preferred over a shell string.
    #[serde(default)]
    pub command_argv: Option<Vec<String>>,
    /// A shell string, run with `bash -lc`.
    #[serde(default)]
    pub command: Option<String>,
    /// Extra variables passed from the runner's environment to the agent.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// The mock's scenario: a built-in name or a file.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Decline every approval the agent asks for instead of accepting it.
    #[serde(default)]
    pub decline_approvals: Option<bool>,
    /// Everything else (model, sandbox, permission_mode, ...), owned by the provider.
    #[serde(flatten)]
    pub provider: Map<String, Value>,
}

impl AgentProviderConfig {
    /// The kind, trimmed and lowercased; `codex` when unset.
    pub fn kind(&self) -> String {
        self.kind_as_written
            .as_deref()
            .map_or_else(|| "codex".to_owned(), |kind| kind.trim().to_lowercase())
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        let kind = self.kind();
        if !AGENT_KINDS.contains(&kind.as_str()) {
            return Err(invalid(
                "agent_provider.kind",
                format!(
                    "names an unknown agent `{kind}` ({})",
                    AGENT_KINDS.join(", ")
                ),
            ));
        }
        Ok(())
    }
}
