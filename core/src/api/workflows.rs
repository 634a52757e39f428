//! `GET /api/v1/workflows`: the workflow files a deployment serves, the version of each in
//! use, and why a changed file was not taken (see [`WorkflowStatus`]).

use crate::http_error::method_not_allowed;
use crate::workflow::{WorkflowStatus, WorkflowWatch};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// The workflows listing.
pub const WORKFLOWS_PATH: &str = "/api/v1/workflows";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowsResponse {
    /// By file name.
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

async fn list_workflows(State(workflows): State<WorkflowWatch>) -> Json<WorkflowsResponse> {
    Json(WorkflowsResponse {
        workflows: workflows.statuses().to_vec(),
    })
}

#[cfg(test)]
mod tests;
