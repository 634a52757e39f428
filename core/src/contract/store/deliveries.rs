//! Delivery claims: the idempotency record of every webhook.

use super::{assert_conflict, at, begin, delivery_key, queued, sample_event, LEASE, RETAIN};
use crate::domain::{DeliveryOutcome, DeliveryRecord, SourceKind, WorkItemKey};
use crate::ports::{DeliveryClaim, Store};
use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;

/// Claim → in progress for others while the lease is live → claimable after it runs out →
/// completed with its outcome; the holder that lost its lease can no longer complete.
pub async fn delivery_claim_lifecycle(store: &dyn Store) {
    let key = delivery_key();
    let t0 = Utc::now();

    assert_eq!(begin(store, &key, "a", t0).await, DeliveryClaim::Claimed);
    assert_eq!(
        begin(store, &key, "b", at(t0, 10)).await,
        DeliveryClaim::InProgress,
        "a live lease is not given to a second claimant"
    );
    assert_eq!(
        begin(store, &key, "a", at(t0, 29)).await,
        DeliveryClaim::Claimed,
        "the holder claiming again (a retried request whose first answer was lost) still holds it"
    );

    // a crashed: once its lease has run out, b takes over.
    assert_eq!(
        begin(store, &key, "b", at(t0, 31)).await,
        DeliveryClaim::Claimed,
        "an expired lease can be taken over"
    );
    assert_eq!(
        begin(store, &key, "c", at(t0, 40)).await,
        DeliveryClaim::InProgress
    );
    assert_conflict(
        store
            .complete_delivery(
                &key,
                "a",
                &queued("x/y#1"),
                &sample_event(),
                at(t0, 41),
                RETAIN,
            )
            .await,
        "completion by the holder whose lease was taken over",
    );

    let outcome = queued("acme/app#12");
    store
        .complete_delivery(&key, "b", &outcome, &sample_event(), at(t0, 42), RETAIN)
        .await
        .expect("the holder completes");
    assert_eq!(
        begin(store, &key, "c", at(t0, 43)).await,
        DeliveryClaim::Completed(outcome.clone())
    );
    // Long after any lease, within retention: still the same answer.
    assert_eq!(
        begin(store, &key, "d", at(t0, 24 * 3600)).await,
        DeliveryClaim::Completed(outcome)
    );
    assert_conflict(
        store
            .complete_delivery(
                &key,
                "b",
                &DeliveryOutcome::Ignored {
                    reason: "again".into(),
                },
                &sample_event(),
                at(t0, 24 * 3600),
                RETAIN,
            )
            .await,
        "completing a completed delivery",
    );
}

/// Release gives the delivery back to the sender's retry; neither release nor completion by
/// a caller that does not hold the claim changes anything.
pub async fn delivery_release_and_non_owners(store: &dyn Store) {
    let key = delivery_key();
    let t0 = Utc::now();

    assert_eq!(begin(store, &key, "a", t0).await, DeliveryClaim::Claimed);
    store
        .release_delivery(&key, "b")
        .await
        .expect("release by a non-owner is a no-op, not an error");
    assert_eq!(
        begin(store, &key, "c", at(t0, 1)).await,
        DeliveryClaim::InProgress,
        "a non-owner's release does not free the claim"
    );
    assert_conflict(
        store
            .complete_delivery(
                &key,
                "b",
                &queued("x/y#2"),
                &sample_event(),
                at(t0, 2),
                RETAIN,
            )
            .await,
        "completion by a non-owner",
    );
    assert_eq!(
        begin(store, &key, "c", at(t0, 3)).await,
        DeliveryClaim::InProgress,
        "a non-owner's completion does not complete it"
    );

    store.release_delivery(&key, "a").await.expect("release");
    assert_eq!(
        begin(store, &key, "c", at(t0, 4)).await,
        DeliveryClaim::Claimed,
        "a released delivery can be claimed again at once"
    );
    store
        .release_delivery(&key, "a")
        .await
        .expect("a stale release is a no-op");
    assert_eq!(
        begin(store, &key, "d", at(t0, 5)).await,
        DeliveryClaim::InProgress,
        "the former owner's second release does not free the new claim"
    );
    assert_conflict(
        store
            .complete_delivery(
                &key,
                "a",
                &queued("x/y#3"),
                &sample_event(),
                at(t0, 6),
                RETAIN,
            )
            .await,
        "completion by the former owner",
    );

    let outcome = DeliveryOutcome::CancelRequested {
        work_item: WorkItemKey::new(SourceKind::Linear, "ENG-42"),
    };
    store
        .complete_delivery(&key, "c", &outcome, &sample_event(), at(t0, 7), RETAIN)
        .await
        .expect("the new owner completes");
    store
        .release_delivery(&key, "c")
        .await
        .expect("releasing a completed delivery is a no-op");
    assert_eq!(
        begin(store, &key, "d", at(t0, 8)).await,
        DeliveryClaim::Completed(outcome),
        "a completed delivery stays completed"
    );

    store
        .release_delivery(&delivery_key(), "a")
        .await
        .expect("releasing an unknown delivery is a no-op");
    let unknown = delivery_key();
    assert_conflict(
        store
            .complete_delivery(&unknown, "a", &queued("x/y#4"), &sample_event(), t0, RETAIN)
            .await,
        "completing an unknown delivery",
    );
    assert_eq!(
        begin(store, &unknown, "a", t0).await,
        DeliveryClaim::Claimed,
        "a failed completion does not create a record"
    );
}

/// A completed record is kept for `retain`, then forgotten: the same id is new again.
pub async fn completed_delivery_is_forgotten_after_retention(store: &dyn Store) {
    let key = delivery_key();
    let t0 = Utc::now();
    let retain = Duration::from_secs(3600);
    let outcome = DeliveryOutcome::Ignored {
        reason: "no trigger matched".into(),
    };

    let claim = store
        .begin_delivery(&key, "a", t0, LEASE, retain)
        .await
        .expect("begin");
    assert_eq!(claim, DeliveryClaim::Claimed);
    store
        .complete_delivery(&key, "a", &outcome, &sample_event(), at(t0, 10), retain)
        .await
        .expect("complete");
    assert_eq!(
        begin(store, &key, "b", at(t0, 3000)).await,
        DeliveryClaim::Completed(outcome),
        "kept while retained"
    );
    assert_eq!(
        begin(store, &key, "b", at(t0, 10 + 3600 + 2)).await,
        DeliveryClaim::Claimed,
        "forgotten once the retention has passed"
    );
}

/// A completed delivery gives back its outcome, event and completion time (what a replay
/// needs) while retained; nothing is returned for unknown, in-progress or expired records.
pub async fn completed_delivery_keeps_its_event(store: &dyn Store) {
    let key = delivery_key();
    let t0 = Utc::now();
    let retain = Duration::from_secs(3600);
    assert_eq!(
        store.get_delivery(&key, t0).await.expect("get unknown"),
        None,
        "an unknown delivery"
    );
    assert_eq!(begin(store, &key, "a", t0).await, DeliveryClaim::Claimed);
    assert_eq!(
        store
            .get_delivery(&key, at(t0, 1))
            .await
            .expect("get claimed"),
        None,
        "a delivery still being processed"
    );
    let outcome = queued("acme/app#12");
    let event = sample_event();
    let completed_at = at(t0, 2);
    store
        .complete_delivery(&key, "a", &outcome, &event, completed_at, retain)
        .await
        .expect("complete");
    let expected = DeliveryRecord {
        outcome,
        event: Some(event),
        completed_at,
    };
    assert_eq!(
        store.get_delivery(&key, at(t0, 60)).await.expect("get"),
        Some(expected),
        "the completed record round-trips"
    );
    let other = delivery_key();
    assert_eq!(
        store
            .get_delivery(&other, at(t0, 60))
            .await
            .expect("get other"),
        None,
        "another id shares nothing"
    );
    assert_eq!(
        store
            .get_delivery(&key, at(t0, 2 + 3600 + 2))
            .await
            .expect("get expired"),
        None,
        "forgotten once the retention has passed"
    );
}

/// Many claimants racing for one fresh delivery id: exactly one wins.
pub async fn concurrent_claims_have_one_winner(store: Arc<dyn Store>) {
    const CLAIMANTS: usize = 50;
    let key = delivery_key();
    let now = Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CLAIMANTS {
        let store = Arc::clone(&store);
        let key = key.clone();
        tasks.spawn(async move {
            let owner = format!("claimant-{i}");
            store.begin_delivery(&key, &owner, now, LEASE, RETAIN).await
        });
    }
    let mut claimed = 0;
    let mut in_progress = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("claimant task panicked") {
            Ok(DeliveryClaim::Claimed) => claimed += 1,
            Ok(DeliveryClaim::InProgress) => in_progress += 1,
            other => panic!("unexpected answer to a racing claim: {other:?}"),
        }
    }
    assert_eq!(
        claimed, 1,
        "exactly one claimant wins ({in_progress} told in progress)"
    );
    assert_eq!(in_progress, CLAIMANTS - 1);
}
