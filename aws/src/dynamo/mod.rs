use crate::describe;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
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
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod accounts;
mod budgets;
mod deliveries;
mod events;
mod metrics;
mod provision;
mod runs;
mod slots;

const PK: &str = "pk";
const SK: &str = "sk";
const GSI1: &str = "gsi1";
const GSI1_PK: &str = "gsi1pk";
const GSI1_SK: &str = "gsi1sk";
const TTL: &str = "expires_at";
const DOC: &str = "doc";
const VERSION: &str = "version";

const ITEM_SK: &str = "ITEM";

/// The `Store` port on one DynamoDB table (see the crate docs for the layout). Every write is
/// a conditional put or delete, except run events, which are idempotent batch puts. Reads
/// are strongly consistent, except those served by the `gsi1` index (`list_work_items`,
/// `list_runs`): DynamoDB offers only eventually consistent reads on a global secondary
/// index, so they may miss a write of the last moment (typically well under a second).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
}

type Item = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A record's `version` attribute.
fn version(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// What a versioned write expected, for its conflict message.
fn expected_text(expected: Option<u64>) -> String {
    match expected {
        Some(version) => format!("version {version}"),
        None => "nothing stored".to_owned(),
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn item_pk(key: &WorkItemKey) -> String {
    format!("ITEM#{key}")
}

fn status_gsi1pk(status: WorkItemStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

fn unavailable<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(describe("DynamoDB", operation, &err))
}

/// The service errors of conditional writes, for [`conditional`].
trait ConditionCheck {
    fn condition_failed(&self) -> bool;
}

impl ConditionCheck for PutItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

impl ConditionCheck for DeleteItemError {
    fn condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

/// The result of a conditional write: a failed condition is `Conflict(conflict())`, any
/// other error `Unavailable`.
fn conditional<T, E, R>(
    operation: &str,
    result: Result<T, SdkError<E, R>>,
    conflict: impl FnOnce() -> String,
) -> Result<(), StoreError>
where
    E: ConditionCheck + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.as_service_error().is_some_and(E::condition_failed) => {
            Err(StoreError::Conflict(conflict()))
        }
        Err(err) => Err(unavailable(operation, err)),
    }
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        other => Err(StoreError::Corrupt(format!(
            "attribute `{name}` should be a string, found {other:?}"
        ))),
    }
}

fn number_attr(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| {
            StoreError::Corrupt(format!("attribute `{name}` is not an integer: {value}"))
        }),
        other => Err(StoreError::Corrupt(format!(
            "attribute `{name}` should be a number, found {other:?}"
        ))),
    }
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The same table through a client for start-up calls (see `crate::startup`).
    pub(crate) fn patient(&self) -> Self {
        Self {
            client: crate::startup::patient_dynamo(&self.client),
            table: Arc::clone(&self.table),
        }
    }

    /// The `doc` attribute of a record, read consistently.
    async fn get_doc(&self, pk: String, sk: &str) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .projection_expression("#doc")
            .expression_attribute_names("#doc", DOC)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        output
            .item
            .map(|item| string_attr(&item, DOC).map(str::to_owned))
            .transpose()
    }

    /// Puts `item` (which carries its new `version`) if the stored record's `version` is
    /// still `expected` (`None`: there must be no record). `what` names the record in the
    /// conflict message.
    async fn put_versioned(
        &self,
        item: Item,
        expected: Option<u64>,
        what: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item));
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(expected) => put
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":expected", version(expected)),
        };
        conditional("PutItem", put.send().await, || {
            format!("{} is no longer at {}", what(), expected_text(expected))
        })
    }

    /// Runs a query page by page (following `LastEvaluatedKey`) until `want` items came back
    /// or there are no more. `query` builds the request; each page asks for `page_size` of
    /// the remaining count (DynamoDB's `Limit` counts items read, before any filter).
    async fn query_pages(
        &self,
        want: usize,
        page_size: impl Fn(usize) -> Option<usize>,
        query: impl Fn() -> QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < want {
            let mut request = query().set_exclusive_start_key(start.take());
            if let Some(size) = page_size(want - found.len()) {
                request = request.limit(i32::try_from(size.max(1)).unwrap_or(i32::MAX));
            }
            let output = request.send().await.map_err(|e| unavailable("Query", e))?;
            found.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        found.truncate(want);
        Ok(found)
    }

    /// Every item of `gsi1` under `gsi1pk` (at most `want`), by `gsi1sk` ascending or
    /// descending. Eventually consistent: a GSI offers nothing else.
    async fn query_gsi1(
        &self,
        gsi1pk: &str,
        ascending: bool,
        want: usize,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_pages(
            want,
            |remaining| (want != usize::MAX).then_some(remaining),
            || {
                self.client
                    .query()
                    .table_name(&*self.table)
                    .index_name(GSI1)
                    .key_condition_expression("#gsi1pk = :gsi1pk")
                    .expression_attribute_names("#gsi1pk", GSI1_PK)
                    .expression_attribute_values(":gsi1pk", s(gsi1pk))
                    .scan_index_forward(ascending)
            },
        )
        .await
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        self.claim_delivery(key, owner, now, lease, retain).await
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
        self.finish_delivery(key, owner, outcome, event, now, retain)
            .await
    }

    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        self.read_completed_delivery(key, now).await
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        self.release_delivery_claim(key, owner).await
    }

    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError> {
        let Some(doc) = self.get_doc(item_pk(key), ITEM_SK).await? else {
            return Ok(None);
        };
        serde_json::from_str(&doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("work item {key}: {e}")))
    }

    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let doc = serde_json::to_string(item).map_err(|e| {
            StoreError::Corrupt(format!("cannot encode work item {}: {e}", item.key))
        })?;
        let record = Item::from([
            (PK.to_owned(), s(item_pk(&item.key))),
            (SK.to_owned(), s(ITEM_SK)),
            (DOC.to_owned(), s(doc)),
            (VERSION.to_owned(), version(item.version)),
            ("status".to_owned(), s(item.status.as_str())),
            (GSI1_PK.to_owned(), s(status_gsi1pk(item.status))),
            (
                GSI1_SK.to_owned(),
                s(item.updated_at.to_rfc3339_opts(SecondsFormat::Micros, true)),
            ),
        ]);
        self.put_versioned(record, expected_version, || {
            format!("work item {}", item.key)
        })
        .await
    }

    async fn delete_work_item(
        &self,
        key: &WorkItemKey,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(item_pk(key)))
            .key(SK, s(ITEM_SK))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(expected_version.to_string()),
            )
            .send()
            .await;
        conditional("DeleteItem", deleted, || {
            format!("work item {key} is no longer at version {expected_version}")
        })
    }

    /// Queries `gsi1` under `STATUS#<status>`, newest `gsi1sk` (`updated_at`) first. The
    /// index projects every attribute, so the documents come from it directly.
    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let items = self
            .query_gsi1(&status_gsi1pk(status), false, limit)
            .await?;
        items
            .iter()
            .map(|item| {
                let doc = string_attr(item, DOC)?;
                serde_json::from_str(doc).map_err(|e| {
                    let pk = string_attr(item, PK).unwrap_or("?");
                    StoreError::Corrupt(format!("work item record {pk}: {e}"))
                })
            })
            .collect()
    }

    async fn put_run(&self, run: &Run, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.put_run_record(run, expected_version).await
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        self.read_run(run_id).await
    }

    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        self.query_runs(key).await
    }

    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError> {
        self.write_events(events, retain).await
    }

    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        self.read_events(run_id, after, limit).await
    }

    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        self.read_slot_pool(scope).await
    }

    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.put_slot_pool_record(pool, expected_version).await
    }

    async fn get_account_pool(&self, provider: &str) -> Result<Option<AccountPool>, StoreError> {
        self.read_account_pool(provider).await
    }

    async fn put_account_pool(
        &self,
        pool: &AccountPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.put_account_pool_record(pool, expected_version).await
    }

    async fn record_metrics(&self, update: &MetricsUpdate) -> Result<(), StoreError> {
        self.update_metrics(update).await
    }

    async fn read_metrics(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MetricsRecord>, StoreError> {
        self.query_metrics(scope, from, to).await
    }

    async fn charge_budget(&self, charge: &BudgetCharge) -> Result<BudgetTotals, StoreError> {
        self.charge_budget_counters(charge).await
    }

    async fn read_budget(&self, scope: &BudgetScope) -> Result<BudgetTotals, StoreError> {
        self.read_budget_counters(scope).await
    }
}
