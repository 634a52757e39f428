//! Budget counters: what the runs of one work item, and of one workflow on one UTC day,
//! have spent in tokens and money. Runners on any number of machines charge them at once,
//! so a charge is one atomic add per counter in the store, never a read-modify-write.

use crate::domain::WorkItemKey;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Days a day counter is kept after its day (the dashboard and API may show last week's).
pub const BUDGET_DAY_RETENTION_DAYS: i64 = 8;
/// Days an item counter is kept after its last charge.
pub const BUDGET_ITEM_RETENTION_DAYS: i64 = 90;

/// Spend on one counter. Money is whole micro-USD so that adds stay exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetSpend {
    pub tokens: u64,
    pub cost_micro_usd: u64,
}

impl BudgetSpend {
    pub fn is_zero(&self) -> bool {
        self.tokens == 0 && self.cost_micro_usd == 0
    }

    /// `self + other`, saturating.
    pub fn plus(self, other: Self) -> Self {
        Self {
            tokens: self.tokens.saturating_add(other.tokens),
            cost_micro_usd: self.cost_micro_usd.saturating_add(other.cost_micro_usd),
        }
    }

    /// `self - other`, never below zero.
    pub fn minus(self, other: Self) -> Self {
        Self {
            tokens: self.tokens.saturating_sub(other.tokens),
            cost_micro_usd: self.cost_micro_usd.saturating_sub(other.cost_micro_usd),
        }
    }

    /// The money in USD, for people.
    pub fn cost_usd(&self) -> f64 {
        self.cost_micro_usd as f64 / 1_000_000.0
    }
}

/// Where spend is counted: the work item's counter and its workflow's counter of `day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetScope {
    /// The workflow's name in the deployment's set (see `WorkItem::workflow`).
    pub workflow: String,
    pub item: WorkItemKey,
    /// The UTC day the spend happened on.
    pub day: NaiveDate,
}

impl BudgetScope {
    pub fn new(workflow: Option<&str>, item: &WorkItemKey, at: DateTime<Utc>) -> Self {
        Self {
            workflow: workflow.unwrap_or(DEFAULT_BUDGET_WORKFLOW).to_owned(),
            item: item.clone(),
            day: at.date_naive(),
        }
    }

    /// When the day counter expires (epoch seconds): the retention after the day's end.
    pub fn day_expires_at(&self) -> i64 {
        let end = self.day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            + TimeDelta::days(1 + BUDGET_DAY_RETENTION_DAYS);
        end.timestamp()
    }

    /// When the item counter expires if charged at `now` (epoch seconds).
    pub fn item_expires_at(now: DateTime<Utc>) -> i64 {
        (now + TimeDelta::days(BUDGET_ITEM_RETENTION_DAYS)).timestamp()
    }
}

/// The name items of a workflow-less deployment (one `WORKFLOW.md`) are counted under.
pub const DEFAULT_BUDGET_WORKFLOW: &str = "default";

/// One charge: `spend` goes onto both counters of `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetCharge {
    pub scope: BudgetScope,
    pub spend: BudgetSpend,
    /// When it is charged: the item counter is kept for its retention after this.
    pub at: DateTime<Utc>,
}

/// The counters of a scope, after a charge or as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetTotals {
    /// Every run of the work item.
    pub item: BudgetSpend,
    /// Every run of the workflow on the UTC day.
    pub day: BudgetSpend,
}
