//! `budgets`: how much a run, a work item (all its runs) and the workflow's UTC day may
//! spend, in tokens and in US dollars, and the prices that turn tokens into dollars. The
//! item and day counters live in the store and are shared by every runner.
//!
//! A cost limit needs a price for the run's model: the model named in the workflow
//! (`agent_provider.options.model`, or `codex.model` for Codex) or, failing that, the
//! `default` price. A workflow with a cost limit and no such price is refused when it is
//! parsed, so a run never finds out halfway that it cannot be priced.

use super::{invalid, WorkflowConfig};
use crate::workflow::WorkflowError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The price used for a model without one of its own.
pub const DEFAULT_PRICE: &str = "default";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetsConfig {
    /// One run (one agent session).
    pub per_run: BudgetLimit,
    /// Every run of one work item (issue), across runners and retries.
    pub per_item: BudgetLimit,
    /// Every run of the workflow on one UTC day.
    pub per_day: BudgetLimit,
    /// USD per million tokens, by model name (`default` for the rest).
    pub prices: BTreeMap<String, ModelPrice>,
}

/// A limit in tokens, in USD, or both; unset: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetLimit {
    pub tokens: Option<u64>,
    pub cost_usd: Option<f64>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    /// Accepted for cached input tokens; agents do not report those apart yet, so every
    /// input token is priced at `input` (the cost is over-, never under-estimated).
    #[serde(default)]
    pub cached_input: Option<f64>,
}

impl ModelPrice {
    /// The cost in micro-USD of `input` and `output` tokens (a token at `p` USD per million
    /// costs `p` micro-USD).
    pub fn cost_micro_usd(&self, input: u64, output: u64) -> u64 {
        let cost = input as f64 * self.input + output as f64 * self.output;
        if cost.is_finite() && cost > 0.0 {
            cost.round().min(u64::MAX as f64) as u64
        } else {
            0
        }
    }
}

impl BudgetLimit {
    pub fn is_set(&self) -> bool {
        self.tokens.is_some() || self.cost_usd.is_some()
    }

    /// The cost limit in micro-USD.
    pub fn cost_micro_usd(&self) -> Option<u64> {
        self.cost_usd.map(usd_to_micro)
    }

    fn validate(&self, key: &str) -> Result<(), WorkflowError> {
        if self.tokens == Some(0) {
            return Err(invalid(&format!("{key}.tokens"), "must be at least 1"));
        }
        if self
            .cost_usd
            .is_some_and(|usd| !usd.is_finite() || usd <= 0.0)
        {
            return Err(invalid(
                &format!("{key}.cost_usd"),
                "must be a positive amount of US dollars",
            ));
        }
        Ok(())
    }
}

/// USD as whole micro-USD.
pub fn usd_to_micro(usd: f64) -> u64 {
    (usd * 1_000_000.0).round().clamp(0.0, u64::MAX as f64) as u64
}

impl BudgetsConfig {
    /// Whether any limit is set (else nothing is counted).
    pub fn is_set(&self) -> bool {
        self.per_run.is_set() || self.per_item.is_set() || self.per_day.is_set()
    }

    fn has_cost_limit(&self) -> bool {
        [self.per_run, self.per_item, self.per_day]
            .iter()
            .any(|limit| limit.cost_usd.is_some())
    }

    /// The price of `model`, else the `default` price.
    pub fn price_for(&self, model: Option<&str>) -> Option<&ModelPrice> {
        model
            .and_then(|model| self.prices.get(model.trim()))
            .or_else(|| self.prices.get(DEFAULT_PRICE))
    }

    pub(super) fn validate(&self, model: Option<&str>) -> Result<(), WorkflowError> {
        self.per_run.validate("budgets.per_run")?;
        self.per_item.validate("budgets.per_item")?;
        self.per_day.validate("budgets.per_day")?;
        for (name, price) in &self.prices {
            for (field, value) in [
                ("input", Some(price.input)),
                ("output", Some(price.output)),
                ("cached_input", price.cached_input),
            ] {
                if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                    return Err(invalid(
                        &format!("budgets.prices.{name}.{field}"),
                        "must be a price of zero or more (USD per million tokens)",
                    ));
                }
            }
        }
        if self.has_cost_limit() && self.price_for(model).is_none() {
            let why = match model {
                Some(model) => format!(
                    "has no price for the model `{model}` and no `{DEFAULT_PRICE}`; a cost \
                     limit needs one"
                ),
                None => format!(
                    "needs a `{DEFAULT_PRICE}` price for a cost limit: the workflow names no \
                     model (`agent_provider.options.model` or `codex.model`)"
                ),
            };
            return Err(invalid("budgets.prices", why));
        }
        Ok(())
    }
}

impl WorkflowConfig {
    /// The model the workflow's agent runs, when the workflow names it: what the agent is
    /// started with (`agent_provider.options.model`, else Codex's `codex.model`).
    pub fn configured_model(&self) -> Option<&str> {
        let options = self.agent_provider.options.provider.get("model");
        match options.and_then(serde_json::Value::as_str) {
            Some(model) => Some(model),
            None if self.agent_provider.kind() == "codex" => self.codex.model.as_deref(),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::Workflow;

    fn parse(front_matter: &str) -> Result<Workflow, WorkflowError> {
        Workflow::parse(&format!(
            "---\ntracker: {{kind: github}}\n{front_matter}\n---\nprompt"
        ))
    }

    #[test]
    fn limits_and_prices_are_read_and_priced_by_model() {
        let workflow = parse(
            "codex: {model: gpt-5-codex}\nbudgets:\n  per_run: {tokens: 200000, cost_usd: 2.5}\n  \
             per_item: {tokens: 1000000}\n  per_day: {cost_usd: 50}\n  prices:\n    \
             gpt-5-codex: {input: 1.25, output: 10.0, cached_input: 0.125}\n    \
             default: {input: 3, output: 15}",
        )
        .expect("valid");
        let config = &workflow.config;
        let budgets = &config.budgets;
        assert!(budgets.is_set());
        assert_eq!(budgets.per_run.tokens, Some(200_000));
        assert_eq!(budgets.per_run.cost_micro_usd(), Some(2_500_000));
        assert_eq!(budgets.per_item.cost_usd, None);
        assert_eq!(budgets.per_day.cost_micro_usd(), Some(50_000_000));
        assert_eq!(config.configured_model(), Some("gpt-5-codex"));
        let price = budgets.price_for(config.configured_model()).expect("price");
        // 1M input at $1.25/M and 100k output at $10/M: $2.25.
        assert_eq!(price.cost_micro_usd(1_000_000, 100_000), 2_250_000);
        let fallback = budgets.price_for(Some("o3")).expect("default");
        assert_eq!(fallback.cost_micro_usd(1_000, 1_000), 18_000);
        assert!(!parse("").expect("empty").config.budgets.is_set());
    }

    #[test]
    fn the_model_comes_from_the_provider_options_first() {
        let workflow = parse(
            "agent_provider: {kind: claude_code, options: {model: sonnet}}\ncodex: {model: o3}\n\
             budgets: {per_day: {cost_usd: 5}, prices: {sonnet: {input: 3, output: 15}}}",
        )
        .expect("valid");
        assert_eq!(workflow.config.configured_model(), Some("sonnet"));
    }

    #[test]
    fn bad_limits_prices_and_unknown_keys_are_refused_naming_the_key() {
        for (yaml, expected) in [
            (
                "budgets: {per_run: {tokens: 0}}",
                "`budgets.per_run.tokens` must be at least 1",
            ),
            (
                "budgets: {per_item: {cost_usd: -1}}",
                "`budgets.per_item.cost_usd` must be a positive",
            ),
            (
                "budgets: {per_day: {tokens: lots}}",
                "`budgets.per_day.tokens`",
            ),
            (
                "budgets: {per_week: {tokens: 5}}",
                "unknown key `budgets.per_week`",
            ),
            (
                "budgets: {per_run: {token: 5}}",
                "unknown key `budgets.per_run.token`; did you mean `budgets.per_run.tokens`?",
            ),
            (
                "budgets: {prices: {o3: {input: 1, output: 2, cache: 1}}}",
                "unknown key `budgets.prices.o3.cache`",
            ),
            (
                "budgets: {prices: {o3: {input: -1, output: 2}}}",
                "`budgets.prices.o3.input` must be a price",
            ),
            (
                "budgets: {prices: {o3: {input: 1}}}",
                "`budgets.prices.o3`: missing field `output`",
            ),
        ] {
            let error = parse(yaml).expect_err(yaml).to_string();
            assert!(error.contains(expected), "{yaml}: {error}");
        }
    }

    #[test]
    fn a_cost_limit_without_a_price_for_the_model_is_refused() {
        let error = parse(
            "codex: {model: o3}\nbudgets: {per_item: {cost_usd: 10}, prices: {gpt-5: {input: 1, output: 2}}}",
        )
        .expect_err("no price")
        .to_string();
        assert!(
            error.contains("`budgets.prices` has no price for the model `o3`"),
            "{error}"
        );
        let error = parse("budgets: {per_run: {cost_usd: 1}}")
            .expect_err("no model, no default")
            .to_string();
        assert!(error.contains("needs a `default` price"), "{error}");
        // Token limits need no price; a default prices every model.
        parse("budgets: {per_run: {tokens: 10}}").expect("tokens only");
        parse("budgets: {per_run: {cost_usd: 1}, prices: {default: {input: 1, output: 1}}}")
            .expect("default");
    }
}
