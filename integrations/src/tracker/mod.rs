//! Issue trackers, one file each behind [`Tracker`]: what the runner and the safety poll ask
//! of GitHub Issues, Linear, Jira Cloud, GitLab, TAPD and the in-memory tracker.
//!
//! Every adapter normalizes to [`TrackerIssue`] (Symphony's issue model), takes a configurable
//! base URL, and runs host-side with the tracker credential: the agent reaches the tracker only
//! through [`Tracker::tools`], never with the token itself.

pub mod github;
pub mod gitlab;
pub mod jira;
pub mod linear;
pub mod memory;
pub mod open_closed_states;
pub mod priority_labels;
pub mod registry;
pub mod tapd;

use crate::http::ApiError;
use async_trait::async_trait;
use baton_core::domain::IssueSnapshot;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An issue as every tracker reports it (`../shared/reference.md` §2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerIssue {
    /// The tracker's stable id (GitHub node number as text, Linear UUID, Jira id, GitLab iid
    /// scoped by project, TAPD id).
    pub id: String,
    /// What people call it: `acme/app#12`, `ENG-42`, `PROJ-7`, `group/project#3`.
    pub identifier: String,
    pub title: String,
    pub description: String,
    /// 1 (urgent) .. 4 (low); `None` when unset.
    pub priority: Option<u8>,
    /// The state as the tracker names it.
    pub state: String,
    /// The branch the tracker suggests, where it has one (Linear).
    pub branch_name: Option<String>,
    pub url: Option<String>,
    pub assignee_id: Option<String>,
    /// Lowercased.
    pub labels: Vec<String>,
    pub blocked_by: Vec<BlockerRef>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// `owner/repo` or `group/project`, where the tracker has one.
    pub repository: Option<String>,
    pub author: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockerRef {
    pub id: String,
    pub identifier: String,
    pub state: String,
}

impl TrackerIssue {
    /// The snapshot baton stores on the work item.
    pub fn to_snapshot(&self) -> IssueSnapshot {
        IssueSnapshot {
            id: self.id.clone(),
            identifier: self.identifier.clone(),
            title: self.title.clone(),
            body: self.description.clone(),
            state: self.state.clone(),
            labels: self.labels.clone(),
            url: self.url.clone(),
            repository: self.repository.clone(),
            author: self.author.clone(),
        }
    }
}

/// Which issue to act on: what a work item knows about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRef {
    pub id: String,
    pub identifier: String,
}

impl IssueRef {
    pub fn of(issue: &IssueSnapshot) -> Self {
        Self {
            id: issue.id.clone(),
            identifier: issue.identifier.clone(),
        }
    }
}

impl From<&TrackerIssue> for IssueRef {
    fn from(issue: &TrackerIssue) -> Self {
        Self {
            id: issue.id.clone(),
            identifier: issue.identifier.clone(),
        }
    }
}

/// A comment baton wrote, so it can be updated in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRef {
    pub id: String,
    pub url: Option<String>,
}

/// How a state move ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StateMove {
    Moved {
        from: String,
        to: String,
    },
    /// Already in the target state: nothing written.
    AlreadyThere,
    /// The issue was not in the expected state: nothing written, someone else moved it.
    Conflict {
        actual: String,
    },
}

impl StateMove {
    /// The precondition every move checks before writing, on state names: already in
    /// `target` is [`StateMove::AlreadyThere`]; not in `expected` is a
    /// [`StateMove::Conflict`]; `None` means go ahead.
    pub fn precondition(current: &str, expected: Option<&str>, target: &str) -> Option<Self> {
        if same_state(current, target) {
            return Some(Self::AlreadyThere);
        }
        match expected {
            Some(expected) if !same_state(current, expected) => Some(Self::Conflict {
                actual: current.to_owned(),
            }),
            _ => None,
        }
    }
}

/// A tool the tracker offers the agent; [`Tracker::call_tool`] runs it host-side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackerTool {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackerError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{tracker}: issue `{identifier}` not found")]
    NotFound {
        tracker: &'static str,
        identifier: String,
    },
    #[error("{tracker}: unknown state `{state}` (known: {known})")]
    UnknownState {
        tracker: &'static str,
        state: String,
        known: String,
    },
    #[error("{tracker}: {message}")]
    Invalid {
        tracker: &'static str,
        message: String,
    },
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
}

impl TrackerError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Api(error) => error.code(),
            Self::NotFound { .. } => "tracker_issue_not_found",
            Self::UnknownState { .. } => "tracker_unknown_state",
            Self::Invalid { .. } => "tracker_invalid",
            Self::UnknownTool(_) => "unknown_tool",
        }
    }
}

/// One tracker. All methods are idempotent or guarded, because jobs run at least once.
#[async_trait]
pub trait Tracker: Send + Sync {
    /// `github`, `linear`, `jira`, `gitlab`, `tapd`, `memory`.
    fn kind(&self) -> &'static str;

    /// One issue; `Ok(None)` when the tracker says it does not exist.
    async fn fetch_issue(&self, issue: &IssueRef) -> Result<Option<TrackerIssue>, TrackerError>;

    /// Every issue in one of `states` (compared case-insensitively), all pages.
    async fn fetch_by_states(&self, states: &[String]) -> Result<Vec<TrackerIssue>, TrackerError>;

    /// Adds a comment; returns its reference for later updates.
    async fn create_comment(
        &self,
        issue: &IssueRef,
        body: &str,
    ) -> Result<CommentRef, TrackerError>;

    /// Replaces a comment baton wrote earlier.
    async fn update_comment(
        &self,
        issue: &IssueRef,
        comment: &CommentRef,
        body: &str,
    ) -> Result<(), TrackerError>;

    /// Moves the issue to `target` if it is in `expected` now (case-insensitive); `None`
    /// moves it from wherever it is.
    async fn move_to_state(
        &self,
        issue: &IssueRef,
        expected: Option<&str>,
        target: &str,
    ) -> Result<StateMove, TrackerError>;

    /// The tools offered to the agent for this tracker.
    fn tools(&self) -> Vec<TrackerTool> {
        standard_tools()
    }

    /// Runs one of [`Tracker::tools`] for the agent, on the issue the run is for.
    async fn call_tool(
        &self,
        issue: &IssueRef,
        name: &str,
        arguments: &Value,
    ) -> Result<Value, TrackerError> {
        call_standard_tool(self, issue, name, arguments).await
    }
}

/// The tools every tracker offers: read the issue, comment on it.
pub fn standard_tools() -> Vec<TrackerTool> {
    vec![
        TrackerTool {
            name: "tracker_get_issue".into(),
            description: "Read the issue this run works on, as the tracker has it now.".into(),
            input_schema: serde_json::json!({"type": "object", "properties": {}, "additionalProperties": false}),
        },
        TrackerTool {
            name: "tracker_comment".into(),
            description: "Post a comment on the issue this run works on.".into(),
            input_schema: serde_json::json!({
                "type": "object",
                "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 65536}},
                "required": ["body"],
                "additionalProperties": false
            }),
        },
    ]
}

/// Runs a standard tool through the tracker's own methods.
pub async fn call_standard_tool<T: Tracker + ?Sized>(
    tracker: &T,
    issue: &IssueRef,
    name: &str,
    arguments: &Value,
) -> Result<Value, TrackerError> {
    match name {
        "tracker_get_issue" => {
            let found =
                tracker
                    .fetch_issue(issue)
                    .await?
                    .ok_or_else(|| TrackerError::NotFound {
                        tracker: tracker.kind(),
                        identifier: issue.identifier.clone(),
                    })?;
            Ok(serde_json::to_value(found).unwrap_or(Value::Null))
        }
        "tracker_comment" => {
            let body = arguments
                .get("body")
                .and_then(Value::as_str)
                .filter(|b| !b.trim().is_empty())
                .ok_or_else(|| TrackerError::Invalid {
                    tracker: tracker.kind(),
                    message: "`body` must be a non-empty string".into(),
                })?;
            let comment = tracker.create_comment(issue, body).await?;
            Ok(serde_json::json!({ "comment_id": comment.id, "url": comment.url }))
        }
        other => Err(TrackerError::UnknownTool(other.to_owned())),
    }
}

/// The number of an issue on trackers that number them per repository (GitHub, GitLab):
/// the `#N` of its identifier, which webhooks and adapters agree on (a webhook's `id` is the
/// tracker's global id), else its id when that is the number itself.
pub(crate) fn number_of(issue: &IssueRef) -> Option<u64> {
    issue
        .identifier
        .rsplit_once('#')
        .and_then(|(_, number)| numeric_id(number))
        .or_else(|| numeric_id(&issue.id))
}

/// A positive decimal number, nothing else: ids go into URL paths.
pub(crate) fn numeric_id(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|n| *n > 0)
}

/// Lowercase comparison of tracker state names, as Symphony does.
pub fn same_state(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim()) || a.trim().to_lowercase() == b.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths_are_plain_numbers() {
        assert_eq!(numeric_id("12"), Some(12));
        for bad in ["", "0", "-1", "1/../2", "12a", "+3"] {
            assert_eq!(numeric_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_issue_number_comes_from_the_identifier_before_the_id() {
        let from_webhook = IssueRef {
            id: "1347001".into(),
            identifier: "acme/app#12".into(),
        };
        assert_eq!(number_of(&from_webhook), Some(12));
        let bare = IssueRef {
            id: "7".into(),
            identifier: "not numbered".into(),
        };
        assert_eq!(number_of(&bare), Some(7));
    }
}
