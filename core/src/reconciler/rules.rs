//! The decision rules: which work items lost their job and get a fresh one. Pure, so the
//! rules are tested with a hand-set clock.

use super::ReconcilerSettings;
use crate::domain::{WorkItem, WorkItemStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

/// Why an item gets a fresh job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequeueCause {
    /// Running, but its runner stopped renewing the lease and nobody took the item over.
    LeaseExpired,
    /// Retrying, and the retry's delayed message never came back.
    RetryOverdue,
    /// Queued for long with no run.
    QueuedStale,
    /// Cancelled while its runner was gone: the job sent is one no run claims, and the runner
    /// that receives it marks the item cancelled and the dead run abandoned.
    OrphanedCancel,
}

impl RequeueCause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeaseExpired => "lease_expired",
            Self::RetryOverdue => "retry_overdue",
            Self::QueuedStale => "queued_stale",
            Self::OrphanedCancel => "orphaned_cancel",
        }
    }
}

/// Why an item is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A runner holds a live lease: a working runner's item is never touched.
    LeaseLive,
    /// The lease ran out (or the reconciler stepped in) less than the lease grace ago: the
    /// job message may still come back.
    LeaseRecentlyExpired,
    /// The retry is not due yet, or has been due for less than the retry grace.
    RetryNotOverdue,
    /// Queued or changed less than the queued grace ago.
    QueuedRecently,
    /// Not queued, running or retrying any more (the listing lagged a write).
    Inactive,
    /// Deleted since it was listed.
    Gone,
}

/// What the reconciler does with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Requeue(RequeueCause),
    Skip(SkipReason),
}

/// Whether `grace` has passed since `since`.
fn overdue(since: DateTime<Utc>, grace: Duration, now: DateTime<Utc>) -> bool {
    chrono::Duration::from_std(grace)
        .ok()
        .and_then(|grace| since.checked_add_signed(grace))
        .is_some_and(|deadline| now >= deadline)
}

/// Judges `item` at `now`. Every grace counts from the item's last write too (`updated_at`),
/// so an item the reconciler has just requeued waits a whole grace before the next requeue.
pub fn judge(item: &WorkItem, now: DateTime<Utc>, settings: &ReconcilerSettings) -> Verdict {
    if item.lease.as_ref().is_some_and(|lease| lease.is_live(now)) {
        return Verdict::Skip(SkipReason::LeaseLive);
    }
    let touched = item.updated_at;
    match item.status {
        WorkItemStatus::Running => {
            let since = item
                .lease
                .as_ref()
                .map_or(touched, |lease| lease.expires_at.max(touched));
            if !overdue(since, settings.lease_grace, now) {
                Verdict::Skip(SkipReason::LeaseRecentlyExpired)
            } else if item.cancel_requested {
                Verdict::Requeue(RequeueCause::OrphanedCancel)
            } else {
                Verdict::Requeue(RequeueCause::LeaseExpired)
            }
        }
        WorkItemStatus::Retrying => {
            let since = item.next_retry_at.map_or(touched, |due| due.max(touched));
            if overdue(since, settings.retry_grace, now) {
                Verdict::Requeue(RequeueCause::RetryOverdue)
            } else {
                Verdict::Skip(SkipReason::RetryNotOverdue)
            }
        }
        WorkItemStatus::Queued => {
            // A continuation waits for `next_retry_at` while queued.
            let since = [item.requested_at, item.next_retry_at]
                .into_iter()
                .flatten()
                .fold(touched, DateTime::max);
            if overdue(since, settings.queued_grace, now) {
                Verdict::Requeue(RequeueCause::QueuedStale)
            } else {
                Verdict::Skip(SkipReason::QueuedRecently)
            }
        }
        WorkItemStatus::Succeeded
        | WorkItemStatus::Failed
        | WorkItemStatus::Cancelled
        | WorkItemStatus::DeadLettered
        // Held for a person: nothing was queued, so nothing can be lost (an unanswered
        // question's deadline is the input-wait pass's, see `input_wait`).
        | WorkItemStatus::AwaitingApproval
        | WorkItemStatus::AwaitingInput => Verdict::Skip(SkipReason::Inactive),
    }
}
