//! The requeue pass: every queued, running and retrying item is judged, and one whose job
//! was lost gets a fresh one. The fresh job is named the item's pending job with a versioned
//! write before it is sent, so a job still in flight becomes superseded, and of two
//! reconcilers at work at once only one requeues an item.

use super::report::{Failed, ReconcileReport, Requeued};
use super::rules::{judge, RequeueCause, SkipReason, Verdict};
use super::ReconcilerSettings;
use crate::clock::Clock;
use crate::domain::{
    Job, JobId, JobReason, WorkItem, WorkItemKey, WorkItemStatus, JOB_SCHEMA_VERSION,
};
use crate::ports::{Queue, QueueError, Store, StoreError};
use std::collections::HashSet;
use tracing::Instrument;

/// Conditional writes that lose to a concurrent writer are retried this many times.
const MAX_WRITE_ATTEMPTS: u32 = 8;

/// The pass could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot list the {status} work items: {source}")]
    List {
        status: &'static str,
        source: StoreError,
    },
}

/// One item could not be requeued; the next pass tries again.
#[derive(Debug, thiserror::Error)]
enum RequeueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the work item kept changing under {MAX_WRITE_ATTEMPTS} attempts to requeue it")]
    Contention,
    #[error("the fresh job could not be sent ({0}); the work item was put back as it was")]
    Send(QueueError),
}

enum Outcome {
    Sent(Requeued),
    /// A fresh read of the item said to leave it.
    Skipped(SkipReason),
}

/// One requeue pass over every active work item (all pages of each status).
pub async fn reconcile_once(
    store: &dyn Store,
    queue: &dyn Queue,
    clock: &dyn Clock,
    settings: &ReconcilerSettings,
) -> Result<ReconcileReport, ReconcileError> {
    let mut report = ReconcileReport::default();
    // An item that changed status during the listing can show up twice.
    let mut seen = HashSet::new();
    for status in [
        WorkItemStatus::Running,
        WorkItemStatus::Retrying,
        WorkItemStatus::Queued,
    ] {
        let listed = store
            .list_work_items(status, usize::MAX)
            .await
            .map_err(|source| ReconcileError::List {
                status: status.as_str(),
                source,
            })?;
        for item in listed {
            if !seen.insert(item.key.clone()) {
                continue;
            }
            report.inspected += 1;
            // The listing may lag (an index on DynamoDB); only a fresh read is acted on. A
            // listed copy that says "leave it" is trusted: later writes only make it fresher.
            if let Verdict::Skip(reason) = judge(&item, clock.now(), settings) {
                report.skip(reason);
                continue;
            }
            // Every line about this item, the store's and the queue's included, names it.
            let span = tracing::info_span!("reconcile_item", work_item = %item.key);
            let outcome = requeue(store, queue, clock, settings, &item.key)
                .instrument(span.clone())
                .await;
            let _in_item = span.enter();
            match outcome {
                Ok(Outcome::Sent(requeued)) => {
                    tracing::info!(work_item = %requeued.work_item, job_id = %requeued.job_id,
                        status = requeued.status.as_str(), cause = requeued.cause.as_str(),
                        "reconciler requeued a work item");
                    report.requeued.push(requeued);
                }
                Ok(Outcome::Skipped(reason)) => report.skip(reason),
                Err(error) => {
                    tracing::warn!(work_item = %item.key, %error, "reconciler could not requeue a work item");
                    report.failed.push(Failed {
                        work_item: item.key,
                        error: error.to_string(),
                    });
                }
            }
        }
    }
    report.input_expired = super::input_wait::expire_waits(store, clock).await?;
    Ok(report)
}

/// Names a fresh job on the item and sends it, if a fresh read still says so.
async fn requeue(
    store: &dyn Store,
    queue: &dyn Queue,
    clock: &dyn Clock,
    settings: &ReconcilerSettings,
    key: &WorkItemKey,
) -> Result<Outcome, RequeueError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let Some(current) = store.get_work_item(key).await? else {
            return Ok(Outcome::Skipped(SkipReason::Gone));
        };
        let now = clock.now();
        let cause = match judge(&current, now, settings) {
            Verdict::Skip(reason) => return Ok(Outcome::Skipped(reason)),
            Verdict::Requeue(cause) => cause,
        };
        let job_id = JobId::generate();
        let mut item = current.clone();
        if cause != RequeueCause::OrphanedCancel {
            item.pending_job = Some(job_id.clone());
        }
        item.updated_at = now;
        item.version += 1;
        match store.put_work_item(&item, Some(current.version)).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error.into()),
        }
        let job = Job {
            v: JOB_SCHEMA_VERSION,
            job_id: job_id.clone(),
            work_item: key.clone(),
            reason: JobReason::Reconciled,
            // A takeover or a lost message is the same attempt, not a new one.
            attempt: current.attempt.max(1),
            queued_at: now,
            delivery_id: current.last_delivery.clone(),
            continuation: 0,
        };
        if let Err(error) = queue.send(&job).await {
            put_back(store, current, item.version).await;
            return Err(RequeueError::Send(error));
        }
        return Ok(Outcome::Sent(Requeued {
            work_item: key.clone(),
            job_id,
            status: item.status,
            cause,
        }));
    }
    Err(RequeueError::Contention)
}

/// Restores the item as it was before the requeue whose job was not sent, unless someone
/// wrote it since; the next pass then finds it as this one did.
async fn put_back(store: &dyn Store, mut previous: WorkItem, written: u64) {
    previous.version = written + 1;
    if let Err(error) = store.put_work_item(&previous, Some(written)).await {
        tracing::warn!(work_item = %previous.key, %error,
            "could not put back a work item whose fresh job was not sent; it is requeued after another grace");
    }
}
