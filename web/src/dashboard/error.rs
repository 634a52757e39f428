//! How dashboard pages fail: an HTML page with the right status, never a JSON envelope
//! (a person is reading).

use super::html::{page, respond, Html};
use crate::api::ApiError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baton_core::domain::{RunId, WorkItemKey};
use baton_core::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The path's key is not a work item key: 400.
    #[error("{0}")]
    InvalidKey(String),
    /// The path's workflow name is empty, too long or has control characters: 400.
    #[error("{0}")]
    InvalidWorkflow(String),
    /// The path's run id is not a UUID: 400.
    #[error("{0}")]
    InvalidRunId(String),
    #[error("no work item has the key `{0}`")]
    IssueNotFound(WorkItemKey),
    #[error("no run has the id `{0}`")]
    RunNotFound(RunId),
    /// The store failed while doing `during`: 503; the detail goes to the log only.
    #[error("the store failed while {during}: {error}")]
    Store {
        during: &'static str,
        error: StoreError,
    },
    /// A read failed in a way no page expects: 500; the detail goes to the log only.
    #[error("unexpected error")]
    Unexpected,
}

impl DashboardError {
    /// For `map_err`: a store error met while doing `during`.
    pub(super) fn store(during: &'static str) -> impl FnOnce(StoreError) -> Self {
        move |error| Self::Store { during, error }
    }
}

impl From<ApiError> for DashboardError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::InvalidKey(message) => Self::InvalidKey(message),
            ApiError::IssueNotFound(key) => Self::IssueNotFound(key),
            ApiError::Store { during, error } => Self::Store { during, error },
            ApiError::InvalidRunId(message) => Self::InvalidRunId(message),
            ApiError::RunNotFound(run) => Self::RunNotFound(run),
            // The pages call only the reads above; the rest belong to the API's own routes.
            other => {
                tracing::error!(error = ?other, "dashboard: unexpected error from a read");
                Self::Unexpected
            }
        }
    }
}

impl IntoResponse for DashboardError {
    fn into_response(self) -> Response {
        let (status, heading, detail) = match &self {
            Self::InvalidKey(message) => (
                StatusCode::BAD_REQUEST,
                "Not a work item key",
                format!(
                    "{message}. Keys look like github:acme/app#12, percent-encoded in the path."
                ),
            ),
            Self::InvalidWorkflow(message) => (
                StatusCode::BAD_REQUEST,
                "Not a workflow name",
                message.clone(),
            ),
            Self::InvalidRunId(message) => {
                (StatusCode::BAD_REQUEST, "Not a run id", message.clone())
            }
            Self::IssueNotFound(_) => (StatusCode::NOT_FOUND, "Issue not found", self.to_string()),
            Self::RunNotFound(_) => (StatusCode::NOT_FOUND, "Run not found", self.to_string()),
            Self::Unexpected => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be built; the details are in the log.".to_owned(),
            ),
            // Backend errors can name accounts, tables and ARNs: they stay in the log.
            Self::Store { during, error } => {
                tracing::warn!(%error, during, "dashboard: the store failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Store unavailable",
                    "The store is unavailable; this page will try again shortly.".to_owned(),
                )
            }
        };
        error_page(status, heading, &detail)
    }
}

/// A page that says what went wrong; a 503 reloads itself, since it is usually brief.
pub fn error_page(status: StatusCode, heading: &str, detail: &str) -> Response {
    let mut body = Html::new();
    body.raw("<h1>")
        .text(heading)
        .raw("</h1><p class=\"error\">")
        .text(detail)
        .raw("</p><p>")
        .link("/", "Back to the overview")
        .raw("</p>");
    let retry = status == StatusCode::SERVICE_UNAVAILABLE;
    respond(status, page(heading, retry, body))
}

/// The per-route fallback for methods a page does not serve.
pub(super) async fn method_not_allowed() -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "The dashboard's pages are read with GET.",
    )
}
