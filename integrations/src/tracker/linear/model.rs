//! The shapes of Linear's GraphQL answers that baton reads, and how an issue becomes a
//! [`TrackerIssue`]. Fields Linear's schema declares non-null are required: an answer without
//! them is malformed, never filled with defaults.

use crate::tracker::{BlockerRef, TrackerIssue};
use chrono::{DateTime, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LinearIssue {
    id: String,
    identifier: String,
    title: String,
    description: Option<String>,
    /// 0 = no priority, 1 = urgent .. 4 = low. A `Float` in Linear's schema.
    priority: f64,
    url: Option<String>,
    branch_name: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    state: StateName,
    assignee: Option<UserId>,
    creator: Option<UserName>,
    labels: Nodes<LabelName>,
    inverse_relations: Nodes<Relation>,
}

impl LinearIssue {
    pub(super) fn normalize(self) -> TrackerIssue {
        let priority = match self.priority.round() as i64 {
            level @ 1..=4 => Some(level as u8),
            _ => None,
        };
        TrackerIssue {
            id: self.id,
            identifier: self.identifier,
            title: self.title,
            description: self.description.unwrap_or_default(),
            priority,
            state: self.state.name,
            branch_name: self.branch_name,
            url: self.url,
            assignee_id: self.assignee.map(|a| a.id),
            labels: self
                .labels
                .nodes
                .into_iter()
                .map(|l| l.name.to_lowercase())
                .collect(),
            blocked_by: self
                .inverse_relations
                .nodes
                .into_iter()
                .filter(|r| r.kind == "blocks")
                .map(|r| BlockerRef {
                    id: r.issue.id,
                    identifier: r.issue.identifier,
                    state: r.issue.state.name,
                })
                .collect(),
            created_at: Some(self.created_at),
            updated_at: Some(self.updated_at),
            repository: None,
            author: self.creator.map(|c| c.name),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Nodes<T> {
    pub(super) nodes: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct StateName {
    name: String,
}

#[derive(Debug, Deserialize)]
struct UserId {
    id: String,
}

#[derive(Debug, Deserialize)]
struct UserName {
    name: String,
}

#[derive(Debug, Deserialize)]
struct LabelName {
    name: String,
}

/// An issue relation seen from its target: `issue` relates to this one as `kind`.
#[derive(Debug, Deserialize)]
struct Relation {
    #[serde(rename = "type")]
    kind: String,
    issue: RelatedIssue,
}

#[derive(Debug, Deserialize)]
struct RelatedIssue {
    id: String,
    identifier: String,
    state: StateName,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IssuePage {
    pub(super) nodes: Vec<LinearIssue>,
    pub(super) page_info: PageInfo,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PageInfo {
    pub(super) has_next_page: bool,
    pub(super) end_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CommentPayload {
    pub(super) success: bool,
    pub(super) comment: Option<CreatedComment>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CreatedComment {
    pub(super) id: String,
    pub(super) url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SuccessPayload {
    pub(super) success: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct IssueStates {
    pub(super) id: String,
    pub(super) state: WorkflowState,
    pub(super) team: TeamStates,
}

#[derive(Debug, Deserialize)]
pub(super) struct TeamStates {
    pub(super) states: Nodes<WorkflowState>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WorkflowState {
    pub(super) id: String,
    pub(super) name: String,
}
