//! The in-memory budget counters, dropped after their retention like DynamoDB items past
//! their TTL. One lock covers both counters of a charge, so adds are never lost.

use crate::domain::WorkItemKey;
use crate::ports::{BudgetCharge, BudgetScope, BudgetSpend, BudgetTotals};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;

/// A counter and when it expires (epoch seconds).
type Counter = (BudgetSpend, i64);

#[derive(Debug, Default)]
pub(super) struct Budgets {
    items: HashMap<WorkItemKey, Counter>,
    days: HashMap<(String, NaiveDate), Counter>,
}

fn live(counter: Option<&Counter>, now_s: i64) -> BudgetSpend {
    counter
        .filter(|(_, expires)| *expires > now_s)
        .map(|(spend, _)| *spend)
        .unwrap_or_default()
}

impl Budgets {
    pub(super) fn charge(&mut self, charge: &BudgetCharge, now: DateTime<Utc>) -> BudgetTotals {
        let now_s = now.timestamp();
        let scope = &charge.scope;
        let day_key = (scope.workflow.clone(), scope.day);
        if !self.days.contains_key(&day_key) {
            // A new day counter about once a day per workflow: the time to drop old ones.
            self.days.retain(|_, (_, expires)| *expires > now_s);
            self.items.retain(|_, (_, expires)| *expires > now_s);
        }
        let item = live(self.items.get(&scope.item), now_s).plus(charge.spend);
        let item_expires = BudgetScope::item_expires_at(charge.at);
        self.items.insert(scope.item.clone(), (item, item_expires));
        let day = live(self.days.get(&day_key), now_s).plus(charge.spend);
        self.days.insert(day_key, (day, scope.day_expires_at()));
        BudgetTotals { item, day }
    }

    pub(super) fn read(&self, scope: &BudgetScope, now: DateTime<Utc>) -> BudgetTotals {
        let now_s = now.timestamp();
        BudgetTotals {
            item: live(self.items.get(&scope.item), now_s),
            day: live(self.days.get(&(scope.workflow.clone(), scope.day)), now_s),
        }
    }
}
