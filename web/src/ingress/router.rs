use super::body::read_body;
use super::budget::BodyBudget;
use super::response;
use crate::http_error::{error, method_not_allowed, not_found};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use baton_core::domain::SourceKind;
use baton_core::ingress::{Accepted, Ingress, IngressError};
use baton_core::sources;
use baton_core::trends::{MetricsUpdate, WebhookVerdict};
use baton_telemetry::metrics::{self, RefusalReason};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The route every source posts to: `/webhooks/github`, `/webhooks/linear`, ...
pub const WEBHOOK_PATH: &str = "/webhooks/{source}";

/// The ingress router: `POST /webhooks/{source}` and `GET /healthz`. Served by `lambda_http`
/// on Lambda and by `axum::serve` locally.
pub fn router(ingress: Arc<Ingress>) -> Router {
    let budget = BodyBudget::new(ingress.settings().body_budget_bytes);
    let edge = Arc::new(Edge { ingress, budget });
    Router::new()
        .route(
            WEBHOOK_PATH,
            post(receive_webhook).fallback(method_not_allowed),
        )
        .route("/healthz", get(healthz).fallback(method_not_allowed))
        .fallback(not_found)
        .with_state(edge)
}

/// What the routes share: the pipeline, and the memory budget of the bodies in flight.
struct Edge {
    ingress: Arc<Ingress>,
    budget: BodyBudget,
}

async fn receive_webhook(
    State(edge): State<Arc<Edge>>,
    Path(source): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // TAPD and memory are origins without webhooks: no route, as for any unknown name.
    let Some(source) = sources::webhook_named(&source) else {
        metrics::webhook_refused(RefusalReason::UnknownSource);
        let known: Vec<&str> = sources::webhook_sources().map(SourceKind::as_str).collect();
        let message = format!(
            "unknown webhook source `{}` (known: {})",
            baton_core::domain::preview(&source),
            known.join(", ")
        );
        return error(StatusCode::NOT_FOUND, "unknown_source", message);
    };
    // The delivery id and the work item are recorded once the body has said them.
    let span = tracing::info_span!(
        "webhook",
        source = source.as_str(),
        delivery_id = tracing::field::Empty,
        work_item = tracing::field::Empty
    );
    receive_from(&edge, source, headers, body)
        .instrument(span)
        .await
}

async fn receive_from(edge: &Edge, source: SourceKind, headers: HeaderMap, body: Body) -> Response {
    let ingress = &edge.ingress;
    let started = Instant::now();
    metrics::webhook_received(source.as_str());
    // Refused on the headers alone: the body is never read.
    if let Err(refused) = ingress.screen(source, &headers) {
        metrics::webhook_refused(refusal_reason(&refused));
        trend(ingress, WebhookVerdict::Refused).await;
        tracing::info!(error = %refused, "webhook refused");
        return response::refused(&refused);
    }
    let limit = ingress.settings().max_body_bytes;
    let body = match read_body(body, &headers, limit, &edge.budget).await {
        Ok(body) => body,
        Err(refused) => {
            metrics::webhook_refused(refused.reason());
            trend(ingress, WebhookVerdict::Refused).await;
            return refused.into_response();
        }
    };
    let result = ingress.accept(source, &headers, &body.bytes).await;
    // The budget is given back as soon as the pipeline is done with the bytes.
    drop(body);
    let elapsed_us = started.elapsed().as_micros() as u64;
    match result {
        Ok(accepted) => {
            metrics::webhook_accepted(source.as_str());
            trend(ingress, verdict(&accepted)).await;
            tracing::debug!(elapsed_us, ?accepted, "webhook accepted");
            response::accepted(accepted)
        }
        Err(refused) => {
            metrics::webhook_refused(refusal_reason(&refused));
            trend(ingress, WebhookVerdict::Refused).await;
            match &refused {
                IngressError::Backend(_) | IngressError::DeliveryInProgress(_) => {
                    tracing::warn!(elapsed_us, error = %refused, "webhook not accepted")
                }
                _ => tracing::info!(elapsed_us, error = %refused, "webhook refused"),
            }
            response::refused(&refused)
        }
    }
}

/// Counts the webhook in the hour's series (the deployment's: a refused body names no
/// workflow). Awaited, so a Lambda does not freeze before it is written.
async fn trend(ingress: &Ingress, verdict: WebhookVerdict) {
    let update = MetricsUpdate::webhook(ingress.clock().now(), None, verdict);
    if let Err(error) = ingress.store().record_metrics(&update).await {
        tracing::warn!(%error, "could not count the webhook in the metrics");
    }
}

/// Acted on (a job queued, a cancel or an approval recorded), or only received.
fn verdict(accepted: &Accepted) -> WebhookVerdict {
    match accepted {
        Accepted::Queued { .. }
        | Accepted::CancelRequested { .. }
        | Accepted::AwaitingApproval { .. } => WebhookVerdict::Accepted,
        Accepted::Ignored { .. } | Accepted::Duplicate => WebhookVerdict::Ignored,
    }
}

fn refusal_reason(error: &IngressError) -> RefusalReason {
    match error {
        IngressError::InvalidSignature(_) => RefusalReason::BadSignature,
        IngressError::Malformed(_) => RefusalReason::Malformed,
        IngressError::Backend(_) => RefusalReason::BackendUnavailable,
        IngressError::DeliveryInProgress(_) => RefusalReason::DeliveryInProgress,
        IngressError::Conflict(_) => RefusalReason::Conflict,
        IngressError::UnsupportedMediaType(_) => RefusalReason::UnsupportedMediaType,
    }
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}
