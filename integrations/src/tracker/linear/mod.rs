//! Linear, through its GraphQL API (`POST https://api.linear.app/graphql`).
//!
//! Options (`tracker.provider`):
//! - `base_url` (or `endpoint`): the GraphQL endpoint, default `https://api.linear.app/graphql`.
//! - `api_key`: `$VARIABLE` holding a personal API key, default `LINEAR_API_KEY`. Sent as
//!   `Authorization: <key>` (personal keys take no `Bearer`), in a header marked sensitive.
//! - `team`: a team key (`ENG`) that limits listings to that team.
//! - `project_slug`: a project's slug id that limits listings to that project.
//!
//! States are Linear's workflow state names (`Todo`, `In Progress`, `Done`), compared
//! case-insensitively. A state move resolves the target name among the issue's team states,
//! because a state id only exists within its team.

mod agent_session;
mod app_token;
mod graphql;
mod model;
mod queries;

pub use agent_session::LinearAgentSessions;

use super::{same_state, CommentRef, IssueRef, StateMove, Tracker, TrackerError, TrackerIssue};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::{ApiClient, ApiError};
use async_trait::async_trait;
use graphql::GraphQlClient;
use model::{CommentPayload, IssuePage, IssueStates, LinearIssue, SuccessPayload};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

const SERVICE: &str = "linear";
pub const DEFAULT_ENDPOINT: &str = "https://api.linear.app/graphql";
pub const DEFAULT_API_KEY_VARIABLE: &str = "LINEAR_API_KEY";
/// Linear's default page size; large enough that most listings are one request.
const PAGE_SIZE: u32 = 50;
/// A listing longer than this is a filter mistake, not a backlog: stop rather than loop.
const MAX_PAGES: usize = 200;

/// The Linear tracker. Its `Debug` output shows the endpoint, never the key.
#[derive(Debug, Clone)]
pub struct LinearTracker {
    graphql: GraphQlClient,
    team: Option<String>,
    project_slug: Option<String>,
}

impl LinearTracker {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let endpoint = config.base_url(DEFAULT_ENDPOINT);
        let key = config.secret("api_key", DEFAULT_API_KEY_VARIABLE)?;
        let api = ApiClient::new(SERVICE, &endpoint, config.policy)
            .map_err(|e| ConfigError::new("linear.base_url", e.to_string()))?
            .with_header("authorization", &key, true)
            .map_err(|e| ConfigError::new("linear.api_key", e.to_string()))?;
        Ok(Self {
            graphql: GraphQlClient::new(api, config.policy),
            team: config.string("team"),
            project_slug: config.string("project_slug"),
        })
    }

    /// The `IssueFilter` for a listing: the states as given (Linear compares names exactly,
    /// so the answer is filtered again here), narrowed to the team and project if configured.
    fn listing_filter(&self, states: &[String]) -> Value {
        let mut filter = Map::new();
        filter.insert("state".into(), json!({ "name": { "in": states } }));
        if let Some(team) = &self.team {
            filter.insert("team".into(), json!({ "key": { "eq": team } }));
        }
        if let Some(slug) = &self.project_slug {
            filter.insert("project".into(), json!({ "slugId": { "eq": slug } }));
        }
        Value::Object(filter)
    }
}

#[async_trait]
impl Tracker for LinearTracker {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn fetch_issue(&self, issue: &IssueRef) -> Result<Option<TrackerIssue>, TrackerError> {
        let data = match self
            .graphql
            .run(queries::ISSUE, json!({ "id": issue.id }), &issue.identifier)
            .await
        {
            Ok(data) => data,
            Err(TrackerError::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        let found: Option<LinearIssue> = field(&data, "issue", queries::ISSUE.name)?;
        Ok(found.map(LinearIssue::normalize))
    }

    async fn fetch_by_states(&self, states: &[String]) -> Result<Vec<TrackerIssue>, TrackerError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let filter = self.listing_filter(states);
        let mut issues = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let variables = json!({ "filter": filter, "first": PAGE_SIZE, "after": cursor });
            let data = self
                .graphql
                .run(queries::ISSUES, variables, "issues")
                .await?;
            let page: IssuePage = field(&data, "issues", queries::ISSUES.name)?;
            issues.extend(
                page.nodes
                    .into_iter()
                    .map(LinearIssue::normalize)
                    .filter(|issue| states.iter().any(|s| same_state(s, &issue.state))),
            );
            if !page.page_info.has_next_page {
                return Ok(issues);
            }
            cursor = Some(page.page_info.end_cursor.ok_or_else(|| {
                ApiError::malformed(
                    SERVICE,
                    queries::ISSUES.name,
                    "`hasNextPage` without an `endCursor`",
                )
            })?);
        }
        Err(TrackerError::Invalid {
            tracker: SERVICE,
            message: format!(
                "more than {MAX_PAGES} pages of issues in {states:?}; narrow the listing with `team` or `project_slug`"
            ),
        })
    }

    async fn create_comment(
        &self,
        issue: &IssueRef,
        body: &str,
    ) -> Result<CommentRef, TrackerError> {
        let operation = queries::COMMENT_CREATE;
        let variables = json!({ "issueId": issue.id, "body": body });
        let data = self
            .graphql
            .run(operation, variables, &issue.identifier)
            .await?;
        let payload: CommentPayload = field(&data, "commentCreate", operation.name)?;
        let comment = match (payload.success, payload.comment) {
            (true, Some(comment)) => comment,
            _ => return Err(unsuccessful(operation.name, &issue.identifier)),
        };
        Ok(CommentRef {
            id: comment.id,
            url: comment.url,
        })
    }

    async fn update_comment(
        &self,
        issue: &IssueRef,
        comment: &CommentRef,
        body: &str,
    ) -> Result<(), TrackerError> {
        let operation = queries::COMMENT_UPDATE;
        let variables = json!({ "id": comment.id, "body": body });
        let data = self
            .graphql
            .run(operation, variables, &issue.identifier)
            .await?;
        let payload: SuccessPayload = field(&data, "commentUpdate", operation.name)?;
        if !payload.success {
            return Err(unsuccessful(operation.name, &issue.identifier));
        }
        Ok(())
    }

    async fn move_to_state(
        &self,
        issue: &IssueRef,
        expected: Option<&str>,
        target: &str,
    ) -> Result<StateMove, TrackerError> {
        let read = queries::ISSUE_STATES;
        let data = self
            .graphql
            .run(read, json!({ "id": issue.id }), &issue.identifier)
            .await?;
        let current: IssueStates = field::<Option<IssueStates>>(&data, "issue", read.name)?
            .ok_or_else(|| TrackerError::NotFound {
                tracker: SERVICE,
                identifier: issue.identifier.clone(),
            })?;
        if same_state(&current.state.name, target) {
            return Ok(StateMove::AlreadyThere);
        }
        // A misconfigured target is reported even when someone else moved the issue.
        let team_states = current.team.states.nodes;
        let Some(wanted) = team_states.iter().find(|s| same_state(&s.name, target)) else {
            let known: Vec<&str> = team_states.iter().map(|s| s.name.as_str()).collect();
            return Err(TrackerError::UnknownState {
                tracker: SERVICE,
                state: target.to_owned(),
                known: known.join(", "),
            });
        };
        if let Some(expected) = expected {
            if !same_state(&current.state.name, expected) {
                return Ok(StateMove::Conflict {
                    actual: current.state.name,
                });
            }
        }
        let update = queries::ISSUE_UPDATE_STATE;
        let variables = json!({ "id": current.id, "stateId": wanted.id });
        let data = self
            .graphql
            .run(update, variables, &issue.identifier)
            .await?;
        let payload: SuccessPayload = field(&data, "issueUpdate", update.name)?;
        if !payload.success {
            return Err(unsuccessful(update.name, &issue.identifier));
        }
        Ok(StateMove::Moved {
            from: current.state.name,
            to: wanted.name.clone(),
        })
    }
}

/// One field of a `data` object. The key must be there (a `null` is fine where `T` allows
/// it): a missing key means the answer is not for the query we sent.
fn field<T: DeserializeOwned>(data: &Value, key: &str, operation: &str) -> Result<T, ApiError> {
    let value = data.get(key).ok_or_else(|| {
        ApiError::malformed(SERVICE, operation, format!("`data.{key}` is missing"))
    })?;
    serde_json::from_value(value.clone())
        .map_err(|e| ApiError::malformed(SERVICE, operation, format!("`data.{key}`: {e}")))
}

fn unsuccessful(operation: &str, identifier: &str) -> TrackerError {
    TrackerError::Invalid {
        tracker: SERVICE,
        message: format!("{operation} on `{identifier}` answered `success: false`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RetryPolicy;

    #[test]
    fn the_api_key_stays_out_of_debug_output() {
        let env = |name: &str| (name == "LINEAR_API_KEY").then(|| "lin_api_s3cr3t".to_owned());
        let options = json!({ "team": "ENG" });
        let tracker = LinearTracker::from_config(&AdapterConfig {
            kind: "linear",
            options: &options,
            env: &env,
            policy: RetryPolicy::fast(),
        })
        .unwrap();
        let printed = format!("{tracker:?}");
        assert!(printed.contains("api.linear.app"), "{printed}");
        assert!(!printed.contains("lin_api_s3cr3t"), "{printed}");
    }

    #[test]
    fn a_missing_key_names_the_variable() {
        let env = |_: &str| None;
        let error = LinearTracker::from_config(&AdapterConfig {
            kind: "linear",
            options: &Value::Null,
            env: &env,
            policy: RetryPolicy::fast(),
        })
        .unwrap_err();
        assert!(error.message.contains("LINEAR_API_KEY"), "{error}");
    }
}
