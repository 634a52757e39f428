//! The agent-session port: where baton, installed as an agent in a tracker (Linear's app
//! actor), reports what it does inside the session a person opened by mentioning or
//! delegating to it. The ingress acknowledges with a `thought`; the runner posts progress.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// One activity in an agent session, in Linear's vocabulary: the `type` and its fields are
/// what `agentActivityCreate` takes as `content`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Activity {
    /// The agent is thinking: shown as a passing note ("Working on it").
    Thought { body: String },
    /// A tool call or command: what was done, on what, and its result once known.
    Action {
        action: String,
        parameter: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<String>,
    },
    /// A question for a person; the session waits for their reply.
    Elicitation { body: String },
    /// The work is done; the body says what came of it.
    Response { body: String },
    /// The work failed.
    Error { body: String },
}

impl Activity {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Thought { .. } => "thought",
            Self::Action { .. } => "action",
            Self::Elicitation { .. } => "elicitation",
            Self::Response { .. } => "response",
            Self::Error { .. } => "error",
        }
    }
}

/// Why a post to the session failed. Never fatal for a delivery or a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentSessionError {
    /// The API refused or could not be reached (after the adapter's own retries).
    #[error("agent session {session}: {message}")]
    Failed { session: String, message: String },
}

#[async_trait]
pub trait AgentSessions: Send + Sync + 'static {
    /// Adds `activity` to the session `session` (its id, as the webhook gave it).
    async fn post_activity(
        &self,
        session: &str,
        activity: &Activity,
    ) -> Result<(), AgentSessionError>;

    /// Links the session to the page where its run can be followed.
    async fn set_external_url(&self, session: &str, url: &str) -> Result<(), AgentSessionError>;
}
