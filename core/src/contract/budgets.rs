//! The `Store` contract for budget counters: charges add up per work item and per workflow
//! and day, concurrent charges are all counted, and counters past their retention read as
//! zero.
//!
//! Every case uses a workflow name and work item of its own, so cases share one table.

use super::unique;
use crate::domain::{SourceKind, WorkItemKey};
use crate::ports::{
    BudgetCharge, BudgetScope, BudgetSpend, BudgetTotals, Store, BUDGET_DAY_RETENTION_DAYS,
};
use chrono::{TimeDelta, Utc};
use std::sync::Arc;

fn scope(workflow: &str) -> BudgetScope {
    BudgetScope::new(
        Some(workflow),
        &WorkItemKey::new(SourceKind::Linear, &unique("BUD")),
        Utc::now(),
    )
}

fn spend(tokens: u64, cost_micro_usd: u64) -> BudgetSpend {
    BudgetSpend {
        tokens,
        cost_micro_usd,
    }
}

async fn charge(store: &dyn Store, scope: &BudgetScope, spend: BudgetSpend) -> BudgetTotals {
    let charge = BudgetCharge {
        scope: scope.clone(),
        spend,
        at: Utc::now(),
    };
    store
        .charge_budget(&charge)
        .await
        .unwrap_or_else(|e| panic!("charge_budget({charge:?}) failed: {e}"))
}

async fn read(store: &dyn Store, scope: &BudgetScope) -> BudgetTotals {
    store
        .read_budget(scope)
        .await
        .unwrap_or_else(|e| panic!("read_budget({scope:?}) failed: {e}"))
}

/// Each charge lands on its item's counter and its workflow's day, and returns both.
pub async fn budget_charges_add_up_per_item_and_day(store: &dyn Store) {
    let workflow = unique("wf");
    let first = scope(&workflow);
    assert_eq!(read(store, &first).await, BudgetTotals::default());

    let after = charge(store, &first, spend(1_000, 2_500)).await;
    assert_eq!(after.item, spend(1_000, 2_500));
    assert_eq!(after.day, spend(1_000, 2_500));
    let after = charge(store, &first, spend(500, 1)).await;
    assert_eq!(after.item, spend(1_500, 2_501));
    assert_eq!(after.day, spend(1_500, 2_501));

    // Another item of the workflow: its own item counter, the same day.
    let second = BudgetScope {
        item: WorkItemKey::new(SourceKind::Github, &unique("acme/app#")),
        ..first.clone()
    };
    let after = charge(store, &second, spend(7, 9)).await;
    assert_eq!(after.item, spend(7, 9));
    assert_eq!(after.day, spend(1_507, 2_510));
    assert_eq!(
        read(store, &first).await,
        BudgetTotals {
            item: spend(1_500, 2_501),
            day: spend(1_507, 2_510)
        }
    );

    // Another workflow's day, and the next day, start from zero.
    let other = BudgetScope {
        workflow: unique("wf"),
        ..first.clone()
    };
    assert_eq!(read(store, &other).await.day, BudgetSpend::default());
    let tomorrow = BudgetScope {
        day: first.day + TimeDelta::days(1),
        ..first.clone()
    };
    let read_tomorrow = read(store, &tomorrow).await;
    assert_eq!(read_tomorrow.day, BudgetSpend::default());
    assert_eq!(read_tomorrow.item, spend(1_500, 2_501), "items span days");
}

/// Charges made at once by many writers are all counted, to the token and micro-dollar.
pub async fn budget_concurrent_charges_are_not_lost(store: Arc<dyn Store>) {
    let workflow = unique("wf");
    let shared = scope(&workflow);
    let writers: Vec<_> = (1..=16u64)
        .map(|n| {
            let store = Arc::clone(&store);
            let scope = shared.clone();
            tokio::spawn(async move { charge(&*store, &scope, spend(n, n * 1_000 + 1)).await })
        })
        .collect();
    let mut seen = Vec::new();
    for writer in writers {
        seen.push(writer.await.expect("a writer").day.tokens);
    }
    let tokens: u64 = (1..=16).sum();
    let cost: u64 = (1..=16).map(|n| n * 1_000 + 1).sum();
    let totals = read(&*store, &shared).await;
    assert_eq!(totals.item, spend(tokens, cost));
    assert_eq!(totals.day, spend(tokens, cost));
    // Every writer saw a distinct total: the adds were applied one after the other.
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen.len(),
        16,
        "each charge returns the total after its own add"
    );
    assert_eq!(seen.last(), Some(&tokens));
}

/// A day counter past its retention reads as zero; the item counter is not affected.
pub async fn budget_expired_days_read_as_zero(store: &dyn Store) {
    let old = BudgetScope {
        day: Utc::now().date_naive() - TimeDelta::days(BUDGET_DAY_RETENTION_DAYS + 2),
        ..scope(&unique("wf"))
    };
    charge(store, &old, spend(10, 20)).await;
    let totals = read(store, &old).await;
    assert_eq!(totals.day, BudgetSpend::default());
    assert_eq!(totals.item, spend(10, 20));
}
