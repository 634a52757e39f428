//! The in-memory hour buckets of the metrics series, dropped after their retention like
//! DynamoDB items past their TTL.

use crate::trends::{expires_at, MetricsRecord, MetricsUpdate};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// `(scope, hour)` → counter name → value.
#[derive(Debug, Default)]
pub(super) struct Buckets {
    buckets: BTreeMap<(String, DateTime<Utc>), BTreeMap<String, u64>>,
}

impl Buckets {
    pub(super) fn apply(&mut self, update: &MetricsUpdate, now: DateTime<Utc>) {
        let hour = update.hour();
        for scope in update.scopes() {
            let key = (scope, hour);
            if !self.buckets.contains_key(&key) {
                // A new bucket about once an hour per scope: the time to drop expired ones.
                self.buckets
                    .retain(|(_, hour), _| expires_at(*hour) > now.timestamp());
            }
            let bucket = self.buckets.entry(key).or_default();
            for (change, name, value) in update.changes() {
                let old = bucket.get(name).copied();
                bucket.insert(name.to_owned(), change.apply(old, value));
            }
        }
    }

    pub(super) fn read(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<MetricsRecord> {
        if from >= to {
            return Vec::new();
        }
        self.buckets
            .range((scope.to_owned(), from)..(scope.to_owned(), to))
            .filter(|((_, hour), _)| expires_at(*hour) > now.timestamp())
            .map(|((_, hour), values)| MetricsRecord {
                hour: *hour,
                values: values.clone(),
            })
            .collect()
    }
}
