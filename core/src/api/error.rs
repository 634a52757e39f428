//! How the read API's handlers fail.

use crate::domain::WorkItemKey;
use crate::http_error::{error, retry_later};
use crate::ports::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a read failed; answers with the error envelope.
#[derive(Debug)]
pub enum ApiError {
    /// The path's key is not a work item key: 400 `invalid_key`.
    InvalidKey(String),
    /// No work item has this key: 404 `issue_not_found`.
    IssueNotFound(WorkItemKey),
    /// The store failed while doing `during`: 503 `store_unavailable`.
    Store {
        during: &'static str,
        error: StoreError,
    },
}

impl ApiError {
    /// For `map_err`: a store error met while doing `during`.
    pub(super) fn store(during: &'static str) -> impl FnOnce(StoreError) -> Self {
        move |error| Self::Store { during, error }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::InvalidKey(message) => error(StatusCode::BAD_REQUEST, "invalid_key", message),
            Self::IssueNotFound(key) => error(
                StatusCode::NOT_FOUND,
                "issue_not_found",
                format!("no work item has the key `{key}`"),
            ),
            // Backend errors can name accounts, tables and ARNs: they stay in the log.
            Self::Store { during, error: e } => {
                tracing::warn!(error = %e, during, "read API: the store failed");
                retry_later(error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store is unavailable; retry later",
                ))
            }
        }
    }
}
