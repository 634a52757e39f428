//! The `Store` contract: delivery claims (the idempotency record), versioned work items and
//! their listing by status, versioned runs, run timelines and slot pools.

use super::unique;
use crate::domain::{
    Actor, Association, DeliveryKey, DeliveryOutcome, EventAction, IssueSnapshot, JobId,
    NormalizedEvent, SourceKind, WorkItemKey,
};
use crate::ports::{DeliveryClaim, Store, StoreError};
use chrono::{DateTime, Utc};
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
        async fn store_account_pool_versions() {
            let store = $fresh;
            $crate::contract::accounts::account_pool_versions(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_concurrent_account_pool_writes_have_one_winner() {
            let store = $fresh;
            $crate::contract::accounts::concurrent_account_pool_writes_have_one_winner(store).await;
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

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_budget_charges_add_up_per_item_and_day() {
            let store = $fresh;
            $crate::contract::budgets::budget_charges_add_up_per_item_and_day(&*store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_budget_concurrent_charges_are_not_lost() {
            let store = $fresh;
            $crate::contract::budgets::budget_concurrent_charges_are_not_lost(store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_budget_expired_days_read_as_zero() {
            let store = $fresh;
            $crate::contract::budgets::budget_expired_days_read_as_zero(&*store).await;
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

mod deliveries;
mod runs;
mod slots;
mod work_items;

pub use deliveries::*;
pub use runs::*;
pub use slots::*;
pub use work_items::*;
