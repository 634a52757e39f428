use super::{Ingress, IngressError};
use crate::domain::SourceKind;
use crate::http_error::{error, method_not_allowed, not_found};
use crate::telemetry::metrics::{self, RefusalReason};
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

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
    // TAPD and memory are origins without webhooks: no route, as for any unknown name.
    let source = match SourceKind::webhook(&source) {
        Ok(source) => source,
        Err(unknown) => {
            metrics::webhook_refused(RefusalReason::UnknownSource);
            return error(StatusCode::NOT_FOUND, "unknown_source", unknown.to_string());
        }
    };
    // The delivery id and the work item are recorded once the body has said them.
    let span = tracing::info_span!(
        "webhook",
        source = source.as_str(),
        delivery_id = tracing::field::Empty,
        work_item = tracing::field::Empty
    );
    receive_from(ingress, source, headers, body)
        .instrument(span)
        .await
}

async fn receive_from(
    ingress: Arc<Ingress>,
    source: SourceKind,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    metrics::webhook_received(source.as_str());
    let limit = ingress.settings().max_body_bytes;
    let body = match read_body(body, &headers, limit).await {
        Ok(body) => body,
        Err((reason, response)) => {
            metrics::webhook_refused(reason);
            return response;
        }
    };
    let result = ingress.accept(source, &headers, &body).await;
    let elapsed_us = started.elapsed().as_micros() as u64;
    match result {
        Ok(accepted) => {
            metrics::webhook_accepted(source.as_str());
            tracing::debug!(elapsed_us, ?accepted, "webhook accepted");
            accepted.into_response()
        }
        Err(refused) => {
            metrics::webhook_refused(refusal_reason(&refused));
            match &refused {
                IngressError::Backend(_) | IngressError::DeliveryInProgress(_) => {
                    tracing::warn!(elapsed_us, error = %refused, "webhook not accepted")
                }
                _ => tracing::info!(elapsed_us, error = %refused, "webhook refused"),
            }
            refused.into_response()
        }
    }
}

fn refusal_reason(error: &IngressError) -> RefusalReason {
    match error {
        IngressError::InvalidSignature(_) => RefusalReason::BadSignature,
        IngressError::Malformed(_) => RefusalReason::Malformed,
        IngressError::Backend(_) => RefusalReason::BackendUnavailable,
        IngressError::DeliveryInProgress(_) => RefusalReason::DeliveryInProgress,
        IngressError::Conflict(_) => RefusalReason::Conflict,
    }
}

/// Reads the whole body, refusing with 413 as soon as it is known to exceed `limit`.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, (RefusalReason, Response)> {
    let too_large = || {
        (
            RefusalReason::PayloadTooLarge,
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("body exceeds the limit of {limit} bytes"),
            ),
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
        Err(e) => Err((
            RefusalReason::Malformed,
            error(
                StatusCode::BAD_REQUEST,
                "malformed_payload",
                format!("could not read the body: {e}"),
            ),
        )),
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
