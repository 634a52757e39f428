//! Where agent sessions are reported (baton as a Linear agent): one client for the
//! deployment, from the agent's credential (`LINEAR_AGENT_CLIENT_ID` and
//! `LINEAR_AGENT_CLIENT_SECRET`, or `LINEAR_AGENT_TOKEN`), used by the ingress (to acknowledge a session at
//! once) and by the runner (to post the run's progress).

use crate::config::ConfigError;
use crate::http::RetryPolicy;
use crate::tracker::linear::LinearAgentSessions;
use baton_core::ports::AgentSessions;
use std::sync::Arc;
use std::time::Duration;

/// For the ingress: each post must fit in the seconds Linear waits for the webhook's answer.
pub fn for_ingress(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn AgentSessions>>, ConfigError> {
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
        timeout: Duration::from_millis(1500),
    };
    built(env, policy)
}

/// For the runner: retries with backoff on 429 and 5xx (the client's policy), off the run's path.
pub fn for_runner(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn AgentSessions>>, ConfigError> {
    built(env, RetryPolicy::default())
}

fn built(
    env: &dyn Fn(&str) -> Option<String>,
    policy: RetryPolicy,
) -> Result<Option<Arc<dyn AgentSessions>>, ConfigError> {
    Ok(LinearAgentSessions::from_env(env, policy)?
        .map(|sessions| Arc::new(sessions) as Arc<dyn AgentSessions>))
}
