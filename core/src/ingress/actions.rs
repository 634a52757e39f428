//! Requests made by a person through the API or CLI rather than by a webhook: retry a work
//! item, cancel it, replay a delivery. They go through the same versioned writes and queueing
//! as webhooks (see `work_items`), so the runner cannot tell them apart except by the job's
//! reason.

use super::work_items::{queue_run, request_cancel, RunRequest};
use super::{Accepted, Ingress, IngressError};
use crate::domain::{DeliveryKey, DeliveryOutcome, JobReason, WorkItemKey};

/// Why a manual request was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("no work item has the key `{0}`")]
    IssueNotFound(WorkItemKey),
    #[error("no completed delivery `{0}` is retained")]
    DeliveryNotFound(DeliveryKey),
    /// The request does not fit the item's state (or the stored delivery): 409.
    #[error("{0}")]
    Conflict(String),
    /// The store or the queue failed; nothing was changed: 503.
    #[error("{0}")]
    Backend(String),
}

impl From<IngressError> for ActionError {
    fn from(error: IngressError) -> Self {
        match error {
            IngressError::Conflict(message) => Self::Conflict(message),
            IngressError::Backend(message) => Self::Backend(message),
            IngressError::DeliveryInProgress(_) => Self::Backend(error.to_string()),
            // A stored event that no longer passes the ingress's checks cannot be replayed.
            IngressError::Malformed(message)
            | IngressError::InvalidSignature(message)
            | IngressError::UnsupportedMediaType(message) => Self::Conflict(message),
        }
    }
}

impl From<crate::ports::StoreError> for ActionError {
    fn from(error: crate::ports::StoreError) -> Self {
        Self::Backend(error.to_string())
    }
}

impl Ingress {
    /// Queues a new run of `key` now (reason [`JobReason::Manual`]). Allowed once the item
    /// has ended (succeeded, failed, cancelled, dead-lettered) or while it waits out a retry's
    /// backoff (the delayed job is superseded); a conflict while a run is queued, running or
    /// held for approval.
    pub async fn retry(&self, key: &WorkItemKey) -> Result<Accepted, ActionError> {
        let item = self
            .store
            .get_work_item(key)
            .await?
            .ok_or_else(|| ActionError::IssueNotFound(key.clone()))?;
        let request = RunRequest {
            key: key.clone(),
            source: item.source,
            workflow: None,
            snapshot: None,
            reason: JobReason::Manual,
            approved_by: None,
            answer: None,
            only_when_idle: true,
            agent_session: None,
        };
        let outcome = queue_run(
            self.store.as_ref(),
            self.queue.as_ref(),
            self.clock.as_ref(),
            request,
            None,
        )
        .await?;
        Ok(Accepted::from(outcome))
    }

    /// Cancels `key` as if its issue had left the active states: a queued or retrying item is
    /// cancelled, a running one is stopped by its runner. A conflict once it has ended.
    pub async fn cancel(&self, key: &WorkItemKey) -> Result<Accepted, ActionError> {
        if self.store.get_work_item(key).await?.is_none() {
            return Err(ActionError::IssueNotFound(key.clone()));
        }
        let outcome =
            request_cancel(self.store.as_ref(), self.clock.as_ref(), None, key, None).await?;
        match outcome {
            // `request_cancel` ignores items that are not active: for a person that is a
            // conflict, not a silent no-op.
            DeliveryOutcome::Ignored { reason } => Err(ActionError::Conflict(reason)),
            outcome => Ok(Accepted::from(outcome)),
        }
    }

    /// Routes the event a completed delivery carried once more, under a fresh delivery id, so
    /// deduplication does not stop it. The answer is what a webhook with that event gets.
    pub async fn replay(&self, delivery: &DeliveryKey) -> Result<Accepted, ActionError> {
        let record = self
            .store
            .get_delivery(delivery, self.clock.now())
            .await?
            .ok_or_else(|| ActionError::DeliveryNotFound(delivery.clone()))?;
        let event = record.event.ok_or_else(|| {
            ActionError::Conflict(format!(
                "delivery {delivery} was recorded without its event, so it cannot be replayed"
            ))
        })?;
        let fresh_id = format!("replay-{}", uuid::Uuid::new_v4());
        tracing::info!(%delivery, replay_id = %fresh_id, "replaying a delivery");
        Ok(self.accept_event(&event, &fresh_id).await?)
    }
}
