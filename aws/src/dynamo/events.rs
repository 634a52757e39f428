//! Run timelines: one record per event, `RUN#<run id>` / `EVENT#<seq, 10 digits>`, next to
//! the run's own record, each with a TTL.

use super::runs::run_pk;
use super::{n, s, seconds, string_attr, unavailable, DynamoStore, Item, DOC, PK, SK, TTL};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use baton_core::domain::{RunEvent, RunId};
use baton_core::ports::StoreError;
use chrono::Utc;
use std::collections::HashMap;
use std::time::Duration;

/// BatchWriteItem's limit of requests per call.
const BATCH_SIZE: usize = 25;
/// Calls made for one batch while DynamoDB leaves some of it unprocessed (throttling), with
/// a backoff that doubles from [`BATCH_BACKOFF`]: about 0.75 s in all.
const BATCH_ATTEMPTS: u32 = 5;
const BATCH_BACKOFF: Duration = Duration::from_millis(50);

/// The smallest page `list_events` reads: expired events (which DynamoDB may keep for a
/// while after their TTL) are read and dropped, and a run's oldest events expire first, so
/// pages sized to a small `limit` would crawl through them a few at a time.
const MIN_EVENT_PAGE: usize = 100;

/// Sort keys sort as strings: the sequence number is zero-padded to the width of `u32::MAX`.
fn event_sk(seq: u32) -> String {
    format!("EVENT#{seq:010}")
}

fn decode(item: &Item) -> Result<RunEvent, StoreError> {
    serde_json::from_str(string_attr(item, DOC)?).map_err(|e| {
        let pk = string_attr(item, PK).unwrap_or("?");
        let sk = string_attr(item, SK).unwrap_or("?");
        StoreError::Corrupt(format!("event record {pk} {sk}: {e}"))
    })
}

/// The events without those replaced by a later one with the same `(run, seq)` in the same
/// call, in their order: what a sequence of puts would leave. (DynamoDB refuses a
/// BatchWriteItem with two requests for one key; moto accepts it.)
fn last_of_each(events: &[RunEvent]) -> Vec<&RunEvent> {
    let last: HashMap<(&RunId, u32), usize> = events
        .iter()
        .enumerate()
        .map(|(index, event)| ((&event.run_id, event.seq), index))
        .collect();
    events
        .iter()
        .enumerate()
        .filter(|(index, event)| last.get(&(&event.run_id, event.seq)) == Some(index))
        .map(|(_, event)| event)
        .collect()
}

fn put_request(event: &RunEvent, retain: Duration) -> Result<WriteRequest, StoreError> {
    let doc = serde_json::to_string(event).map_err(|e| {
        StoreError::Corrupt(format!(
            "cannot encode event {} of run {}: {e}",
            event.seq, event.run_id
        ))
    })?;
    let item = Item::from([
        (PK.to_owned(), s(run_pk(&event.run_id))),
        (SK.to_owned(), s(event_sk(event.seq))),
        (DOC.to_owned(), s(doc)),
        (
            TTL.to_owned(),
            n(event.at.timestamp().saturating_add(seconds(retain))),
        ),
    ]);
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| StoreError::Unavailable(format!("DynamoDB BatchWriteItem: {e}")))?;
    Ok(WriteRequest::builder().put_request(put).build())
}

impl DynamoStore {
    /// Unconditional puts (a stored `(run, seq)` is replaced), 25 per BatchWriteItem. On an
    /// error some batches may have been written: appending the same events again is safe.
    pub(super) async fn write_events(
        &self,
        events: &[RunEvent],
        retain: Duration,
    ) -> Result<(), StoreError> {
        let requests = last_of_each(events)
            .into_iter()
            .map(|event| put_request(event, retain))
            .collect::<Result<Vec<_>, _>>()?;
        for batch in requests.chunks(BATCH_SIZE) {
            self.batch_write(batch.to_vec()).await?;
        }
        Ok(())
    }

    /// One BatchWriteItem, with what it leaves unprocessed sent again after a short backoff.
    async fn batch_write(&self, mut pending: Vec<WriteRequest>) -> Result<(), StoreError> {
        let mut backoff = BATCH_BACKOFF;
        for attempt in 1..=BATCH_ATTEMPTS {
            let output = self
                .client
                .batch_write_item()
                .request_items(&*self.table, pending)
                .send()
                .await
                .map_err(|e| unavailable("BatchWriteItem", e))?;
            pending = output
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(&*self.table))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
            if attempt < BATCH_ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(StoreError::Unavailable(format!(
            "DynamoDB BatchWriteItem: {} events still unprocessed after {BATCH_ATTEMPTS} attempts",
            pending.len()
        )))
    }

    /// A consistent query of the run's partition between `EVENT#<after + 1>` and the
    /// largest sequence number (which leaves out the run's own record), skipping events past
    /// their TTL that DynamoDB has not deleted yet, page after page until `limit` are found.
    pub(super) async fn read_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let pk = run_pk(run_id);
        let now = Utc::now().timestamp();
        let items = self
            .query_pages(
                limit,
                |remaining| Some(remaining.max(MIN_EVENT_PAGE)),
                || {
                    self.client
                        .query()
                        .table_name(&*self.table)
                        .consistent_read(true)
                        .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                        .filter_expression("#expires_at > :now")
                        .expression_attribute_names("#pk", PK)
                        .expression_attribute_names("#sk", SK)
                        .expression_attribute_names("#expires_at", TTL)
                        .expression_attribute_values(":pk", s(&pk))
                        .expression_attribute_values(":from", s(event_sk(first)))
                        .expression_attribute_values(":to", s(event_sk(u32::MAX)))
                        .expression_attribute_values(":now", n(now))
                },
            )
            .await?;
        items.iter().map(decode).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{event_sk, last_of_each};
    use baton_core::domain::{RunEvent, RunId};

    fn event(run_id: &RunId, seq: u32, kind: &str) -> RunEvent {
        RunEvent {
            run_id: run_id.clone(),
            seq,
            at: chrono::Utc::now(),
            kind: kind.to_owned(),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn one_call_keeps_the_last_event_of_each_run_and_seq() {
        let (a, b) = (RunId::generate(), RunId::generate());
        let events = [
            event(&a, 1, "a1 first"),
            event(&b, 1, "b1"),
            event(&a, 2, "a2"),
            event(&a, 1, "a1 second"),
            event(&a, 1, "a1 third"),
        ];
        let kept: Vec<&str> = last_of_each(&events)
            .iter()
            .map(|event| event.kind.as_str())
            .collect();
        assert_eq!(kept, ["b1", "a2", "a1 third"]);
    }

    #[test]
    fn event_keys_sort_like_their_sequence_numbers() {
        let seqs = [0, 1, 9, 10, 99, 100, 4_294_967_294, u32::MAX];
        for pair in seqs.windows(2) {
            assert!(event_sk(pair[0]) < event_sk(pair[1]), "{pair:?}");
        }
        assert_eq!(event_sk(42), "EVENT#0000000042");
        assert_eq!(event_sk(u32::MAX), "EVENT#4294967295");
    }
}
