//! The reconciler as a loop, for long-lived processes (`baton dev`): the requeue pass on one
//! interval, the safety poll of every tracker on another. On AWS a scheduled Lambda function
//! runs the pass instead.

use super::poll::{IssuePoller, PollError, SafetyPoll};
use super::report::{PollReport, ReconcileReport};
use super::requeue::{reconcile_once, ReconcileError};
use super::{ReconcilerSettings, Schedule};
use crate::clock::Clock;
use crate::ports::{Queue, Store};
use crate::workflow::{Workflow, WorkflowSet};
use std::future::Future;
use std::sync::Arc;
use tokio::time::MissedTickBehavior;

pub struct Reconciler {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    settings: ReconcilerSettings,
    poll: SafetyPoll,
    pollers: Vec<Arc<dyn IssuePoller>>,
}

impl Reconciler {
    pub fn new(
        workflow: &Workflow,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: ReconcilerSettings,
    ) -> Self {
        let poll = SafetyPoll::new(
            workflow,
            Arc::clone(&store),
            Arc::clone(&queue),
            Arc::clone(&clock),
        );
        Self::with_poll(poll, store, queue, clock, settings)
    }

    /// The reconciler of the workflow named `workflow` in its deployment's `set`: its safety
    /// poll acts only on what the set gives that workflow (see [`SafetyPoll::in_set`]).
    pub fn in_set(
        set: Arc<WorkflowSet>,
        workflow: &str,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: ReconcilerSettings,
    ) -> Self {
        let poll = SafetyPoll::in_set(
            set,
            workflow,
            Arc::clone(&store),
            Arc::clone(&queue),
            Arc::clone(&clock),
        );
        Self::with_poll(poll, store, queue, clock, settings)
    }

    fn with_poll(
        poll: SafetyPoll,
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
            poll,
            pollers: Vec::new(),
        }
    }

    /// Announces the runs the safety poll holds for approval, as the ingress does.
    pub fn with_announcer(mut self, announcer: Arc<dyn crate::ports::Announcer>) -> Self {
        self.poll = self.poll.with_announcer(announcer);
        self
    }

    /// Adds a tracker to the safety poll.
    pub fn with_poller(mut self, poller: Arc<dyn IssuePoller>) -> Self {
        self.pollers.push(poller);
        self
    }

    /// One requeue pass.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ReconcileError> {
        reconcile_once(&*self.store, &*self.queue, &*self.clock, &self.settings).await
    }

    /// One safety poll of every tracker, in turn.
    pub async fn poll(&self) -> Vec<Result<PollReport, PollError>> {
        let mut reports = Vec::with_capacity(self.pollers.len());
        for poller in &self.pollers {
            reports.push(self.poll.poll(poller.as_ref()).await);
        }
        reports
    }

    /// Runs both on `schedule` (each at once, then every interval) until `shutdown`
    /// resolves. A pass under way is finished first, so nothing is left half-written.
    pub async fn run(self, schedule: Schedule, shutdown: impl Future<Output = ()> + Send) {
        let mut reconcile_tick = tokio::time::interval(schedule.reconcile_every);
        reconcile_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut poll_tick = tokio::time::interval(schedule.poll_every);
        poll_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let polling = !self.pollers.is_empty();
        tracing::info!(
            every_s = schedule.reconcile_every.as_secs(),
            poll_every_ms = u64::try_from(schedule.poll_every.as_millis()).unwrap_or(u64::MAX),
            trackers = self.pollers.len(),
            "reconciler started"
        );
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = reconcile_tick.tick() => self.reconcile_and_log().await,
                _ = poll_tick.tick(), if polling => self.poll_and_log().await,
            }
        }
        tracing::info!("reconciler stopped");
    }

    async fn reconcile_and_log(&self) {
        match self.reconcile().await {
            Ok(report) if report.requeued.is_empty() && report.failed.is_empty() => {
                tracing::debug!(
                    inspected = report.inspected,
                    "reconciler pass: nothing to do"
                );
            }
            Ok(report) => tracing::info!(
                inspected = report.inspected,
                requeued = report.requeued.len(),
                failed = report.failed.len(),
                "reconciler pass"
            ),
            Err(error) => {
                tracing::warn!(%error, "reconciler pass failed; the next one tries again")
            }
        }
    }

    async fn poll_and_log(&self) {
        for result in self.poll().await {
            match result {
                Ok(report) => tracing::debug!(source = %report.source, listed = report.listed,
                    queued = report.queued.len(), cancelled = report.cancelled.len(),
                    failed = report.failed.len(), "safety poll"),
                Err(error) => {
                    tracing::warn!(%error, "safety poll failed; the next one tries again")
                }
            }
        }
    }
}
