//! The workflow's `agent.*` limits: how many sessions, how many turns, how many retries.

use baton_core::workflow::Workflow;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `agent` configuration: {0}")]
pub struct LimitsError(pub String);

/// `agent:` in WORKFLOW.md. Symphony's keys and defaults, plus baton's own bounds on
/// attempts, continuations and tokens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AgentLimits {
    /// Sessions at once across every runner (a counter in the store).
    pub max_concurrent_agents: u32,
    /// Sessions at once per tracker state (keys trimmed and lowercased).
    pub max_concurrent_agents_by_state: BTreeMap<String, u32>,
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
}

impl Default for AgentLimits {
    fn default() -> Self {
        Self {
            max_concurrent_agents: 10,
            max_concurrent_agents_by_state: BTreeMap::new(),
            max_turns: 20,
            max_retry_backoff_ms: 300_000,
            max_tokens_per_run: None,
            max_attempts: 5,
            max_continuations: 3,
        }
    }
}

/// The keys whose values are counts or milliseconds.
const NUMERIC_KEYS: &[&str] = &[
    "max_concurrent_agents",
    "max_turns",
    "max_retry_backoff_ms",
    "max_tokens_per_run",
    "max_attempts",
    "max_continuations",
];

/// A retry waits `min(10000 · 2^(attempt−1), max_retry_backoff_ms)` after failed `attempt`.
pub const RETRY_BASE: Duration = Duration::from_secs(10);
/// A continuation starts this long after a clean run.
pub const CONTINUATION_DELAY: Duration = Duration::from_secs(1);

impl AgentLimits {
    pub fn from_workflow(workflow: &Workflow) -> Result<Self, LimitsError> {
        let Some(agent) = workflow.config.extra.get("agent") else {
            return Ok(Self::default());
        };
        if agent.is_null() {
            return Ok(Self::default());
        }
        if let Some(map) = agent.as_mapping() {
            // serde's message would not say which key is wrong.
            for (key, value) in map {
                let name = key.as_str().unwrap_or_default();
                let numeric = NUMERIC_KEYS.contains(&name);
                if numeric && !(value.is_u64() || (name == "max_tokens_per_run" && value.is_null()))
                {
                    return Err(LimitsError(format!(
                        "`agent.{name}` must be a whole number, not {}",
                        serde_yaml::to_string(value).unwrap_or_default().trim()
                    )));
                }
            }
        }
        let mut limits: Self =
            serde_yaml::from_value(agent.clone()).map_err(|e| LimitsError(e.to_string()))?;
        limits.max_concurrent_agents_by_state = limits
            .max_concurrent_agents_by_state
            .into_iter()
            .map(|(state, limit)| (state.trim().to_lowercase(), limit))
            .collect();
        if limits.max_concurrent_agents == 0 {
            return Err(LimitsError(
                "`max_concurrent_agents` must be at least 1".into(),
            ));
        }
        if limits.max_turns == 0 {
            return Err(LimitsError("`max_turns` must be at least 1".into()));
        }
        if limits.max_attempts == 0 {
            return Err(LimitsError("`max_attempts` must be at least 1".into()));
        }
        Ok(limits)
    }

    /// The limit for issues in `state`, if the workflow sets one.
    pub fn state_limit(&self, state: &str) -> Option<u32> {
        self.max_concurrent_agents_by_state
            .get(&state.trim().to_lowercase())
            .copied()
    }

    /// How long to wait before retrying after failed attempt `attempt` (1-based).
    pub fn retry_backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        let base = RETRY_BASE.as_millis() as u64;
        let delay = base.saturating_mul(1u64 << exponent);
        Duration::from_millis(delay.min(self.max_retry_backoff_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_the_cap() {
        let limits = AgentLimits::default();
        let seconds: Vec<u64> = (1..=7).map(|a| limits.retry_backoff(a).as_secs()).collect();
        assert_eq!(seconds, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(limits.retry_backoff(1000).as_secs(), 300);
        let tight = AgentLimits {
            max_retry_backoff_ms: 15_000,
            ..AgentLimits::default()
        };
        assert_eq!(tight.retry_backoff(2), Duration::from_millis(15_000));
    }

    #[test]
    fn symphony_keys_parse_and_state_keys_are_normalized() {
        let workflow = Workflow::parse(
            "---\ntracker: {kind: linear}\nagent:\n  max_concurrent_agents: 3\n  max_turns: 4\n  \
             max_concurrent_agents_by_state: {' In Progress ': 1}\n---\nhi",
        )
        .expect("workflow");
        let limits = AgentLimits::from_workflow(&workflow).expect("limits");
        assert_eq!(limits.max_concurrent_agents, 3);
        assert_eq!(limits.max_turns, 4);
        assert_eq!(limits.state_limit("in progress"), Some(1));
        assert_eq!(limits.state_limit("IN PROGRESS"), Some(1));
        assert_eq!(limits.state_limit("todo"), None);
        assert_eq!(limits.max_retry_backoff_ms, 300_000);
    }

    #[test]
    fn nonsense_limits_are_refused_with_the_key() {
        for (yaml, needle) in [
            ("agent: {max_turns: 0}", "max_turns"),
            ("agent: {max_concurrent_agents: 0}", "max_concurrent_agents"),
            ("agent: {max_turns: many}", "max_turns"),
        ] {
            let workflow =
                Workflow::parse(&format!("---\ntracker: {{kind: github}}\n{yaml}\n---\nhi"))
                    .expect("workflow");
            let error = AgentLimits::from_workflow(&workflow).expect_err(yaml);
            assert!(error.to_string().contains(needle), "{error}");
        }
    }
}
