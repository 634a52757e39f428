//! Test helpers: data dirs that live as long as the store or queue opened on them.

#![allow(dead_code)]

use async_trait::async_trait;
use baton_core::domain::{
    DeliveryKey, DeliveryOutcome, DeliveryRecord, Job, NormalizedEvent, Run, RunEvent, RunId,
    SourceKind, WorkItem, WorkItemKey, WorkItemStatus,
};
use baton_core::ports::{
    DeliveryClaim, Queue, QueueError, ReceivedJob, SlotPool, Store, StoreError,
};
use baton_embedded::{Embedded, SqliteQueue, SqliteStore};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// A fresh temporary data dir.
pub fn data_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("baton-embedded-")
        .tempdir()
        .expect("a temporary directory")
}

/// Opens `dir`, which must work.
pub fn open(dir: &std::path::Path) -> Embedded {
    baton_embedded::open(dir).unwrap_or_else(|e| panic!("open {}: {e}", dir.display()))
}

/// An adapter together with the temporary data dir it was opened on: the dir is removed only
/// after the adapter is dropped.
pub struct Held<T> {
    pub inner: T,
    _dir: TempDir,
}

/// A store on a fresh data dir.
pub fn fresh_store() -> Arc<Held<SqliteStore>> {
    let dir = data_dir();
    let inner = open(dir.path()).store;
    Arc::new(Held { inner, _dir: dir })
}

/// A queue on a fresh data dir.
pub fn fresh_queue() -> Held<SqliteQueue> {
    let dir = data_dir();
    let inner = open(dir.path()).queue;
    Held { inner, _dir: dir }
}

pub async fn send_raw(queue: &Held<SqliteQueue>, body: String) {
    queue.inner.send_raw(body).await.expect("raw send");
}

#[async_trait]
impl<T: Store> Store for Held<T> {
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        self.inner
            .begin_delivery(key, owner, now, lease, retain)
            .await
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
        self.inner
            .complete_delivery(key, owner, outcome, event, now, retain)
            .await
    }

    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.inner.get_delivery(key, now).await
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        self.inner.release_delivery(key, owner).await
    }

    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError> {
        self.inner.get_work_item(key).await
    }

    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put_work_item(item, expected_version).await
    }

    async fn delete_work_item(
        &self,
        key: &WorkItemKey,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.inner.delete_work_item(key, expected_version).await
    }

    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        self.inner.list_work_items(status, limit).await
    }

    async fn put_run(&self, run: &Run, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.inner.put_run(run, expected_version).await
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        self.inner.get_run(run_id).await
    }

    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        self.inner.list_runs(key).await
    }

    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError> {
        self.inner.append_events(events, retain).await
    }

    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        self.inner.list_events(run_id, after, limit).await
    }

    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        self.inner.get_slot_pool(scope).await
    }

    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put_slot_pool(pool, expected_version).await
    }

    async fn get_account_pool(
        &self,
        provider: &str,
    ) -> Result<Option<baton_core::ports::AccountPool>, StoreError> {
        self.inner.get_account_pool(provider).await
    }

    async fn put_account_pool(
        &self,
        pool: &baton_core::ports::AccountPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put_account_pool(pool, expected_version).await
    }

    async fn record_metrics(
        &self,
        update: &baton_core::trends::MetricsUpdate,
    ) -> Result<(), StoreError> {
        self.inner.record_metrics(update).await
    }

    async fn read_metrics(
        &self,
        scope: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<baton_core::trends::MetricsRecord>, StoreError> {
        self.inner.read_metrics(scope, from, to).await
    }

    async fn charge_budget(
        &self,
        charge: &baton_core::ports::BudgetCharge,
    ) -> Result<baton_core::ports::BudgetTotals, StoreError> {
        self.inner.charge_budget(charge).await
    }

    async fn read_budget(
        &self,
        scope: &baton_core::ports::BudgetScope,
    ) -> Result<baton_core::ports::BudgetTotals, StoreError> {
        self.inner.read_budget(scope).await
    }
}

#[async_trait]
impl<T: Queue> Queue for Held<T> {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.inner.send(job).await
    }

    async fn send_delayed(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        self.inner.send_delayed(job, delay).await
    }

    async fn dead_letter(&self, job: &Job) -> Result<(), QueueError> {
        self.inner.dead_letter(job).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        self.inner.receive(max, wait, visibility).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt).await
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        self.inner.change_visibility(receipt, visibility).await
    }

    async fn dead_letter_count(&self) -> Result<usize, QueueError> {
        self.inner.dead_letter_count().await
    }
}

/// A minimal queued work item under `identifier`, at version 1.
pub fn work_item(identifier: &str) -> WorkItem {
    let now = Utc::now();
    WorkItem {
        key: WorkItemKey::new(SourceKind::Github, identifier),
        source: SourceKind::Github,
        issue: baton_core::domain::IssueSnapshot {
            id: "1".into(),
            identifier: identifier.into(),
            title: "Fix it".into(),
            ..Default::default()
        },
        status: baton_core::domain::WorkItemStatus::Queued,
        attempt: 1,
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        created_at: now,
        updated_at: now,
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: Default::default(),
        approved_by: None,
        pull_request: None,
        status_comment: None,
        input_request: None,
        agent_session: None,
        workflow: None,
        version: 1,
    }
}
