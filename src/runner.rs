//! `baton runner`, and the runner loop that `baton dev` and `baton demo` run in-process.

use crate::backend::{self, Backend, BackendChoice};
use crate::cli::RunnerArgs;
use baton_core::clock::{Clock, SystemClock};
use baton_core::ports::{CredentialSource, Queue, Store};
use baton_core::workflow::{env_lookup, reload_interval, WorkflowSource, WorkflowWatch};
use baton_integrations::wiring::agent_sessions;
use baton_integrations::wiring::Wiring;
use baton_runner::accounts::LocalCredentials;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::worker::{PlanBook, Runner, RunnerSettings};
use baton_telemetry::redact;
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

/// Builds a runner for the workflows `workflows` serves: each job runs with the plan of the
/// workflow that accepted it (see `PlanBook`), and the set reloads as the ingress's does.
/// Every workflow is checked up front, so a bad file fails at start-up rather than in the
/// middle of a run; every webhook secret is kept out of the record.
pub fn build(
    settings: RunnerSettings,
    workflows: &WorkflowWatch,
    wiring: &Wiring,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Runner>> {
    let local: Arc<dyn CredentialSource> = Arc::new(LocalCredentials);
    build_with(local, settings, workflows, wiring, store, queue, clock)
}

/// [`build`], reading agent account credentials from `credentials`.
pub fn build_with(
    credentials: Arc<dyn CredentialSource>,
    settings: RunnerSettings,
    workflows: &WorkflowWatch,
    wiring: &Wiring,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<Runner>> {
    let set = workflows.current();
    if set.is_empty() {
        anyhow::bail!("no workflow is loaded, so the runner has nothing to run");
    }
    let plans = PlanBook::watching(workflows.clone(), wiring.clone(), mock_agent_command());
    if let Some(error) = plans.check_all().into_iter().next() {
        anyhow::bail!("{}", error.message);
    }
    for plan in plans.all() {
        let passed = plan.agent.passed_secret_names();
        if !passed.is_empty() {
            tracing::info!(variables = ?passed, "credentials passed to the agent's environment");
        }
    }
    // One redactor for the run's records and the process's log lines: everything the log
    // writer knows (every resolved secret, secret-looking environment values) and these.
    redact::remember(
        redact::process_env_secret_values()
            .into_iter()
            .chain(set.all_secrets().map(|secret| secret.expose().to_owned())),
    );
    let redactor = redact::known_secrets();
    let runner = Runner::with_credentials(
        store,
        queue,
        clock,
        settings,
        (plans, redactor),
        credentials,
    );
    // The Linear agent's credential (client credentials, or `LINEAR_AGENT_TOKEN`): runs asked
    // for in a Linear agent session report there.
    if let Some(sessions) = agent_sessions::for_runner(wiring.env().as_ref())? {
        runner.report_agent_sessions_to(sessions);
    }
    Ok(runner)
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

/// `baton runner`: the runner loop alone, against shared backends (a data dir or AWS).
pub async fn run(args: RunnerArgs) -> anyhow::Result<()> {
    let chosen = args.backend.backend_or(BackendChoice::Embedded)?;
    if chosen == Backend::Memory {
        anyhow::bail!(
            "`baton runner` works on shared backends: the embedded store of a `baton dev` on this \
             machine (--data-dir, default ./.baton) or DynamoDB and SQS (--aws); for everything \
             in memory in one process use `baton dev --memory`"
        );
    }
    let source = WorkflowSource::discover(args.workflow.as_deref(), env_lookup())?;
    let described = source.describe();
    // The same set as the ingress, reloaded the same way (BATON_WORKFLOW_RELOAD_MS).
    let workflows = WorkflowWatch::start(source, reload_interval(|name| std::env::var(name).ok())?);
    let backends = backend::open(&chosen, &args.backend).await?;
    let local: Arc<dyn CredentialSource> = Arc::new(LocalCredentials);
    // On AWS, agent accounts may keep their credentials in Secrets Manager or Parameter Store.
    let credentials: Arc<dyn CredentialSource> = match chosen {
        Backend::Aws => Arc::new(baton_aws::agent_credentials(local).await),
        _ => local,
    };
    let runner = build_with(
        credentials,
        settings_from_env(None)?,
        &workflows,
        &Wiring::from_env(),
        backends.store,
        backends.queue,
        Arc::new(SystemClock),
    )?;
    tracing::info!(backend = %backends.description, workflow = %described, "baton runner");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        crate::shutdown::signal().await;
        trigger.cancel();
    });
    runner.run(shutdown).await;
    Ok(())
}
