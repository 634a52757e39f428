use super::deliveries::{
    event_size, Completed, Deliveries, DeliveryRecord, DeliveryState, Expiry, DELIVERY_SHARDS,
};
use super::lock;
use crate::domain::{
    DeliveryKey, DeliveryOutcome, DeliveryRecord as CompletedDelivery, NormalizedEvent, Run,
    RunEvent, RunId, RunStatus, WorkItem, WorkItemKey, WorkItemStatus,
};
use crate::ports::{
    AccountPool, BudgetCharge, BudgetScope, BudgetTotals, DeliveryClaim, SlotPool, Store,
    StoreError,
};
use crate::trends::{MetricsRecord, MetricsUpdate};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// At most this many runs are kept, with their timelines; beyond it the oldest that has
/// ended is dropped. A busy `baton dev --memory` starts runs all day, and each run keeps its
/// record and a timeline of a few kilobytes: without a cap memory grows with every run.
/// (The durable backend keeps them, and the events expire after their retention.)
const MAX_RUNS: usize = 5_000;

/// The in-memory store: delivery records in sharded hash maps, work items in one.
///
/// Delivery records are split over [`DELIVERY_SHARDS`] independently locked shards. Every
/// new delivery adds a record, and a single map that doubles under load stops all requests
/// while it rehashes (tens of milliseconds at a million records); a shard rehashes a
/// fraction of that, and concurrent requests rarely share a lock.
///
/// Delivery records expire like DynamoDB items with a TTL: a record whose `expires_at`
/// (epoch seconds) has passed counts as absent, and is dropped by an amortized prune. Memory
/// /// stays bounded under any stream of unique delivery ids: at most
/// [`DELIVERY_CAPACITY`](super::deliveries::DELIVERY_CAPACITY) records are kept, and their
/// events within [`EVENT_BUDGET_BYTES`](super::deliveries::EVENT_BUDGET_BYTES).
pub struct MemoryStore {
    deliveries: Box<[Mutex<Deliveries>]>,
    work_items: Mutex<HashMap<WorkItemKey, Arc<WorkItem>>>,
    /// By id: run ids are UUIDv7s, so the first is the oldest (see [`MAX_RUNS`]).
    runs: Mutex<BTreeMap<RunId, Run>>,
    /// Each run's timeline by sequence number, with when it expires (epoch seconds).
    events: Mutex<HashMap<RunId, Timeline>>,
    slot_pools: Mutex<HashMap<String, SlotPool>>,
    account_pools: super::accounts::AccountPools,
    metrics: Mutex<super::metrics::Buckets>,
    budgets: Mutex<super::budgets::Budgets>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            deliveries: (0..DELIVERY_SHARDS).map(|_| Mutex::default()).collect(),
            work_items: Mutex::default(),
            runs: Mutex::default(),
            events: Mutex::default(),
            slot_pools: Mutex::default(),
            account_pools: Default::default(),
            metrics: Mutex::default(),
            budgets: Mutex::default(),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Delivery records held right now, including expired ones not pruned yet.
    pub fn delivery_records(&self) -> usize {
        self.deliveries
            .iter()
            .map(|shard| lock(shard).records.len())
            .sum()
    }

    /// The locked shard that holds `key`'s record.
    fn deliveries(&self, key: &DeliveryKey) -> std::sync::MutexGuard<'_, Deliveries> {
        lock(&self.deliveries[shard_of(key)])
    }
}

impl MemoryStore {
    /// Drops the oldest run that has ended, with its timeline.
    fn forget_oldest_ended_run(&self, runs: &mut BTreeMap<RunId, Run>) {
        let oldest = runs
            .iter()
            .find(|(_, run)| run.status != RunStatus::Running)
            .map(|(id, _)| id.clone());
        if let Some(id) = oldest {
            runs.remove(&id);
            lock(&self.events).remove(&id);
        }
    }
}

fn shard_of(key: &DeliveryKey) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    (hash as usize) % DELIVERY_SHARDS
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for MemoryStore {
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        let now_s = now.timestamp();
        let claim = DeliveryRecord {
            state: DeliveryState::InProgress {
                owner: owner.to_owned(),
                lease_until: now.timestamp_millis().saturating_add(millis(lease)),
            },
            expires_at: now_s.saturating_add(seconds(lease.max(retain))),
        };
        let mut deliveries = self.deliveries(key);
        deliveries.prune(now_s);
        match deliveries.records.get_mut(key) {
            Some(record) if !record.is_expired(now_s) => match &record.state {
                DeliveryState::Completed(completed) => {
                    return Ok(DeliveryClaim::Completed(completed.outcome.clone()))
                }
                // Claiming again what one already holds is idempotent (a retried request).
                DeliveryState::InProgress { owner: held, .. } if held == owner => {}
                DeliveryState::InProgress { lease_until, .. }
                    if *lease_until >= now.timestamp_millis() =>
                {
                    return Ok(DeliveryClaim::InProgress)
                }
                // The holder's lease ran out: take the claim over.
                DeliveryState::InProgress { .. } => *record = claim,
            },
            Some(record) => *record = claim,
            None => {
                deliveries.make_room();
                let key = Arc::new(key.clone());
                let at = claim.expires_at;
                deliveries.expiries.push(Reverse(Expiry {
                    at,
                    key: Arc::clone(&key),
                }));
                deliveries.records.insert(key, claim);
            }
        }
        Ok(DeliveryClaim::Claimed)
    }

    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        outcome: &DeliveryOutcome,
        event: &NormalizedEvent,
        now: DateTime<Utc>,
        retain: Duration,
    ) -> Result<(), StoreError> {
        let now_s = now.timestamp();
        let mut deliveries = self.deliveries(key);
        match deliveries.records.get_key_value(key) {
            Some((stored, record)) if !record.is_expired(now_s) && record.held_by(owner) => {
                let stored = Arc::clone(stored);
                if let Some(record) = deliveries.records.get_mut(key) {
                    record.state = DeliveryState::Completed(Box::new(Completed {
                        outcome: outcome.clone(),
                        event: Some(Box::new(event.clone())),
                        completed_at: now,
                    }));
                    record.expires_at = now_s.saturating_add(seconds(retain));
                }
                deliveries.keep_event(stored, event_size(event));
                Ok(())
            }
            _ => Err(StoreError::Conflict(format!(
                "delivery {key} is not held by {owner}"
            ))),
        }
    }

    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<CompletedDelivery>, StoreError> {
        let deliveries = self.deliveries(key);
        Ok(match deliveries.records.get(key) {
            Some(record) if !record.is_expired(now.timestamp()) => match &record.state {
                DeliveryState::Completed(completed) => Some(completed.record()),
                DeliveryState::InProgress { .. } => None,
            },
            _ => None,
        })
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        let mut deliveries = self.deliveries(key);
        if deliveries
            .records
            .get(key)
            .is_some_and(|record| record.held_by(owner))
        {
            // Its entry in `expiries` goes when it falls due.
            deliveries.records.remove(key);
        }
        Ok(())
    }

    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError> {
        let item = lock(&self.work_items).get(key).cloned();
        Ok(item.map(|item| WorkItem::clone(&item)))
    }

    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let new = Arc::new(item.clone());
        let mut items = lock(&self.work_items);
        let stored = items.get(&item.key).map(|current| current.version);
        if stored != expected_version {
            let found = match stored {
                Some(version) => format!("version {version}"),
                None => "no item".to_owned(),
            };
            let wanted = match expected_version {
                Some(version) => format!("version {version}"),
                None => "no item".to_owned(),
            };
            return Err(StoreError::Conflict(format!(
                "work item {} expected {wanted}, found {found}",
                item.key
            )));
        }
        // The replaced item is freed after the lock is released.
        let _replaced = items.insert(item.key.clone(), new);
        drop(items);
        Ok(())
    }

    async fn delete_work_item(
        &self,
        key: &WorkItemKey,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let mut items = lock(&self.work_items);
        match items.get(key).map(|item| item.version) {
            Some(version) if version == expected_version => {
                let _removed = items.remove(key);
                drop(items);
                Ok(())
            }
            found => Err(StoreError::Conflict(format!(
                "work item {key} expected version {expected_version} to delete, found {}",
                found.map_or_else(|| "no item".to_owned(), |v| format!("version {v}"))
            ))),
        }
    }

    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        let mut found: Vec<WorkItem> = lock(&self.work_items)
            .values()
            .filter(|item| item.status == status)
            .map(|item| WorkItem::clone(item))
            .collect();
        found.sort_by_key(|item| Reverse(item.updated_at));
        found.truncate(limit);
        Ok(found)
    }

    async fn put_run(&self, run: &Run, expected_version: Option<u64>) -> Result<(), StoreError> {
        let mut runs = lock(&self.runs);
        let stored = runs.get(&run.run_id).map(|current| current.version);
        if stored != expected_version {
            return Err(version_conflict(
                &format!("run {}", run.run_id),
                expected_version,
                stored,
            ));
        }
        if stored.is_none() && runs.len() >= MAX_RUNS {
            self.forget_oldest_ended_run(&mut runs);
        }
        runs.insert(run.run_id.clone(), run.clone());
        Ok(())
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        Ok(lock(&self.runs).get(run_id).cloned())
    }

    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        let mut runs: Vec<Run> = lock(&self.runs)
            .values()
            .filter(|run| &run.work_item == key)
            .cloned()
            .collect();
        runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        Ok(runs)
    }

    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError> {
        let mut timelines = lock(&self.events);
        for event in events {
            let expires_at = event.at.timestamp().saturating_add(seconds(retain));
            timelines
                .entry(event.run_id.clone())
                .or_default()
                .insert(event.seq, (event.clone(), expires_at));
        }
        Ok(())
    }

    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        let now_s = Utc::now().timestamp();
        let mut timelines = lock(&self.events);
        let Some(timeline) = timelines.get_mut(run_id) else {
            return Ok(Vec::new());
        };
        // Expired events count as absent, like DynamoDB items past their TTL.
        timeline.retain(|_, (_, expires_at)| *expires_at > now_s);
        Ok(timeline
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(_, (event, _))| event.clone())
            .collect())
    }

    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        Ok(lock(&self.slot_pools).get(scope).cloned())
    }

    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut pools = lock(&self.slot_pools);
        let stored = pools.get(&pool.scope).map(|current| current.version);
        if stored != expected_version {
            return Err(version_conflict(
                &format!("slot pool {}", pool.scope),
                expected_version,
                stored,
            ));
        }
        pools.insert(pool.scope.clone(), pool.clone());
        Ok(())
    }

    async fn get_account_pool(&self, provider: &str) -> Result<Option<AccountPool>, StoreError> {
        Ok(self.account_pools.get(provider))
    }

    async fn put_account_pool(
        &self,
        pool: &AccountPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.account_pools.put(pool, expected_version)
    }

    async fn record_metrics(&self, update: &MetricsUpdate) -> Result<(), StoreError> {
        update.check().map_err(StoreError::Corrupt)?;
        lock(&self.metrics).apply(update, Utc::now());
        Ok(())
    }

    async fn read_metrics(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MetricsRecord>, StoreError> {
        Ok(lock(&self.metrics).read(scope, from, to, Utc::now()))
    }

    async fn charge_budget(&self, charge: &BudgetCharge) -> Result<BudgetTotals, StoreError> {
        Ok(lock(&self.budgets).charge(charge, Utc::now()))
    }

    async fn read_budget(&self, scope: &BudgetScope) -> Result<BudgetTotals, StoreError> {
        Ok(lock(&self.budgets).read(scope, Utc::now()))
    }
}

/// A run's events by sequence number, each with when it expires (epoch seconds).
type Timeline = BTreeMap<u32, (RunEvent, i64)>;

/// The conflict message of a versioned write that lost.
pub(super) fn version_conflict(
    what: &str,
    expected: Option<u64>,
    found: Option<u64>,
) -> StoreError {
    let show = |version: Option<u64>| {
        version.map_or_else(|| "none".to_owned(), |v| format!("version {v}"))
    };
    StoreError::Conflict(format!(
        "{what}: expected {}, found {}",
        show(expected),
        show(found)
    ))
}

#[cfg(test)]
mod tests;
