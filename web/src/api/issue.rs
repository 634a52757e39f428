//! `GET /api/v1/issues/{key}`: one work item, its runs and their timelines.

use super::error::ApiError;
use super::Api;
use axum::extract::State;
use axum::Json;
use baton_core::domain::{
    JobId, JobReason, Run, RunError, RunEvent, RunId, RunStatus, TokenTotals, WorkItem, WorkItemKey,
};
use baton_core::ports::{BudgetScope, BudgetTotals, Store};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most events returned per run; a run with more says `events_truncated: true`.
pub const EVENTS_PER_RUN: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssueResponse {
    /// The work item as stored.
    #[schema(value_type = Object)]
    pub work_item: WorkItem,
    /// Its runs, oldest first.
    pub runs: Vec<RunView>,
    /// What `budgets` counted: the item's runs, and its workflow's runs today (UTC), in
    /// tokens and micro-USD. Zero when the workflow sets no budget.
    #[serde(default)]
    #[schema(value_type = super::schemas::BudgetTotalsSchema)]
    pub budget: BudgetTotals,
}

/// A run with its timeline.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunView {
    #[schema(value_type = super::schemas::RunIdSchema)]
    pub run_id: RunId,
    #[schema(value_type = super::schemas::JobIdSchema)]
    pub job_id: JobId,
    /// Why the run was requested.
    #[schema(value_type = super::schemas::JobReasonSchema)]
    pub reason: JobReason,
    pub attempt: u32,
    /// The runner that claimed it.
    pub runner: String,
    #[schema(value_type = super::schemas::RunStatusSchema)]
    pub status: RunStatus,
    /// When the webhook that requested the run arrived.
    pub received_at: Option<DateTime<Utc>>,
    pub queued_at: DateTime<Utc>,
    pub claimed_at: DateTime<Utc>,
    pub agent_started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// `{code, message}` when the run failed.
    #[schema(value_type = Option<super::schemas::RunErrorSchema>)]
    pub error: Option<RunError>,
    #[schema(value_type = super::schemas::TokenTotalsSchema)]
    pub tokens: TokenTotals,
    pub turns: u32,
    pub session_id: Option<String>,
    pub workspace: Option<String>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// How many events the run recorded (old ones may have expired from `events`).
    pub event_count: u32,
    /// The timeline, oldest first, at most [`EVENTS_PER_RUN`].
    #[schema(value_type = Vec<super::schemas::RunEventSchema>)]
    pub events: Vec<RunEvent>,
    /// The timeline holds more events than `events`.
    pub events_truncated: bool,
}

impl RunView {
    /// The run with `events`, the first part of its timeline (`events_truncated`: there are
    /// more).
    pub fn new(run: Run, events: Vec<RunEvent>, events_truncated: bool) -> Self {
        Self {
            run_id: run.run_id,
            job_id: run.job_id,
            reason: run.reason,
            attempt: run.attempt,
            runner: run.runner,
            status: run.status,
            received_at: run.received_at,
            queued_at: run.queued_at,
            claimed_at: run.claimed_at,
            agent_started_at: run.agent_started_at,
            ended_at: run.ended_at,
            error: run.error,
            tokens: run.tokens,
            turns: run.turns,
            session_id: run.session_id,
            workspace: run.workspace,
            branch: run.branch,
            commit: run.commit,
            event_count: run.events,
            events,
            events_truncated,
        }
    }
}

/// One work item with its runs and their timelines.
#[utoipa::path(
    get,
    path = "/api/v1/issues/{key}",
    tag = "issues",
    params(("key" = String, Path, description = "The work item key, percent-encoded as one segment")),
    responses(
        (status = 200, description = "The work item", body = IssueResponse),
        (status = 400, description = "`invalid_key`", body = super::error::ErrorEnvelope),
        (status = 401, description = "`unauthorized`", body = super::error::ErrorEnvelope),
        (status = 404, description = "`issue_not_found`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = super::error::ErrorEnvelope),
    )
)]
pub(super) async fn get_issue(
    State(api): State<Api>,
    key: super::params::Segment,
) -> Result<Json<IssueResponse>, ApiError> {
    let key = super::params::work_item_key(key)?;
    issue_view(api.store.as_ref(), key).await.map(Json)
}

/// One work item with its runs and their timelines, as the API answers it and the dashboard
/// renders it.
pub async fn issue_view(store: &dyn Store, key: WorkItemKey) -> Result<IssueResponse, ApiError> {
    let work_item = store
        .get_work_item(&key)
        .await
        .map_err(ApiError::store("reading a work item"))?
        .ok_or(ApiError::IssueNotFound(key))?;
    let runs = store
        .list_runs(&work_item.key)
        .await
        .map_err(ApiError::store("listing runs"))?;
    let mut views = Vec::with_capacity(runs.len());
    for run in runs {
        // One more than the bound tells whether there are more.
        let mut events = store
            .list_events(&run.run_id, 0, EVENTS_PER_RUN + 1)
            .await
            .map_err(ApiError::store("listing run events"))?;
        let events_truncated = events.len() > EVENTS_PER_RUN;
        events.truncate(EVENTS_PER_RUN);
        views.push(RunView::new(run, events, events_truncated));
    }
    let scope = BudgetScope::new(work_item.workflow.as_deref(), &work_item.key, Utc::now());
    let budget = store
        .read_budget(&scope)
        .await
        .map_err(ApiError::store("reading the budget counters"))?;
    Ok(IssueResponse {
        work_item,
        runs: views,
        budget,
    })
}
