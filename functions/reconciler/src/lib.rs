//! The reconciler Lambda: on an EventBridge schedule (`rate(1 minute)`), one requeue pass and
//! the safety poll of every workflow's tracker that is due, wired to DynamoDB and SQS from the
//! environment. The workflows and their trackers are built by the same wiring as `baton dev`
//! (`baton_integrations::wiring`); the invocation's result reports both.

use baton_core::clock::{Clock, SystemClock};
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{
    reconcile_once, PollReport, ReconcileError, ReconcileReport, ReconcilerSettings,
};
use baton_core::workflow::{env_lookup, WorkflowSource};
use baton_integrations::wiring::{
    self, Backends, Reconcilers, Wiring, WiringError, WorkflowReconciler,
};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The parts of an EventBridge scheduled event worth a log line. Every field is optional,
/// so a manual test invoke with `{}` runs a pass too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScheduledEvent {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "detail-type")]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// When the schedule fired (RFC 3339).
    #[serde(default)]
    pub time: Option<String>,
    /// The schedule rule's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
}

/// What one invocation did: the requeue pass's report, and each safety poll that ran.
#[derive(Debug, Clone, Serialize)]
pub struct Invocation {
    #[serde(flatten)]
    pub pass: ReconcileReport,
    pub polls: Vec<WorkflowPoll>,
}

/// One workflow's safety poll in an invocation.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowPoll {
    pub workflow: String,
    /// The tracker's report; absent when the poll failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<PollReport>,
    /// Why the poll failed; the next due invocation tries again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How early a scheduled invocation may come: a poll due at about the same time as the
/// invocation runs in it rather than in the next one.
const SCHEDULE_JITTER: Duration = Duration::from_secs(5);

pub struct Handler {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    settings: ReconcilerSettings,
    polls: Vec<WorkflowReconciler>,
    /// Workflows whose tracker cannot be wired: reported by every invocation.
    unwired: Vec<WiringError>,
    /// When each workflow was last polled by this (warm) instance: a poll runs when its
    /// `polling.interval_ms` has passed, so at most once per scheduled invocation.
    last_polled: Mutex<HashMap<String, Instant>>,
}

impl Handler {
    /// A handler that runs the requeue pass only; see [`Handler::with_polls`].
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: ReconcilerSettings,
    ) -> Self {
        Self {
            store,
            queue,
            clock,
            settings,
            polls: Vec::new(),
            unwired: Vec::new(),
            last_polled: Mutex::new(HashMap::new()),
        }
    }

    /// Adds the workflows' safety polls (see `baton_integrations::wiring::reconcilers`);
    /// those that could not be wired fail their own poll in every report.
    pub fn with_polls(mut self, reconcilers: Reconcilers) -> Self {
        self.polls = reconcilers
            .built
            .into_iter()
            .filter(|poll| poll.polls)
            .collect();
        self.unwired = reconcilers.failed;
        self
    }

    /// Builds the handler from the environment:
    /// - `BATON_WORKFLOW`: the workflow file or directory, as the ingress reads it; each
    ///   workflow with `tracker.provider` is polled, with the credentials it names;
    /// - `BATON_BACKEND`: `aws` (default) or `memory`; `BATON_TABLE`, `BATON_QUEUE`, `BATON_DLQ`;
    /// - `BATON_LEASE_SECS`, `BATON_RECONCILE_LEASE_GRACE_SECS`,
    ///   `BATON_RECONCILE_RETRY_GRACE_SECS`, `BATON_RECONCILE_QUEUED_SECS`: the graces.
    pub async fn from_env() -> anyhow::Result<Self> {
        let backend: baton_aws::BackendKind = std::env::var("BATON_BACKEND")
            .unwrap_or_else(|_| "aws".into())
            .parse()
            .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}"))?;
        let backends = baton_aws::open(backend, &baton_aws::Settings::from_env()).await?;
        let settings = ReconcilerSettings::from_lookup(|name| std::env::var(name).ok())?;
        let workflow_path = std::env::var_os("BATON_WORKFLOW").map(PathBuf::from);
        let source = WorkflowSource::discover(workflow_path.as_deref(), env_lookup())?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let reconcilers = wiring::reconcilers(
            &source.set(),
            &Wiring::from_env(),
            &Backends {
                store: Arc::clone(&backends.store),
                queue: Arc::clone(&backends.queue),
                clock: Arc::clone(&clock),
            },
            &settings,
            // The schedule, not this value, paces the requeue pass here.
            Duration::from_secs(60),
        );
        let handler =
            Self::new(backends.store, backends.queue, clock, settings).with_polls(reconcilers);
        tracing::info!(backend = %backends.description, workflow = %source.describe(),
            polled = handler.polls.len(), "reconciler ready");
        Ok(handler)
    }

    /// One requeue pass.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ReconcileError> {
        reconcile_once(&*self.store, &*self.queue, &*self.clock, &self.settings).await
    }

    /// The safety poll of every workflow whose interval has passed since this instance last
    /// polled it (or that it never polled).
    pub async fn poll_due(&self) -> Vec<WorkflowPoll> {
        let mut last_polled = self.last_polled.lock().await;
        let mut done: Vec<WorkflowPoll> = self
            .unwired
            .iter()
            .map(|error| WorkflowPoll {
                workflow: error.workflow.clone(),
                report: None,
                error: Some(error.message.clone()),
            })
            .collect();
        for poll in &self.polls {
            let now = Instant::now();
            let due = last_polled.get(&poll.workflow).is_none_or(|at| {
                now.saturating_duration_since(*at) + SCHEDULE_JITTER >= poll.schedule.poll_every
            });
            if !due {
                continue;
            }
            last_polled.insert(poll.workflow.clone(), now);
            for result in poll.reconciler.poll().await {
                done.push(match result {
                    Ok(report) => WorkflowPoll {
                        workflow: poll.workflow.clone(),
                        report: Some(report),
                        error: None,
                    },
                    Err(error) => {
                        tracing::warn!(workflow = %poll.workflow, %error,
                            "safety poll failed; the next invocation tries again");
                        WorkflowPoll {
                            workflow: poll.workflow.clone(),
                            report: None,
                            error: Some(error.to_string()),
                        }
                    }
                });
            }
        }
        done
    }

    /// One scheduled invocation. A pass that cannot list the work items fails the
    /// invocation; the next schedule tries again. A tracker that cannot be read fails its
    /// poll only.
    pub async fn handle(
        &self,
        event: LambdaEvent<ScheduledEvent>,
    ) -> Result<Invocation, ReconcileError> {
        let (scheduled, context) = event.into_parts();
        tracing::info!(request_id = %context.request_id,
            event_id = scheduled.id.as_deref().unwrap_or(""),
            scheduled_at = scheduled.time.as_deref().unwrap_or(""), "reconciler invoked");
        let pass = self.reconcile().await?;
        let polls = self.poll_due().await;
        tracing::info!(
            inspected = pass.inspected,
            requeued = pass.requeued.len(),
            failed = pass.failed.len(),
            polled = polls.len(),
            queued_by_poll = polls
                .iter()
                .filter_map(|poll| poll.report.as_ref())
                .map(|report| report.queued.len())
                .sum::<usize>(),
            "reconciler pass done"
        );
        Ok(Invocation { pass, polls })
    }
}
