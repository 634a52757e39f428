use super::{IssueSnapshot, JobId, RunId, SourceKind, TokenTotals};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The key of a work item: `<source>:<identifier>`, e.g. `github:acme/app#12`, `linear:ENG-42`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkItemKey(String);

impl WorkItemKey {
    pub fn new(source: SourceKind, identifier: &str) -> Self {
        Self(format!("{source}:{identifier}"))
    }

    /// Keys longer than this are refused: no tracker's identifier comes near it, and keys
    /// become store keys and path segments.
    pub const MAX_LEN: usize = 512;

    /// Accepts a key as it appears in API paths and job messages: `<source>:<identifier>`,
    /// at most [`Self::MAX_LEN`] bytes, with no control character.
    pub fn parse(value: &str) -> Result<Self, String> {
        let shown = super::preview(value);
        if value.len() > Self::MAX_LEN {
            return Err(format!(
                "work item key `{shown}` is {} bytes long; the limit is {}",
                value.len(),
                Self::MAX_LEN
            ));
        }
        if !super::is_printable(value) {
            return Err(format!(
                "work item key `{shown}` contains a control character"
            ));
        }
        let (source, identifier) = value
            .split_once(':')
            .ok_or_else(|| format!("work item key `{shown}` has no `<source>:` prefix"))?;
        source
            .parse::<SourceKind>()
            .map_err(|e| format!("work item key `{shown}`: {e}"))?;
        if identifier.is_empty() {
            return Err(format!("work item key `{shown}` has an empty identifier"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkItemStatus {
    /// A job is on the queue.
    Queued,
    /// A runner holds the lease.
    Running,
    /// Failed; a retry is scheduled.
    Retrying,
    Succeeded,
    Failed,
    Cancelled,
    /// The job kept failing and went to the dead-letter queue.
    DeadLettered,
    /// Held at the dispatch gate until a person approves (`gates.approval_required`).
    AwaitingApproval,
    /// The agent asked a question; the work goes on once a person answers it.
    AwaitingInput,
}

impl WorkItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::DeadLettered => "dead_lettered",
            Self::AwaitingApproval => "awaiting_approval",
            Self::AwaitingInput => "awaiting_input",
        }
    }

    /// Whether a runner is (or will soon be) working on it.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Running | Self::Retrying)
    }
}

/// A runner's claim on a work item. Another runner may take the item over only once
/// `expires_at` has passed (the holder crashed or stalled); the holder heartbeats it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    pub run_id: RunId,
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// One issue baton was asked to work on, across all its runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub key: WorkItemKey,
    pub source: SourceKind,
    /// The latest snapshot a webhook delivered.
    pub issue: IssueSnapshot,
    pub status: WorkItemStatus,
    /// Attempts made for the current request; reset by a new request.
    pub attempt: u32,
    /// Set when the issue was closed, unlabelled, moved to a terminal state or `/baton stop`ped.
    pub cancel_requested: bool,
    /// The newest job requested for this item. The contract for consumers: a job message
    /// whose id is not this one is superseded and is acknowledged without running; the runner
    /// claims the item only for this job, and a request made while a run holds the item runs
    /// once that run ends. (The ingress undoes a request whose job could not be queued, and
    /// the runner sends a follow-up job before it names it here, so this job was sent.)
    pub pending_job: Option<JobId>,
    pub last_delivery: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the webhook that requested the current run arrived.
    pub requested_at: Option<DateTime<Utc>>,
    /// The runner working on it, while one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// The newest run, running or ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunId>,
    /// When the scheduled retry or continuation is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<DateTime<Utc>>,
    /// The last run's error, while the item is retrying, failed or dead-lettered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Tokens used by all its runs.
    #[serde(default)]
    pub tokens: TokenTotals,
    /// Who approved the work at the dispatch gate, when one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// The pull request a run opened for this item; review and merge webhooks find the item
    /// through the marker in its body and are checked against this branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequestLink>,
    /// The one living status comment on the issue, updated in place run after run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_comment: Option<String>,
    /// The workflow (its name in the deployment's set: the file name) that accepted the
    /// newest run request. Its runs follow that workflow and no other: when it is gone, the
    /// item fails with an error naming it rather than running under another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The agent's open question (`awaiting_input`), and its answer once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_request: Option<super::InputRequest>,
    /// The tracker's agent session the work was asked for in (baton as a Linear agent):
    /// its runs report their progress there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_session: Option<AgentSessionLink>,
    /// Optimistic concurrency: every write expects the version it read.
    pub version: u64,
}

/// The agent session a work item was asked for in, and the newest message a person wrote
/// there (the mention, or a follow-up), which the next run's prompt carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSessionLink {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Who wrote `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The pull request delivered for a work item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestLink {
    pub number: u64,
    pub url: String,
    pub branch: String,
}

/// The line baton writes in a pull request's body to link it to its work item.
pub const WORK_ITEM_MARKER: &str = "baton-work-item:";

impl WorkItemKey {
    /// The marker for a pull request body: an HTML comment, invisible when rendered.
    pub fn marker(&self) -> String {
        format!("<!-- {WORK_ITEM_MARKER} {} -->", self.0)
    }

    /// Finds the marker in a pull request body.
    pub fn from_marker(body: &str) -> Option<Self> {
        let start = body.find(WORK_ITEM_MARKER)? + WORK_ITEM_MARKER.len();
        let rest = &body[start..];
        let end = rest.find("-->").unwrap_or(rest.len());
        Self::parse(rest[..end].trim()).ok()
    }
}
