//! The `Store` contract: delivery claims (the idempotency record), versioned work items and
//! their listing by status, versioned runs, run timelines and slot pools.

use super::unique;
use crate::domain::{
    Actor, Association, DeliveryKey, DeliveryOutcome, DeliveryRecord, EventAction, IssueSnapshot,
    JobId, JobReason, Lease, NormalizedEvent, Run, RunError, RunEvent, RunId, RunStatus,
    SourceKind, TokenTotals, WorkItem, WorkItemKey, WorkItemStatus,
};
use crate::ports::{DeliveryClaim, SlotPool, Store, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
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
        async fn store_completed_delivery_keeps_its_event() {
            let store = $fresh;
            $crate::contract::store::completed_delivery_keeps_its_event(&*store).await;
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

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_work_items_listed_by_status() {
            let store = $fresh;
            $crate::contract::store::work_items_listed_by_status(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_run_versions() {
            let store = $fresh;
            $crate::contract::store::run_versions(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_runs_listed_by_work_item() {
            let store = $fresh;
            $crate::contract::store::runs_listed_by_work_item(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_run_events_in_order() {
            let store = $fresh;
            $crate::contract::store::run_events_in_order(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_run_events_are_idempotent() {
            let store = $fresh;
            $crate::contract::store::run_events_are_idempotent(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_expired_run_events_are_absent() {
            let store = $fresh;
            $crate::contract::store::expired_run_events_are_absent(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_slot_pool_versions() {
            let store = $fresh;
            $crate::contract::store::slot_pool_versions(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_metrics_add_up_per_hour_and_scope() {
            let store = $fresh;
            $crate::contract::metrics::metrics_add_up_per_hour_and_scope(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_metrics_gauges_keep_last_and_max() {
            let store = $fresh;
            $crate::contract::metrics::metrics_gauges_keep_last_and_max(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_metrics_concurrent_adds_are_not_lost() {
            let store = $fresh;
            $crate::contract::metrics::metrics_concurrent_adds_are_not_lost(store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_metrics_retention_and_names() {
            let store = $fresh;
            $crate::contract::metrics::metrics_retention_and_names(&*store).await;
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

/// An event as the ingress completes a delivery with: every field set, so that a store that
/// drops or mangles one fails the round trip.
pub fn sample_event() -> NormalizedEvent {
    NormalizedEvent {
        source: SourceKind::Github,
        event_name: "issues".into(),
        action: EventAction::Labeled {
            label: "baton".into(),
        },
        issue: IssueSnapshot {
            id: "1001".into(),
            identifier: "acme/app#12".into(),
            title: "Fix the login page".into(),
            body: "It breaks on Safari — ünïcode kept".into(),
            state: "open".into(),
            labels: vec!["baton".into(), "bug".into()],
            url: Some("https://github.com/acme/app/issues/12".into()),
            ..IssueSnapshot::default()
        },
        actor: Actor {
            login: "octocat".into(),
            association: Association::Member,
            is_bot: false,
        },
        comment: None,
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
        approved_by: Some("alice".into()),
        pull_request: Some(crate::domain::PullRequestLink {
            number: 34,
            url: "https://github.com/acme/app/pull/34".into(),
            branch: "baton/acme_app_12".into(),
        }),
        status_comment: Some("IC_kwDO123".into()),
        input_request: Some(crate::domain::InputRequest {
            question: "Postgres or SQLite? «both» \"quoted\"\nsecond line".into(),
            asked_at: created_at + chrono::Duration::seconds(3),
            deadline: Some(created_at + chrono::Duration::hours(24)),
            run_id: RunId::generate(),
            session_id: Some("thread-1".into()),
            answer: Some(crate::domain::InputAnswer {
                by: "alice".into(),
                text: "Postgres 🐘".into(),
                at: created_at + chrono::Duration::seconds(9),
            }),
        }),
        workflow: Some("app.md".into()),
        agent_session: Some(crate::domain::AgentSessionLink {
            id: "a9e75e55-1010-4c2d-9e8f-000000000042".into(),
            message: Some("Use Postgres COPY, please.".into()),
            by: Some("6f9a7b1e".into()),
        }),
        version: 7,
    }
}

/// How long a listing served by an index (DynamoDB's GSI reads are eventually consistent)
/// is given to show a write.
const INDEX_LAG: Duration = Duration::from_secs(5);

/// Reads until `read` gives `expected`, for up to [`INDEX_LAG`], then asserts that it does.
async fn eventually<T, F, Fut>(what: &str, expected: &T, mut read: F)
where
    T: PartialEq + std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = std::time::Instant::now() + INDEX_LAG;
    loop {
        let got = read().await;
        if &got == expected || std::time::Instant::now() > deadline {
            assert_eq!(&got, expected, "{what}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A work item of `status` under `<prefix>#<n>`, last updated at `updated_at`.
fn listed_item(
    prefix: &str,
    n: u32,
    status: WorkItemStatus,
    updated_at: DateTime<Utc>,
) -> WorkItem {
    let mut item = work_item();
    item.key = WorkItemKey::new(SourceKind::Github, &format!("{prefix}#{n}"));
    item.issue.identifier = format!("{prefix}#{n}");
    item.status = status;
    item.created_at = updated_at - chrono::Duration::hours(1);
    item.updated_at = updated_at;
    item.version = 1;
    item
}

/// `list_work_items` gives the items of one status, most recently updated first, at most
/// `limit`; a rewrite moves an item in the listing, a status change moves it to another.
pub async fn work_items_listed_by_status(store: &dyn Store) {
    // Dated far ahead (past 2190), so that these are the newest items of their status even
    // in a table the other cases share (none of them dates anything that late), and newer
    // than any left by an earlier run: the `limit` checks can name exactly what they expect.
    let base = Utc::now() + chrono::Duration::days(175 * 365);
    let prefix = format!("acme/{}", unique("listed"));
    let mine = |items: Vec<WorkItem>| -> Vec<WorkItem> {
        items
            .into_iter()
            .filter(|item| item.key.as_str().contains(&prefix))
            .collect()
    };
    let list = |status: WorkItemStatus, limit: usize| async move {
        store
            .list_work_items(status, limit)
            .await
            .unwrap_or_else(|e| panic!("list_work_items({status:?}, {limit}) failed: {e}"))
    };

    let mut first = listed_item(&prefix, 1, WorkItemStatus::Queued, at(base, 1));
    let second = listed_item(&prefix, 2, WorkItemStatus::Queued, at(base, 3));
    let mut third = listed_item(&prefix, 3, WorkItemStatus::Queued, at(base, 2));
    let running = listed_item(&prefix, 4, WorkItemStatus::Running, at(base, 4));
    for item in [&first, &second, &third, &running] {
        store.put_work_item(item, None).await.expect("put");
    }
    eventually(
        "queued items, newest first",
        &vec![second.clone(), third.clone(), first.clone()],
        || async { mine(list(WorkItemStatus::Queued, 10_000).await) },
    )
    .await;

    // Updated last: first in the listing. Finished: in another listing.
    first.version = 2;
    first.updated_at = at(base, 5);
    store.put_work_item(&first, Some(1)).await.expect("update");
    third.version = 2;
    third.status = WorkItemStatus::Succeeded;
    third.updated_at = at(base, 6);
    store.put_work_item(&third, Some(1)).await.expect("update");

    let queued = vec![first.clone(), second.clone()];
    eventually("queued items after the updates", &queued, || async {
        mine(list(WorkItemStatus::Queued, 10_000).await)
    })
    .await;
    eventually("succeeded items", &vec![third.clone()], || async {
        mine(list(WorkItemStatus::Succeeded, 10_000).await)
    })
    .await;
    eventually("running items", &vec![running.clone()], || async {
        mine(list(WorkItemStatus::Running, 10_000).await)
    })
    .await;

    assert_eq!(list(WorkItemStatus::Queued, 1).await, vec![first.clone()]);
    assert_eq!(list(WorkItemStatus::Queued, 2).await, queued);
    assert_eq!(
        list(WorkItemStatus::Queued, 0).await,
        Vec::<WorkItem>::new()
    );

    let all = list(WorkItemStatus::Queued, 10_000).await;
    assert!(
        all.iter().all(|item| item.status == WorkItemStatus::Queued),
        "every listed item has the status asked for"
    );
    assert!(
        all.windows(2).all(|w| w[0].updated_at >= w[1].updated_at),
        "the listing is newest first"
    );
}

/// A run of `work_item` with every field set.
fn run(work_item: &WorkItemKey, run_id: RunId) -> Run {
    let claimed_at = Utc
        .with_ymd_and_hms(2025, 6, 30, 12, 0, 1)
        .single()
        .unwrap_or_else(Utc::now)
        + chrono::Duration::nanoseconds(987_654_321);
    Run {
        run_id,
        work_item: work_item.clone(),
        job_id: JobId::generate(),
        reason: JobReason::Retry,
        attempt: 2,
        runner: "runner-a".into(),
        status: RunStatus::Failed,
        received_at: Some(claimed_at - chrono::Duration::seconds(3)),
        queued_at: claimed_at - chrono::Duration::seconds(2),
        claimed_at,
        agent_started_at: Some(claimed_at + chrono::Duration::milliseconds(250)),
        ended_at: Some(claimed_at + chrono::Duration::seconds(90)),
        session_id: Some(unique("session")),
        turns: 4,
        tokens: TokenTotals {
            input_tokens: 1_000,
            output_tokens: 200,
            total_tokens: 1_200,
        },
        error: Some(RunError {
            code: "turn_failed".into(),
            message: "the agent said “no” — twice".into(),
        }),
        workspace: Some("/tmp/baton/acme_app_12".into()),
        branch: Some("baton/acme-app-12".into()),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        events: 17,
        version: 1,
    }
}

fn fresh_work_item_key() -> WorkItemKey {
    WorkItemKey::new(SourceKind::Linear, &unique("ENG"))
}

/// Runs are written only over the version the writer read, and come back as written.
pub async fn run_versions(store: &dyn Store) {
    let key = fresh_work_item_key();
    let first = run(&key, RunId::generate());
    assert_eq!(
        store.get_run(&first.run_id).await.expect("get_run"),
        None,
        "an unknown run reads as None"
    );
    assert_conflict(
        store.put_run(&first, Some(1)).await,
        "put with an expected version of a new run",
    );
    store.put_run(&first, None).await.expect("create a run");
    assert_conflict(store.put_run(&first, None).await, "create over a run");

    let mut next = first.clone();
    next.version = 2;
    next.status = RunStatus::Succeeded;
    next.error = None;
    store
        .put_run(&next, Some(1))
        .await
        .expect("update over the version read");
    let mut stale = first.clone();
    stale.version = 2;
    stale.turns = 99;
    assert_conflict(
        store.put_run(&stale, Some(1)).await,
        "update over a stale version",
    );
    assert_conflict(
        store.put_run(&stale, Some(3)).await,
        "update over a future version",
    );
    assert_eq!(
        store.get_run(&first.run_id).await.expect("get_run"),
        Some(next),
        "the losing writes changed nothing"
    );

    let minimal = Run {
        status: RunStatus::Running,
        received_at: None,
        agent_started_at: None,
        ended_at: None,
        session_id: None,
        turns: 0,
        tokens: TokenTotals::default(),
        error: None,
        workspace: None,
        branch: None,
        commit: None,
        events: 0,
        ..run(&key, RunId::generate())
    };
    store.put_run(&minimal, None).await.expect("put");
    assert_eq!(
        store.get_run(&minimal.run_id).await.expect("get_run"),
        Some(minimal)
    );
}

/// `list_runs` gives a work item's runs (and only its), oldest (lowest id) first.
pub async fn runs_listed_by_work_item(store: &dyn Store) {
    let key = fresh_work_item_key();
    let other_key = fresh_work_item_key();
    let mut ids: Vec<RunId> = (0..3).map(|_| RunId::generate()).collect();
    ids.sort();
    let mut runs: Vec<Run> = ids.iter().map(|id| run(&key, id.clone())).collect();
    let other = run(&other_key, RunId::generate());
    // Written out of order.
    for run in [&runs[2], &other, &runs[0], &runs[1]] {
        store.put_run(run, None).await.expect("put_run");
    }
    runs[1].version = 2;
    runs[1].status = RunStatus::Cancelled;
    store.put_run(&runs[1], Some(1)).await.expect("update");

    eventually("the work item's runs, oldest first", &runs, || async {
        store.list_runs(&key).await.expect("list_runs")
    })
    .await;
    eventually("the other work item's runs", &vec![other], || async {
        store.list_runs(&other_key).await.expect("list_runs")
    })
    .await;
    assert_eq!(
        store
            .list_runs(&fresh_work_item_key())
            .await
            .expect("list_runs"),
        Vec::<Run>::new(),
        "a work item without runs"
    );
}

/// An event of `run_id`'s timeline at `at`.
fn event(run_id: &RunId, seq: u32, at: DateTime<Utc>, kind: &str) -> RunEvent {
    RunEvent {
        run_id: run_id.clone(),
        seq,
        at,
        kind: kind.to_owned(),
        data: serde_json::json!({
            "seq": seq,
            "text": "ünï “quoted” \"and\" \\ escaped 🔥",
            "nested": { "list": [1, 2.5, null, true, "x"], "empty": {} },
        }),
    }
}

async fn events(store: &dyn Store, run_id: &RunId, after: u32, limit: usize) -> Vec<RunEvent> {
    store
        .list_events(run_id, after, limit)
        .await
        .unwrap_or_else(|e| panic!("list_events({run_id}, {after}, {limit}) failed: {e}"))
}

fn seqs(events: &[RunEvent]) -> Vec<u32> {
    events.iter().map(|event| event.seq).collect()
}

/// A timeline comes back in sequence order (numeric, not textual), from after `after`, at
/// most `limit` long, without other runs' events.
pub async fn run_events_in_order(store: &dyn Store) {
    let run_id = RunId::generate();
    let other = RunId::generate();
    let now = Utc::now();
    let timeline: Vec<RunEvent> = [1, 2, 9, 10, 11, 100, 1000]
        .into_iter()
        .map(|seq| {
            event(
                &run_id,
                seq,
                now + chrono::Duration::milliseconds(i64::from(seq)),
                "message",
            )
        })
        .collect();
    let others: Vec<RunEvent> = (1..=3)
        .map(|seq| event(&other, seq, now, "command"))
        .collect();
    // One call, shuffled, interleaved with another run's events.
    let order = [5, 0, 3, 6, 1, 4, 2];
    let mut appended: Vec<RunEvent> = order.iter().map(|&i| timeline[i].clone()).collect();
    appended.insert(2, others[1].clone());
    appended.insert(5, others[0].clone());
    appended.push(others[2].clone());
    store
        .append_events(&appended, RETAIN)
        .await
        .expect("append_events");

    assert_eq!(
        events(store, &run_id, 0, 100).await,
        timeline,
        "the whole timeline"
    );
    assert_eq!(
        seqs(&events(store, &run_id, 9, 100).await),
        [10, 11, 100, 1000]
    );
    assert_eq!(seqs(&events(store, &run_id, 9, 2).await), [10, 11]);
    assert_eq!(seqs(&events(store, &run_id, 3, 1).await), [9]);
    assert_eq!(seqs(&events(store, &run_id, 999, 100).await), [1000]);
    assert!(events(store, &run_id, 1000, 100).await.is_empty());
    assert!(events(store, &run_id, u32::MAX, 100).await.is_empty());
    assert!(events(store, &run_id, 0, 0).await.is_empty());
    assert_eq!(
        events(store, &other, 0, 100).await,
        others,
        "the other run's timeline"
    );
    assert!(
        events(store, &RunId::generate(), 0, 100).await.is_empty(),
        "a run without events"
    );
    store
        .append_events(&[], RETAIN)
        .await
        .expect("appending nothing");
}

/// Appending an event whose `(run, seq)` is stored replaces it: a retried append changes
/// nothing, and within one call the last of two events with one seq wins.
pub async fn run_events_are_idempotent(store: &dyn Store) {
    let run_id = RunId::generate();
    let now = Utc::now();
    // More than one batch's worth on DynamoDB (25 a batch).
    let timeline: Vec<RunEvent> = (1..=60)
        .map(|seq| event(&run_id, seq, now, "message"))
        .collect();
    store
        .append_events(&timeline, RETAIN)
        .await
        .expect("append_events");
    store
        .append_events(&timeline, RETAIN)
        .await
        .expect("the same append again");
    assert_eq!(events(store, &run_id, 0, 1_000).await, timeline);

    let mut replaced = timeline.clone();
    let again: Vec<RunEvent> = (1..=60)
        .filter(|seq| seq % 7 == 0)
        .map(|seq| event(&run_id, seq, now + chrono::Duration::seconds(1), "replaced"))
        .collect();
    for event in &again {
        replaced[event.seq as usize - 1] = event.clone();
    }
    store
        .append_events(&again, RETAIN)
        .await
        .expect("append replacements");
    assert_eq!(events(store, &run_id, 0, 1_000).await, replaced);

    let earlier = event(&run_id, 61, now, "earlier");
    let later = event(&run_id, 61, now, "later");
    store
        .append_events(&[earlier, later.clone()], RETAIN)
        .await
        .expect("append one seq twice in a call");
    assert_eq!(events(store, &run_id, 60, 10).await, vec![later]);
}

/// An event is kept for `retain` from its `at`; expired events are left out without
/// shortening a page that more live events could fill.
pub async fn expired_run_events_are_absent(store: &dyn Store) {
    let run_id = RunId::generate();
    let now = Utc::now();
    let long_ago = now - chrono::Duration::days(2);
    let short = Duration::from_secs(3600);
    let expired: Vec<RunEvent> = (1..=120)
        .map(|seq| event(&run_id, seq, long_ago, "old"))
        .collect();
    let live: Vec<RunEvent> = (121..=150)
        .map(|seq| event(&run_id, seq, now, "new"))
        .collect();
    store
        .append_events(&expired, short)
        .await
        .expect("append expired events");
    store
        .append_events(&live, RETAIN)
        .await
        .expect("append live events");
    // Replaced by an expired event: gone too.
    store
        .append_events(&[event(&run_id, 130, long_ago, "old")], short)
        .await
        .expect("append");
    // Old, but retained for longer than its age.
    let old_but_kept = event(&run_id, 151, long_ago, "kept");
    store
        .append_events(std::slice::from_ref(&old_but_kept), RETAIN)
        .await
        .expect("append");

    let mut expected: Vec<RunEvent> = live.into_iter().filter(|event| event.seq != 130).collect();
    expected.push(old_but_kept);
    assert_eq!(events(store, &run_id, 0, 1_000).await, expected);
    assert_eq!(seqs(&events(store, &run_id, 0, 2).await), [121, 122]);
    assert_eq!(
        seqs(&events(store, &run_id, 125, 5).await),
        [126, 127, 128, 129, 131]
    );
    assert_eq!(events(store, &run_id, 0, expected.len()).await, expected);
    assert!(events(store, &run_id, 151, 10).await.is_empty());
}

/// Slot pools are written only over the version the writer read, and come back as written.
pub async fn slot_pool_versions(store: &dyn Store) {
    let scope = format!("state:{}", unique("in progress"));
    let t0 = Utc
        .with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .unwrap_or_else(Utc::now)
        + chrono::Duration::nanoseconds(123_456_789);
    let empty = SlotPool {
        scope: scope.clone(),
        holders: BTreeMap::new(),
        version: 1,
    };
    assert_eq!(
        store.get_slot_pool(&scope).await.expect("get_slot_pool"),
        None,
        "an unknown scope reads as None"
    );
    assert_conflict(
        store.put_slot_pool(&empty, Some(1)).await,
        "put with an expected version of a new pool",
    );
    store
        .put_slot_pool(&empty, None)
        .await
        .expect("create a pool");
    assert_conflict(
        store.put_slot_pool(&empty, None).await,
        "create over a pool",
    );
    assert_eq!(
        store.get_slot_pool(&scope).await.expect("get_slot_pool"),
        Some(empty.clone())
    );

    let held = SlotPool {
        holders: BTreeMap::from([
            (RunId::generate().to_string(), t0),
            (RunId::generate().to_string(), at(t0, 30)),
        ]),
        version: 2,
        ..empty.clone()
    };
    store
        .put_slot_pool(&held, Some(1))
        .await
        .expect("update over the version read");
    let stale = SlotPool {
        version: 2,
        ..empty.clone()
    };
    assert_conflict(
        store.put_slot_pool(&stale, Some(1)).await,
        "update over a stale version",
    );
    assert_conflict(
        store.put_slot_pool(&stale, Some(3)).await,
        "update over a future version",
    );
    assert_eq!(
        store.get_slot_pool(&scope).await.expect("get_slot_pool"),
        Some(held),
        "the losing writes changed nothing"
    );
    assert_eq!(
        store
            .get_slot_pool(&format!("state:{}", unique("other")))
            .await
            .expect("get_slot_pool"),
        None
    );
}
