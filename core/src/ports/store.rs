use crate::domain::{DeliveryKey, DeliveryOutcome, WorkItem, WorkItemKey};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: someone else wrote first. Re-read and decide again.
    #[error("conditional write failed: {0}")]
    Conflict(String),
    /// The backend could not be reached or refused the call; the caller answers 503.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored record could not be decoded.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
}

/// The state of a delivery id after [`Store::begin_delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryClaim {
    /// This caller owns the delivery now and must complete or release it.
    Claimed,
    /// Another caller holds a live claim; its answer is not known yet.
    InProgress,
    /// Processed before; here is what it did.
    Completed(DeliveryOutcome),
}

/// Durable state. Every mutation is conditional; nothing is read-modify-written blind.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Claims a delivery id for processing (the idempotency record pattern).
    ///
    /// Succeeds when the id is unseen, or when an earlier claim's `lease` has run out (its
    /// holder crashed), and then records `owner` as the holder. `retain` is how long a
    /// completed record is kept for deduplication.
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError>;

    /// Marks the delivery done with what it did. Fails with `Conflict` unless `owner` holds it.
    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        outcome: &DeliveryOutcome,
        now: DateTime<Utc>,
        retain: Duration,
    ) -> Result<(), StoreError>;

    /// Gives up a claim so that the sender's retry can succeed. A no-op unless `owner` holds it.
    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError>;

    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError>;

    /// Writes a work item if its stored version is still `expected_version` (`None`: it must
    /// not exist yet). The caller has already bumped `item.version`.
    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;

    /// Deletes a work item if its stored version is still `expected_version`; `Conflict`
    /// otherwise (including when it does not exist).
    async fn delete_work_item(
        &self,
        key: &WorkItemKey,
        expected_version: u64,
    ) -> Result<(), StoreError>;
}
