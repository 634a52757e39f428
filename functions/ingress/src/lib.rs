//! The ingress Lambda: the core router, wired to DynamoDB and SQS from the environment.

use anyhow::Context;
use baton_core::clock::SystemClock;
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::workflow::{env_lookup, reload_interval, WorkflowSource, WorkflowWatch};
use baton_integrations::wiring::Wiring;
use baton_web::ingress::router;
use std::path::PathBuf;
use std::sync::Arc;

/// Builds the router from the environment:
/// - `BATON_WORKFLOW`: the workflow file, or a directory of `*.md` workflow files (default
///   `./WORKFLOW.md`, else the built-in one); `BATON_WORKFLOW_RELOAD_MS`: how often changed
///   files are picked up (default 2000; 0: never);
/// - the webhook secrets they name (`GITHUB_WEBHOOK_SECRET`, ... by default);
/// - `BATON_BACKEND`: `aws` (default) or `memory`; `BATON_TABLE`, `BATON_QUEUE`, `BATON_DLQ`;
/// - `BATON_MAX_BODY_BYTES`: the body limit (default 6 MB);
/// - `BATON_BODY_BUDGET_BYTES`: the memory all bodies waiting for verification may hold
///   (default 64 MiB; one request per instance on Lambda, so it never binds there).
pub async fn app_from_env() -> anyhow::Result<axum::Router> {
    let workflow_path = std::env::var_os("BATON_WORKFLOW").map(PathBuf::from);
    let source = WorkflowSource::discover(workflow_path.as_deref(), env_lookup())?;
    let reload_every = reload_interval(|name| std::env::var(name).ok())?;
    let backend: baton_aws::BackendKind = std::env::var("BATON_BACKEND")
        .unwrap_or_else(|_| "aws".into())
        .parse()
        .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}"))?;
    let backends = baton_aws::open(backend, &baton_aws::Settings::from_env()).await?;
    let mut settings = IngressSettings::default();
    if let Ok(limit) = std::env::var("BATON_MAX_BODY_BYTES") {
        settings.max_body_bytes = limit
            .parse()
            .with_context(|| format!("BATON_MAX_BODY_BYTES is not a number: {limit}"))?;
    }
    if let Ok(budget) = std::env::var("BATON_BODY_BUDGET_BYTES") {
        settings.body_budget_bytes = budget
            .parse()
            .with_context(|| format!("BATON_BODY_BUDGET_BYTES is not a number: {budget}"))?;
    }
    tracing::info!(workflow = %source.describe(), workflows = source.set().len(),
        backend = %backends.description, "ingress ready");
    let mut ingress = Ingress::with_workflows(
        WorkflowWatch::start(source, reload_every),
        backends.store,
        backends.queue,
        Arc::new(SystemClock),
        settings,
    )
    // Runs held for approval are announced from here: no runner sees them.
    .with_announcer(Wiring::from_env().announcer());
    // The Linear agent's credential (client credentials, or `LINEAR_AGENT_TOKEN`): baton as a
    // Linear agent; sessions are acknowledged from here.
    if let Some(sessions) =
        baton_integrations::wiring::agent_sessions::for_ingress(&|name| std::env::var(name).ok())?
    {
        ingress = ingress.with_agent_sessions(sessions, std::env::var("BATON_PUBLIC_URL").ok());
    }
    Ok(router(Arc::new(ingress)))
}
