//! The HTTP answers trackers and users see.

use crate::http_error::{error, retry_later};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use baton_core::ingress::{Accepted, IngressError};
use serde_json::json;

/// What the sender of an accepted delivery is told.
pub(crate) fn accepted(accepted: Accepted) -> Response {
    match accepted {
        Accepted::Queued { work_item, job_id } => (
            StatusCode::ACCEPTED,
            Json(json!({ "status": "queued", "work_item": work_item, "job_id": job_id })),
        )
            .into_response(),
        Accepted::CancelRequested { work_item } => (
            StatusCode::OK,
            Json(json!({ "status": "cancel_requested", "work_item": work_item })),
        )
            .into_response(),
        Accepted::AwaitingApproval { work_item } => (
            StatusCode::ACCEPTED,
            Json(json!({ "status": "awaiting_approval", "work_item": work_item })),
        )
            .into_response(),
        Accepted::Ignored { reason } => (
            StatusCode::OK,
            Json(json!({ "status": "ignored", "reason": reason })),
        )
            .into_response(),
        Accepted::Duplicate => {
            (StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response()
        }
    }
}

/// What the sender of a refused delivery is told: the status code says whether to retry.
pub(crate) fn refused(refusal: &IngressError) -> Response {
    match refusal {
        IngressError::InvalidSignature(message) => {
            error(StatusCode::UNAUTHORIZED, "invalid_signature", message)
        }
        IngressError::Malformed(message) => {
            error(StatusCode::BAD_REQUEST, "malformed_payload", message)
        }
        IngressError::UnsupportedMediaType(message) => error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        ),
        IngressError::Conflict(message) => error(StatusCode::CONFLICT, "conflict", message),
        // The detail (SDK errors can name accounts, roles and ARNs) stays in the log;
        // senders such as GitHub show response bodies to anyone who can see the hook.
        IngressError::Backend(_) => retry_later(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "backend_unavailable",
            "the store or the queue is unavailable; nothing was accepted, retry later",
        )),
        IngressError::DeliveryInProgress(_) => retry_later(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "delivery_in_progress",
            refusal.to_string(),
        )),
    }
}
