//! The `Store` port on SQLite.

mod accounts;
mod budgets;
mod deliveries;
mod events;
mod metrics;
mod records;

use crate::db::Db;
use async_trait::async_trait;
use baton_core::domain::{
    DeliveryKey, DeliveryOutcome, DeliveryRecord, NormalizedEvent, Run, RunEvent, RunId, WorkItem,
    WorkItemKey, WorkItemStatus,
};
use baton_core::ports::{
    AccountPool, BudgetCharge, BudgetScope, BudgetTotals, DeliveryClaim, SlotPool, Store,
    StoreError,
};
use baton_core::trends::{MetricsRecord, MetricsUpdate};
use chrono::{DateTime, SecondsFormat, Utc};
use records::{Extra, Versioned, RUNS, SLOT_POOLS, WORK_ITEMS};
use rusqlite::params;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// The store of an open data dir (see the crate docs). Cheap to clone: clones share the
/// database's connections.
///
/// It behaves like the memory store of `baton-core`, time granularity included: delivery
/// leases are compared in milliseconds, retention in whole seconds, and records past their
/// expiry count as absent and are deleted by an amortised prune.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<Db>,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn encode(
    what: impl std::fmt::Display,
    value: &impl serde::Serialize,
) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode {what}: {e}")))
}

fn decode<T: DeserializeOwned>(what: impl std::fmt::Display, doc: &str) -> Result<T, StoreError> {
    serde_json::from_str(doc).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn decode_all<T: DeserializeOwned>(what: &str, docs: Vec<String>) -> Result<Vec<T>, StoreError> {
    docs.iter().map(|doc| decode(what, doc)).collect()
}

impl SqliteStore {
    pub(crate) fn new(db: Arc<Db>) -> Self {
        Self { db }
    }

    /// Delivery records in the file right now, expired ones not pruned yet included. Counts
    /// the whole table: for tests and diagnostics, not for a hot path.
    pub async fn delivery_records(&self) -> Result<usize, StoreError> {
        self.count("SELECT count(*) FROM deliveries").await
    }

    /// Run events in the file right now, expired ones not pruned yet included (a full count).
    pub async fn event_records(&self) -> Result<usize, StoreError> {
        self.count("SELECT count(*) FROM run_events").await
    }

    async fn count(&self, sql: &'static str) -> Result<usize, StoreError> {
        let count: i64 = self
            .db
            .read(move |conn| Ok(conn.prepare_cached(sql)?.query_row([], |row| row.get(0))?))
            .await?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    async fn put(
        &self,
        table: &'static records::Table,
        record: Versioned,
    ) -> Result<(), StoreError> {
        Ok(self
            .db
            .write(move |conn| records::put(conn, table, &record))
            .await?)
    }

    async fn get_doc(
        &self,
        table: &'static records::Table,
        key: String,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .db
            .read(move |conn| records::get(conn, table, &key))
            .await?)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        let key = key.to_string();
        let owner = owner.to_owned();
        let now_ms = now.timestamp_millis();
        let now_s = now.timestamp();
        Ok(self
            .db
            .write(move |conn| {
                deliveries::begin(
                    conn,
                    &deliveries::Claim {
                        key: &key,
                        owner: &owner,
                        now_ms,
                        now_s,
                        lease_until: now_ms.saturating_add(millis(lease)),
                        expires_at: now_s.saturating_add(seconds(lease.max(retain))),
                    },
                )
            })
            .await?)
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
        let outcome = encode("the outcome", outcome)?;
        let event = encode("the event", event)?;
        let key = key.to_string();
        let owner = owner.to_owned();
        let now_s = now.timestamp();
        let completed_at = now.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        Ok(self
            .db
            .write(move |conn| {
                deliveries::complete(
                    conn,
                    &deliveries::Completion {
                        key: &key,
                        owner: &owner,
                        outcome,
                        event,
                        completed_at,
                        now_s,
                        expires_at: now_s.saturating_add(seconds(retain)),
                    },
                )
            })
            .await?)
    }

    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let key = key.to_string();
        let now_s = now.timestamp();
        Ok(self
            .db
            .read(move |conn| deliveries::get(conn, &key, now_s))
            .await?)
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        let owner = owner.to_owned();
        Ok(self
            .db
            .write(move |conn| deliveries::release(conn, &key, &owner))
            .await?)
    }

    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError> {
        self.get_doc(&WORK_ITEMS, key.to_string())
            .await?
            .map(|doc| decode(format_args!("work item {key}"), &doc))
            .transpose()
    }

    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let record = Versioned {
            key: item.key.to_string(),
            version: item.version,
            doc: encode(format_args!("work item {}", item.key), item)?,
            extra: vec![
                Extra::Text(item.status.as_str().to_owned()),
                Extra::Integer(item.updated_at.timestamp_micros()),
            ],
            expected: expected_version,
        };
        self.put(&WORK_ITEMS, record).await
    }

    async fn delete_work_item(
        &self,
        key: &WorkItemKey,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let key = key.to_string();
        Ok(self
            .db
            .write(move |conn| records::delete_work_item(conn, &key, expected_version))
            .await?)
    }

    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let docs = self
            .db
            .read(move |conn| {
                records::docs(
                    conn,
                    "SELECT doc FROM work_items WHERE status = ?1 \
                     ORDER BY updated_at DESC LIMIT ?2",
                    params![status.as_str(), limit],
                )
            })
            .await?;
        decode_all("work item", docs)
    }

    async fn put_run(&self, run: &Run, expected_version: Option<u64>) -> Result<(), StoreError> {
        let record = Versioned {
            key: run.run_id.to_string(),
            version: run.version,
            doc: encode(format_args!("run {}", run.run_id), run)?,
            extra: vec![Extra::Text(run.work_item.to_string())],
            expected: expected_version,
        };
        self.put(&RUNS, record).await
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        self.get_doc(&RUNS, run_id.to_string())
            .await?
            .map(|doc| decode(format_args!("run {run_id}"), &doc))
            .transpose()
    }

    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        let key = key.to_string();
        let docs = self
            .db
            .read(move |conn| {
                records::docs(
                    conn,
                    "SELECT doc FROM runs WHERE work_item = ?1 ORDER BY run_id",
                    params![key],
                )
            })
            .await?;
        decode_all("run", docs)
    }

    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let rows = events
            .iter()
            .map(|event| {
                Ok(events::Row {
                    run_id: event.run_id.to_string(),
                    seq: event.seq,
                    expires_at: event.at.timestamp().saturating_add(seconds(retain)),
                    doc: encode(
                        format_args!("event {} of run {}", event.seq, event.run_id),
                        event,
                    )?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let now_s = Utc::now().timestamp();
        Ok(self
            .db
            .write(move |conn| events::append(conn, &rows, now_s))
            .await?)
    }

    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        let run = run_id.to_string();
        // Expired events count as absent, like DynamoDB items past their TTL.
        let now_s = Utc::now().timestamp();
        let docs = self
            .db
            .read(move |conn| events::list(conn, &run, after, limit, now_s))
            .await?;
        decode_all("run event", docs)
    }

    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        self.get_doc(&SLOT_POOLS, scope.to_owned())
            .await?
            .map(|doc| decode(format_args!("slot pool {scope}"), &doc))
            .transpose()
    }

    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let record = Versioned {
            key: pool.scope.clone(),
            version: pool.version,
            doc: encode(format_args!("slot pool {}", pool.scope), pool)?,
            extra: Vec::new(),
            expected: expected_version,
        };
        self.put(&SLOT_POOLS, record).await
    }

    async fn get_account_pool(&self, provider: &str) -> Result<Option<AccountPool>, StoreError> {
        self.read_account_pool(provider).await
    }

    async fn put_account_pool(
        &self,
        pool: &AccountPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.write_account_pool(pool, expected_version).await
    }

    async fn record_metrics(&self, update: &MetricsUpdate) -> Result<(), StoreError> {
        update.check().map_err(StoreError::Corrupt)?;
        let rows = metrics::rows(update);
        let now_s = Utc::now().timestamp();
        Ok(self
            .db
            .write(move |conn| metrics::apply(conn, &rows, now_s))
            .await?)
    }

    async fn read_metrics(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MetricsRecord>, StoreError> {
        let scope = scope.to_owned();
        let now_s = Utc::now().timestamp();
        let (from, to) = (from.timestamp(), to.timestamp());
        Ok(self
            .db
            .read(move |conn| metrics::read(conn, &scope, from, to, now_s))
            .await?)
    }

    async fn charge_budget(&self, charge: &BudgetCharge) -> Result<BudgetTotals, StoreError> {
        let charge = charge.clone();
        let now_s = Utc::now().timestamp();
        Ok(self
            .db
            .write(move |conn| budgets::charge(conn, &charge, now_s))
            .await?)
    }

    async fn read_budget(&self, scope: &BudgetScope) -> Result<BudgetTotals, StoreError> {
        let scope = scope.clone();
        let now_s = Utc::now().timestamp();
        Ok(self
            .db
            .read(move |conn| budgets::read(conn, &scope, now_s))
            .await?)
    }
}
