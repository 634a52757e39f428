use super::WorkItemKey;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bumped whenever the job message changes shape; consumers refuse versions they do not know.
pub const JOB_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// A new, time-ordered id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for JobId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a run was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobReason {
    /// Opened or reopened already carrying the trigger label.
    Opened,
    /// The trigger label (or the last missing required label) was added.
    Labeled,
    /// Moved into an active state.
    StateChanged,
    /// `/baton run`.
    CommentRun,
    /// `/baton retry`.
    CommentRetry,
    /// A reviewer asked for changes on the run's pull request.
    ReviewChangesRequested,
    /// Scheduled by the runner or reconciler after a failure.
    Retry,
    /// The issue is still active after a clean run.
    Continuation,
    /// `/baton approve` (or the approval label) released a run held at the dispatch gate.
    Approved,
    /// A reviewer approved the run's pull request: check the merge gates and merge.
    ReviewApproved,
    /// The run's pull request was merged: move the issue to its done state.
    PullRequestMerged,
    /// Sent again by the reconciler: the job in flight was lost (its runner died, or its
    /// message never came back).
    Reconciled,
    /// The safety poll found the issue eligible and no webhook had said so.
    Polled,
    /// Requested through the API or CLI (`POST /api/v1/issues/{key}/retry`).
    Manual,
    /// A person answered the agent's question (a reply or `/baton answer`).
    InputAnswered,
    /// baton, as a Linear agent, was mentioned or delegated the issue.
    AgentSession,
    /// A person wrote a follow-up message in the item's agent session.
    AgentPrompted,
}

impl JobReason {
    /// Jobs that finish delivered work instead of starting an agent session.
    pub fn is_follow_up(self) -> bool {
        matches!(self, Self::ReviewApproved | Self::PullRequestMerged)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::Labeled => "labeled",
            Self::StateChanged => "state_changed",
            Self::CommentRun => "comment_run",
            Self::CommentRetry => "comment_retry",
            Self::ReviewChangesRequested => "review_changes_requested",
            Self::Retry => "retry",
            Self::Continuation => "continuation",
            Self::Approved => "approved",
            Self::ReviewApproved => "review_approved",
            Self::PullRequestMerged => "pull_request_merged",
            Self::Reconciled => "reconciled",
            Self::Polled => "polled",
            Self::Manual => "manual",
            Self::InputAnswered => "input_answered",
            Self::AgentSession => "agent_session",
            Self::AgentPrompted => "agent_prompted",
        }
    }
}

/// The message on the jobs queue. Deliberately small: the runner re-reads the work item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Schema version, [`JOB_SCHEMA_VERSION`].
    pub v: u32,
    pub job_id: JobId,
    pub work_item: WorkItemKey,
    pub reason: JobReason,
    /// 1 for the first attempt of a request.
    pub attempt: u32,
    pub queued_at: DateTime<Utc>,
    /// The webhook delivery that caused it, for tracing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// How many continuation runs in a row led to this one (0 for a requested run).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub continuation: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl Job {
    pub fn to_message(&self) -> String {
        // Serializing plain owned data into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_message(body: &str) -> Result<Self, String> {
        let job: Job =
            serde_json::from_str(body).map_err(|e| format!("job message is not valid: {e}"))?;
        if job.v != JOB_SCHEMA_VERSION {
            return Err(format!(
                "job schema version {} is not supported (expected {JOB_SCHEMA_VERSION})",
                job.v
            ));
        }
        Ok(job)
    }
}
