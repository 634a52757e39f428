//! `baton dev`: the whole control plane in one process: the webhook ingress, the read API,
//! the runner loop (unless `--no-runner`) and the reconciler loop.

use crate::backend;
use crate::cli::DevArgs;
use crate::runner;
use anyhow::Context;
use baton_core::clock::SystemClock;
use baton_core::domain::SourceKind;
use baton_core::ingress::{self, Ingress, IngressSettings};
use baton_core::reconciler::{Reconciler, ReconcilerSettings, Schedule};
use baton_core::workflow::Workflow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let workflow = Workflow::discover(args.workflow.as_deref())?;
    let secrets = workflow.webhook_secrets(|name| std::env::var(name).ok());
    let backends = backend::open(&args.backend).await?;
    let settings = IngressSettings {
        max_body_bytes: args.max_body_bytes,
        ..IngressSettings::default()
    };
    let clock: Arc<SystemClock> = Arc::new(SystemClock);
    let runner = if args.no_runner {
        None
    } else {
        Some(runner::build(
            // A short long poll: Ctrl-C waits for it.
            runner::settings_from_env(Some(Duration::from_secs(2)))?,
            &workflow,
            &secrets,
            Arc::clone(&backends.store),
            Arc::clone(&backends.queue),
            clock.clone(),
        )?)
    };
    let schedule =
        Schedule::from_workflow(&workflow, Duration::from_secs(args.reconcile_every_secs))?;
    // No tracker is polled yet: the tracker adapters plug in here with `with_poller`.
    let reconciler = Reconciler::new(
        &workflow,
        Arc::clone(&backends.store),
        Arc::clone(&backends.queue),
        clock.clone(),
        ReconcilerSettings::from_lookup(|name| std::env::var(name).ok())?,
    );
    let ingress = Arc::new(Ingress::new(
        &workflow,
        secrets,
        Arc::clone(&backends.store),
        backends.queue,
        clock,
        settings,
    ));
    let sources: Vec<_> = ingress.configured_sources().map(|s| s.as_str()).collect();
    if sources.is_empty() {
        let variables: Vec<_> = SourceKind::ALL
            .into_iter()
            .map(|source| workflow.config.webhooks.secret_variable(source))
            .collect();
        tracing::warn!(
            "no webhook secret is set, so every webhook will be refused; set one of {}",
            variables.join(", ")
        );
    }
    let app = ingress::router(ingress).merge(baton_core::api::router(
        Arc::clone(&backends.store),
        Arc::new(SystemClock),
    ));
    let address = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    tracing::info!(
        %address,
        backend = %backends.description,
        workflow = %workflow.describe(),
        sources = ?sources,
        "baton dev listening on http://{address}"
    );
    let shutdown = CancellationToken::new();
    let runner_task = runner.map(|runner| tokio::spawn(runner.run(shutdown.clone())));
    let reconciler_task =
        tokio::spawn(reconciler.run(schedule, shutdown.clone().cancelled_owned()));
    let stop_server = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop_server.cancel();
    });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("server failed");
    // The server stops first: no new jobs arrive while the runner winds down.
    shutdown.cancel();
    if let Some(task) = runner_task {
        let _ = task.await;
    }
    let _ = reconciler_task.await;
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, so in-flight requests finish before the process exits.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
