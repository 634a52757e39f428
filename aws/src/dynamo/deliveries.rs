//! Deliveries: one record per delivery id, `DELIVERY#<source>:<id>` / `DELIVERY`, claimed
//! with a lease, completed with what the delivery did, kept for deduplication.

use super::{
    conditional, millis, n, number_attr, s, seconds, string_attr, unavailable, DynamoStore, Item,
    PK, SK, TTL,
};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use baton_core::domain::{DeliveryKey, DeliveryOutcome, DeliveryRecord, NormalizedEvent};
use baton_core::ports::{DeliveryClaim, StoreError};
use chrono::{DateTime, SecondsFormat, Utc};
use std::time::Duration;

const DELIVERY_SK: &str = "DELIVERY";
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

/// How often `begin_delivery` tries again when a claim it lost to was gone by the time it
/// looked (released or expired in between).
const CLAIM_ATTEMPTS: usize = 3;

fn delivery_pk(key: &DeliveryKey) -> String {
    format!("DELIVERY#{}#{}", key.source, key.id)
}

/// What a stored delivery record means to `owner` at `now`: `None` when it may be claimed
/// (expired, or an in-progress claim whose lease ran out).
pub(super) fn classify_delivery(
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
pub(super) fn completed_delivery(item: &Item) -> Result<DeliveryRecord, StoreError> {
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
    /// A consistent read of a delivery record, for when a failed claim did not say what it
    /// lost to.
    pub(super) async fn read_delivery(&self, pk: &str) -> Result<Option<Item>, StoreError> {
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

    pub(super) async fn claim_delivery(
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

    pub(super) async fn finish_delivery(
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

    pub(super) async fn read_completed_delivery(
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

    pub(super) async fn release_delivery_claim(
        &self,
        key: &DeliveryKey,
        owner: &str,
    ) -> Result<(), StoreError> {
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
}
