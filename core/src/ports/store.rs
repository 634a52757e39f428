use super::budgets::{BudgetCharge, BudgetScope, BudgetTotals};
use super::AccountPool;
use crate::domain::{
    DeliveryKey, DeliveryOutcome, DeliveryRecord, NormalizedEvent, Run, RunEvent, RunId, WorkItem,
    WorkItemKey, WorkItemStatus,
};
use crate::trends::{MetricsRecord, MetricsUpdate};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
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

/// A concurrency limit as stored: who holds a slot of `scope`, and until when. A holder that
/// crashed stops renewing, and its slot frees itself when the time passes. The slot logic
/// lives with the runner; the store only keeps the record, with a version like work items.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotPool {
    /// `global`, or `state:<lowercased state>`.
    pub scope: String,
    /// Holder (a run id) → when its slot expires unless renewed.
    pub holders: BTreeMap<String, DateTime<Utc>>,
    pub version: u64,
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

    /// Marks the delivery done with what it did, keeping the `event` it carried for replays.
    /// Fails with `Conflict` unless `owner` holds it.
    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        outcome: &DeliveryOutcome,
        event: &NormalizedEvent,
        now: DateTime<Utc>,
        retain: Duration,
    ) -> Result<(), StoreError>;

    /// A completed delivery still retained at `now`; `None` when the id is unknown, expired
    /// or still being processed.
    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, StoreError>;

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

    /// Work items with `status`, most recently updated first, at most `limit`. Backed by an
    /// index, so it may lag a write by a moment on DynamoDB.
    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError>;

    /// Writes a run if its stored version is still `expected_version` (`None`: new run).
    async fn put_run(&self, run: &Run, expected_version: Option<u64>) -> Result<(), StoreError>;

    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError>;

    /// The runs of a work item, oldest first (may lag a write by a moment on DynamoDB).
    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError>;

    /// Adds events to their runs' timelines, kept for `retain`. Idempotent: an event with a
    /// `(run_id, seq)` already stored replaces it.
    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError>;

    /// A run's events with `seq > after`, in order, at most `limit`.
    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError>;

    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError>;

    /// Writes a slot pool if its stored version is still `expected_version` (`None`: new).
    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;

    /// The agent account pool of `provider` (see [`AccountPool`]).
    async fn get_account_pool(&self, provider: &str) -> Result<Option<AccountPool>, StoreError>;

    /// Writes an account pool if its stored version is still `expected_version` (`None`: new).
    async fn put_account_pool(
        &self,
        pool: &AccountPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError>;

    /// Applies `update` to the hour bucket of each of its scopes (the deployment's, and its
    /// workflow's), atomically per bucket: `add` counters grow, `set` gauges are replaced,
    /// `max` gauges keep the larger value. Buckets are kept
    /// [`RETENTION_DAYS`](crate::trends::RETENTION_DAYS) after their hour. Counter names
    /// are checked with [`is_valid_name`](crate::trends::is_valid_name); a bad one is
    /// `Corrupt`.
    async fn record_metrics(&self, update: &MetricsUpdate) -> Result<(), StoreError>;

    /// The buckets of `scope` whose hour starts in `[from, to)`, oldest first, without
    /// those past their retention.
    async fn read_metrics(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MetricsRecord>, StoreError>;

    /// Adds `charge.spend` to the work item's counter and to its workflow's counter of the
    /// day, each atomically (charges made at once by any number of runners all count), and
    /// returns both totals after the add. Day counters are kept
    /// [`BUDGET_DAY_RETENTION_DAYS`](super::BUDGET_DAY_RETENTION_DAYS) after their day.
    async fn charge_budget(&self, charge: &BudgetCharge) -> Result<BudgetTotals, StoreError>;

    /// The counters of `scope` as they stand; zero for one never charged or expired.
    async fn read_budget(&self, scope: &BudgetScope) -> Result<BudgetTotals, StoreError>;
}
