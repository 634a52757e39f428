//! How a run ends: the end recorded on the run and the work item, the status comment and
//! the chat notice, and what comes next (a retry, a continuation, the dead-letter queue, or
//! nothing), then the message acknowledged.

use super::activities::SessionEnding;
use super::announce;
use super::attempt::AttemptEnd;
use super::delivery;
use super::evidence::{self, Delivered, Evidence};
use super::item::{edit, Edit};
use super::stop::StopReason;
use super::trends;
use super::{later, RunPlan, Runner};
use baton_core::domain::InputRequest;
use baton_core::domain::{
    Job, JobId, JobReason, Run, WorkItem, WorkItemStatus, JOB_SCHEMA_VERSION,
};
use baton_core::ports::{ReceivedJob, StoreError, MAX_SEND_DELAY};
use baton_telemetry::metrics;
use std::time::Duration;

use super::outcome::{final_status, is_retryable, run_outcome};
use super::settle::STORE_DOWN_RETRY;

/// What a run leaves for its conclusion besides how it ended.
pub(super) struct Report {
    pub(super) status_comment: Option<String>,
    pub(super) evidence: Evidence,
    pub(super) delivered: Delivered,
    /// The work item's agent session, told how the run ended.
    pub(super) session: Option<SessionEnding>,
    /// The provider reported the run's agent account used up (see `note_quota`).
    pub(super) account_used_up: bool,
}

impl Runner {
    /// Records the end on the run and the work item, schedules what comes next, and
    /// acknowledges the message (or returns it, when the run was abandoned).
    pub(super) async fn conclude(
        &self,
        job: &Job,
        received: &ReceivedJob,
        run: &mut Run,
        end: AttemptEnd,
        (item, plan): (&WorkItem, &RunPlan),
        mut report: Report,
    ) {
        let now = self.clock.now();
        run.ended_at = Some(now);
        let (status, error) = run_outcome(&end, &self.redactor());
        if let AttemptEnd::Succeeded { commit, .. } = &end {
            run.commit.clone_from(commit);
        }
        run.status = status;
        run.error = error.clone();
        self.write_run(run).await;
        trends::run_ended(&*self.store, run, item.workflow.as_deref(), now).await;
        if !matches!(end, AttemptEnd::Abandoned(_)) {
            report.status_comment = self
                .post_status(
                    plan,
                    item,
                    report.status_comment.as_deref(),
                    run,
                    &report.evidence,
                    &report.delivered,
                )
                .await;
        }
        tracing::info!(run_id = %run.run_id, status = status.as_str(),
            error = error.as_ref().map(|e| e.code.as_str()), "run ended");
        metrics::run_outcome(status.as_str());
        metrics::tokens_used(run.tokens.input_tokens, run.tokens.output_tokens);

        if let AttemptEnd::Abandoned(StopReason::LeaseLost) = end {
            // The item is someone else's now; the message comes back and is judged then.
            return;
        }
        let next = self.next_job(plan, job, &end, report.account_used_up);
        if let Some((next_job, delay)) = &next {
            if let Err(error) = self
                .queue
                .send_delayed(next_job, (*delay).min(MAX_SEND_DELAY))
                .await
            {
                tracing::error!(%error, "cannot queue the follow-up job; this job will be retried instead");
                self.release_lease(job, run).await;
                self.hide(&received.receipt, STORE_DOWN_RETRY).await;
                return;
            }
        }
        let error_text = error.as_ref().map(|e| format!("{}: {}", e.code, e.message));
        let written = self
            .record_end(
                job,
                run,
                (&end, next.as_ref()),
                error_text,
                &report,
                plan.limits.input_timeout(),
            )
            .await;
        let status = match written {
            Ok(Some(status)) => status,
            Ok(None) => {
                // Another runner holds the item: it owns the message now.
                tracing::warn!(run_id = %run.run_id, "the lease was lost before the end could be recorded");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "cannot record the run's end on the work item; the job will be looked at again");
                self.hide(&received.receipt, STORE_DOWN_RETRY).await;
                return;
            }
        };
        self.hand_over(&job.work_item).await;
        if let (WorkItemStatus::AwaitingInput, AttemptEnd::AwaitingInput { question }) =
            (status, &end)
        {
            delivery::ask(&plan.delivery, item, question, &plan.rules.command_prefix).await;
        }
        if let Some(notifier) = &plan.notify {
            let question = announce::question(&end).map(str::to_owned);
            announce::run_ended(
                notifier,
                (item, plan),
                run,
                status,
                question,
                &report.delivered,
            );
        }
        if let Some(session) = report.session.take() {
            let pull_request = report.delivered.pull_request.as_ref();
            session.run_ended(
                run,
                status,
                announce::question(&end),
                pull_request.map(|(_, url)| url.as_str()),
            );
        }
        if status == WorkItemStatus::DeadLettered {
            if let Err(error) = self.queue.dead_letter(job).await {
                tracing::error!(%error, "cannot copy the job to the dead-letter queue; the work item says dead_lettered");
            }
        }
        if let AttemptEnd::Abandoned(_) = end {
            // Back on the queue at once, for another runner.
            self.postpone(job, &received.receipt, Duration::ZERO).await;
        } else {
            self.ack(&received.receipt).await;
        }
    }

    /// The follow-up job and its delay: a retry after a retryable failure, a continuation
    /// after a clean run with the issue still active.
    pub(super) fn next_job(
        &self,
        plan: &RunPlan,
        job: &Job,
        end: &AttemptEnd,
        account_used_up: bool,
    ) -> Option<(Job, Duration)> {
        let limits = &plan.limits;
        match end {
            // The account ran out, not the work: the same attempt goes again right away, and
            // leasing then takes another account or waits for the first reset. The used-up
            // account is skipped until its reset, so this cannot spin.
            AttemptEnd::Failed(error) if account_used_up && is_retryable(&error.code) => {
                tracing::info!(work_item = %job.work_item, attempt = job.attempt,
                    "the run failed on a used-up agent account; it goes again without spending an attempt");
                Some((
                    self.follow_up(job, JobReason::Retry, job.attempt, 0),
                    Duration::ZERO,
                ))
            }
            AttemptEnd::Failed(error)
                if job.attempt < limits.max_attempts && is_retryable(&error.code) =>
            {
                Some((
                    self.follow_up(job, JobReason::Retry, job.attempt + 1, 0),
                    limits.retry_backoff(job.attempt),
                ))
            }
            AttemptEnd::Succeeded {
                issue_active: true, ..
            } if job.continuation < limits.max_continuations => Some((
                self.follow_up(job, JobReason::Continuation, 1, job.continuation + 1),
                super::limits::CONTINUATION_DELAY,
            )),
            _ => None,
        }
    }

    /// Writes the end on the work item if this run still holds it; returns the item's new
    /// status, or `None` when another runner holds it.
    pub(super) async fn record_end(
        &self,
        job: &Job,
        run: &Run,
        (end, next): (&AttemptEnd, Option<&(Job, Duration)>),
        error_text: Option<String>,
        report: &Report,
        input_timeout: Option<Duration>,
    ) -> Result<Option<WorkItemStatus>, StoreError> {
        let now = self.clock.now();
        let written = edit(
            &*self.store,
            &job.work_item,
            || self.clock.now(),
            |item| {
                let ours = item.lease.as_ref().is_some_and(|lease| {
                    lease.run_id == run.run_id && lease.owner == self.settings.runner_id
                });
                if !ours {
                    return Edit::Keep(None);
                }
                item.lease = None;
                item.tokens.add(run.tokens);
                // A question is answered by the run that took the answer, once it has ended
                // for good: a retry (or a redelivery of an abandoned run) takes it again. A
                // new question waits.
                let taken_again = matches!(end, AttemptEnd::Abandoned(_))
                    || next.is_some_and(|(next_job, _)| next_job.reason == JobReason::Retry);
                item.input_request = match end {
                    AttemptEnd::AwaitingInput { question } => Some(InputRequest {
                        question: question.clone(),
                        asked_at: now,
                        deadline: input_timeout.map(|timeout| later(now, timeout)),
                        run_id: run.run_id.clone(),
                        session_id: run.session_id.clone(),
                        answer: None,
                    }),
                    _ if taken_again => item.input_request.take(),
                    _ => None,
                };
                if report.status_comment.is_some() {
                    item.status_comment.clone_from(&report.status_comment);
                }
                if let Some(link) = &report.delivered.link {
                    item.pull_request = Some(link.clone());
                }
                item.status = if item.pending_job.as_ref() != Some(&job.job_id) {
                    // A newer request arrived while this ran (or a cancel cleared it): that one
                    // decides what happens now.
                    match (&item.pending_job, item.cancel_requested) {
                        (Some(_), _) => WorkItemStatus::Queued,
                        (None, true) => WorkItemStatus::Cancelled,
                        (None, false) => final_status(end),
                    }
                } else if let AttemptEnd::Abandoned(_) = end {
                    WorkItemStatus::Queued
                } else if let Some((next_job, delay)) = next {
                    item.pending_job = Some(next_job.job_id.clone());
                    item.attempt = next_job.attempt;
                    item.next_retry_at = Some(later(now, *delay));
                    item.last_error.clone_from(&error_text);
                    if next_job.reason == JobReason::Retry {
                        WorkItemStatus::Retrying
                    } else {
                        WorkItemStatus::Queued
                    }
                } else {
                    item.pending_job = None;
                    item.next_retry_at = None;
                    item.last_error.clone_from(&error_text);
                    final_status(end)
                };
                Edit::Write(Some(item.status))
            },
        )
        .await?;
        Ok(written.flatten())
    }

    /// Writes the living status comment for `run`; returns its id (see
    /// [`delivery::post_status`]). `existing` falls back to the one the item recorded.
    pub(super) async fn post_status(
        &self,
        plan: &RunPlan,
        item: &WorkItem,
        existing: Option<&str>,
        run: &Run,
        evidence: &Evidence,
        delivered: &Delivered,
    ) -> Option<String> {
        let body = self.status_body(plan, item, run, evidence, delivered);
        self.post_status_body(plan, item, existing, &body).await
    }

    /// The living status comment's text for `run` as it stands.
    pub(super) fn status_body(
        &self,
        plan: &RunPlan,
        item: &WorkItem,
        run: &Run,
        evidence: &Evidence,
        delivered: &Delivered,
    ) -> String {
        evidence::render(
            run,
            evidence,
            delivered,
            plan.delivery.run_link(&item.key).as_deref(),
            &self.redactor(),
        )
    }

    pub(super) async fn post_status_body(
        &self,
        plan: &RunPlan,
        item: &WorkItem,
        existing: Option<&str>,
        body: &str,
    ) -> Option<String> {
        let existing = existing.or(item.status_comment.as_deref());
        delivery::post_status(&plan.delivery, item, existing, body).await
    }

    pub(super) fn follow_up(
        &self,
        job: &Job,
        reason: JobReason,
        attempt: u32,
        continuation: u32,
    ) -> Job {
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
    pub(super) async fn release_lease(&self, job: &Job, run: &Run) {
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

    pub(super) async fn write_run(&self, run: &mut Run) {
        let expected = run.version;
        run.version += 1;
        if let Err(error) = self.store.put_run(run, Some(expected)).await {
            tracing::warn!(run_id = %run.run_id, %error, "cannot record the run's end");
        }
    }
}
