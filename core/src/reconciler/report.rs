//! What one reconciler pass did, for the log and as the Lambda function's answer.

use super::rules::{RequeueCause, SkipReason};
use crate::domain::{JobId, SourceKind, WorkItemKey, WorkItemStatus};
use serde::Serialize;
use std::collections::BTreeMap;

/// One requeue pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Queued, running and retrying items looked at.
    pub inspected: u32,
    pub requeued: Vec<Requeued>,
    /// Items left alone, counted by why.
    pub skipped: BTreeMap<SkipReason, u32>,
    /// Items that should have been requeued but could not be; the next pass tries again.
    pub failed: Vec<Failed>,
    /// Items whose agent's question went unanswered past its deadline: now failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub input_expired: Vec<WorkItemKey>,
}

impl ReconcileReport {
    pub(super) fn skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// How many items were left alone for `reason`.
    pub fn skipped_for(&self, reason: SkipReason) -> u32 {
        self.skipped.get(&reason).copied().unwrap_or(0)
    }
}

/// A work item that got a fresh job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requeued {
    pub work_item: WorkItemKey,
    pub job_id: JobId,
    /// The item's status when it was requeued (it keeps it until a runner claims the job).
    pub status: WorkItemStatus,
    pub cause: RequeueCause,
}

/// A work item (or polled issue) the pass could not handle, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub work_item: WorkItemKey,
    pub error: String,
}

/// One safety poll of one tracker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollReport {
    pub source: SourceKind,
    /// Issues the tracker listed as active.
    pub listed: u32,
    /// Active work items the tracker did not list, looked up one by one.
    pub looked_up: u32,
    /// Issues whose run the webhooks had missed, now queued.
    pub queued: Vec<WorkItemKey>,
    /// Work items whose cancel the webhooks had missed, now requested.
    pub cancelled: Vec<WorkItemKey>,
    /// Issues with nothing a webhook would have acted on.
    pub unchanged: u32,
    /// Acted on already under the same synthetic delivery (another poll got there first).
    pub duplicates: u32,
    pub failed: Vec<Failed>,
}

impl PollReport {
    pub(super) fn new(source: SourceKind) -> Self {
        Self {
            source,
            listed: 0,
            looked_up: 0,
            queued: Vec::new(),
            cancelled: Vec::new(),
            unchanged: 0,
            duplicates: 0,
            failed: Vec::new(),
        }
    }
}
