//! `GET /api/v1/runs/{id}`: one run, without its timeline (page through it with
//! `GET /api/v1/runs/{id}/events`).

use super::error::ApiError;
use super::issue::RunView;
use super::params::{self, Segment};
use super::Api;
use axum::extract::State;
use axum::Json;
use baton_core::domain::WorkItemKey;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunResponse {
    /// The key of the run's work item.
    #[schema(value_type = super::schemas::WorkItemKeySchema)]
    pub work_item: WorkItemKey,
    /// The run; `events` is always empty here, and `events_truncated` says whether the
    /// timeline has any event.
    pub run: RunView,
}

/// One run.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "The run id (a UUID)")),
    responses(
        (status = 200, description = "The run", body = RunResponse),
        (status = 400, description = "`invalid_run_id`", body = super::error::ErrorEnvelope),
        (status = 401, description = "`unauthorized`", body = super::error::ErrorEnvelope),
        (status = 404, description = "`run_not_found`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = super::error::ErrorEnvelope),
    )
)]
pub(super) async fn get_run(
    State(api): State<Api>,
    id: Segment,
) -> Result<Json<RunResponse>, ApiError> {
    let run_id = params::run_id(id)?;
    let run = api
        .store
        .get_run(&run_id)
        .await
        .map_err(ApiError::store("reading a run"))?
        .ok_or(ApiError::RunNotFound(run_id))?;
    let has_events = run.events > 0;
    Ok(Json(RunResponse {
        work_item: run.work_item.clone(),
        run: RunView::new(run, Vec::new(), has_events),
    }))
}
