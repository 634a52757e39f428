//! The OpenAPI schemas of the domain types the API answers with. The kernel's types know
//! nothing of OpenAPI; each has a mirror here that carries its schema under the domain
//! type's name, and the views point at it with `#[schema(value_type = ...)]`.
//!
//! A mirror cannot drift from its domain type: each `From` below takes the domain value
//! apart field by field (or matches every variant), so a new field or variant fails to
//! compile until its mirror has it, and `tests::openapi` checks that each mirror serialises
//! exactly as its domain type does.

use baton_core::domain;
use baton_core::ports;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The key of a work item: `<source>:<identifier>`, e.g. `github:acme/app#12`, `linear:ENG-42`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WorkItemKey)]
pub struct WorkItemKeySchema(String);

/// The id of one run (one attempt at a work item): a time-ordered UUID, so a work item's
/// runs sort oldest first by id.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RunId)]
pub struct RunIdSchema(String);

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = JobId)]
pub struct JobIdSchema(String);

impl From<domain::WorkItemKey> for WorkItemKeySchema {
    fn from(key: domain::WorkItemKey) -> Self {
        Self(key.as_str().to_owned())
    }
}

impl From<domain::RunId> for RunIdSchema {
    fn from(id: domain::RunId) -> Self {
        Self(id.as_str().to_owned())
    }
}

impl From<domain::JobId> for JobIdSchema {
    fn from(id: domain::JobId) -> Self {
        Self(id.as_str().to_owned())
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WorkItemStatus)]
#[serde(rename_all = "snake_case")]
pub enum WorkItemStatusSchema {
    Queued,
    Running,
    Retrying,
    Succeeded,
    Failed,
    Cancelled,
    DeadLettered,
    AwaitingApproval,
    AwaitingInput,
}

impl From<domain::WorkItemStatus> for WorkItemStatusSchema {
    fn from(status: domain::WorkItemStatus) -> Self {
        use domain::WorkItemStatus as S;
        match status {
            S::Queued => Self::Queued,
            S::Running => Self::Running,
            S::Retrying => Self::Retrying,
            S::Succeeded => Self::Succeeded,
            S::Failed => Self::Failed,
            S::Cancelled => Self::Cancelled,
            S::DeadLettered => Self::DeadLettered,
            S::AwaitingApproval => Self::AwaitingApproval,
            S::AwaitingInput => Self::AwaitingInput,
        }
    }
}

/// Where a run stands.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RunStatus)]
#[serde(rename_all = "snake_case")]
pub enum RunStatusSchema {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Abandoned,
    AwaitingInput,
}

impl From<domain::RunStatus> for RunStatusSchema {
    fn from(status: domain::RunStatus) -> Self {
        use domain::RunStatus as S;
        match status {
            S::Running => Self::Running,
            S::Succeeded => Self::Succeeded,
            S::Failed => Self::Failed,
            S::Cancelled => Self::Cancelled,
            S::Abandoned => Self::Abandoned,
            S::AwaitingInput => Self::AwaitingInput,
        }
    }
}

/// Why a run was requested.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = JobReason)]
#[serde(rename_all = "snake_case")]
pub enum JobReasonSchema {
    Opened,
    Labeled,
    StateChanged,
    CommentRun,
    CommentRetry,
    ReviewChangesRequested,
    Retry,
    Continuation,
    Approved,
    ReviewApproved,
    PullRequestMerged,
    Reconciled,
    Polled,
    Manual,
    InputAnswered,
    AgentSession,
    AgentPrompted,
}

impl From<domain::JobReason> for JobReasonSchema {
    fn from(reason: domain::JobReason) -> Self {
        use domain::JobReason as R;
        match reason {
            R::Opened => Self::Opened,
            R::Labeled => Self::Labeled,
            R::StateChanged => Self::StateChanged,
            R::CommentRun => Self::CommentRun,
            R::CommentRetry => Self::CommentRetry,
            R::ReviewChangesRequested => Self::ReviewChangesRequested,
            R::Retry => Self::Retry,
            R::Continuation => Self::Continuation,
            R::Approved => Self::Approved,
            R::ReviewApproved => Self::ReviewApproved,
            R::PullRequestMerged => Self::PullRequestMerged,
            R::Reconciled => Self::Reconciled,
            R::Polled => Self::Polled,
            R::Manual => Self::Manual,
            R::InputAnswered => Self::InputAnswered,
            R::AgentSession => Self::AgentSession,
            R::AgentPrompted => Self::AgentPrompted,
        }
    }
}

/// Cumulative token counts.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = TokenTotals)]
pub struct TokenTotalsSchema {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

impl From<domain::TokenTotals> for TokenTotalsSchema {
    fn from(totals: domain::TokenTotals) -> Self {
        let domain::TokenTotals {
            input_tokens,
            output_tokens,
            total_tokens,
        } = totals;
        Self {
            input_tokens,
            output_tokens,
            total_tokens,
        }
    }
}

/// Why a run failed, as a stable code and a readable message (secrets redacted).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RunError)]
pub struct RunErrorSchema {
    /// `agent_spawn_failed`, `turn_failed`, `turn_timed_out`, `stalled`, `hook_failed`,
    /// `template_render_error`, `token_budget_exceeded`, ...
    pub code: String,
    pub message: String,
}

impl From<domain::RunError> for RunErrorSchema {
    fn from(error: domain::RunError) -> Self {
        let domain::RunError { code, message } = error;
        Self { code, message }
    }
}

/// One entry of a run's timeline: an agent event or a step of the runner, redacted.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RunEvent)]
pub struct RunEventSchema {
    pub run_id: RunIdSchema,
    /// 1-based position in the timeline.
    pub seq: u32,
    pub at: DateTime<Utc>,
    /// `session_started`, `message`, `command`, `turn_ended`, `claimed`, `workspace_ready`, ...
    pub kind: String,
    pub data: serde_json::Value,
}

impl From<domain::RunEvent> for RunEventSchema {
    fn from(event: domain::RunEvent) -> Self {
        let domain::RunEvent {
            run_id,
            seq,
            at,
            kind,
            data,
        } = event;
        Self {
            run_id: run_id.into(),
            seq,
            at,
            kind,
            data,
        }
    }
}

/// Spend on one counter. Money is whole micro-USD so that adds stay exact.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BudgetSpend)]
pub struct BudgetSpendSchema {
    pub tokens: u64,
    pub cost_micro_usd: u64,
}

impl From<ports::BudgetSpend> for BudgetSpendSchema {
    fn from(spend: ports::BudgetSpend) -> Self {
        let ports::BudgetSpend {
            tokens,
            cost_micro_usd,
        } = spend;
        Self {
            tokens,
            cost_micro_usd,
        }
    }
}

/// The counters of a scope, after a charge or as read.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = BudgetTotals)]
pub struct BudgetTotalsSchema {
    /// Every run of the work item.
    pub item: BudgetSpendSchema,
    /// Every run of the workflow on the UTC day.
    pub day: BudgetSpendSchema,
}

impl From<ports::BudgetTotals> for BudgetTotalsSchema {
    fn from(totals: ports::BudgetTotals) -> Self {
        let ports::BudgetTotals { item, day } = totals;
        Self {
            item: item.into(),
            day: day.into(),
        }
    }
}

/// What a provider last reported about an account's usage.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = QuotaSignals)]
pub struct QuotaSignalsSchema {
    pub observed_at: DateTime<Utc>,
    /// Usage windows (Codex: `primary`, `secondary`; Claude Code: `five_hour`, ...).
    #[serde(default)]
    pub windows: Vec<QuotaWindowSchema>,
    /// The provider's rate-limit error, when it refused a request (redacted, bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<ports::QuotaSignals> for QuotaSignalsSchema {
    fn from(signals: ports::QuotaSignals) -> Self {
        let ports::QuotaSignals {
            observed_at,
            windows,
            error,
        } = signals;
        Self {
            observed_at,
            windows: windows.into_iter().map(Into::into).collect(),
            error,
        }
    }
}

/// One usage window of an account.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = QuotaWindow)]
pub struct QuotaWindowSchema {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<DateTime<Utc>>,
}

impl From<ports::QuotaWindow> for QuotaWindowSchema {
    fn from(window: ports::QuotaWindow) -> Self {
        let ports::QuotaWindow {
            name,
            used_percent,
            window_minutes,
            resets_at,
        } = window;
        Self {
            name,
            used_percent,
            window_minutes,
            resets_at,
        }
    }
}
