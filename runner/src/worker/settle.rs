//! How a job message is settled once its fate is known: acknowledged, hidden for a while,
//! postponed as a fresh delayed copy, or given up on; and the item's end written when the
//! job cannot run.

use super::item::{edit, Edit};
use super::Runner;
use baton_core::domain::{Job, RunError, RunId, WorkItemKey, WorkItemStatus};
use baton_core::ports::{StoreError, MAX_SEND_DELAY};
use std::time::Duration;

/// How long a job waits when the store cannot be read or written to decide about it.
pub(super) const STORE_DOWN_RETRY: Duration = Duration::from_secs(5);

impl Runner {
    /// Records the living status comment on the work item as soon as it exists, while the
    /// run still holds the lease: a run cut short (a crash, `kill -9`) leaves the id behind,
    /// and the run that takes over updates that comment instead of writing a second one.
    pub(super) async fn remember_status_comment(
        &self,
        key: &WorkItemKey,
        run_id: &RunId,
        comment: Option<&str>,
    ) {
        let Some(comment) = comment else {
            return;
        };
        let remembered = edit(
            &*self.store,
            key,
            || self.clock.now(),
            |item| {
                let ours = item.lease.as_ref().is_some_and(|l| &l.run_id == run_id);
                if !ours || item.status_comment.as_deref() == Some(comment) {
                    return Edit::Keep(());
                }
                item.status_comment = Some(comment.to_owned());
                Edit::Write(())
            },
        )
        .await;
        if let Err(error) = remembered {
            tracing::warn!(work_item = %key, %error, "cannot record the status comment; a takeover would write another");
        }
    }

    /// Dead-letters a job the runner will not run, and marks its work item.
    pub(super) async fn give_up(&self, job: &Job, receipt: &str, reason: String) {
        tracing::error!(work_item = %job.work_item, job_id = %job.job_id, %reason, "job moved to the dead-letter queue");
        if let Err(error) = self.queue.dead_letter(job).await {
            tracing::error!(work_item = %job.work_item, %error, "cannot move the job to the dead-letter queue");
            self.hide(receipt, STORE_DOWN_RETRY).await;
            return;
        }
        let marked = self
            .end_pending(
                job,
                WorkItemStatus::DeadLettered,
                self.redactor().redact(&reason),
            )
            .await;
        if let Err(error) = marked {
            tracing::warn!(work_item = %job.work_item, %error, "cannot mark the work item dead-lettered");
        }
        self.ack(receipt).await;
    }

    /// Ends a job that cannot run with the plan its item follows: the item fails with the
    /// error (naming the workflow file), and the message is acknowledged.
    pub(super) async fn fail_item(&self, job: &Job, receipt: &str, error: RunError) {
        let text = self
            .redactor()
            .redact(&format!("{}: {}", error.code, error.message));
        tracing::error!(work_item = %job.work_item, job_id = %job.job_id, error = %text,
            "the job's workflow cannot run it; the work item fails");
        let marked = self.end_pending(job, WorkItemStatus::Failed, text).await;
        match marked {
            Ok(_) => self.ack(receipt).await,
            Err(error) => {
                tracing::warn!(work_item = %job.work_item, %error, "cannot mark the work item failed; the job is looked at again");
                self.hide(receipt, STORE_DOWN_RETRY).await;
            }
        }
    }

    /// Ends the item with `status` and `error` when `job` is still its pending job (a newer
    /// request or a cancel since then decides instead).
    pub(super) async fn end_pending(
        &self,
        job: &Job,
        status: WorkItemStatus,
        error: String,
    ) -> Result<(), StoreError> {
        edit(
            &*self.store,
            &job.work_item,
            || self.clock.now(),
            |item| {
                if item.pending_job.as_ref() != Some(&job.job_id) {
                    return Edit::Keep(());
                }
                item.status = status;
                item.pending_job = None;
                item.lease = None;
                item.next_retry_at = None;
                item.last_error = Some(error.clone());
                Edit::Write(())
            },
        )
        .await
        .map(|_| ())
    }

    pub(super) async fn ack(&self, receipt: &str) {
        if let Err(error) = self.queue.delete(receipt).await {
            tracing::warn!(%error, "cannot acknowledge a job message; it will come back and be judged again");
        }
    }

    /// Leaves a message on the queue, visible again after `delay`.
    pub(super) async fn hide(&self, receipt: &str, delay: Duration) {
        if let Err(error) = self.queue.change_visibility(receipt, delay).await {
            tracing::warn!(%error, "cannot change a job message's visibility");
        }
    }

    /// Sends a delayed copy of the job and acknowledges this one (a fresh receive count).
    pub(super) async fn postpone(&self, job: &Job, receipt: &str, delay: Duration) {
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
