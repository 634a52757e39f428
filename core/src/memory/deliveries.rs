//! The in-memory store's delivery records: one shard's map, its expiry heap, and the limits
//! that keep it bounded under any stream of unique delivery ids.

use crate::domain::{
    DeliveryKey, DeliveryOutcome, DeliveryRecord as CompletedDelivery, NormalizedEvent,
};
use chrono::{DateTime, Utc};
use std::cmp::{Ordering, Reverse};
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Delivery records are split over this many independently locked shards (see
/// `MemoryStore` for why).
pub(super) const DELIVERY_SHARDS: usize = 64;

/// How many due expiry entries one `begin_delivery` examines at most. Each call adds at most
/// one entry, so pruning keeps up with any stream of new ids while no call does a full scan.
const PRUNE_BATCH: usize = 8;

/// At most this many delivery records are kept, the soonest to expire dropped first. Ids
/// are remembered for 7 days, and a busy process can receive millions in that time: without
/// a cap the process would grow by a few hundred bytes per webhook. 100,000 records take
/// about 30 MiB; a redelivery of a delivery older than the newest 100,000 is accepted again.
/// (The durable backend keeps every id for the whole retention.)
pub(super) const DELIVERY_CAPACITY: usize = 100_000;

/// Completed records keep their event (for `replay`) within this many bytes (estimated),
/// the oldest giving theirs up first: a 4 KB issue body per webhook adds up quickly.
pub(super) const EVENT_BUDGET_BYTES: usize = 32 << 20;

#[derive(Default)]
pub(super) struct Deliveries {
    /// The key is shared with its entry in `expiries`.
    pub(super) records: HashMap<Arc<DeliveryKey>, DeliveryRecord>,
    /// One entry per inserted record, soonest first. An entry is never later than its
    /// record's expiry unless the record was shortened or removed; both are checked on pop.
    pub(super) expiries: BinaryHeap<Reverse<Expiry>>,
    /// Completed records that keep their event, oldest first, with the event's estimated size.
    /// May name records removed since; they are skipped.
    pub(super) with_events: VecDeque<(Arc<DeliveryKey>, usize)>,
    /// The sum of the sizes in `with_events`.
    pub(super) event_bytes: usize,
}

pub(super) struct DeliveryRecord {
    pub(super) state: DeliveryState,
    /// Epoch seconds after which the record is forgotten (the DynamoDB TTL attribute).
    pub(super) expires_at: i64,
}

pub(super) enum DeliveryState {
    InProgress {
        owner: String,
        /// Epoch milliseconds; the claim may be taken over once this is in the past.
        lease_until: i64,
    },
    Completed(Box<Completed>),
}

/// A completed record as kept here: the event boxed on its own, so a record whose event was
/// given up (see [`EVENT_BUDGET_BYTES`]) takes a pointer's room for it, not the event's.
pub(super) struct Completed {
    pub(super) outcome: DeliveryOutcome,
    pub(super) event: Option<Box<NormalizedEvent>>,
    pub(super) completed_at: DateTime<Utc>,
}

impl Completed {
    pub(super) fn record(&self) -> CompletedDelivery {
        CompletedDelivery {
            outcome: self.outcome.clone(),
            event: self.event.as_deref().cloned(),
            completed_at: self.completed_at,
        }
    }
}

pub(super) struct Expiry {
    pub(super) at: i64,
    pub(super) key: Arc<DeliveryKey>,
}

impl PartialEq for Expiry {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Expiry {}

impl PartialOrd for Expiry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Expiry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

impl DeliveryRecord {
    pub(super) fn is_expired(&self, now_s: i64) -> bool {
        self.expires_at < now_s
    }

    pub(super) fn held_by(&self, owner: &str) -> bool {
        matches!(&self.state, DeliveryState::InProgress { owner: held, .. } if held == owner)
    }
}

impl Deliveries {
    /// Makes room for one more record under the shard's share of [`DELIVERY_CAPACITY`],
    /// dropping the records that expire soonest.
    pub(super) fn make_room(&mut self) {
        let capacity = DELIVERY_CAPACITY / DELIVERY_SHARDS;
        while self.records.len() >= capacity {
            let Some(Reverse(entry)) = self.expiries.pop() else {
                return;
            };
            if let Some((key, _)) = self.records.get_key_value(&*entry.key) {
                if Arc::ptr_eq(key, &entry.key) {
                    self.records.remove(&*entry.key);
                }
            }
        }
    }

    /// Records that `key`'s completed record keeps an event of `size` bytes, and takes the
    /// events of the oldest such records while over the shard's share of
    /// [`EVENT_BUDGET_BYTES`].
    pub(super) fn keep_event(&mut self, key: Arc<DeliveryKey>, size: usize) {
        self.with_events.push_back((key, size));
        self.event_bytes += size;
        let budget = EVENT_BUDGET_BYTES / DELIVERY_SHARDS;
        while self.event_bytes > budget {
            let Some((key, size)) = self.with_events.pop_front() else {
                return;
            };
            self.event_bytes -= size;
            if let Some(DeliveryRecord {
                state: DeliveryState::Completed(completed),
                ..
            }) = self.records.get_mut(&*key)
            {
                completed.event = None;
            }
        }
    }

    /// Drops up to [`PRUNE_BATCH`] records whose expiry has passed.
    pub(super) fn prune(&mut self, now_s: i64) {
        for _ in 0..PRUNE_BATCH {
            let Some(top) = self.expiries.peek_mut() else {
                return;
            };
            if top.0.at >= now_s {
                return;
            }
            let Reverse(entry) = PeekMut::pop(top);
            let Some((key, record)) = self.records.get_key_value(&*entry.key) else {
                continue;
            };
            if !Arc::ptr_eq(key, &entry.key) {
                // The record was removed and the key inserted again, with an entry of its own.
                continue;
            }
            if record.is_expired(now_s) {
                self.records.remove(&*entry.key);
            } else {
                // Extended since (completed, or taken over): look again when it is due.
                let at = record.expires_at;
                self.expiries.push(Reverse(Expiry { at, key: entry.key }));
            }
        }
    }
}

/// About what `event` takes in memory: its text and a fixed allowance for the rest.
pub(super) fn event_size(event: &NormalizedEvent) -> usize {
    let issue = &event.issue;
    let optional = |text: &Option<String>| text.as_ref().map_or(0, String::len);
    512 + event.event_name.len()
        + issue.id.len()
        + issue.identifier.len()
        + issue.title.len()
        + issue.body.len()
        + issue.state.len()
        + issue
            .labels
            .iter()
            .map(|label| label.len() + 24)
            .sum::<usize>()
        + optional(&issue.url)
        + optional(&issue.repository)
        + optional(&issue.author)
        + optional(&event.comment)
}
