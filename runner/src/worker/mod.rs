//! The runner loop: long-poll the jobs queue, run each job as a claimed, leased, recorded
//! agent session, and stop gracefully.
//!
//! - [`job`]: one message from triage to acknowledgement (claim, run, conclude, retry).
//! - [`attempt`]: workspace, prompt and the agent's turns.
//! - [`keeper`]: lease, slot and visibility heartbeats; cancel and takeover watching.
//! - [`recorder`]: the run's timeline and record.
//! - [`slots`]: the concurrency limits shared by every runner.
//! - [`limits`] and [`settings`]: what the workflow and the environment configure.

mod accounts;
mod activities;
mod announce;
mod attempt;
pub mod budget;
mod cleanup;
mod conclude;
pub mod delivery;
pub mod evidence;
mod item;
mod job;
mod keeper;
pub mod limits;
mod outcome;
mod plans;
mod recorder;
pub mod settings;
mod settle;
pub mod slots;
mod stop;
mod trends;
mod waiting;
mod writer;

pub use attempt::CONTINUATION_NOTE;
pub use limits::AgentLimits;
pub use plans::{PlanBook, WORKFLOW_INVALID, WORKFLOW_MISSING};
pub use settings::RunnerSettings;

use crate::agent::setup::{AgentSetup, AgentSetupError, MockAgentCommand};
use crate::prompt::{PromptError, PromptTemplate};
use crate::redact::Redactor;
use crate::workspace::{WorkspaceConfig, WorkspaceConfigError, WorkspaceManager};
use baton_core::clock::Clock;
use baton_core::domain::{RunError, WorkItem};
use baton_core::ports::{CredentialSource, Queue, Store};
use baton_core::workflow::{StateRules, Workflow};
use baton_integrations::wiring::Connections;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Why a workflow cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Agent(#[from] AgentSetupError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceConfigError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("workflow_parse_error: {0}")]
    Delivery(#[from] baton_integrations::config::ConfigError),
    #[error(transparent)]
    Accounts(#[from] baton_core::workflow::WorkflowError),
}

/// Everything the runner takes from one workflow, resolved and checked up front so a bad
/// file fails at start-up rather than in the middle of a run.
pub struct RunPlan {
    pub rules: StateRules,
    pub limits: AgentLimits,
    pub agent: AgentSetup,
    pub workspaces: WorkspaceManager,
    pub prompt: PromptTemplate,
    /// The tracker, platform and profile contract results are delivered with.
    pub delivery: delivery::DeliveryPlan,
    /// Where run outcomes are announced in chat (`notify`), if anywhere.
    pub notify: Option<Arc<crate::notify::Notifier>>,
    /// The workflow's `budgets`, if it sets any.
    pub budget: Option<Arc<budget::BudgetPlan>>,
    /// The agent account pool runs lease from, when the workflow or deployment names one.
    pub accounts: Option<crate::accounts::AccountPlan>,
}

impl RunPlan {
    /// The plan for `workflow`, with adapters of its own (tests, single-workflow tools).
    pub fn from_workflow(
        workflow: &Workflow,
        mock: Option<&MockAgentCommand>,
    ) -> Result<Self, PlanError> {
        let env = |name: &str| std::env::var(name).ok();
        Self::new(workflow, Connections::of(workflow, &env)?, mock)
    }

    /// The plan for `workflow`, delivering through `connections` (built by the wiring).
    pub fn new(
        workflow: &Workflow,
        connections: Connections,
        mock: Option<&MockAgentCommand>,
    ) -> Result<Self, PlanError> {
        let workspaces = WorkspaceConfig::from_workflow(workflow)?;
        let env = |name: &str| std::env::var(name).ok();
        Ok(Self {
            rules: StateRules::new(&workflow.config),
            limits: workflow.config.agent.clone(),
            agent: AgentSetup::from_workflow(workflow, mock)?,
            delivery: delivery::DeliveryPlan::new(
                workflow,
                connections,
                &workspaces.repo.base_branch,
                &env,
            ),
            workspaces: WorkspaceManager::new(workspaces),
            prompt: PromptTemplate::from_workflow(workflow)?,
            notify: crate::notify::Notifier::from_config(&workflow.config.notify, &env),
            budget: budget::BudgetPlan::from_workflow(workflow),
            accounts: crate::accounts::AccountPlan::new(workflow, &env)?,
        })
    }
}

/// A runner process's shared state.
pub struct Runner {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    settings: RunnerSettings,
    plans: PlanBook,
    redactor: Redactor,
    /// Jobs waiting for a run of this process to end (see `waiting`).
    waiting: waiting::Parked,
    /// Where agent account credentials are read from.
    credentials: Arc<dyn CredentialSource>,
    /// Where runs asked for in an agent session report their progress (Linear's API).
    agent_sessions: std::sync::OnceLock<Arc<dyn baton_core::ports::AgentSessions>>,
}

/// `now + duration`, saturating instead of overflowing on absurd configured durations.
pub(crate) fn later(now: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// After the grace period, how long stopped sessions get to wind down.
const STOP_PATIENCE: Duration = Duration::from_secs(15);

/// Waits for every task, logging the ones that panicked.
async fn join_all(tasks: &mut JoinSet<()>) {
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined {
            tracing::error!(%error, "a job task failed");
        }
    }
}

/// How long the loop waits after the queue failed before it polls again.
const QUEUE_DOWN_PAUSE: Duration = Duration::from_secs(2);

impl Runner {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: RunnerSettings,
        plan: RunPlan,
        redactor: Redactor,
    ) -> Arc<Self> {
        Self::with_plans(
            store,
            queue,
            clock,
            settings,
            PlanBook::fixed(plan),
            redactor,
        )
    }

    /// A runner whose jobs each run with their own workflow's plan.
    pub fn with_plans(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: RunnerSettings,
        plans: PlanBook,
        redactor: Redactor,
    ) -> Arc<Self> {
        Self::with_credentials(
            store,
            queue,
            clock,
            settings,
            (plans, redactor),
            Arc::new(crate::accounts::LocalCredentials),
        )
    }

    /// A runner reading agent account credentials from `credentials` (the AWS backend's
    /// source reads Secrets Manager and Parameter Store references too).
    pub fn with_credentials(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: RunnerSettings,
        (plans, redactor): (PlanBook, Redactor),
        credentials: Arc<dyn CredentialSource>,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            queue,
            clock,
            settings,
            plans,
            redactor,
            waiting: Default::default(),
            credentials,
            agent_sessions: std::sync::OnceLock::new(),
        })
    }

    /// Runs of work items asked for in an agent session report their progress to
    /// `sessions` (set once, before the runner starts).
    pub fn report_agent_sessions_to(&self, sessions: Arc<dyn baton_core::ports::AgentSessions>) {
        let _ = self.agent_sessions.set(sessions);
    }

    pub fn settings(&self) -> &RunnerSettings {
        &self.settings
    }

    /// The plan `item`'s runs follow: its own workflow's (see [`PlanBook`]).
    pub fn plan_for(&self, item: &WorkItem) -> Result<Arc<RunPlan>, RunError> {
        self.plans.for_item(item)
    }

    pub fn plans(&self) -> &PlanBook {
        &self.plans
    }

    /// What a run's records are redacted with: the runner's own secrets and every secret the
    /// process has learnt since it started (a workflow added by a reload, its adapters'
    /// credentials).
    pub(crate) fn redactor(&self) -> Redactor {
        self.redactor
            .clone()
            .merged(&baton_telemetry::redact::known_secrets())
    }

    /// Runs until `shutdown` fires: then claims nothing more, gives running sessions
    /// `shutdown_grace` to end, stops the rest and returns their work to the queue.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let capacity = self.settings.local_sessions;
        let sessions = Arc::new(Semaphore::new(capacity));
        // Fired when the grace period is over: what still runs is stopped and released.
        let stop_sessions = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tracing::info!(runner = %self.settings.runner_id, sessions = capacity,
            lease_s = self.settings.lease.as_secs(), "runner started");
        let sweeps = cleanup::spawn_sweeps(Arc::clone(&self), shutdown.clone());
        loop {
            while let Some(joined) = tasks.try_join_next() {
                if let Err(error) = joined {
                    tracing::error!(%error, "a job task failed");
                }
            }
            let first = tokio::select! {
                () = shutdown.cancelled() => break,
                permit = Arc::clone(&sessions).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
            };
            let free = sessions.available_permits() + 1;
            // A long poll is never abandoned: on SQS, messages handed to a poll whose caller
            // went away stay invisible for their whole visibility timeout. Shutdown waits for
            // it (at most `poll_wait`) and returns what it brought.
            let received = self
                .queue
                .receive(free.min(10), self.settings.poll_wait, self.settings.lease)
                .await;
            if shutdown.is_cancelled() {
                for message in received.unwrap_or_default() {
                    self.hide(&message.receipt, Duration::ZERO).await;
                }
                break;
            }
            let messages = match received {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(%error, "cannot receive jobs; trying again shortly");
                    drop(first);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(QUEUE_DOWN_PAUSE) => continue,
                    }
                }
            };
            let mut first = Some(first);
            for message in messages {
                // At most `free` messages came, and permits only come back meanwhile.
                let permit = match first.take() {
                    Some(permit) => permit,
                    None => match Arc::clone(&sessions).try_acquire_owned() {
                        Ok(permit) => permit,
                        Err(_) => {
                            self.hide(&message.receipt, Duration::ZERO).await;
                            continue;
                        }
                    },
                };
                let runner = Arc::clone(&self);
                let signals = stop::Shutdown {
                    stop_claiming: shutdown.clone(),
                    stop_sessions: stop_sessions.clone(),
                };
                tasks.spawn(async move {
                    runner.handle(message, signals).await;
                    drop(permit);
                });
            }
        }
        let running = tasks.len();
        tracing::info!(
            running,
            grace_s = self.settings.shutdown_grace.as_secs(),
            "runner stopping: no new jobs; waiting for running sessions"
        );
        let drained =
            tokio::time::timeout(self.settings.shutdown_grace, join_all(&mut tasks)).await;
        if drained.is_err() {
            tracing::warn!(running = tasks.len(), "grace period over: stopping the remaining sessions and returning their jobs to the queue");
            stop_sessions.cancel();
            // Stopping a session takes seconds (interrupt, then kill); do not hang on one.
            if tokio::time::timeout(STOP_PATIENCE, join_all(&mut tasks))
                .await
                .is_err()
            {
                tracing::error!(
                    running = tasks.len(),
                    "sessions did not stop in time; their leases run out by themselves"
                );
            }
        }
        if let Some(sweeps) = sweeps {
            sweeps.abort();
        }
        tracing::info!(runner = %self.settings.runner_id, "runner stopped");
    }
}
