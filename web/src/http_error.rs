//! The JSON error envelope every baton HTTP surface answers with:
//! `{"error":{"code":"...","message":"..."}}`, and the fallbacks that use it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Envelope<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: String,
}

/// `{"error":{"code","message"}}` with a status.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = Envelope {
        error: ErrorBody {
            code,
            message: message.into(),
        },
    };
    (status, Json(body)).into_response()
}

/// Adds `Retry-After: 5`, for 503s the client should simply retry.
pub(crate) fn retry_later(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// The router-wide fallback: 404 `not_found`.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The per-route fallback for methods a route does not serve: 405 `method_not_allowed`.
pub(crate) async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}
