//! The store's account pools: versioned like slot pools, with every field coming back as
//! written (leases, exhaustion, quota signals, waiting work items).

use super::unique;
use crate::ports::{
    AccountLease, AccountPool, AccountState, QuotaSignals, QuotaWindow, Store, StoreError,
};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7)
        .single()
        .unwrap_or_else(Utc::now)
        + chrono::Duration::nanoseconds(987_654_321)
}

fn assert_conflict(result: Result<(), StoreError>, what: &str) {
    match result {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

/// A pool with one leased, exhausted account carrying signals, one free, and a waiter.
fn full_pool(provider: &str, version: u64) -> AccountPool {
    let t0 = t0();
    let leased = AccountState {
        lease: Some(AccountLease {
            run_id: unique("run"),
            expires_at: t0 + chrono::Duration::seconds(60),
        }),
        exhausted_until: Some(t0 + chrono::Duration::minutes(90)),
        signals: Some(QuotaSignals {
            observed_at: t0,
            windows: vec![
                QuotaWindow {
                    name: "primary".into(),
                    used_percent: Some(97.5),
                    window_minutes: Some(300),
                    resets_at: Some(t0 + chrono::Duration::minutes(90)),
                },
                QuotaWindow {
                    name: "secondary".into(),
                    used_percent: Some(12.0),
                    window_minutes: None,
                    resets_at: None,
                },
            ],
            error: Some("429: usage limit reached".into()),
        }),
    };
    AccountPool {
        provider: provider.to_owned(),
        accounts: BTreeMap::from([
            ("team-a".to_owned(), leased),
            ("team-b".to_owned(), AccountState::default()),
        ]),
        waiting: BTreeMap::from([(
            "github:acme/app#7".to_owned(),
            t0 + chrono::Duration::minutes(90),
        )]),
        version,
    }
}

/// Account pools are written only over the version the writer read, and come back whole.
pub async fn account_pool_versions(store: &dyn Store) {
    let provider = unique("codex");
    assert_eq!(
        store.get_account_pool(&provider).await.expect("get"),
        None,
        "an unknown pool reads as None"
    );
    let empty = AccountPool {
        provider: provider.clone(),
        version: 1,
        ..AccountPool::default()
    };
    assert_conflict(
        store.put_account_pool(&empty, Some(1)).await,
        "put with an expected version of a new pool",
    );
    store
        .put_account_pool(&empty, None)
        .await
        .expect("create a pool");
    assert_conflict(
        store.put_account_pool(&empty, None).await,
        "create over a pool",
    );
    let full = full_pool(&provider, 2);
    store
        .put_account_pool(&full, Some(1))
        .await
        .expect("update over the version read");
    assert_conflict(
        store.put_account_pool(&empty, Some(1)).await,
        "update over a stale version",
    );
    assert_eq!(
        store.get_account_pool(&provider).await.expect("get"),
        Some(full),
        "every field comes back as written, and the losing write changed nothing"
    );
    assert_eq!(
        store
            .get_account_pool(&unique("claude_code"))
            .await
            .expect("get"),
        None
    );
}

/// Of writers racing over the same version, exactly one wins; the others conflict.
pub async fn concurrent_account_pool_writes_have_one_winner(store: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    let provider = unique("opencode");
    let base = AccountPool {
        provider: provider.clone(),
        version: 1,
        ..AccountPool::default()
    };
    store.put_account_pool(&base, None).await.expect("create");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..WRITERS {
        let store = Arc::clone(&store);
        let mut pool = full_pool(&provider, 2);
        pool.waiting.insert(format!("writer-{i}"), t0());
        tasks.spawn(async move { (i, store.put_account_pool(&pool, Some(1)).await) });
    }
    let mut winners = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("writer task");
        match result {
            Ok(()) => winners.push(i),
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("writer {i}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "one writer wins: {winners:?}");
    let stored = store
        .get_account_pool(&provider)
        .await
        .expect("get")
        .expect("pool");
    assert!(
        stored
            .waiting
            .contains_key(&format!("writer-{}", winners[0])),
        "the stored pool is the winner's"
    );
}
