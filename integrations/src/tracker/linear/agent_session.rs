//! baton as a Linear agent: activities posted to, and the external link set on, the agent
//! sessions Linear opens when baton's app user is mentioned or delegated an issue.
//!
//! Settings come from the environment, for the whole deployment (the app has one identity):
//! the credential (see [`AgentCredential`]: client credentials, renewed as they expire, or a
//! fixed `LINEAR_AGENT_TOKEN`), sent as `Bearer` in a header marked sensitive and never
//! logged; none set: no agent sessions are reported. `LINEAR_AGENT_API_URL` is the GraphQL
//! endpoint, default `https://api.linear.app/graphql`.

use super::app_token::AgentCredential;
use super::graphql::GraphQlClient;
use super::queries::{Operation, AGENT_ACTIVITY_CREATE, AGENT_SESSION_UPDATE};
use super::DEFAULT_ENDPOINT;
use crate::config::ConfigError;
use crate::http::{ApiClient, RetryPolicy};
use crate::tracker::TrackerError;
use async_trait::async_trait;
use baton_core::ports::{Activity, AgentSessionError, AgentSessions};
use serde_json::{json, Value};
use std::sync::Arc;

pub use super::app_token::TOKEN_VARIABLE;
pub const ENDPOINT_VARIABLE: &str = "LINEAR_AGENT_API_URL";

/// Linear's agent session API. Its `Debug` output never shows the credential.
#[derive(Debug, Clone)]
pub struct LinearAgentSessions {
    /// The endpoint, without the credential: it changes as tokens are renewed.
    api: ApiClient,
    policy: RetryPolicy,
    credential: Arc<AgentCredential>,
}

impl LinearAgentSessions {
    /// `None` when no agent credential is set. `policy` bounds each post (and each request
    /// for a token): the ingress answers Linear within seconds, so it passes a short one.
    pub fn from_env(
        env: &dyn Fn(&str) -> Option<String>,
        policy: RetryPolicy,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(credential) = AgentCredential::from_env(env, policy.timeout)? else {
            return Ok(None);
        };
        let endpoint = env(ENDPOINT_VARIABLE)
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let api = ApiClient::new("linear", &endpoint, policy)
            .map_err(|e| ConfigError::new(ENDPOINT_VARIABLE, e.to_string()))?;
        if let AgentCredential::Fixed(token) = &credential {
            // Refuse a token that cannot travel in a header now, not at the first session.
            bearer(&api, token).map_err(|e| ConfigError::new(TOKEN_VARIABLE, e.to_string()))?;
        }
        Ok(Some(Self {
            api,
            policy,
            credential: Arc::new(credential),
        }))
    }

    /// Runs `operation` with the current token; when Linear refuses it and a new one can be
    /// had, once more with the new one.
    async fn run(
        &self,
        operation: Operation,
        variables: Value,
        session: &str,
    ) -> Result<Value, AgentSessionError> {
        let mut renewed = false;
        loop {
            let token = self
                .credential
                .token()
                .await
                .map_err(|e| failed(session, e))?;
            let api = bearer(&self.api, &token).map_err(|e| failed(session, e))?;
            match GraphQlClient::new(api, self.policy)
                .run(operation, variables.clone(), session)
                .await
            {
                Ok(data) => return Ok(data),
                Err(error)
                    if !renewed
                        && is_unauthorized(&error)
                        && self.credential.refused(&token).await =>
                {
                    tracing::warn!("linear refused the agent token; asking for a new one");
                    renewed = true;
                }
                Err(error) => return Err(failed(session, error)),
            }
        }
    }
}

fn bearer(api: &ApiClient, token: &str) -> Result<ApiClient, crate::http::ApiError> {
    api.clone()
        .with_header("authorization", &format!("Bearer {token}"), true)
}

fn is_unauthorized(error: &TrackerError) -> bool {
    matches!(error, TrackerError::Api(api) if api.status() == Some(401))
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
        self.run(AGENT_ACTIVITY_CREATE, json!({ "input": input }), session)
            .await
            .map(|_| ())
    }

    async fn set_external_url(&self, session: &str, url: &str) -> Result<(), AgentSessionError> {
        let input = json!({ "externalUrls": [{ "label": "baton", "url": url }] });
        self.run(
            AGENT_SESSION_UPDATE,
            json!({ "id": session, "input": input }),
            session,
        )
        .await
        .map(|_| ())
    }
}
