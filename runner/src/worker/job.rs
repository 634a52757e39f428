//! One job message, from receipt to acknowledgement: decide whether it runs (triage), take
//! the concurrency slots and the lease, run the attempt, record how it ended and what comes
//! next (a retry, a continuation, the dead-letter queue, or nothing).

use super::attempt::{self, AttemptEnd, AttemptInput};
use super::item::{edit, Edit};
use super::keeper::{self, Kept};
use super::recorder::{self, RecorderContext, AGENT_EVENT_CAPACITY};
use super::slots::{self, HeldSlots, GLOBAL_SCOPE};
use super::stop::{Stop, StopReason};
use super::Runner;
use baton_core::domain::{
    Job, JobId, JobReason, Lease, Run, RunError, RunId, RunStatus, WorkItem, WorkItemStatus,
    JOB_SCHEMA_VERSION,
};
use baton_core::ports::{ReceivedJob, StoreError, MAX_RECEIVE_COUNT, MAX_SEND_DELAY};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long a job is hidden when the store cannot be read to decide about it.
const STORE_DOWN_RETRY: Duration = Duration::from_secs(5);

/// What to do with a job before any work.
enum Triage {
    Run {
        item: Box<WorkItem>,
    },
    /// Acknowledge (delete) it: nothing to do.
    Ack(String),
    /// Not yet: send a copy that shows up after the delay, and acknowledge this one.
    Later(Duration, String),
    /// Leave it on the queue, hidden for a while (another runner holds the item, or the
    /// store could not be read).
    Hide(Duration, String),
    /// Give up on it: the dead-letter queue, and the work item says so.
    DeadLetter(String),
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

fn until(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (then - now).to_std().unwrap_or(Duration::ZERO)
}

impl Runner {
    /// Handles one received message to the end. Never panics on its content.
    pub(super) async fn handle(
        self: Arc<Self>,
        received: ReceivedJob,
        shutdown: CancellationToken,
    ) {
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
            delivery_id = job.delivery_id.as_deref().unwrap_or(""), attempt = job.attempt);
        self.handle_job(job, received, shutdown)
            .instrument(span)
            .await;
    }

    async fn handle_job(
        self: Arc<Self>,
        job: Job,
        received: ReceivedJob,
        shutdown: CancellationToken,
    ) {
        match self.triage(&job, &received).await {
            Triage::Run { item } => self.run_claimed(job, received, *item, shutdown).await,
            Triage::Ack(reason) => {
                tracing::info!(%reason, "job acknowledged without a run");
                self.ack(&received.receipt).await;
            }
            Triage::Later(delay, reason) => {
                tracing::info!(%reason, delay_s = delay.as_secs(), "job postponed");
                self.postpone(&job, &received.receipt, delay).await;
            }
            Triage::Hide(delay, reason) => {
                tracing::info!(%reason, "job left on the queue");
                self.hide(&received.receipt, delay).await;
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
                tracing::warn!(work_item = %job.work_item, %error, "cannot read the work item; the job waits");
                return Triage::Hide(STORE_DOWN_RETRY, "store unavailable".into());
            }
        };
        if item.pending_job.as_ref() != Some(&job.job_id) {
            return Triage::Ack(match &item.pending_job {
                Some(newer) => format!("superseded by job {newer}"),
                None if item.cancel_requested => "the work item was cancelled".into(),
                None => format!(
                    "the work item is {}; no run is pending",
                    item.status.as_str()
                ),
            });
        }
        if let Some(lease) = item.lease.as_ref().filter(|lease| lease.is_live(now)) {
            // Its pending job is this one, so the holder is running this very job: a duplicate
            // delivery, or the holder's message came back before its lease ran out. Look again
            // once the lease would have expired (a crashed holder's work is taken over then);
            // but never let the queue dead-letter it for receives spent waiting: near the end
            // of its receives it is acknowledged, and the holder's lease expiry is what brings
            // the work back should the holder die (the reconciler requeues expired leases).
            if received.receive_count + 1 >= MAX_RECEIVE_COUNT {
                return Triage::Ack(format!(
                    "duplicate delivery: runner {} is running this job",
                    lease.owner
                ));
            }
            return Triage::Hide(
                until(now, lease.expires_at) + Duration::from_secs(1),
                format!("runner {} holds the work item", lease.owner),
            );
        }
        if item.cancel_requested {
            self.finish_cancelled(job).await;
            return Triage::Ack("the work item was cancelled".into());
        }
        if let Some(due) = item
            .next_retry_at
            .filter(|due| *due > now + chrono::Duration::seconds(1))
        {
            return Triage::Later(until(now, due), "the retry is not due yet".into());
        }
        if received.receive_count >= MAX_RECEIVE_COUNT {
            return Triage::DeadLetter(format!(
                "the job was received {} times without finishing (its runners crashed or lost their lease)",
                received.receive_count
            ));
        }
        Triage::Run {
            item: Box::new(item),
        }
    }

    /// A queued item whose cancel flag is set (its runner died before it saw the flag).
    async fn finish_cancelled(&self, job: &Job) {
        let result = edit(
            &*self.store,
            &job.work_item,
            || self.clock.now(),
            |item| {
                if item.pending_job.as_ref() != Some(&job.job_id)
                    || item.status == WorkItemStatus::Cancelled
                {
                    return Edit::Keep(());
                }
                item.status = WorkItemStatus::Cancelled;
                item.pending_job = None;
                item.lease = None;
                Edit::Write(())
            },
        )
        .await;
        if let Err(error) = result {
            tracing::warn!(work_item = %job.work_item, %error, "cannot mark the work item cancelled");
        }
    }

    fn slot_limits(&self, item: &WorkItem) -> Vec<(String, u32)> {
        let limits = &self.plan().limits;
        let mut scopes = vec![(GLOBAL_SCOPE.to_owned(), limits.max_concurrent_agents)];
        if let Some(limit) = limits.state_limit(&item.issue.state) {
            scopes.push((slots::state_scope(&item.issue.state), limit));
        }
        scopes
    }

    async fn run_claimed(
        self: Arc<Self>,
        job: Job,
        received: ReceivedJob,
        item: WorkItem,
        shutdown: CancellationToken,
    ) {
        let run_id = RunId::generate();
        let now = self.clock.now();
        let held = match slots::acquire(
            &*self.store,
            &self.slot_limits(&item),
            run_id.as_str(),
            now,
            self.settings.lease,
        )
        .await
        {
            Ok(Some(held)) => held,
            Ok(None) => {
                tracing::info!(work_item = %job.work_item, "every concurrency slot is taken; the job waits");
                self.postpone(&job, &received.receipt, self.settings.busy_retry)
                    .await;
                return;
            }
            Err(error) => {
                tracing::warn!(work_item = %job.work_item, %error, "cannot take a concurrency slot; the job waits");
                self.hide(&received.receipt, STORE_DOWN_RETRY).await;
                return;
            }
        };
        let claimed = match self.claim(&job, &run_id).await {
            Ok(Some(claimed)) => claimed,
            Ok(None) => {
                slots::release(&*self.store, &held).await;
                // Someone changed the item in between: decide again on the next receive.
                self.hide(&received.receipt, Duration::from_secs(1)).await;
                return;
            }
            Err(error) => {
                slots::release(&*self.store, &held).await;
                tracing::warn!(work_item = %job.work_item, %error, "cannot claim the work item; the job waits");
                self.hide(&received.receipt, STORE_DOWN_RETRY).await;
                return;
            }
        };
        let (item, previous) = claimed;
        if let Some(previous) = previous {
            self.abandon_previous(&previous).await;
        }
        tracing::info!(work_item = %job.work_item, run_id = %run_id, attempt = job.attempt, "claimed");
        self.run_and_conclude(job, received, item, run_id, held, shutdown)
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
                    expires_at: now + to_chrono(settings.lease),
                });
                item.status = WorkItemStatus::Running;
                item.attempt = job.attempt;
                item.last_run = Some(run_id.clone());
                item.next_retry_at = None;
                Edit::Write(Some((item.clone(), previous)))
            },
        )
        .await?;
        Ok(claimed.flatten().map(|(mut item, previous)| {
            item.version += 1;
            (item, previous)
        }))
    }

    /// The run of a runner that stopped renewing its lease is marked abandoned.
    async fn abandon_previous(&self, lease: &Lease) {
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
        if let Err(error) = self.store.put_run(&run, Some(expected)).await {
            tracing::warn!(run_id = %run.run_id, %error, "cannot mark an abandoned run");
        }
    }

    async fn run_and_conclude(
        self: Arc<Self>,
        job: Job,
        received: ReceivedJob,
        item: WorkItem,
        run_id: RunId,
        held: HeldSlots,
        shutdown: CancellationToken,
    ) {
        let plan = self.plan();
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
            branch: Some(
                plan.workspaces
                    .config()
                    .repo
                    .work_branch(&item.issue.identifier),
            ),
            commit: None,
            events: 0,
            version: 1,
        };
        if let Err(error) = self.store.put_run(&run, None).await {
            tracing::warn!(run_id = %run_id, %error, "cannot create the run record");
        }
        let stop = Stop::child_of(&shutdown, StopReason::Shutdown);
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
        let (agent_tx, agent_rx) = mpsc::channel(AGENT_EVENT_CAPACITY);
        let recorder = recorder::start(
            RecorderContext {
                store: Arc::clone(&self.store),
                clock: Arc::clone(&self.clock),
                redactor: self.redactor.clone(),
                retention: self.settings.event_retention,
                max_events: self.settings.max_events_per_run,
                max_tokens: plan.limits.max_tokens_per_run,
                stop: stop.clone(),
            },
            run.clone(),
            agent_rx,
        );
        let timeline = recorder.timeline();
        timeline.step(
            "claimed",
            json!({ "runner": self.settings.runner_id, "attempt": job.attempt, "reason": job.reason.as_str() }),
        );
        let end = attempt::run(
            &self,
            AttemptInput {
                job: &job,
                item: &item,
                stop: &stop,
                timeline: &timeline,
                agent_events: agent_tx,
            },
        )
        .await;
        keeper.finish().await;
        timeline.step("run_ended", end_summary(&end, &self.redactor));
        let mut run = recorder.finish(run).await;
        stop.finish();
        self.conclude(&job, &received, &mut run, end).await;
        slots::release(&*self.store, &held).await;
    }

    /// Records the end on the run and the work item, schedules what comes next, and
    /// acknowledges the message (or returns it, when the run was abandoned).
    async fn conclude(&self, job: &Job, received: &ReceivedJob, run: &mut Run, end: AttemptEnd) {
        let now = self.clock.now();
        let plan = self.plan();
        run.ended_at = Some(now);
        let (status, error) = match &end {
            AttemptEnd::Succeeded { commit, .. } => {
                run.commit.clone_from(commit);
                (RunStatus::Succeeded, None)
            }
            AttemptEnd::Failed(error) => (RunStatus::Failed, Some(redacted(error, &self.redactor))),
            AttemptEnd::Cancelled => (RunStatus::Cancelled, None),
            AttemptEnd::Abandoned(reason) => (
                RunStatus::Abandoned,
                Some(RunError {
                    code: match reason {
                        StopReason::LeaseLost => "lease_lost",
                        _ => "runner_shutdown",
                    }
                    .into(),
                    message: match reason {
                        StopReason::LeaseLost => "another runner took the work item over".into(),
                        _ => "the runner shut down before the run ended; another run takes over"
                            .into(),
                    },
                }),
            ),
        };
        run.status = status;
        run.error = error.clone();
        self.write_run(run).await;
        tracing::info!(work_item = %job.work_item, run_id = %run.run_id, status = status.as_str(),
            error = error.as_ref().map(|e| e.code.as_str()), "run ended");

        if let AttemptEnd::Abandoned(StopReason::LeaseLost) = end {
            // The item is someone else's now; the message comes back and is judged then.
            return;
        }
        // What comes next, as a job to send (before the item says so).
        let next = match &end {
            AttemptEnd::Failed(_) if job.attempt < plan.limits.max_attempts => Some((
                self.follow_up(job, JobReason::Retry, job.attempt + 1, 0),
                plan.limits.retry_backoff(job.attempt),
            )),
            AttemptEnd::Succeeded {
                issue_active: true, ..
            } if job.continuation < plan.limits.max_continuations => Some((
                self.follow_up(job, JobReason::Continuation, 1, job.continuation + 1),
                super::limits::CONTINUATION_DELAY,
            )),
            _ => None,
        };
        let dead_letter = matches!(end, AttemptEnd::Failed(_)) && next.is_none();
        if let Some((next_job, delay)) = &next {
            if let Err(error) = self
                .queue
                .send_delayed(next_job, (*delay).min(MAX_SEND_DELAY))
                .await
            {
                tracing::error!(work_item = %job.work_item, %error, "cannot queue the follow-up job; this job will be retried instead");
                self.release_lease(job, run).await;
                self.hide(&received.receipt, STORE_DOWN_RETRY).await;
                return;
            }
        }
        if dead_letter {
            if let Err(error) = self.queue.dead_letter(job).await {
                tracing::error!(work_item = %job.work_item, %error, "cannot move the job to the dead-letter queue; it will be retried");
                self.release_lease(job, run).await;
                self.hide(&received.receipt, STORE_DOWN_RETRY).await;
                return;
            }
        }
        let run_id = run.run_id.clone();
        let tokens = run.tokens;
        let error_text = error.as_ref().map(|e| format!("{}: {}", e.code, e.message));
        let written = edit(
            &*self.store,
            &job.work_item,
            || self.clock.now(),
            |item| {
                let ours = item
                    .lease
                    .as_ref()
                    .is_some_and(|l| l.run_id == run_id && l.owner == self.settings.runner_id);
                if !ours {
                    return Edit::Keep(false);
                }
                item.lease = None;
                item.tokens.add(tokens);
                if item.pending_job.as_ref() != Some(&job.job_id) {
                    // A newer request arrived while this ran (or a cancel cleared it): that one
                    // decides what happens now.
                    item.status = if item.pending_job.is_some() {
                        WorkItemStatus::Queued
                    } else if item.cancel_requested {
                        WorkItemStatus::Cancelled
                    } else {
                        outcome_status(&end, dead_letter)
                    };
                    return Edit::Write(true);
                }
                match (&end, &next) {
                    (AttemptEnd::Abandoned(_), _) => {
                        item.status = WorkItemStatus::Queued;
                    }
                    (_, Some((next_job, delay))) => {
                        item.status = if next_job.reason == JobReason::Retry {
                            WorkItemStatus::Retrying
                        } else {
                            WorkItemStatus::Queued
                        };
                        item.pending_job = Some(next_job.job_id.clone());
                        item.attempt = next_job.attempt;
                        item.next_retry_at = Some(now + to_chrono(*delay));
                        item.last_error.clone_from(&error_text);
                    }
                    (_, None) => {
                        item.status = outcome_status(&end, dead_letter);
                        item.pending_job = None;
                        item.next_retry_at = None;
                        item.last_error.clone_from(&error_text);
                    }
                }
                Edit::Write(true)
            },
        )
        .await;
        match written {
            Ok(_) => {}
            Err(error) => {
                tracing::error!(work_item = %job.work_item, %error, "cannot record the run's end on the work item; the job will be looked at again");
                self.hide(&received.receipt, STORE_DOWN_RETRY).await;
                return;
            }
        }
        if let AttemptEnd::Abandoned(_) = end {
            // Back on the queue at once, for another runner.
            self.hide(&received.receipt, Duration::ZERO).await;
        } else {
            self.ack(&received.receipt).await;
        }
    }

    fn follow_up(&self, job: &Job, reason: JobReason, attempt: u32, continuation: u32) -> Job {
        Job {
            v: JOB_SCHEMA_VERSION,
            job_id: JobId::generate(),
            work_item: job.work_item.clone(),
            reason,
            attempt,
            queued_at: self.clock.now(),
            delivery_id: job.delivery_id.clone(),
            continuation,
        }
    }

    /// Gives the lease back with the item queued, when the end could not be recorded.
    async fn release_lease(&self, job: &Job, run: &Run) {
        let released = edit(
            &*self.store,
            &job.work_item,
            || self.clock.now(),
            |item| {
                if item.lease.as_ref().is_none_or(|l| l.run_id != run.run_id) {
                    return Edit::Keep(());
                }
                item.lease = None;
                item.status = WorkItemStatus::Queued;
                Edit::Write(())
            },
        )
        .await;
        if let Err(error) = released {
            tracing::warn!(work_item = %job.work_item, %error, "cannot release the lease; it runs out by itself");
        }
    }

    async fn write_run(&self, run: &mut Run) {
        let expected = run.version;
        run.version += 1;
        if let Err(error) = self.store.put_run(run, Some(expected)).await {
            tracing::warn!(run_id = %run.run_id, %error, "cannot record the run's end");
        }
    }

    /// Dead-letters a job the runner will not run, and marks its work item.
    async fn give_up(&self, job: &Job, receipt: &str, reason: String) {
        tracing::error!(work_item = %job.work_item, job_id = %job.job_id, %reason, "job moved to the dead-letter queue");
        if let Err(error) = self.queue.dead_letter(job).await {
            tracing::error!(work_item = %job.work_item, %error, "cannot move the job to the dead-letter queue");
            self.hide(receipt, STORE_DOWN_RETRY).await;
            return;
        }
        let marked = edit(
            &*self.store,
            &job.work_item,
            || self.clock.now(),
            |item| {
                if item.pending_job.as_ref() != Some(&job.job_id) {
                    return Edit::Keep(());
                }
                item.status = WorkItemStatus::DeadLettered;
                item.pending_job = None;
                item.lease = None;
                item.last_error = Some(reason.clone());
                Edit::Write(())
            },
        )
        .await;
        if let Err(error) = marked {
            tracing::warn!(work_item = %job.work_item, %error, "cannot mark the work item dead-lettered");
        }
        self.ack(receipt).await;
    }

    async fn ack(&self, receipt: &str) {
        if let Err(error) = self.queue.delete(receipt).await {
            tracing::warn!(%error, "cannot acknowledge a job message; it will come back and be judged again");
        }
    }

    async fn hide(&self, receipt: &str, delay: Duration) {
        if let Err(error) = self.queue.change_visibility(receipt, delay).await {
            tracing::warn!(%error, "cannot change a job message's visibility");
        }
    }

    /// Sends a delayed copy of the job and acknowledges this one (a fresh receive count).
    async fn postpone(&self, job: &Job, receipt: &str, delay: Duration) {
        match self
            .queue
            .send_delayed(job, delay.min(MAX_SEND_DELAY))
            .await
        {
            Ok(()) => self.ack(receipt).await,
            Err(error) => {
                tracing::warn!(work_item = %job.work_item, %error, "cannot postpone the job; it comes back after its visibility timeout");
                self.hide(receipt, delay.min(self.settings.lease)).await;
            }
        }
    }
}

fn outcome_status(end: &AttemptEnd, dead_letter: bool) -> WorkItemStatus {
    match end {
        AttemptEnd::Succeeded { .. } => WorkItemStatus::Succeeded,
        AttemptEnd::Cancelled => WorkItemStatus::Cancelled,
        AttemptEnd::Failed(_) if dead_letter => WorkItemStatus::DeadLettered,
        AttemptEnd::Failed(_) => WorkItemStatus::Failed,
        AttemptEnd::Abandoned(_) => WorkItemStatus::Queued,
    }
}

fn redacted(error: &RunError, redactor: &crate::redact::Redactor) -> RunError {
    RunError {
        code: error.code.clone(),
        message: redactor.redact(&error.message),
    }
}

fn end_summary(end: &AttemptEnd, redactor: &crate::redact::Redactor) -> serde_json::Value {
    match end {
        AttemptEnd::Succeeded {
            issue_active,
            commit,
        } => {
            json!({ "status": "succeeded", "issue_active": issue_active, "commit": commit })
        }
        AttemptEnd::Failed(error) => {
            json!({ "status": "failed", "code": error.code, "message": redactor.redact(&error.message) })
        }
        AttemptEnd::Cancelled => json!({ "status": "cancelled" }),
        AttemptEnd::Abandoned(reason) => {
            json!({ "status": "abandoned", "reason": format!("{reason:?}") })
        }
    }
}
