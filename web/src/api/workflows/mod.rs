//! `GET /api/v1/workflows`: the workflow files a deployment serves, the version of each in
//! use, and why a changed file was not taken (see [`WorkflowStatus`]).

use crate::http_error::method_not_allowed;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use baton_core::workflow::{WorkflowStatus, WorkflowWatch};
use serde::{Deserialize, Serialize};

/// The workflows listing.
pub const WORKFLOWS_PATH: &str = "/api/v1/workflows";

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkflowsResponse {
    /// By file name.
    #[schema(value_type = Vec<Object>)]
    pub workflows: Vec<WorkflowStatus>,
}

/// The listing's route, without a fallback (see the module docs of [`crate::api`]).
pub fn workflows_router(workflows: WorkflowWatch) -> Router {
    Router::new()
        .route(
            WORKFLOWS_PATH,
            get(list_workflows).fallback(method_not_allowed),
        )
        .with_state(workflows)
}

/// The workflow files, the version of each in use, and why a changed file was not taken.
#[utoipa::path(
    get,
    path = "/api/v1/workflows",
    tag = "workflows",
    responses(
        (status = 200, description = "The workflows", body = WorkflowsResponse),
        (status = 401, description = "`unauthorized`", body = super::error::ErrorEnvelope),
    )
)]
pub(super) async fn list_workflows(
    State(workflows): State<WorkflowWatch>,
) -> Json<WorkflowsResponse> {
    Json(WorkflowsResponse {
        workflows: workflows.statuses().to_vec(),
    })
}

#[cfg(test)]
mod tests;
