//! `baton runner`, and the runner loop that `baton dev` and `baton demo` run in-process.

use crate::backend;
use crate::cli::RunnerArgs;
use anyhow::Context;
use baton_aws::BackendKind;
use baton_core::clock::{Clock, SystemClock};
use baton_core::ports::{Queue, Store};
use baton_core::secret::Secret;
use baton_core::telemetry::redact;
use baton_core::workflow::{env_lookup, Workflow, WorkflowSet, WorkflowSource};
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::worker::{RunPlan, Runner, RunnerSettings};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The mock agent is this very binary (`baton mock-agent`), so it is always at hand.
pub fn mock_agent_command() -> Option<MockAgentCommand> {
    let exe = std::env::current_exe().ok()?;
    Some(MockAgentCommand(vec![
        exe.to_string_lossy().into_owned(),
        "mock-agent".to_owned(),
    ]))
}

/// Builds a runner for `workflow`: checks the workflow's agent, limits, workspace and prompt
/// up front, and knows every secret it must keep out of the record.
pub fn build(
    settings: RunnerSettings,
    workflow: &Workflow,
    webhook_secrets: &BTreeMap<baton_core::domain::SourceKind, Secret>,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Runner>> {
    build_with_secrets(
        settings,
        workflow,
        webhook_secrets.values(),
        store,
        queue,
        clock,
    )
}

/// Builds a runner for a set of workflows. Until the runner picks a workflow per job
/// (`WorkflowSet::select_served_for_item`), it runs every job with the set's first
/// workflow; every workflow's webhook secrets are kept out of the record.
pub fn build_for_set(
    settings: RunnerSettings,
    set: &WorkflowSet,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Runner>> {
    let first = set
        .iter()
        .next()
        .context("no workflow is loaded, so the runner has nothing to run")?;
    if set.len() > 1 {
        tracing::warn!(
            workflow = %first.workflow().describe(),
            "several workflows are loaded; the runner runs every job with the first"
        );
    }
    build_with_secrets(
        settings,
        first.workflow(),
        set.all_secrets(),
        store,
        queue,
        clock,
    )
}

fn build_with_secrets<'a>(
    settings: RunnerSettings,
    workflow: &Workflow,
    webhook_secrets: impl IntoIterator<Item = &'a Secret>,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Runner>> {
    let plan = RunPlan::from_workflow(workflow, mock_agent_command().as_ref())
        .with_context(|| format!("workflow {}", workflow.describe()))?;
    let passed = plan.agent.passed_secret_names();
    if !passed.is_empty() {
        tracing::info!(variables = ?passed, "credentials passed to the agent's environment");
    }
    // One redactor for the run's records and the process's log lines: everything the log
    // writer knows (every resolved secret, secret-looking environment values) and these.
    redact::remember(
        redact::process_env_secret_values().into_iter().chain(
            webhook_secrets
                .into_iter()
                .map(|secret| secret.expose().to_owned()),
        ),
    );
    let redactor = redact::known_secrets();
    Ok(Runner::new(store, queue, clock, settings, plan, redactor))
}

/// The runner's settings from the environment. `poll_wait`, when given, is the default long
/// poll: in-process runners use a short one so the process stops quickly.
pub fn settings_from_env(poll_wait: Option<Duration>) -> anyhow::Result<RunnerSettings> {
    let mut settings = RunnerSettings::from_lookup(|name| std::env::var(name).ok())?;
    if let Some(wait) = poll_wait.filter(|_| std::env::var_os("BATON_POLL_WAIT_SECS").is_none()) {
        settings.poll_wait = wait;
    }
    Ok(settings)
}

/// `baton runner`: the runner loop alone, against shared (AWS) backends.
pub async fn run(args: RunnerArgs) -> anyhow::Result<()> {
    if args.backend.kind()? != BackendKind::Aws {
        anyhow::bail!(
            "`baton runner` works on shared backends: pass --aws (or set BATON_BACKEND=aws) with \
             AWS_ENDPOINT_URL or AWS credentials; for everything in one process use `baton dev`"
        );
    }
    let workflows = WorkflowSource::discover(args.workflow.as_deref(), env_lookup())?;
    let backends = backend::open(&args.backend).await?;
    let runner = build_for_set(
        settings_from_env(None)?,
        &workflows.set(),
        backends.store,
        backends.queue,
        Arc::new(SystemClock),
    )?;
    tracing::info!(backend = %backends.description, workflow = %workflows.describe(), "baton runner");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        crate::dev::shutdown_signal().await;
        trigger.cancel();
    });
    runner.run(shutdown).await;
    Ok(())
}
