//! `baton dev`: the whole control plane in one process: the webhook ingress, the read API
//! and dashboard, the runner loop (unless `--no-runner`) and the reconciler loop.

use crate::backend::{self, BackendChoice};
use crate::cli::DevArgs;
use crate::reconciler;
use crate::runner;
use crate::serve;
use anyhow::Context;
use baton_core::clock::SystemClock;
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::workflow::{env_lookup, WorkflowSource, WorkflowWatch};
use baton_integrations::wiring::Wiring;
use baton_web::api;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let source = WorkflowSource::discover(args.workflow.as_deref(), env_lookup())?;
    let described = source.describe();
    let set = source.set();
    // Changed workflow files are picked up from the next webhook on.
    let reload_every =
        (args.workflow_reload_ms > 0).then(|| Duration::from_millis(args.workflow_reload_ms));
    let workflows = WorkflowWatch::start(source, reload_every);
    let chosen = args.backend.backend_or(BackendChoice::Embedded)?;
    let backends = backend::open(&chosen, &args.backend).await?;
    let settings = IngressSettings {
        max_body_bytes: args.max_body_bytes,
        body_budget_bytes: args.body_budget_bytes,
        ..IngressSettings::default()
    };
    let clock: Arc<SystemClock> = Arc::new(SystemClock);
    // One wiring for the process: the runner and the safety poll share each workflow's
    // adapters (and so the in-memory tracker).
    let wiring = Wiring::from_env();
    let runner = if args.no_runner {
        None
    } else {
        Some(runner::build(
            // A short long poll: Ctrl-C waits for it.
            runner::settings_from_env(Some(Duration::from_secs(2)))?,
            &workflows,
            &wiring,
            Arc::clone(&backends.store),
            Arc::clone(&backends.queue),
            clock.clone(),
        )?)
    };
    let reconcilers = reconciler::ReconcilerLoops {
        workflows: workflows.clone(),
        wiring: wiring.clone(),
        store: Arc::clone(&backends.store),
        queue: Arc::clone(&backends.queue),
        clock: clock.clone(),
        every: Duration::from_secs(args.reconcile_every_secs),
    };
    reconcilers.check()?;
    let mut ingress = Ingress::with_workflows(
        workflows.clone(),
        Arc::clone(&backends.store),
        backends.queue,
        clock,
        settings,
    )
    .with_announcer(wiring.announcer());
    // baton as a Linear agent: sessions are acknowledged by the ingress itself.
    if let Some(sessions) =
        baton_integrations::wiring::agent_sessions::for_ingress(&|name| std::env::var(name).ok())?
    {
        ingress = ingress.with_agent_sessions(sessions, std::env::var("BATON_PUBLIC_URL").ok());
    }
    let ingress = Arc::new(ingress);
    let sources: Vec<_> = ingress.configured_sources().map(|s| s.as_str()).collect();
    if sources.is_empty() {
        let mut variables: Vec<_> = set
            .iter()
            .flat_map(|served| {
                baton_core::sources::webhook_sources()
                    .map(|source| served.workflow().config.webhooks.secret_variable(source))
            })
            .collect();
        variables.sort_unstable();
        variables.dedup();
        tracing::warn!(
            "no webhook secret is set, so every webhook will be refused; set one of {}",
            variables.join(", ")
        );
    }
    let pricing = baton_web::dashboard::Pricing::from_env()?;
    // The API, the workflows listing and the dashboard are behind the auth check; webhooks (signed by
    // their senders) and /healthz are not.
    let auth = api::ApiAuth::from_env()?;
    if matches!(auth, api::ApiAuth::LoopbackOnly) && !args.bind.is_loopback() {
        tracing::warn!(bind = %args.bind,
            "no BATON_API_TOKEN is set, so the API answers loopback clients only");
    }
    let protected = api::router(Arc::clone(&ingress), api::CursorKey::from_env())
        .merge(api::workflows_router(workflows))
        .merge(baton_web::dashboard::router_with_pricing(
            Arc::clone(&backends.store),
            Arc::new(SystemClock),
            pricing,
        ));
    let app = baton_web::ingress::router(ingress)
        .merge(api::require_auth(protected, auth.clone()))
        .merge(api::login_router(auth.clone()));
    let address = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(
        %address,
        backend = %backends.description,
        workflow = %described,
        workflows = set.len(),
        sources = ?sources,
        api_auth = auth.describe(),
        header_timeout_secs = args.header_timeout_secs,
        idle_timeout_secs = args.idle_timeout_secs,
        max_connections = args.max_connections,
        body_budget_bytes = args.body_budget_bytes,
        "baton dev listening on http://{address}"
    );
    let shutdown = CancellationToken::new();
    let runner_task = runner.map(|runner| tokio::spawn(runner.run(shutdown.clone())));
    let reconciler_task = tokio::spawn(reconcilers.run(shutdown.clone()));
    let stop_server = shutdown.clone();
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        stop_server.cancel();
    });
    let limits = serve::Limits {
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX),
        ..serve::Limits::default()
    };
    // The server hands handlers the peer address: the auth check uses it for loopback.
    let served = serve::serve(listener, app, limits, shutdown.clone())
        .await
        .context("server failed");
    // The server stops first: no new jobs arrive while the runner winds down.
    shutdown.cancel();
    if let Some(task) = runner_task {
        let _ = task.await;
    }
    if let Ok(Err(error)) = reconciler_task.await {
        tracing::warn!(%error, "the reconciler stopped");
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}
