//! Slot pools, versioned like work items.

use super::{assert_conflict, at};
use crate::contract::unique;
use crate::domain::RunId;
use crate::ports::{SlotPool, Store};
use chrono::{TimeZone, Utc};
use std::collections::BTreeMap;

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
