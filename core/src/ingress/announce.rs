//! The end of an accepted delivery: the delivery is settled first (the hold is durable and
//! deduplicated), then a hold this delivery made is announced, within a bounded time so a
//! slow chat never holds up the sender's answer.

use super::service::{Accepted, Ingress, IngressError};
use super::work_items::Applied;
use crate::domain::{DeliveryKey, NormalizedEvent, WorkItemKey};
use crate::ports::HeldRun;
use crate::workflow::Workflow;

impl Ingress {
    pub(super) async fn settle_and_announce(
        &self,
        keys: &[DeliveryKey],
        owner: &str,
        event: &NormalizedEvent,
        applied: Result<Applied, IngressError>,
        workflow: &Workflow,
    ) -> Result<Accepted, IngressError> {
        let newly_held = matches!(&applied, Ok(applied) if applied.newly_held);
        let accepted = self
            .settle_delivery(keys, owner, event, applied.map(|a| a.outcome))
            .await?;
        if let (true, Accepted::AwaitingApproval { work_item }) = (newly_held, &accepted) {
            self.announce_hold(work_item, event, workflow).await;
        }
        Ok(accepted)
    }

    async fn announce_hold(
        &self,
        work_item: &WorkItemKey,
        event: &NormalizedEvent,
        workflow: &Workflow,
    ) {
        let Some(announcer) = &self.announcer else {
            return;
        };
        let held = HeldRun {
            work_item,
            issue: &event.issue,
            workflow,
        };
        let limit = self.settings().announce_timeout;
        if tokio::time::timeout(limit, announcer.awaiting_approval(held))
            .await
            .is_err()
        {
            tracing::warn!(%work_item, timeout_ms = limit.as_millis() as u64,
                "announcing the hold took too long; given up (the hold stands)");
        }
    }
}
