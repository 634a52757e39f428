//! The `Store` contract: delivery claims (the idempotency record) and versioned work items.

use super::unique;
use crate::domain::{
    DeliveryKey, DeliveryOutcome, IssueSnapshot, JobId, Lease, RunId, SourceKind, TokenTotals,
    WorkItem, WorkItemKey, WorkItemStatus,
};
use crate::ports::{DeliveryClaim, Store, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);
const RETAIN: Duration = Duration::from_secs(3 * 24 * 3600);

/// Expands to one `#[tokio::test]` per store contract case. `$fresh` is evaluated inside each
/// (async) test and must give an `Arc` of the store under test; `.await` may be used in it.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:expr) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_delivery_claim_lifecycle() {
            let store = $fresh;
            $crate::contract::store::delivery_claim_lifecycle(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_delivery_release_and_non_owners() {
            let store = $fresh;
            $crate::contract::store::delivery_release_and_non_owners(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_completed_delivery_is_forgotten_after_retention() {
            let store = $fresh;
            $crate::contract::store::completed_delivery_is_forgotten_after_retention(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_concurrent_claims_have_one_winner() {
            let store = $fresh;
            $crate::contract::store::concurrent_claims_have_one_winner(store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_work_item_versions() {
            let store = $fresh;
            $crate::contract::store::work_item_versions(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_work_item_round_trip() {
            let store = $fresh;
            $crate::contract::store::work_item_round_trip(&*store).await;
        }
    };
}

fn delivery_key() -> DeliveryKey {
    DeliveryKey::new(SourceKind::Github, unique("contract-delivery"))
}

fn at(start: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    start + chrono::Duration::seconds(seconds)
}

fn queued(work_item: &str) -> DeliveryOutcome {
    DeliveryOutcome::Queued {
        work_item: WorkItemKey::new(SourceKind::Github, work_item),
        job_id: JobId::generate(),
    }
}

async fn begin(
    store: &dyn Store,
    key: &DeliveryKey,
    owner: &str,
    now: DateTime<Utc>,
) -> DeliveryClaim {
    store
        .begin_delivery(key, owner, now, LEASE, RETAIN)
        .await
        .unwrap_or_else(|e| panic!("begin_delivery({key}, {owner}) failed: {e}"))
}

fn assert_conflict(result: Result<(), StoreError>, what: &str) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

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
            .complete_delivery(&key, "a", &queued("x/y#1"), at(t0, 41), RETAIN)
            .await,
        "completion by the holder whose lease was taken over",
    );

    let outcome = queued("acme/app#12");
    store
        .complete_delivery(&key, "b", &outcome, at(t0, 42), RETAIN)
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
            .complete_delivery(&key, "b", &queued("x/y#2"), at(t0, 2), RETAIN)
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
            .complete_delivery(&key, "a", &queued("x/y#3"), at(t0, 6), RETAIN)
            .await,
        "completion by the former owner",
    );

    let outcome = DeliveryOutcome::CancelRequested {
        work_item: WorkItemKey::new(SourceKind::Linear, "ENG-42"),
    };
    store
        .complete_delivery(&key, "c", &outcome, at(t0, 7), RETAIN)
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
            .complete_delivery(&unknown, "a", &queued("x/y#4"), t0, RETAIN)
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
        .complete_delivery(&key, "a", &outcome, at(t0, 10), retain)
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

/// Work items are written only over the version the writer read.
pub async fn work_item_versions(store: &dyn Store) {
    let mut item = work_item();
    item.version = 1;

    assert_eq!(
        store.get_work_item(&item.key).await.expect("get"),
        None,
        "an unknown key reads as None"
    );
    assert_conflict(
        store.put_work_item(&item, Some(1)).await,
        "put with an expected version on a new key",
    );
    store
        .put_work_item(&item, None)
        .await
        .expect("create a new item");
    assert_conflict(
        store.put_work_item(&item, None).await,
        "create over an existing item",
    );

    let mut next = item.clone();
    next.version = 2;
    next.status = WorkItemStatus::Running;
    store
        .put_work_item(&next, Some(1))
        .await
        .expect("update over the version read");

    let mut stale = item.clone();
    stale.version = 2;
    stale.cancel_requested = true;
    assert_conflict(
        store.put_work_item(&stale, Some(1)).await,
        "update over a stale version",
    );
    assert_conflict(
        store.put_work_item(&stale, Some(3)).await,
        "update over a future version",
    );
    assert_eq!(
        store.get_work_item(&item.key).await.expect("get"),
        Some(next),
        "the losing writes changed nothing"
    );

    assert_conflict(
        store.delete_work_item(&item.key, 1).await,
        "delete over a stale version",
    );
    store
        .delete_work_item(&item.key, 2)
        .await
        .expect("delete over the version read");
    assert_eq!(store.get_work_item(&item.key).await.expect("get"), None);
    assert_conflict(
        store.delete_work_item(&item.key, 2).await,
        "delete of an item that is gone",
    );
}

/// Every field of a work item comes back as written.
pub async fn work_item_round_trip(store: &dyn Store) {
    let minimal = WorkItem {
        issue: IssueSnapshot {
            id: "1".into(),
            identifier: "ENG-1".into(),
            ..IssueSnapshot::default()
        },
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: TokenTotals::default(),
        ..work_item()
    };
    for item in [work_item(), minimal] {
        store.put_work_item(&item, None).await.expect("put");
        let read = store
            .get_work_item(&item.key)
            .await
            .expect("get")
            .expect("the item just written");
        assert_eq!(read, item);
    }
}

/// A work item with every field set, under a fresh key.
fn work_item() -> WorkItem {
    let identifier = format!("acme/{}#12", unique("app"));
    let created_at = Utc
        .with_ymd_and_hms(2024, 2, 29, 23, 59, 58)
        .single()
        .unwrap_or_else(Utc::now)
        + chrono::Duration::nanoseconds(123_456_789);
    WorkItem {
        key: WorkItemKey::new(SourceKind::Github, &identifier),
        source: SourceKind::Github,
        issue: IssueSnapshot {
            id: "I_kwDOabc123".into(),
            identifier,
            title: "Fix the “flaky” test — ünïcode, quotes \" and \\ backslashes".into(),
            body: "Steps:\n1. run\n2. 🔥\n\n```rust\nlet x = 1;\n```".into(),
            state: "In Progress".into(),
            labels: vec!["baton".into(), "bug".into(), "p1".into()],
            url: Some("https://github.com/acme/app/issues/12".into()),
            repository: Some("acme/app".into()),
            author: Some("octocat".into()),
        },
        status: WorkItemStatus::Retrying,
        attempt: 3,
        cancel_requested: true,
        pending_job: Some(JobId::generate()),
        last_delivery: Some(unique("delivery")),
        created_at,
        updated_at: created_at + chrono::Duration::milliseconds(1_500),
        requested_at: Some(created_at + chrono::Duration::microseconds(7)),
        lease: Some(Lease {
            owner: "runner-a".into(),
            run_id: RunId::generate(),
            expires_at: created_at + chrono::Duration::seconds(60),
        }),
        last_run: Some(RunId::generate()),
        next_retry_at: Some(created_at + chrono::Duration::seconds(20)),
        last_error: Some("turn_failed: the agent gave up".into()),
        tokens: TokenTotals {
            input_tokens: 10,
            output_tokens: 20,
            total_tokens: 30,
        },
        version: 7,
    }
}
