use super::{Ingress, IngressError};
use crate::domain::SourceKind;
use crate::http_error::{error, method_not_allowed, not_found};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::sync::Arc;
use std::time::Instant;

/// The route every source posts to: `/webhooks/github`, `/webhooks/linear`, ...
pub const WEBHOOK_PATH: &str = "/webhooks/{source}";

/// The ingress router: `POST /webhooks/{source}` and `GET /healthz`. Served by `lambda_http`
/// on Lambda and by `axum::serve` locally.
pub fn router(ingress: Arc<Ingress>) -> Router {
    Router::new()
        .route(
            WEBHOOK_PATH,
            post(receive_webhook).fallback(method_not_allowed),
        )
        .route("/healthz", get(healthz).fallback(method_not_allowed))
        .fallback(not_found)
        .with_state(ingress)
}

async fn receive_webhook(
    State(ingress): State<Arc<Ingress>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let source: SourceKind = match source.parse() {
        Ok(source) => source,
        Err(unknown) => return error(StatusCode::NOT_FOUND, "unknown_source", unknown.to_string()),
    };
    let limit = ingress.settings().max_body_bytes;
    let body = match read_body(body, &headers, limit).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let result = ingress.accept(source, &headers, &body).await;
    let elapsed_us = started.elapsed().as_micros() as u64;
    match result {
        Ok(accepted) => {
            tracing::debug!(%source, elapsed_us, ?accepted, "webhook accepted");
            accepted.into_response()
        }
        Err(refused) => {
            match &refused {
                IngressError::Backend(_) | IngressError::DeliveryInProgress(_) => {
                    tracing::warn!(%source, elapsed_us, error = %refused, "webhook not accepted")
                }
                _ => tracing::info!(%source, elapsed_us, error = %refused, "webhook refused"),
            }
            refused.into_response()
        }
    }
}

/// Reads the whole body, refusing with 413 as soon as it is known to exceed `limit`.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, Response> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("body exceeds the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            "malformed_payload",
            format!("could not read the body: {e}"),
        )),
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
