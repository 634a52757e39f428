//! The workflow's `budgets`: a run does not start when its work item's or its workflow's
//! day budget is spent, and a session is stopped as soon as its usage crosses a per-run,
//! per-item or per-day limit. The item and day counters live in the store, where every
//! runner charges them with atomic adds, so the limits hold across runners.
//!
//! Usage reaches the meter twice: live, from the recorder as the agent reports it (the
//! session is stopped mid-turn), and after each turn from the turn's outcome (a decision
//! that does not depend on timing). Both charge the difference to what was charged before,
//! so nothing is counted twice.

use super::recorder::Timeline;
use super::stop::{Stop, StopReason};
use super::{RunPlan, Runner};
use crate::agent::TokenUsage;
use baton_core::clock::Clock;
use baton_core::domain::{RunError, WorkItem};
use baton_core::ports::{BudgetCharge, BudgetScope, BudgetSpend, BudgetTotals, Store};
use baton_core::workflow::schema::{BudgetLimit, BudgetsConfig, ModelPrice};
use baton_core::workflow::Workflow;
use serde_json::json;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, Mutex};

/// The error code of a run a budget stopped or kept from starting.
pub const BUDGET_EXCEEDED: &str = "budget_exceeded";

/// A workflow's budgets, resolved once with its plan: the limits and the price of the
/// model its agent runs.
#[derive(Debug, Clone)]
pub struct BudgetPlan {
    limits: BudgetsConfig,
    price: Option<ModelPrice>,
}

impl BudgetPlan {
    /// `None` when the workflow sets no limit: nothing is counted then.
    pub fn from_workflow(workflow: &Workflow) -> Option<Arc<Self>> {
        let limits = &workflow.config.budgets;
        limits.is_set().then(|| {
            Arc::new(Self {
                price: limits
                    .price_for(workflow.config.configured_model())
                    .copied(),
                limits: limits.clone(),
            })
        })
    }

    /// What `usage` costs, in tokens and micro-USD (no price: no cost).
    fn spend_of(&self, usage: TokenUsage) -> BudgetSpend {
        BudgetSpend {
            tokens: usage.total_tokens,
            cost_micro_usd: self.price.map_or(0, |price| {
                price.cost_micro_usd(usage.input_tokens, usage.output_tokens)
            }),
        }
    }
}

/// Which budget a breach is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Run,
    Item,
    Day,
}

impl Span {
    fn key(self) -> &'static str {
        match self {
            Self::Run => "per_run",
            Self::Item => "per_item",
            Self::Day => "per_day",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Run => "per-run",
            Self::Item => "per-item",
            Self::Day => "per-day (UTC)",
        }
    }
}

/// A limit that was reached: which, of what, and how much was spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    span: Span,
    /// `tokens` or `cost_usd`.
    unit: &'static str,
    limit: u64,
    spent: u64,
    /// Found before the run started (spent already), not crossed by it.
    before_start: bool,
}

fn usd(micro: u64) -> String {
    format!("${:.4}", micro as f64 / 1_000_000.0)
}

impl Breach {
    fn amount(&self, value: u64) -> String {
        match self.unit {
            "tokens" => format!("{value} tokens"),
            _ => usd(value),
        }
    }

    pub fn error(&self) -> RunError {
        let (spent, limit) = (self.amount(self.spent), self.amount(self.limit));
        let message = if self.before_start {
            format!(
                "the {} budget is spent: {spent} of {limit} (`budgets.{}.{}`); the run did not start",
                self.span.name(),
                self.span.key(),
                self.unit
            )
        } else {
            format!(
                "the {} budget is exceeded: {spent} spent, the limit is {limit} (`budgets.{}.{}`); the session was stopped",
                self.span.name(),
                self.span.key(),
                self.unit
            )
        };
        RunError {
            code: BUDGET_EXCEEDED.into(),
            message,
        }
    }

    fn event(&self) -> serde_json::Value {
        json!({
            "budget": self.span.key(),
            "unit": self.unit,
            "limit": self.limit,
            "spent": self.spent,
            "before_start": self.before_start,
        })
    }
}

/// The first limit of `limit` that `spent` reaches (`before_start`: `>=`) or crosses (`>`).
fn reached(
    span: Span,
    limit: &BudgetLimit,
    spent: BudgetSpend,
    before_start: bool,
) -> Option<Breach> {
    let over = |limit: u64, spent: u64| {
        if before_start {
            spent >= limit
        } else {
            spent > limit
        }
    };
    let checks = [
        ("tokens", limit.tokens, spent.tokens),
        ("cost_usd", limit.cost_micro_usd(), spent.cost_micro_usd),
    ];
    checks.into_iter().find_map(|(unit, limit, spent)| {
        let limit = limit?;
        over(limit, spent).then_some(Breach {
            span,
            unit,
            limit,
            spent,
            before_start,
        })
    })
}

/// The budgets of one run: its own spend, the meter that charges the store, and the first
/// breach.
pub struct RunBudget {
    meter: Option<Arc<Meter>>,
    live: Option<mpsc::UnboundedSender<TokenUsage>>,
}

struct Meter {
    plan: Arc<BudgetPlan>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    workflow: Option<String>,
    item: baton_core::domain::WorkItemKey,
    stop: Stop,
    /// What this run has charged so far.
    charged: Mutex<BudgetSpend>,
    breach: OnceLock<Breach>,
    timeline: OnceLock<Timeline>,
}

impl RunBudget {
    /// A budget that counts nothing (a workflow without `budgets`).
    pub fn inert() -> Arc<Self> {
        Arc::new(Self {
            meter: None,
            live: None,
        })
    }

    /// The budget of a run of `item`; inert when the plan has no budgets.
    pub fn new(runner: &Runner, plan: &RunPlan, item: &WorkItem, stop: &Stop) -> Arc<Self> {
        let Some(plan) = &plan.budget else {
            return Self::inert();
        };
        let meter = Arc::new(Meter {
            plan: Arc::clone(plan),
            store: Arc::clone(&runner.store),
            clock: Arc::clone(&runner.clock),
            workflow: item.workflow.clone(),
            item: item.key.clone(),
            stop: stop.clone(),
            charged: Mutex::default(),
            breach: OnceLock::new(),
            timeline: OnceLock::new(),
        });
        let (live, usage) = mpsc::unbounded_channel();
        tokio::spawn(charge_live(Arc::clone(&meter), usage));
        Arc::new(Self {
            meter: Some(meter),
            live: Some(live),
        })
    }

    /// Where breaches are recorded (the run's timeline, once it exists).
    pub fn record_on(&self, timeline: &Timeline) {
        if let Some(meter) = &self.meter {
            let _ = meter.timeline.set(timeline.clone());
        }
    }

    /// The agent reported `usage` (cumulative): charged in the background, and the session
    /// stopped if a limit is crossed. Never waits.
    pub fn observe(&self, usage: TokenUsage) {
        if let Some(live) = &self.live {
            let _ = live.send(usage);
        }
    }

    /// Before the session: the breach of an item or day budget that is spent already.
    pub async fn check_before_start(&self) -> Option<RunError> {
        let meter = self.meter.as_ref()?;
        let scope = meter.scope();
        let totals = match meter.store.read_budget(&scope).await {
            Ok(totals) => totals,
            Err(error) => {
                // The store failing fails the run elsewhere soon enough; the charges made
                // during the run still stop it.
                tracing::warn!(%error, "cannot read the budget counters; the run starts");
                return None;
            }
        };
        let limits = &meter.plan.limits;
        let breach = reached(Span::Item, &limits.per_item, totals.item, true)
            .or_else(|| reached(Span::Day, &limits.per_day, totals.day, true))?;
        Some(meter.breached(breach))
    }

    /// Charges the session's usage up to `usage` (cumulative) and returns the breach, if a
    /// limit is crossed now or was before.
    pub async fn charge_to(&self, usage: TokenUsage) -> Option<RunError> {
        self.meter.as_ref()?.charge_to(usage).await
    }

    /// The breach that stopped the run, if one did.
    pub fn breach(&self) -> Option<RunError> {
        self.meter.as_ref()?.breach.get().map(Breach::error)
    }
}

/// Charges live usage reports, the newest of a burst at once, until the run is over.
async fn charge_live(meter: Arc<Meter>, mut usage: mpsc::UnboundedReceiver<TokenUsage>) {
    while let Some(mut latest) = usage.recv().await {
        while let Ok(newer) = usage.try_recv() {
            latest = newer;
        }
        if meter.charge_to(latest).await.is_some() {
            meter.stop.stop(StopReason::Budget);
        }
    }
}

impl Meter {
    fn scope(&self) -> BudgetScope {
        BudgetScope::new(self.workflow.as_deref(), &self.item, self.clock.now())
    }

    /// Records the first breach and returns the error the run ends with.
    fn breached(&self, breach: Breach) -> RunError {
        if self.breach.set(breach.clone()).is_ok() {
            tracing::info!(
                budget = breach.span.key(),
                unit = breach.unit,
                limit = breach.limit,
                spent = breach.spent,
                "budget exceeded"
            );
            if let Some(timeline) = self.timeline.get() {
                timeline.step(BUDGET_EXCEEDED, breach.event());
            }
        }
        self.breach.get().unwrap_or(&breach).error()
    }

    async fn charge_to(&self, usage: TokenUsage) -> Option<RunError> {
        let mut charged = self.charged.lock().await;
        let spent = self.plan.spend_of(usage);
        // Totals only grow; a smaller report (a restarted count) charges nothing.
        let delta = spent.minus(*charged);
        let mut totals = None;
        if !delta.is_zero() {
            let charge = BudgetCharge {
                scope: self.scope(),
                spend: delta,
                at: self.clock.now(),
            };
            match self.store.charge_budget(&charge).await {
                Ok(after) => {
                    *charged = charged.plus(delta);
                    totals = Some(after);
                }
                // Charged again with the next report.
                Err(error) => tracing::warn!(%error, "cannot charge the budget counters"),
            }
        }
        if let Some(breach) = self.breach.get() {
            return Some(breach.error());
        }
        let limits = &self.plan.limits;
        // The run's own spend needs no store; the shared ones are the counters just returned.
        let shared = |totals: BudgetTotals| {
            reached(Span::Item, &limits.per_item, totals.item, false)
                .or_else(|| reached(Span::Day, &limits.per_day, totals.day, false))
        };
        let breach = reached(Span::Run, &limits.per_run, spent, false)
            .or_else(|| totals.and_then(shared))?;
        Some(self.breached(breach))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(tokens: u64, cost_micro_usd: u64) -> BudgetSpend {
        BudgetSpend {
            tokens,
            cost_micro_usd,
        }
    }

    #[test]
    fn a_spent_budget_stops_a_start_and_a_crossed_one_a_session() {
        let limit = BudgetLimit {
            tokens: Some(1_000),
            cost_usd: Some(0.5),
        };
        assert_eq!(reached(Span::Item, &limit, spend(999, 0), true), None);
        let at_limit = reached(Span::Item, &limit, spend(1_000, 0), true).expect("spent");
        assert_eq!((at_limit.unit, at_limit.spent), ("tokens", 1_000));
        // During a run, reaching the limit exactly is still within it.
        assert_eq!(
            reached(Span::Run, &limit, spend(1_000, 500_000), false),
            None
        );
        let cost = reached(Span::Day, &limit, spend(10, 500_001), false).expect("crossed");
        assert_eq!((cost.unit, cost.limit), ("cost_usd", 500_000));
        let error = cost.error();
        assert_eq!(error.code, BUDGET_EXCEEDED);
        assert!(
            error.message.contains("per-day (UTC) budget is exceeded")
                && error.message.contains("$0.5000")
                && error.message.contains("`budgets.per_day.cost_usd`"),
            "{}",
            error.message
        );
        let error = at_limit.error().message;
        assert!(error.contains("1000 tokens of 1000 tokens"), "{error}");
        assert!(error.contains("did not start"), "{error}");
    }
}
