//! The workflow's `agent.*` limits: how many sessions, how many turns, how many retries.
//! They are typed and checked when the workflow file is parsed (`baton_core::workflow`).

use std::time::Duration;

pub use baton_core::workflow::schema::RETRY_BASE;
pub use baton_core::workflow::AgentConfig as AgentLimits;

/// A continuation starts this long after a clean run.
pub const CONTINUATION_DELAY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::workflow::Workflow;

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
        let limits = &workflow.config.agent;
        assert_eq!(limits.max_concurrent_agents, 3);
        assert_eq!(limits.max_turns, 4);
        assert_eq!(limits.state_limit("in progress"), Some(1));
        assert_eq!(limits.state_limit("IN PROGRESS"), Some(1));
        assert_eq!(limits.state_limit("todo"), None);
        assert_eq!(limits.max_retry_backoff_ms, 300_000);
        assert_eq!(limits.max_concurrent_agents_per_repository, None);
    }

    #[test]
    fn nonsense_limits_are_refused_when_the_file_is_parsed_naming_the_key() {
        for (yaml, needle) in [
            (
                "agent: {max_turns: 0}",
                "`agent.max_turns` must be at least 1",
            ),
            (
                "agent: {max_concurrent_agents: 0}",
                "`agent.max_concurrent_agents`",
            ),
            ("agent: {max_turns: many}", "`agent.max_turns`"),
            (
                "agent: {max_concurrent_agents_per_repository: 0}",
                "`agent.max_concurrent_agents_per_repository` must be at least 1",
            ),
            (
                "agent: {max_concurrent_agents_per_repository: two}",
                "`agent.max_concurrent_agents_per_repository`",
            ),
            (
                "agent: {max_turn: 3}",
                "unknown key `agent.max_turn`; did you mean `agent.max_turns`?",
            ),
        ] {
            let error =
                Workflow::parse(&format!("---\ntracker: {{kind: github}}\n{yaml}\n---\nhi"))
                    .expect_err(yaml);
            assert_eq!(error.code(), "workflow_parse_error");
            assert!(error.to_string().contains(needle), "{yaml}: {error}");
        }
    }
}
