//! `GET /api/v1/metrics?from&to&workflow`: the hourly series (see `baton_core::trends`).

use super::error::ApiError;
use super::Api;
use crate::dashboard::Pricing;
use crate::series::{hourly, MetricsQuery, MetricsResponse};
use axum::extract::{RawQuery, State};
use axum::Json;
use baton_core::ports::{Store, StoreError};

/// Runs started and ended by outcome, dispatch latency and run duration (p50/p95), tokens
/// and cost, queue depth and webhooks, per hour.
#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    tag = "metrics",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 start, rounded down to the hour (default: `to` minus 24 hours)"),
        ("to" = Option<String>, Query, description = "RFC 3339 end, exclusive (default: now); at most 90 days after `from`"),
        ("workflow" = Option<String>, Query, description = "One workflow's series (its name); default: every workflow together"),
    ),
    responses(
        (status = 200, description = "One row per hour of the span, and totals", body = MetricsResponse),
        (status = 400, description = "`invalid_query`: a bad `from`, `to` or `workflow`", body = super::error::ErrorEnvelope),
        (status = 401, description = "`unauthorized`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = super::error::ErrorEnvelope),
    )
)]
pub(super) async fn get_metrics(
    State(api): State<Api>,
    RawQuery(query): RawQuery,
) -> Result<Json<MetricsResponse>, ApiError> {
    let query = MetricsQuery::parse(query.as_deref(), api.clock.now())
        .map_err(|error| ApiError::InvalidQuery(error.to_string()))?;
    let answer = answer(api.store.as_ref(), &query, &api.pricing)
        .await
        .map_err(ApiError::store("reading metrics"))?;
    Ok(Json(answer))
}

/// The answer to `query`: the buckets of its scope, one row per hour, costs priced with
/// `pricing`. What this route answers and the dashboard's charts draw.
pub async fn answer(
    store: &dyn Store,
    query: &MetricsQuery,
    pricing: &Pricing,
) -> Result<MetricsResponse, StoreError> {
    let records = store
        .read_metrics(&query.scope(), query.from, query.to)
        .await?;
    Ok(hourly(query, &records, pricing))
}
