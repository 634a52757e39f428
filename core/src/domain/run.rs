use super::{JobId, JobReason, WorkItemKey};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The id of one run (one attempt at a work item): a time-ordered UUID, so a work item's
/// runs sort oldest first by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }

    /// Accepts a run id as it appears in API paths: a UUID.
    pub fn parse(value: &str) -> Result<Self, String> {
        uuid::Uuid::parse_str(value)
            .map(|id| Self(id.to_string()))
            .map_err(|_| format!("`{}` is not a run id (a UUID)", super::preview(value)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Cumulative token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenTotals {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

impl TokenTotals {
    pub fn add(&mut self, other: TokenTotals) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// A runner holds the work item's lease and is working on it.
    Running,
    /// The agent finished its turns successfully.
    Succeeded,
    /// The run failed: see its error. A retry may follow as a new run.
    Failed,
    /// Stopped because the issue was closed, unlabelled or `/baton stop`ped.
    Cancelled,
    /// The runner stopped before the run ended (shutdown, or it lost its lease); the work
    /// item goes back to the queue and another run takes over.
    Abandoned,
    /// The agent asked a question; the item waits for a person's answer.
    AwaitingInput,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Abandoned => "abandoned",
            Self::AwaitingInput => "awaiting_input",
        }
    }
}

/// Why a run failed, as a stable code and a readable message (secrets redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// `agent_spawn_failed`, `turn_failed`, `turn_timed_out`, `stalled`, `hook_failed`,
    /// `template_render_error`, `token_budget_exceeded`, ...
    pub code: String,
    pub message: String,
}

/// One attempt at a work item, from claim to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: RunId,
    pub work_item: WorkItemKey,
    pub job_id: JobId,
    pub reason: JobReason,
    pub attempt: u32,
    /// The runner that claimed it.
    pub runner: String,
    pub status: RunStatus,
    /// When the webhook that requested the run arrived.
    pub received_at: Option<DateTime<Utc>>,
    pub queued_at: DateTime<Utc>,
    pub claimed_at: DateTime<Utc>,
    pub agent_started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub session_id: Option<String>,
    pub turns: u32,
    pub tokens: TokenTotals,
    pub error: Option<RunError>,
    pub workspace: Option<String>,
    pub branch: Option<String>,
    /// The commit holding the agent's changes, when there were any.
    pub commit: Option<String>,
    /// Events recorded in the run's timeline.
    pub events: u32,
    /// Optimistic concurrency, as for work items.
    pub version: u64,
}

/// One entry of a run's timeline: an agent event or a step of the runner, redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub run_id: RunId,
    /// 1-based position in the timeline.
    pub seq: u32,
    pub at: DateTime<Utc>,
    /// `session_started`, `message`, `command`, `turn_ended`, `claimed`, `workspace_ready`, ...
    pub kind: String,
    pub data: serde_json::Value,
}
