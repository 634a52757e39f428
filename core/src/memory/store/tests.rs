use super::super::deliveries::DELIVERY_CAPACITY;
use super::*;
use crate::contract::store::sample_event;
use crate::domain::SourceKind;

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn expired_records_are_pruned_under_a_stream_of_unique_ids() {
    let store = MemoryStore::new();
    let start = Utc::now();
    let retain = Duration::from_secs(10);
    let outcome = DeliveryOutcome::Ignored {
        reason: "test".into(),
    };
    // 100 deliveries per simulated second for 10 minutes, each kept for 10 s.
    for i in 0..60_000u32 {
        let now = start + chrono::Duration::milliseconds(i64::from(i) * 10);
        let key = DeliveryKey::new(SourceKind::Github, format!("d-{i}"));
        let claim = store
            .begin_delivery(&key, "me", now, Duration::from_secs(5), retain)
            .await
            .unwrap();
        assert_eq!(claim, DeliveryClaim::Claimed);
        store
            .complete_delivery(&key, "me", &outcome, &sample_event(), now, retain)
            .await
            .unwrap();
    }
    // About 11 s worth of records is live; a few more wait for their prune.
    let held = store.delivery_records();
    assert!(held < 1_500, "{held} records held");
    let entries: usize = store
        .deliveries
        .iter()
        .map(|shard| lock(shard).expiries.len())
        .sum();
    assert!(entries < 1_500, "{entries} expiry entries");
}

#[tokio::test]
async fn a_reclaimed_key_keeps_a_single_live_record() {
    let store = MemoryStore::new();
    let now = Utc::now();
    let key = DeliveryKey::new(SourceKind::Linear, "again");
    for round in 0..100 {
        let claim = store
            .begin_delivery(&key, "me", now, Duration::from_secs(1), HOUR)
            .await
            .unwrap();
        assert_eq!(claim, DeliveryClaim::Claimed, "round {round}");
        store.release_delivery(&key, "me").await.unwrap();
    }
    assert_eq!(store.delivery_records(), 0);
    // Once due, the stale entries go too, pruned by later inserts into the same shard.
    let later = now + chrono::Duration::hours(2);
    let same_shard = (0..)
        .map(|i| DeliveryKey::new(SourceKind::Linear, format!("other-{i}")))
        .filter(|other| shard_of(other) == shard_of(&key))
        .take(20);
    for other in same_shard {
        store
            .begin_delivery(&other, "me", later, Duration::from_secs(1), HOUR)
            .await
            .unwrap();
    }
    assert_eq!(lock(&store.deliveries[shard_of(&key)]).expiries.len(), 20);
}

/// Begins and completes `count` deliveries `d-<n>` with `event`, a second apart.
async fn deliver(store: &MemoryStore, count: u32, event: &NormalizedEvent) {
    let start = Utc::now();
    let outcome = DeliveryOutcome::Ignored {
        reason: "test".into(),
    };
    let retain = Duration::from_secs(7 * 24 * 3600);
    for i in 0..count {
        let now = start + chrono::Duration::seconds(i64::from(i));
        let key = DeliveryKey::new(SourceKind::Github, format!("d-{i}"));
        store
            .begin_delivery(&key, "me", now, Duration::from_secs(30), retain)
            .await
            .unwrap();
        store
            .complete_delivery(&key, "me", &outcome, event, now, retain)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn delivery_records_stay_under_their_capacity_oldest_dropped_first() {
    let store = MemoryStore::new();
    let total = (DELIVERY_CAPACITY + DELIVERY_CAPACITY / 10) as u32;
    deliver(&store, total, &sample_event()).await;
    let held = store.delivery_records();
    assert!(held <= DELIVERY_CAPACITY, "{held} records held");
    let now = Utc::now();
    let newest = DeliveryKey::new(SourceKind::Github, format!("d-{}", total - 1));
    assert!(store.get_delivery(&newest, now).await.unwrap().is_some());
    let oldest = DeliveryKey::new(SourceKind::Github, "d-0");
    assert!(store.get_delivery(&oldest, now).await.unwrap().is_none());
}

#[tokio::test]
async fn old_records_give_up_their_events_beyond_the_budget() {
    let store = MemoryStore::new();
    let mut event = sample_event();
    event.issue.body = "x".repeat(100_000);
    // About 20 events of 100 KB per shard, against a share of the budget of about 5.
    deliver(&store, 64 * 20, &event).await;
    let now = Utc::now();
    let record = |n: u32| {
        let store = &store;
        async move {
            let key = DeliveryKey::new(SourceKind::Github, format!("d-{n}"));
            store
                .get_delivery(&key, now)
                .await
                .unwrap()
                .expect("a record")
        }
    };
    // Still a duplicate, but no longer replayable.
    assert!(record(0).await.event.is_none());
    assert!(record(64 * 20 - 1).await.event.is_some());
}
