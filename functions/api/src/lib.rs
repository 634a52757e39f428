//! The api Lambda: the status API (and, later, the dashboard), wired to DynamoDB and SQS from
//! the environment.

use baton_core::clock::SystemClock;
use std::sync::Arc;

/// Builds the router from the environment: `BATON_BACKEND` (`aws` by default, or `memory`),
/// `BATON_TABLE`, `BATON_QUEUE`, `BATON_DLQ`.
pub async fn app_from_env() -> anyhow::Result<axum::Router> {
    let backend: baton_aws::BackendKind = std::env::var("BATON_BACKEND")
        .unwrap_or_else(|_| "aws".into())
        .parse()
        .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}"))?;
    let backends = baton_aws::open(backend, &baton_aws::Settings::from_env()).await?;
    tracing::info!(backend = %backends.description, "api ready");
    Ok(
        baton_core::api::router(backends.store, Arc::new(SystemClock))
            .fallback(baton_core::api::not_found),
    )
}
