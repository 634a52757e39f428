//! `rate_limits` in the state snapshot: the account pools as the runners recorded them, and
//! the queued items that wait for an account.

use super::*;
use baton_core::ports::{AccountLease, AccountPool, AccountState, QuotaSignals, QuotaWindow};
use std::collections::BTreeMap;

#[tokio::test]
async fn state_shows_each_account_and_why_a_queued_item_waits() {
    let store = Arc::new(MemoryStore::new());
    let waiting = item(github("acme/app#21"), WorkItemStatus::Queued, 1, 0);
    put(&store, waiting.clone()).await;
    let reset = now() + minutes(30);
    let pool = AccountPool {
        provider: "codex".into(),
        accounts: BTreeMap::from([
            (
                "team-a".to_owned(),
                AccountState {
                    lease: Some(AccountLease {
                        run_id: "run-7".into(),
                        expires_at: now() + minutes(1),
                    }),
                    ..AccountState::default()
                },
            ),
            (
                "team-b".to_owned(),
                AccountState {
                    // Leased by a runner that stopped renewing: free.
                    lease: Some(AccountLease {
                        run_id: "run-dead".into(),
                        expires_at: now() - minutes(1),
                    }),
                    exhausted_until: Some(reset),
                    signals: Some(QuotaSignals {
                        observed_at: now() - minutes(2),
                        windows: vec![QuotaWindow {
                            name: "primary".into(),
                            used_percent: Some(100.0),
                            window_minutes: Some(300),
                            resets_at: Some(reset),
                        }],
                        error: None,
                    }),
                },
            ),
        ]),
        waiting: BTreeMap::from([(waiting.key.as_str().to_owned(), reset)]),
        version: 1,
    };
    store.put_account_pool(&pool, None).await.expect("pool");
    let app = api(store);
    let answer = get(&app, "/api/v1/state").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let codex = &answer.body["rate_limits"]["codex"];
    assert_eq!(codex[0]["name"], "team-a");
    assert_eq!(codex[0]["leased_by"], "run-7");
    assert_eq!(codex[0]["exhausted_until"], Value::Null);
    assert_eq!(codex[1]["name"], "team-b");
    assert_eq!(
        codex[1]["leased_by"],
        Value::Null,
        "an expired lease is free"
    );
    assert_eq!(codex[1]["exhausted_until"], "2026-03-01T12:30:00Z");
    assert_eq!(codex[1]["signals"]["windows"][0]["used_percent"], 100.0);
    assert_eq!(codex[1]["signals"]["windows"][0]["window_minutes"], 300);
    let queued = &answer.body["queued"][0];
    assert_eq!(queued["identifier"], "acme/app#21");
    assert_eq!(
        queued["waiting_for_account"],
        json!({"provider": "codex", "until": "2026-03-01T12:30:00Z"})
    );
}
