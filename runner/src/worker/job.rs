//! One job message, from receipt to acknowledgement: decide whether it runs (triage), take
//! the concurrency slots and the lease, run the attempt, record how it ended and what comes
//! next (a retry, a continuation, the dead-letter queue, or nothing).

use super::activities;
use super::attempt::{self, AttemptInput};
use super::conclude::Report;
use super::evidence::{self, Delivered, Evidence};
use super::item::{edit, Edit};
use super::keeper::{self, Kept};
use super::recorder::{self, RecorderContext, AGENT_EVENT_CAPACITY};
use super::slots::{self, HeldSlots};
use super::stop::{Shutdown, Stop};
use super::trends;
use super::{later, RunPlan, Runner};
use crate::bridge::LivingComment;
use baton_core::domain::{
    Job, JobReason, Lease, Run, RunError, RunId, RunStatus, WorkItem, WorkItemStatus,
};
use baton_core::ports::{ReceivedJob, StoreError, MAX_RECEIVE_COUNT};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::outcome::end_summary;
use super::settle::STORE_DOWN_RETRY;

/// What to do with a job before any work.
enum Triage {
    Run {
        item: Box<WorkItem>,
        plan: Arc<RunPlan>,
    },
    /// The item cannot run as its workflow stands (gone, or invalid): it fails, naming why.
    Fail(RunError),
    /// Acknowledge (delete) it: nothing to do.
    Ack(String),
    /// Not yet: send a copy that shows up after the delay, and acknowledge this one.
    Later(Duration, String),
    /// Give up on it: the dead-letter queue, and the work item says so.
    DeadLetter(String),
}

fn until(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (then - now).to_std().unwrap_or(Duration::ZERO)
}

impl Runner {
    /// Handles one received message to the end. Never panics on its content.
    pub(super) async fn handle(self: Arc<Self>, received: ReceivedJob, shutdown: Shutdown) {
        let job = match &received.job {
            Ok(job) => job.clone(),
            Err(reason) => {
                // Not ours to fix: let the queue's redrive policy move it to the dead-letter
                // queue after its receives run out.
                tracing::error!(receipt = %received.receipt, receive_count = received.receive_count,
                    %reason, "unreadable job message; it goes to the dead-letter queue after {MAX_RECEIVE_COUNT} receives");
                self.hide(&received.receipt, Duration::ZERO).await;
                return;
            }
        };
        // Every log line of this job carries its work item, job and delivery.
        let span = tracing::info_span!("job", work_item = %job.work_item, job_id = %job.job_id,
            delivery_id = tracing::field::Empty, attempt = job.attempt);
        if let Some(delivery_id) = &job.delivery_id {
            span.record("delivery_id", delivery_id.as_str());
        }
        self.handle_job(job, received, shutdown)
            .instrument(span)
            .await;
    }

    async fn handle_job(self: Arc<Self>, job: Job, received: ReceivedJob, shutdown: Shutdown) {
        match self.triage(&job, &received).await {
            Triage::Run { item, plan } => {
                self.run_claimed(job, received, *item, plan, shutdown).await
            }
            Triage::Fail(error) => self.fail_item(&job, &received.receipt, error).await,
            Triage::Ack(reason) => {
                tracing::info!(%reason, "job acknowledged without a run");
                self.ack(&received.receipt).await;
            }
            Triage::Later(delay, reason) => {
                tracing::info!(%reason, delay_s = delay.as_secs(), "job postponed");
                self.postpone(&job, &received.receipt, delay).await;
            }
            Triage::DeadLetter(reason) => self.give_up(&job, &received.receipt, reason).await,
        }
    }

    async fn triage(&self, job: &Job, received: &ReceivedJob) -> Triage {
        let now = self.clock.now();
        let item = match self.store.get_work_item(&job.work_item).await {
            Ok(Some(item)) => item,
            Ok(None) => {
                return Triage::DeadLetter(format!("job for unknown work item {}", job.work_item))
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the work item; the job waits");
                return Triage::Later(STORE_DOWN_RETRY, "store unavailable".into());
            }
        };
        let lease_live = item.lease.as_ref().is_some_and(|lease| lease.is_live(now));
        if item.pending_job.as_ref() != Some(&job.job_id) {
            // A retry or continuation comes only from the run holding the item, which sends
            // it just before recording its end (and so making it the pending job): while
            // that lease is live it is early, not superseded. It looks again shortly.
            if lease_live && matches!(job.reason, JobReason::Retry | JobReason::Continuation) {
                return Triage::Later(
                    super::waiting::HOLDER_RECHECK,
                    "the run that queued this follow-up has not recorded its end yet".into(),
                );
            }
            if item.cancel_requested && item.status == WorkItemStatus::Running && !lease_live {
                // Cancelled while its runner was dead: nobody else will settle it.
                self.settle_orphaned_cancel(&item).await;
            }
            return Triage::Ack(match &item.pending_job {
                Some(newer) => format!("superseded by job {newer}"),
                None if item.cancel_requested => "the work item was cancelled".into(),
                None => format!(
                    "the work item is {}; no run is pending",
                    item.status.as_str()
                ),
            });
        }
        if let Some(lease) = item.lease.as_ref().filter(|_| lease_live) {
            // Another run holds the item: this job (a newer request, or a duplicate of the
            // running one) starts when that run ends (see `waiting`). A fresh copy waits
            // rather than this message, so waiting never spends its receives.
            let ours = lease.owner == self.settings.runner_id;
            if ours {
                self.waiting.park(job);
            }
            return Triage::Later(
                super::waiting::delay_while_held(now, lease, ours),
                format!("runner {} holds the work item", lease.owner),
            );
        }
        if let Some(due) = item
            .next_retry_at
            .filter(|due| *due > now + chrono::Duration::seconds(1))
        {
            return Triage::Later(until(now, due), "the retry is not due yet".into());
        }
        // Every "not now" above sends a fresh copy, so only deliveries whose runner died
        // holding them count here. Both queues deliver a message at most
        // MAX_RECEIVE_COUNT times; the last delivery is spent on recording the give-up, since
        // a crash during it would let the queue dead-letter the job without a word.
        if received.receive_count >= MAX_RECEIVE_COUNT {
            return Triage::DeadLetter(format!(
                "the job was received {} times without finishing (its runners crashed)",
                received.receive_count
            ));
        }
        match self.plan_for(&item) {
            Ok(plan) => Triage::Run {
                item: Box::new(item),
                plan,
            },
            Err(error) => Triage::Fail(error),
        }
    }

    /// An item cancelled while its runner was gone: marks it cancelled and its run abandoned.
    async fn settle_orphaned_cancel(&self, seen: &WorkItem) {
        let settled = edit(
            &*self.store,
            &seen.key,
            || self.clock.now(),
            |item| {
                let now = self.clock.now();
                let orphaned = item.cancel_requested
                    && item.status == WorkItemStatus::Running
                    && item.lease.as_ref().is_none_or(|lease| !lease.is_live(now));
                if !orphaned {
                    return Edit::Keep(None);
                }
                item.status = WorkItemStatus::Cancelled;
                Edit::Write(item.lease.take())
            },
        )
        .await;
        match settled {
            Ok(Some(Some(lease))) => {
                self.abandon_previous(&lease, seen.workflow.as_deref())
                    .await
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot mark the work item cancelled"),
        }
    }

    async fn run_claimed(
        self: Arc<Self>,
        job: Job,
        received: ReceivedJob,
        item: WorkItem,
        plan: Arc<RunPlan>,
        shutdown: Shutdown,
    ) {
        if shutdown.stop_claiming.is_cancelled() {
            // Shutting down: another runner should take it, now.
            self.postpone(&job, &received.receipt, Duration::ZERO).await;
            return;
        }
        let run_id = RunId::generate();
        let receipt = received.receipt.as_str();
        let Some(held) = self
            .take_slots((&job, receipt), &plan, &item, &run_id)
            .await
        else {
            return;
        };
        let claimed = match self.claim(&job, &run_id).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                slots::release(&*self.store, &held).await;
                // Someone changed the item in between: decide again shortly.
                self.postpone(&job, &received.receipt, Duration::from_secs(1))
                    .await;
                return;
            }
            Err(error) => {
                slots::release(&*self.store, &held).await;
                tracing::warn!(%error, "cannot claim the work item; the job waits");
                self.postpone(&job, &received.receipt, STORE_DOWN_RETRY)
                    .await;
                return;
            }
        };
        let (item, previous) = claimed;
        if let Some(previous) = previous {
            self.abandon_previous(&previous, item.workflow.as_deref())
                .await;
        }
        tracing::info!(work_item = %job.work_item, run_id = %run_id, attempt = job.attempt, "claimed");
        // Every line of the run carries its id, and its session once the agent reports one.
        let span = tracing::info_span!("run", run_id = %run_id, session_id = tracing::field::Empty);
        self.run_and_conclude(
            job,
            received,
            Claimed { item, plan, run_id },
            held,
            shutdown.stop_sessions,
        )
        .instrument(span)
        .await;
    }

    /// Takes the lease with a versioned write. `Ok(None)`: the item no longer wants this job.
    /// Also returns the lease it replaced, if a crashed runner held one.
    async fn claim(
        &self,
        job: &Job,
        run_id: &RunId,
    ) -> Result<Option<(WorkItem, Option<Lease>)>, StoreError> {
        let settings = &self.settings;
        let claimed = edit(
            &*self.store,
            &job.work_item,
            || self.clock.now(),
            |item| {
                let now = self.clock.now();
                let wanted =
                    item.pending_job.as_ref() == Some(&job.job_id) && !item.cancel_requested;
                if !wanted || item.lease.as_ref().is_some_and(|lease| lease.is_live(now)) {
                    return Edit::Keep(None);
                }
                let previous = item.lease.take();
                item.lease = Some(Lease {
                    owner: settings.runner_id.clone(),
                    run_id: run_id.clone(),
                    expires_at: later(now, settings.lease),
                });
                item.status = WorkItemStatus::Running;
                item.attempt = job.attempt;
                item.last_run = Some(run_id.clone());
                item.next_retry_at = None;
                Edit::Write(Some((item.clone(), previous)))
            },
        )
        .await?;
        // The snapshot taken for the claim: the run reads its issue, not its version.
        Ok(claimed.flatten())
    }

    /// The run of a runner that stopped renewing its lease is marked abandoned.
    async fn abandon_previous(&self, lease: &Lease, workflow: Option<&str>) {
        let Ok(Some(mut run)) = self.store.get_run(&lease.run_id).await else {
            return;
        };
        if run.status != RunStatus::Running {
            return;
        }
        let expected = run.version;
        run.status = RunStatus::Abandoned;
        run.ended_at = Some(lease.expires_at);
        run.error = Some(RunError {
            code: "lease_expired".into(),
            message: format!(
                "runner {} stopped renewing its lease; another runner took the work over",
                lease.owner
            ),
        });
        run.version += 1;
        match self.store.put_run(&run, Some(expected)).await {
            Ok(()) => trends::run_ended(&*self.store, &run, workflow, self.clock.now()).await,
            Err(error) => {
                tracing::warn!(run_id = %run.run_id, %error, "cannot mark an abandoned run")
            }
        }
    }

    async fn run_and_conclude(
        self: Arc<Self>,
        job: Job,
        received: ReceivedJob,
        claimed: Claimed,
        held: HeldSlots,
        shutdown: CancellationToken,
    ) {
        let Claimed { item, plan, run_id } = claimed;
        let now = self.clock.now();
        let run = Run {
            run_id: run_id.clone(),
            work_item: job.work_item.clone(),
            job_id: job.job_id.clone(),
            reason: job.reason,
            attempt: job.attempt,
            runner: self.settings.runner_id.clone(),
            status: RunStatus::Running,
            received_at: item.requested_at,
            queued_at: job.queued_at,
            claimed_at: now,
            agent_started_at: None,
            ended_at: None,
            session_id: None,
            turns: 0,
            tokens: Default::default(),
            error: None,
            workspace: None,
            branch: None,
            commit: None,
            events: 0,
            version: 1,
        };
        match self.store.put_run(&run, None).await {
            Ok(()) => trends::run_started(&*self.store, &run, item.workflow.as_deref()).await,
            Err(error) => tracing::warn!(run_id = %run_id, %error, "cannot create the run record"),
        }
        let stop = Stop::child_of(&shutdown);
        let budget = super::budget::RunBudget::new(&self, &plan, &item, &stop);
        let keeper = keeper::spawn(
            Arc::clone(&self),
            Kept {
                key: job.work_item.clone(),
                run_id: run_id.clone(),
                receipt: received.receipt.clone(),
                slots: held.clone(),
            },
            stop.clone(),
        );
        let (recorder_tx, agent_rx) = mpsc::channel(AGENT_EVENT_CAPACITY);
        let (agent_tx, evidence) = evidence::tap(recorder_tx);
        let session = activities::start(self.agent_sessions.get(), &item, self.redactor());
        let recorder = recorder::start(
            RecorderContext {
                store: Arc::clone(&self.store),
                clock: Arc::clone(&self.clock),
                redactor: self.redactor(),
                retention: self.settings.event_retention,
                max_events: self.settings.max_events_per_run,
                max_tokens: plan.limits.max_tokens_per_run,
                stop: stop.clone(),
                budget: Arc::clone(&budget),
                session: session.as_ref().map(|(reporter, _)| reporter.clone()),
            },
            run.clone(),
            agent_rx,
        );
        let timeline = recorder.timeline();
        // The leased account by name (never its credential), so a run says which it used.
        let account = held.account.as_ref().map(|a| &a.name);
        timeline.step(
            "claimed",
            json!({ "runner": self.settings.runner_id, "attempt": job.attempt, "reason": job.reason.as_str(), "account": account }),
        );
        let start_body = self.status_body(
            &plan,
            &item,
            &run,
            &Evidence::default(),
            &Delivered::default(),
        );
        let comment = self.post_status_body(&plan, &item, None, &start_body).await;
        self.remember_status_comment(&job.work_item, &run.run_id, comment.as_deref())
            .await;
        // The agent's `tracker_update_status` notes go under the comment as it stands now.
        let living = plan.delivery.tracker.as_ref().map(|tracker| {
            Arc::new(LivingComment::new(
                Arc::clone(tracker),
                plan.delivery.issue_ref(&item.issue),
                comment.clone(),
                start_body,
            ))
        });
        let (end, delivered) = attempt::run(
            &self,
            AttemptInput {
                job: &job,
                item: &item,
                plan: &plan,
                stop: &stop,
                timeline: &timeline,
                agent_events: agent_tx,
                evidence: &evidence,
                living: living.clone(),
                budget: &budget,
                account: held.account.as_ref(),
            },
        )
        .await;
        keeper.finish().await;
        timeline.step("run_ended", end_summary(&end, &self.redactor()));
        let mut run = recorder.finish(run).await;
        let mut report = Report {
            // A note the agent wrote when the first post had failed made the comment.
            status_comment: match (comment, &living) {
                (Some(id), _) => Some(id),
                (None, Some(living)) => living.comment_id().await,
                (None, None) => None,
            },
            evidence: evidence.snapshot(),
            delivered,
            session: session.map(|(_, ending)| ending),
            account_used_up: false,
        };
        report.account_used_up = self
            .note_quota(&held, &report.evidence, &end)
            .await
            .is_some();
        self.conclude(&job, &received, &mut run, end, (&item, &plan), report)
            .await;
        slots::release(&*self.store, &held).await;
        // After the slot is free: `before_remove` may take a while.
        self.remove_workspace_if_ended(&plan, &job.work_item).await;
    }
}

/// A claimed item, the plan it runs with and the run's id.
pub(super) struct Claimed {
    item: WorkItem,
    plan: Arc<RunPlan>,
    run_id: RunId,
}
