//! The api Lambda: the status API and the dashboard, wired to DynamoDB and SQS from
//! the environment.

use baton_core::clock::SystemClock;
use std::sync::Arc;

/// Builds the router from the environment: `BATON_BACKEND` (`aws` by default, or `memory`),
/// `BATON_TABLE`, `BATON_QUEUE`, `BATON_DLQ`; the dashboard's token prices from
/// `BATON_PRICE_INPUT_PER_MTOK` and `BATON_PRICE_OUTPUT_PER_MTOK`.
pub async fn app_from_env() -> anyhow::Result<axum::Router> {
    let backend: baton_aws::BackendKind = std::env::var("BATON_BACKEND")
        .unwrap_or_else(|_| "aws".into())
        .parse()
        .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}"))?;
    let backends = baton_aws::open(backend, &baton_aws::Settings::from_env()).await?;
    tracing::info!(backend = %backends.description, "api ready");
    let pricing = baton_core::dashboard::Pricing::from_env()?;
    Ok(
        baton_core::api::router(Arc::clone(&backends.store), Arc::new(SystemClock))
            .merge(baton_core::dashboard::router_with_pricing(
                backends.store,
                Arc::new(SystemClock),
                pricing,
            ))
            .fallback(baton_core::api::not_found),
    )
}
