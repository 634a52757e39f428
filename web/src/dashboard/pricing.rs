//! What tokens cost: the dashboard multiplies token counts by a per-million-token price set
//! by the operator, since baton cannot know which model or contract a workflow's agent uses.
//!
//! `BATON_PRICE_INPUT_PER_MTOK` and `BATON_PRICE_OUTPUT_PER_MTOK`, in USD per million
//! tokens (e.g. `1.25` and `10`). Both or neither: with neither, cost shows as `—`.

use baton_core::domain::TokenTotals;

pub const INPUT_PRICE_VARIABLE: &str = "BATON_PRICE_INPUT_PER_MTOK";
pub const OUTPUT_PRICE_VARIABLE: &str = "BATON_PRICE_OUTPUT_PER_MTOK";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PricingError {
    #[error("{variable} must be a non-negative number of USD per million tokens, not `{value}`")]
    InvalidPrice {
        variable: &'static str,
        value: String,
    },
    #[error("{set} is set but {unset} is not: set both token prices, or neither")]
    OnlyOne {
        set: &'static str,
        unset: &'static str,
    },
}

/// USD per million input and output tokens.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pricing {
    prices: Option<Prices>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Prices {
    input_per_mtok: f64,
    output_per_mtok: f64,
}

impl Pricing {
    /// No prices: every cost shows as `—`.
    pub fn unset() -> Self {
        Self::default()
    }

    pub fn per_million_tokens(input_usd: f64, output_usd: f64) -> Result<Self, PricingError> {
        let check = |variable: &'static str, price: f64| {
            if price.is_finite() && price >= 0.0 {
                Ok(price)
            } else {
                Err(PricingError::InvalidPrice {
                    variable,
                    value: price.to_string(),
                })
            }
        };
        Ok(Self {
            prices: Some(Prices {
                input_per_mtok: check(INPUT_PRICE_VARIABLE, input_usd)?,
                output_per_mtok: check(OUTPUT_PRICE_VARIABLE, output_usd)?,
            }),
        })
    }

    /// Reads the two variables through `lookup` (the environment, in the binaries).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, PricingError> {
        let read = |variable: &'static str| -> Result<Option<f64>, PricingError> {
            let Some(value) = lookup(variable).filter(|value| !value.trim().is_empty()) else {
                return Ok(None);
            };
            match value.trim().parse::<f64>() {
                Ok(price) if price.is_finite() && price >= 0.0 => Ok(Some(price)),
                _ => Err(PricingError::InvalidPrice { variable, value }),
            }
        };
        match (read(INPUT_PRICE_VARIABLE)?, read(OUTPUT_PRICE_VARIABLE)?) {
            (None, None) => Ok(Self::unset()),
            (Some(input), Some(output)) => Self::per_million_tokens(input, output),
            (Some(_), None) => Err(PricingError::OnlyOne {
                set: INPUT_PRICE_VARIABLE,
                unset: OUTPUT_PRICE_VARIABLE,
            }),
            (None, Some(_)) => Err(PricingError::OnlyOne {
                set: OUTPUT_PRICE_VARIABLE,
                unset: INPUT_PRICE_VARIABLE,
            }),
        }
    }

    pub fn from_env() -> Result<Self, PricingError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The cost of `tokens` in USD, when prices are set.
    pub fn cost_usd(&self, tokens: TokenTotals) -> Option<f64> {
        let prices = self.prices?;
        Some(
            tokens.input_tokens as f64 * prices.input_per_mtok / 1_000_000.0
                + tokens.output_tokens as f64 * prices.output_per_mtok / 1_000_000.0,
        )
    }

    /// `$0.0042`, `$12.35`, or `—` without prices.
    pub fn format_cost(&self, tokens: TokenTotals) -> String {
        match self.cost_usd(tokens) {
            None => "—".to_owned(),
            // Small runs cost fractions of a cent; four places keep them visible.
            Some(cost) if cost < 1.0 => format!("${cost:.4}"),
            Some(cost) => format!("${cost:.2}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    fn tokens(input: u64, output: u64) -> TokenTotals {
        TokenTotals {
            input_tokens: input,
            output_tokens: output,
            total_tokens: input + output,
        }
    }

    #[test]
    fn cost_is_tokens_times_the_price_per_million() {
        let pricing = Pricing::from_lookup(lookup(&[
            (INPUT_PRICE_VARIABLE, "1.25"),
            (OUTPUT_PRICE_VARIABLE, "10"),
        ]))
        .expect("valid prices");
        let cost = pricing
            .cost_usd(tokens(2_000_000, 500_000))
            .expect("priced");
        assert!((cost - 7.5).abs() < 1e-9, "{cost}");
        assert_eq!(pricing.format_cost(tokens(2_000_000, 500_000)), "$7.50");
        assert_eq!(pricing.format_cost(tokens(1200, 300)), "$0.0045");
    }

    #[test]
    fn without_prices_cost_is_a_dash() {
        let pricing = Pricing::from_lookup(lookup(&[])).expect("unset is fine");
        assert_eq!(pricing.cost_usd(tokens(1, 1)), None);
        assert_eq!(pricing.format_cost(tokens(1, 1)), "—");
    }

    #[test]
    fn bad_or_half_configured_prices_are_refused_by_name() {
        let error = Pricing::from_lookup(lookup(&[
            (INPUT_PRICE_VARIABLE, "cheap"),
            (OUTPUT_PRICE_VARIABLE, "1"),
        ]))
        .expect_err("not a number");
        assert!(error.to_string().contains(INPUT_PRICE_VARIABLE), "{error}");
        let error = Pricing::from_lookup(lookup(&[
            (INPUT_PRICE_VARIABLE, "1"),
            (OUTPUT_PRICE_VARIABLE, "-2"),
        ]))
        .expect_err("negative");
        assert!(error.to_string().contains(OUTPUT_PRICE_VARIABLE), "{error}");
        let error =
            Pricing::from_lookup(lookup(&[(OUTPUT_PRICE_VARIABLE, "1")])).expect_err("only one");
        assert_eq!(
            error,
            PricingError::OnlyOne {
                set: OUTPUT_PRICE_VARIABLE,
                unset: INPUT_PRICE_VARIABLE
            }
        );
    }
}
