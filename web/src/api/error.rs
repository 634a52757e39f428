//! How the API's handlers fail: every error answers with the envelope
//! `{"error":{"code","message"}}` and the status the contract gives its code.

use super::cursor::CursorError;
use crate::http_error::{error, retry_later};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baton_core::domain::{RunId, WorkItemKey};
use baton_core::ingress::ActionError;
use baton_core::ports::StoreError;
use serde::Serialize;

/// Why a request failed; answers with the error envelope.
#[derive(Debug)]
pub enum ApiError {
    /// The path's key is not a work item key: 400 `invalid_key`.
    InvalidKey(String),
    /// The path's run id is not a UUID: 400 `invalid_run_id`.
    InvalidRunId(String),
    /// The path's delivery id is not `<source>:<id>`: 400 `invalid_delivery_id`.
    InvalidDeliveryId(String),
    /// `cursor` was tampered with, undecodable, or issued for another run: 400 `invalid_cursor`.
    InvalidCursor(CursorError),
    /// `limit` is not a number in `1..=500`: 400 `invalid_limit`.
    InvalidLimit(String),
    /// `from`, `to` or `workflow` of the metrics query is wrong: 400 `invalid_query`.
    InvalidQuery(String),
    /// No work item has this key: 404 `issue_not_found`.
    IssueNotFound(WorkItemKey),
    /// No run has this id: 404 `run_not_found`.
    RunNotFound(RunId),
    /// No completed delivery with this id is retained: 404 `delivery_not_found`.
    DeliveryNotFound(String),
    /// The action conflicts with the item's state: 409 `conflict`.
    Conflict(String),
    /// The store failed while doing `during`: 503 `store_unavailable`.
    Store {
        during: &'static str,
        error: StoreError,
    },
    /// The store or the queue failed during an action: 503 `store_unavailable`.
    Backend(String),
}

impl ApiError {
    /// For `map_err`: a store error met while doing `during`.
    pub(super) fn store(during: &'static str) -> impl FnOnce(StoreError) -> Self {
        move |error| Self::Store { during, error }
    }
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> Self {
        match error {
            ActionError::IssueNotFound(key) => Self::IssueNotFound(key),
            ActionError::DeliveryNotFound(key) => Self::DeliveryNotFound(key.to_string()),
            ActionError::Conflict(message) => Self::Conflict(message),
            ActionError::Backend(message) => Self::Backend(message),
        }
    }
}

/// The error envelope, as documented in the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable and machine-readable: `not_found`, `invalid_key`, `run_not_found`, `conflict`,
    /// `unauthorized`, `store_unavailable`, ...
    pub code: String,
    /// For people; may change.
    pub message: String,
}

fn unavailable() -> Response {
    retry_later(error(
        StatusCode::SERVICE_UNAVAILABLE,
        "store_unavailable",
        "the store is unavailable; retry later",
    ))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use StatusCode as S;
        match self {
            Self::InvalidKey(message) => error(S::BAD_REQUEST, "invalid_key", message),
            Self::InvalidRunId(message) => error(S::BAD_REQUEST, "invalid_run_id", message),
            Self::InvalidDeliveryId(message) => {
                error(S::BAD_REQUEST, "invalid_delivery_id", message)
            }
            Self::InvalidCursor(reason) => {
                error(S::BAD_REQUEST, "invalid_cursor", reason.to_string())
            }
            Self::InvalidLimit(message) => error(S::BAD_REQUEST, "invalid_limit", message),
            Self::InvalidQuery(message) => error(S::BAD_REQUEST, "invalid_query", message),
            Self::IssueNotFound(key) => error(
                S::NOT_FOUND,
                "issue_not_found",
                format!("no work item has the key `{key}`"),
            ),
            Self::RunNotFound(run) => error(
                S::NOT_FOUND,
                "run_not_found",
                format!("no run has the id `{run}`"),
            ),
            Self::DeliveryNotFound(delivery) => error(
                S::NOT_FOUND,
                "delivery_not_found",
                format!("no completed delivery `{delivery}` is retained"),
            ),
            Self::Conflict(message) => error(S::CONFLICT, "conflict", message),
            // Backend errors can name accounts, tables and ARNs: they stay in the log.
            Self::Store { during, error: e } => {
                tracing::warn!(error = %e, during, "API: the store failed");
                unavailable()
            }
            Self::Backend(message) => {
                tracing::warn!(error = %message, "API: an action failed on the store or queue");
                unavailable()
            }
        }
    }
}
