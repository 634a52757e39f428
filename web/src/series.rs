//! The metrics API's question and answer: `from`, `to` and `workflow` in, one row per hour
//! of the span out (empty hours included, so a chart's x axis is the span), with totals.

use crate::dashboard::Pricing;
use baton_core::domain::TokenTotals;
use baton_core::trends::{hour_of, workflow_scope, ALL_SCOPE, RETENTION_DAYS};
use baton_core::trends::{Histogram, HourStats, MetricsRecord};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest span one query may ask for: the retention.
pub const MAX_RANGE_DAYS: i64 = RETENTION_DAYS;

/// Which hours of which scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsQuery {
    /// Rounded down to the hour.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `None`: every workflow together.
    pub workflow: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsQueryError {
    #[error("`{name}` must be an RFC 3339 time such as 2026-03-01T12:00:00Z, not `{value}`")]
    BadTime { name: &'static str, value: String },
    #[error("`from` ({from}) must be before `to` ({to})")]
    Empty { from: String, to: String },
    #[error("the span from `from` to `to` must be at most {MAX_RANGE_DAYS} days")]
    TooLong,
    #[error("`workflow` must be a workflow name (1 to 200 printable characters)")]
    BadWorkflow,
}

impl MetricsQuery {
    /// The last `span` up to `now`.
    pub fn last(span: TimeDelta, now: DateTime<Utc>, workflow: Option<String>) -> Self {
        Self {
            from: hour_of(now - span),
            to: now,
            workflow,
        }
    }

    /// Reads `from`, `to` (RFC 3339; default: the 24 hours up to `now`) and `workflow`
    /// from a query string. Unknown parameters are ignored.
    pub fn parse(query: Option<&str>, now: DateTime<Utc>) -> Result<Self, MetricsQueryError> {
        let (mut from, mut to, mut workflow) = (None, None, None);
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*name {
                "from" => from = Some(time("from", &value)?),
                "to" => to = Some(time("to", &value)?),
                "workflow" => {
                    let valid = !value.is_empty()
                        && value.chars().count() <= 200
                        && !value.chars().any(char::is_control);
                    if !valid {
                        return Err(MetricsQueryError::BadWorkflow);
                    }
                    workflow = Some(value.into_owned());
                }
                _ => {}
            }
        }
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - TimeDelta::hours(24));
        if from >= to {
            return Err(MetricsQueryError::Empty {
                from: from.to_rfc3339(),
                to: to.to_rfc3339(),
            });
        }
        if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
            return Err(MetricsQueryError::TooLong);
        }
        Ok(Self {
            from: hour_of(from),
            to,
            workflow,
        })
    }

    /// The store scope it reads.
    pub fn scope(&self) -> String {
        self.workflow
            .as_deref()
            .map_or_else(|| ALL_SCOPE.to_owned(), workflow_scope)
    }

    /// The start of every hour of the span, oldest first.
    pub fn hours(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        std::iter::successors(Some(self.from), |hour| Some(*hour + TimeDelta::hours(1)))
            .take_while(|hour| *hour < self.to)
    }
}

fn time(name: &'static str, value: &str) -> Result<DateTime<Utc>, MetricsQueryError> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| MetricsQueryError::BadTime {
            name,
            value: baton_core::domain::preview(value).to_string(),
        })
}

/// `GET /api/v1/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricsResponse {
    /// The start of the first hour.
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// `null`: every workflow together.
    pub workflow: Option<String>,
    /// Whether token prices are set (`BATON_PRICE_*_PER_MTOK`); without them every
    /// `cost_usd` is `null`.
    pub priced: bool,
    /// Every hour of the span, oldest first, empty ones included.
    pub hours: Vec<MetricsHour>,
    /// The whole span (its `hour` is `from`).
    pub totals: MetricsHour,
}

/// One hour, or the span's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MetricsHour {
    pub hour: DateTime<Utc>,
    pub runs: RunsView,
    /// Webhook received → agent started.
    pub dispatch_latency_ms: Percentiles,
    /// Run claimed → ended.
    pub run_duration_ms: Percentiles,
    pub tokens: TokensView,
    pub cost_usd: Option<f64>,
    /// `null` when nothing sampled the queue in the hour.
    pub queue_depth: Option<QueueDepthView>,
    pub webhooks: WebhooksView,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunsView {
    pub started: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub abandoned: u64,
    /// Ended with a question for a person.
    pub awaiting_input: u64,
}

/// From a histogram of fixed log-spaced buckets (two per doubling): a percentile is the
/// upper bound of its bucket. `null` without observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokensView {
    pub input: u64,
    pub output: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueDepthView {
    /// The last sample.
    pub last: u64,
    /// The largest sample.
    pub max: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhooksView {
    pub received: u64,
    pub accepted: u64,
    pub refused: u64,
}

impl MetricsHour {
    pub fn new(hour: DateTime<Utc>, stats: &HourStats, pricing: &Pricing) -> Self {
        let percentiles = |histogram: &Histogram| Percentiles {
            count: histogram.count(),
            p50: histogram.quantile_ms(0.5),
            p95: histogram.quantile_ms(0.95),
        };
        let tokens = TokenTotals {
            input_tokens: stats.input_tokens,
            output_tokens: stats.output_tokens,
            total_tokens: stats.input_tokens + stats.output_tokens,
        };
        Self {
            hour,
            runs: RunsView {
                started: stats.runs_started,
                succeeded: stats.ended.succeeded,
                failed: stats.ended.failed,
                cancelled: stats.ended.cancelled,
                abandoned: stats.ended.abandoned,
                awaiting_input: stats.ended.awaiting_input,
            },
            dispatch_latency_ms: percentiles(&stats.dispatch),
            run_duration_ms: percentiles(&stats.duration),
            tokens: TokensView {
                input: tokens.input_tokens,
                output: tokens.output_tokens,
            },
            cost_usd: pricing.cost_usd(tokens),
            queue_depth: stats.queue_depth.map(|depth| QueueDepthView {
                last: depth.last,
                max: depth.max,
            }),
            webhooks: WebhooksView {
                received: stats.webhooks_received,
                accepted: stats.webhooks_accepted,
                refused: stats.webhooks_refused,
            },
        }
    }

    /// Runs that ended in the hour.
    pub fn ended(&self) -> u64 {
        self.runs.succeeded
            + self.runs.failed
            + self.runs.cancelled
            + self.runs.abandoned
            + self.runs.awaiting_input
    }
}

/// The answer to `query` from the buckets the store returned for its scope.
pub fn hourly(
    query: &MetricsQuery,
    records: &[MetricsRecord],
    pricing: &Pricing,
) -> MetricsResponse {
    let by_hour: BTreeMap<DateTime<Utc>, HourStats> = records
        .iter()
        .map(|record| (record.hour, HourStats::from_values(&record.values)))
        .collect();
    let mut totals = HourStats::default();
    let hours = query
        .hours()
        .map(|hour| {
            let stats = by_hour.get(&hour).cloned().unwrap_or_default();
            totals.merge(&stats);
            MetricsHour::new(hour, &stats, pricing)
        })
        .collect();
    MetricsResponse {
        from: query.from,
        to: query.to,
        workflow: query.workflow.clone(),
        priced: pricing.cost_usd(TokenTotals::default()).is_some(),
        hours,
        totals: MetricsHour::new(query.from, &totals, pricing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn defaults_to_the_last_day_rounded_to_hours() {
        let now = at("2026-03-02T10:30:00Z");
        let query = MetricsQuery::parse(None, now).expect("query");
        assert_eq!(query.from, at("2026-03-01T10:00:00Z"));
        assert_eq!(query.to, now);
        assert_eq!(query.hours().count(), 25);
        assert_eq!(query.scope(), "all");
        let query = MetricsQuery::parse(Some("workflow=main&x=1"), now).expect("query");
        assert_eq!(query.scope(), "wf:main");
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let now = at("2026-03-02T10:30:00Z");
        let error = |query| {
            MetricsQuery::parse(Some(query), now)
                .unwrap_err()
                .to_string()
        };
        assert!(error("from=yesterday").contains("`from` must be an RFC 3339 time"));
        assert!(error("from=2026-03-02T11:00:00Z").contains("must be before `to`"));
        assert!(error("from=2025-01-01T00:00:00Z").contains("at most 90 days"));
        assert!(error("workflow=").contains("`workflow`"));
    }

    #[test]
    fn hours_without_buckets_are_zero_and_totals_sum() {
        let now = at("2026-03-02T10:30:00Z");
        let query = MetricsQuery::parse(Some("from=2026-03-02T08:00:00Z"), now).expect("query");
        let record = MetricsRecord {
            hour: at("2026-03-02T09:00:00Z"),
            values: BTreeMap::from([
                ("runs_started".to_owned(), 3),
                ("ended_failed".to_owned(), 1),
                ("input_tokens".to_owned(), 2_000_000),
            ]),
        };
        let pricing = Pricing::per_million_tokens(2.5, 10.0).expect("prices");
        let answer = hourly(&query, &[record], &pricing);
        assert_eq!(answer.hours.len(), 3);
        assert_eq!(answer.hours[0].runs.started, 0);
        assert_eq!(answer.hours[0].cost_usd, Some(0.0));
        assert_eq!(answer.hours[1].runs.started, 3);
        assert_eq!(answer.hours[1].cost_usd, Some(5.0));
        assert_eq!(answer.totals.runs.failed, 1);
        assert_eq!(answer.totals.ended(), 1);
        assert!(answer.priced);
        assert!(!hourly(&query, &[], &Pricing::unset()).priced);
    }
}
