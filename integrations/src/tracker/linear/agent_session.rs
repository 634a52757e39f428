//! baton as a Linear agent: activities posted to, and the external link set on, the agent
//! sessions Linear opens when baton's app user is mentioned or delegated an issue.
//!
//! Settings come from the environment, for the whole deployment (the app has one token):
//! - `LINEAR_AGENT_TOKEN`: the app actor's OAuth access token, sent as `Bearer`, in a header
//!   marked sensitive; never logged. Unset: no agent sessions are reported.
//! - `LINEAR_AGENT_API_URL`: the GraphQL endpoint, default `https://api.linear.app/graphql`.

use super::graphql::GraphQlClient;
use super::queries::{AGENT_ACTIVITY_CREATE, AGENT_SESSION_UPDATE};
use super::DEFAULT_ENDPOINT;
use crate::config::ConfigError;
use crate::http::{ApiClient, RetryPolicy};
use async_trait::async_trait;
use baton_core::ports::{Activity, AgentSessionError, AgentSessions};
use serde_json::json;

pub const TOKEN_VARIABLE: &str = "LINEAR_AGENT_TOKEN";
pub const ENDPOINT_VARIABLE: &str = "LINEAR_AGENT_API_URL";

/// Linear's agent session API. Its `Debug` output never shows the token.
#[derive(Debug, Clone)]
pub struct LinearAgentSessions {
    graphql: GraphQlClient,
}

impl LinearAgentSessions {
    /// `None` when `LINEAR_AGENT_TOKEN` is unset or empty. `policy` bounds each post: the
    /// ingress answers Linear within seconds, so it passes a short one.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        policy: RetryPolicy,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(token) = env(TOKEN_VARIABLE).filter(|t| !t.trim().is_empty()) else {
            return Ok(None);
        };
        let endpoint = env(ENDPOINT_VARIABLE)
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let api = ApiClient::new("linear", &endpoint, policy)
            .map_err(|e| ConfigError::new(ENDPOINT_VARIABLE, e.to_string()))?
            .with_header("authorization", &format!("Bearer {}", token.trim()), true)
            .map_err(|e| ConfigError::new(TOKEN_VARIABLE, e.to_string()))?;
        Ok(Some(Self {
            graphql: GraphQlClient::new(api, policy),
        }))
    }
}

fn failed(session: &str, error: impl ToString) -> AgentSessionError {
    AgentSessionError::Failed {
        session: session.to_owned(),
        message: error.to_string(),
    }
}

#[async_trait]
impl AgentSessions for LinearAgentSessions {
    async fn post_activity(
        &self,
        session: &str,
        activity: &Activity,
    ) -> Result<(), AgentSessionError> {
        let content = serde_json::to_value(activity).map_err(|e| failed(session, e))?;
        let input = json!({ "agentSessionId": session, "content": content });
        self.graphql
            .run(AGENT_ACTIVITY_CREATE, json!({ "input": input }), session)
            .await
            .map(|_| ())
            .map_err(|e| failed(session, e))
    }

    async fn set_external_url(&self, session: &str, url: &str) -> Result<(), AgentSessionError> {
        let input = json!({ "externalUrls": [{ "label": "baton", "url": url }] });
        self.graphql
            .run(
                AGENT_SESSION_UPDATE,
                json!({ "id": session, "input": input }),
                session,
            )
            .await
            .map(|_| ())
            .map_err(|e| failed(session, e))
    }
}
