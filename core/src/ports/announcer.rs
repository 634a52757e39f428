//! What the ingress announces itself. A run held at the approval gate is decided by the
//! ingress, before any runner sees a job, so no runner can say so: the ingress tells the
//! workflow's chat through this port (the Slack adapter lives in `baton-integrations`).

use crate::domain::{IssueSnapshot, WorkItemKey};
use crate::workflow::Workflow;
use async_trait::async_trait;

/// A run request held until a person approves it.
#[derive(Debug, Clone, Copy)]
pub struct HeldRun<'a> {
    pub work_item: &'a WorkItemKey,
    pub issue: &'a IssueSnapshot,
    /// The workflow whose `gates.approval_required` holds it, and whose `notify` says where
    /// to announce it.
    pub workflow: &'a Workflow,
}

#[async_trait]
pub trait Announcer: Send + Sync + 'static {
    /// Called once per hold, after the hold is recorded. Never fails: an announcement that
    /// cannot be made is the adapter's to log; the delivery is accepted either way.
    async fn awaiting_approval(&self, held: HeldRun<'_>);
}
