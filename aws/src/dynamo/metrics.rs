//! The metrics series: one record per scope and hour, `METRICS#<scope>` / `HOUR#<hour>`,
//! with one number attribute per counter (`m_<name>`) and a TTL of the retention. Updates
//! are single `UpdateItem` calls with `ADD` (counters) and `SET` (the last gauge sample), so
//! concurrent writers on any number of machines never lose a count; a `max` gauge is a
//! second, conditional `SET` that only a larger value passes.

use super::{n, unavailable, DynamoStore, Item, PK, SK, TTL};
use aws_sdk_dynamodb::types::AttributeValue;
use baton_core::ports::StoreError;
use baton_core::trends::{expires_at, hour_of, Change, MetricsRecord, MetricsUpdate};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;

/// The hour of the bucket, epoch seconds (the sort key holds it too, as text).
const HOUR: &str = "hour";
/// Counter attributes are this prefix and the counter's name.
const COUNTER_PREFIX: &str = "m_";

fn metrics_pk(scope: &str) -> String {
    format!("METRICS#{scope}")
}

/// Sorts as a string in time order (four-digit years).
fn hour_sk(hour: DateTime<Utc>) -> String {
    format!("HOUR#{}", hour.format("%Y-%m-%dT%H"))
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The stored bucket, or `None` for an expired one DynamoDB has not deleted yet.
fn decode(item: &Item, now: DateTime<Utc>) -> Result<Option<MetricsRecord>, StoreError> {
    let number_of = |name: &str| match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse::<i64>().map_err(|_| {
            StoreError::Corrupt(format!("metrics attribute `{name}` is not an integer"))
        }),
        other => Err(StoreError::Corrupt(format!(
            "metrics attribute `{name}` should be a number, found {other:?}"
        ))),
    };
    if number_of(TTL)? <= now.timestamp() {
        return Ok(None);
    }
    let hour = DateTime::from_timestamp(number_of(HOUR)?, 0)
        .ok_or_else(|| StoreError::Corrupt("metrics hour out of range".into()))?;
    let mut values = BTreeMap::new();
    for name in item.keys() {
        if let Some(counter) = name.strip_prefix(COUNTER_PREFIX) {
            let value = u64::try_from(number_of(name)?).unwrap_or(0);
            values.insert(counter.to_owned(), value);
        }
    }
    Ok(Some(MetricsRecord { hour, values }))
}

impl DynamoStore {
    /// One `UpdateItem` per scope for the counters and last samples, and one conditional
    /// `UpdateItem` per `max` gauge.
    pub(super) async fn update_metrics(&self, update: &MetricsUpdate) -> Result<(), StoreError> {
        update.check().map_err(StoreError::Corrupt)?;
        let hour = update.hour();
        for scope in update.scopes() {
            let mut adds = Vec::new();
            let mut sets = vec!["#ttl = :ttl".to_owned(), "#hour = :hour".to_owned()];
            let mut request = self
                .client
                .update_item()
                .table_name(&*self.table)
                .key(PK, AttributeValue::S(metrics_pk(&scope)))
                .key(SK, AttributeValue::S(hour_sk(hour)))
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_names("#hour", HOUR)
                .expression_attribute_values(":ttl", n(expires_at(hour)))
                .expression_attribute_values(":hour", n(hour.timestamp()));
            let mut maxima = Vec::new();
            for (index, (change, name, value)) in update.changes().enumerate() {
                let (attribute, placeholder) = (format!("#c{index}"), format!(":c{index}"));
                match change {
                    Change::Add => adds.push(format!("{attribute} {placeholder}")),
                    Change::Set => sets.push(format!("{attribute} = {placeholder}")),
                    Change::Max => {
                        maxima.push((name, value));
                        continue;
                    }
                }
                request = request
                    .expression_attribute_names(attribute, format!("{COUNTER_PREFIX}{name}"))
                    .expression_attribute_values(placeholder, number(value));
            }
            let mut expression = format!("SET {}", sets.join(", "));
            if !adds.is_empty() {
                expression.push_str(&format!(" ADD {}", adds.join(", ")));
            }
            request
                .update_expression(expression)
                .send()
                .await
                .map_err(|e| unavailable("UpdateItem", e))?;
            for (name, value) in maxima {
                self.raise_metric(&scope, hour, name, value).await?;
            }
        }
        Ok(())
    }

    /// Sets a `max` gauge to `value` unless it holds as much already.
    async fn raise_metric(
        &self,
        scope: &str,
        hour: DateTime<Utc>,
        name: &str,
        value: u64,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, AttributeValue::S(metrics_pk(scope)))
            .key(SK, AttributeValue::S(hour_sk(hour)))
            .update_expression("SET #m = :m")
            .condition_expression("attribute_not_exists(#m) OR #m < :m")
            .expression_attribute_names("#m", format!("{COUNTER_PREFIX}{name}"))
            .expression_attribute_values(":m", number(value))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // It holds as much already.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable("UpdateItem", err)),
        }
    }

    /// The scope's buckets with `from <= hour < to`, read consistently from its partition.
    pub(super) async fn query_metrics(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<MetricsRecord>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let (first, last) = (hour_of(from), hour_of(to - TimeDelta::milliseconds(1)));
        let pk = metrics_pk(scope);
        let items = self
            .query_pages(
                usize::MAX,
                |_| None,
                || {
                    self.client
                        .query()
                        .table_name(&*self.table)
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
                        .expression_attribute_names("#pk", PK)
                        .expression_attribute_names("#sk", SK)
                        .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                        .expression_attribute_values(":first", AttributeValue::S(hour_sk(first)))
                        .expression_attribute_values(":last", AttributeValue::S(hour_sk(last)))
                },
            )
            .await?;
        let now = Utc::now();
        let mut records = Vec::new();
        for item in &items {
            if let Some(record) = decode(item, now)? {
                if record.hour >= from && record.hour < to {
                    records.push(record);
                }
            }
        }
        Ok(records)
    }
}
