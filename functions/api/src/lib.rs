//! The api Lambda: the status API and the dashboard, wired to DynamoDB and SQS from the
//! environment. It serves no webhooks: those go to the ingress function.

use anyhow::Context;
use baton_core::clock::SystemClock;
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::workflow::{env_lookup, reload_interval, WorkflowSource, WorkflowWatch};
use baton_web::api::{self, ApiAuth, CursorKey};
use baton_web::dashboard;
use std::path::PathBuf;
use std::sync::Arc;

/// The function's router: the API, the workflows listing and the dashboard behind `auth`,
/// `/login` next to them, and 404 `not_found` for anything else. The actions (retry, cancel,
/// replay) go through `ingress`, exactly as a webhook's would.
pub fn app(
    ingress: Arc<Ingress>,
    auth: ApiAuth,
    cursors: CursorKey,
    pricing: dashboard::Pricing,
) -> axum::Router {
    let dashboard = dashboard::router_with_pricing(
        Arc::clone(ingress.store()),
        Arc::clone(ingress.clock()),
        pricing,
    );
    let protected = api::router(Arc::clone(&ingress), cursors)
        .merge(api::workflows_router(ingress.workflows().clone()))
        .merge(dashboard);
    api::require_auth(protected, auth.clone())
        .merge(api::login_router(auth))
        .fallback(api::not_found)
}

/// Builds the router from the environment:
/// - `BATON_API_TOKEN` (the bearer token) or `BATON_API_AUTH=iam` (trust the Function URL's
///   IAM auth); with neither, every request is refused, since a Lambda has no loopback peer;
/// - `BATON_CURSOR_KEY`: the key of the event cursors, shared by every instance (without it
///   each instance has its own, and a cursor fails on another instance);
/// - `BATON_WORKFLOW` (and `BATON_WORKFLOW_RELOAD_MS`): the workflows a replayed delivery is
///   routed by, as in the ingress function;
/// - `BATON_BACKEND`: `aws` (default) or `memory`; `BATON_TABLE`, `BATON_QUEUE`, `BATON_DLQ`;
/// - the dashboard's token prices, `BATON_PRICE_INPUT_PER_MTOK` and
///   `BATON_PRICE_OUTPUT_PER_MTOK`.
pub async fn app_from_env() -> anyhow::Result<axum::Router> {
    let auth = ApiAuth::from_env().context("API auth")?;
    let pricing = dashboard::Pricing::from_env()?;
    if matches!(auth, ApiAuth::LoopbackOnly) {
        tracing::warn!(
            "neither BATON_API_TOKEN nor BATON_API_AUTH=iam is set: every request is refused"
        );
    }
    if std::env::var_os(api::CURSOR_KEY_VARIABLE).is_none() {
        tracing::warn!("BATON_CURSOR_KEY is not set: event cursors work on this instance only");
    }
    let workflow_path = std::env::var_os("BATON_WORKFLOW").map(PathBuf::from);
    let source = WorkflowSource::discover(workflow_path.as_deref(), env_lookup())?;
    let reload_every = reload_interval(|name| std::env::var(name).ok())?;
    let backend: baton_aws::BackendKind = std::env::var("BATON_BACKEND")
        .unwrap_or_else(|_| "aws".into())
        .parse()
        .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}"))?;
    let backends = baton_aws::open(backend, &baton_aws::Settings::from_env()).await?;
    tracing::info!(backend = %backends.description, workflow = %source.describe(),
        auth = auth.describe(), "api ready");
    let ingress = Ingress::with_workflows(
        WorkflowWatch::start(source, reload_every),
        backends.store,
        backends.queue,
        Arc::new(SystemClock),
        IngressSettings::default(),
    );
    Ok(app(Arc::new(ingress), auth, CursorKey::from_env(), pricing))
}
