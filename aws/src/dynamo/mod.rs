use crate::startup::Failure;
use crate::{describe, SetupError};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, PointInTimeRecoverySpecification, Projection, ProjectionType,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
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
mod events;
mod metrics;
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

const DELIVERY_SK: &str = "DELIVERY";
const ITEM_SK: &str = "ITEM";
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// How often `begin_delivery` tries again when a claim it lost to was gone by the time it
/// looked (released or expired in between).
const CLAIM_ATTEMPTS: usize = 3;

/// How long `create_table` waits for the table to become active.
const TABLE_ACTIVE_WAIT: Duration = Duration::from_secs(120);

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

fn delivery_pk(key: &DeliveryKey) -> String {
    format!("DELIVERY#{}#{}", key.source, key.id)
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

/// What a stored delivery record means to `owner` at `now`: `None` when it may be claimed
/// (expired, or an in-progress claim whose lease ran out).
fn classify_delivery(
    item: &Item,
    owner: &str,
    now: DateTime<Utc>,
) -> Result<Option<DeliveryClaim>, StoreError> {
    if number_attr(item, TTL)? < now.timestamp() {
        return Ok(None);
    }
    match string_attr(item, "status")? {
        COMPLETED => {
            // A record written by an older version may not decode: it is still a duplicate.
            let outcome = serde_json::from_str(string_attr(item, "outcome")?).unwrap_or_else(|e| {
                DeliveryOutcome::Ignored {
                    reason: format!("processed before; its recorded outcome is unreadable ({e})"),
                }
            });
            Ok(Some(DeliveryClaim::Completed(outcome)))
        }
        // Our own claim: the SDK retried a put whose first attempt was applied but whose
        // answer was lost.
        IN_PROGRESS if string_attr(item, "owner")? == owner => Ok(Some(DeliveryClaim::Claimed)),
        IN_PROGRESS if number_attr(item, "lease_until")? >= now.timestamp_millis() => {
            Ok(Some(DeliveryClaim::InProgress))
        }
        IN_PROGRESS => Ok(None),
        other => Err(StoreError::Corrupt(format!(
            "delivery status `{other}` is unknown"
        ))),
    }
}

/// Decodes a completed delivery record. Records written before events were kept have no
/// `event` (and no `completed_at`: the record's expiry stands in, since it was set from it).
fn completed_delivery(item: &Item) -> Result<DeliveryRecord, StoreError> {
    let outcome = serde_json::from_str(string_attr(item, "outcome")?)
        .map_err(|e| StoreError::Corrupt(format!("delivery outcome: {e}")))?;
    let event = match item.get("event") {
        None => None,
        Some(_) => Some(
            serde_json::from_str(string_attr(item, "event")?)
                .map_err(|e| StoreError::Corrupt(format!("delivery event: {e}")))?,
        ),
    };
    let completed_at = match item.get("completed_at") {
        Some(_) => DateTime::parse_from_rfc3339(string_attr(item, "completed_at")?)
            .map_err(|e| StoreError::Corrupt(format!("delivery completed_at: {e}")))?
            .with_timezone(&Utc),
        None => DateTime::from_timestamp(number_attr(item, TTL)?, 0).unwrap_or_default(),
    };
    Ok(DeliveryRecord {
        outcome,
        event,
        completed_at,
    })
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

    /// A consistent read of a delivery record, for when a failed claim did not say what it
    /// lost to.
    async fn read_delivery(&self, pk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key(PK, s(pk))
            .key(SK, s(DELIVERY_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        Ok(output.item)
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

    /// Creates the table if it does not exist (on demand, with the `gsi1` index), waits until
    /// it is active, and turns on TTL on `expires_at`.
    pub async fn create_table(&self) -> Result<(), SetupError> {
        let table = &*self.table;
        let resource = format!("table {table}");
        let fail = |message: String| SetupError::new(&resource, message);
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| fail(e.to_string()))
        };
        let mut request = self
            .client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(GSI1)
                    .key_schema(key(GSI1_PK, KeyType::Hash)?)
                    .key_schema(key(GSI1_SK, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        for name in [PK, SK, GSI1_PK, GSI1_SK] {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        match request.send().await {
            Ok(_) => tracing::info!(table, "created the DynamoDB table"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(e) => {
                return Err(SetupError::from_failure(
                    &resource,
                    Failure::from_sdk("DynamoDB", "CreateTable", &e),
                ))
            }
        }

        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_WAIT;
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| {
                    SetupError::from_failure(
                        &resource,
                        Failure::from_sdk("DynamoDB", "DescribeTable", &e),
                    )
                })?;
            let status = described.table.and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(fail(format!(
                    "not active after {TABLE_ACTIVE_WAIT:?} (status {status:?})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        self.enable_ttl()
            .await
            .map_err(|failure| SetupError::from_failure(&resource, failure))?;

        // Point-in-time recovery belongs to the infrastructure templates; emulators may not
        // implement it, which is fine.
        let pitr = self
            .client
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            )
            .send()
            .await;
        if let Err(e) = pitr {
            tracing::warn!(table, error = %DisplayErrorContext(&e), "point-in-time recovery not enabled");
        }
        Ok(())
    }

    async fn ttl_attribute(&self) -> Result<Option<(String, TimeToLiveStatus)>, Failure> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&*self.table)
            .send()
            .await
            .map_err(|e| Failure::from_sdk("DynamoDB", "DescribeTimeToLive", &e))?;
        Ok(described.time_to_live_description.and_then(|ttl| {
            let status = ttl.time_to_live_status?;
            if status == TimeToLiveStatus::Disabled || status == TimeToLiveStatus::Disabling {
                return None;
            }
            Some((ttl.attribute_name?, status))
        }))
    }

    async fn enable_ttl(&self) -> Result<(), Failure> {
        let check = |current: Option<(String, TimeToLiveStatus)>| match current {
            Some((name, _)) if name == TTL => Ok(true),
            Some((name, _)) => Err(Failure::permanent(format!(
                "TTL is on attribute `{name}`, baton needs it on `{TTL}`"
            ))),
            None => Ok(false),
        };
        if check(self.ttl_attribute().await?)? {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL)
            .build()
            .map_err(|e| Failure::permanent(e.to_string()))?;
        let updated = self
            .client
            .update_time_to_live()
            .table_name(&*self.table)
            .time_to_live_specification(specification)
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            // Someone else enabled it at the same time.
            Err(e) if check(self.ttl_attribute().await?)? => {
                tracing::debug!(error = %DisplayErrorContext(&e), "TTL was enabled concurrently");
                Ok(())
            }
            Err(e) => Err(Failure::from_sdk("DynamoDB", "UpdateTimeToLive", &e)),
        }
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
        let pk = delivery_pk(key);
        let now_ms = now.timestamp_millis();
        let now_s = now.timestamp();
        for _ in 0..CLAIM_ATTEMPTS {
            let put = self
                .client
                .put_item()
                .table_name(&*self.table)
                .item(PK, s(&pk))
                .item(SK, s(DELIVERY_SK))
                .item("status", s(IN_PROGRESS))
                .item("owner", s(owner))
                .item("lease_until", n(now_ms.saturating_add(millis(lease))))
                .item(TTL, n(now_s.saturating_add(seconds(lease.max(retain)))))
                // New, or an in-progress claim whose lease ran out, or a record past its TTL
                // that DynamoDB has not deleted yet (it may take up to two days).
                .condition_expression(
                    "attribute_not_exists(pk) \
                     OR (#status = :in_progress AND #lease_until < :now_ms) \
                     OR #expires_at < :now_s",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#lease_until", "lease_until")
                .expression_attribute_names("#expires_at", TTL)
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":now_ms", n(now_ms))
                .expression_attribute_values(":now_s", n(now_s))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match put {
                Ok(_) => return Ok(DeliveryClaim::Claimed),
                Err(err) => err,
            };
            let existing = match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item() {
                        Some(item) => classify_delivery(item, owner, now)?,
                        None => match self.read_delivery(&pk).await? {
                            Some(item) => classify_delivery(&item, owner, now)?,
                            None => None,
                        },
                    }
                }
                _ => return Err(unavailable("PutItem", err)),
            };
            if let Some(claim) = existing {
                return Ok(claim);
            }
            // What we lost to is gone already: try again.
        }
        // Still contended after several rounds: let the sender retry later.
        Ok(DeliveryClaim::InProgress)
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
        let outcome = serde_json::to_string(outcome)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode the outcome: {e}")))?;
        let event = serde_json::to_string(event)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode the event: {e}")))?;
        let now_s = now.timestamp();
        let put = self
            .client
            .put_item()
            .table_name(&*self.table)
            .item(PK, s(delivery_pk(key)))
            .item(SK, s(DELIVERY_SK))
            .item("status", s(COMPLETED))
            .item("owner", s(owner))
            .item("outcome", s(outcome))
            .item("event", s(event))
            .item(
                "completed_at",
                s(now.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            )
            .item(TTL, n(now_s.saturating_add(seconds(retain))))
            .condition_expression(
                "#status = :in_progress AND #owner = :owner AND #expires_at >= :now_s",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#expires_at", TTL)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":now_s", n(now_s))
            .send()
            .await;
        conditional("PutItem", put, || {
            format!("delivery {key} is not held by {owner}")
        })
    }

    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let Some(item) = self.read_delivery(&delivery_pk(key)).await? else {
            return Ok(None);
        };
        // DynamoDB deletes expired items lazily: one past its TTL is gone already.
        if number_attr(&item, TTL)? < now.timestamp() || string_attr(&item, "status")? != COMPLETED
        {
            return Ok(None);
        }
        completed_delivery(&item).map(Some)
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(delivery_pk(key)))
            .key(SK, s(DELIVERY_SK))
            .condition_expression("#status = :in_progress AND #owner = :owner")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match conditional("DeleteItem", deleted, String::new) {
            // Not ours (any more): nothing to give up.
            Err(StoreError::Conflict(_)) => Ok(()),
            other => other,
        }
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
