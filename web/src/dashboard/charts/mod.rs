//! The dashboard's charts: server-rendered inline SVG, no script (the page's policy runs
//! none; inline SVG is markup, not a resource, and its styling is the page's inline CSS).
//! Each chart is drawn from the same [`MetricsResponse`] the metrics API answers, and has
//! a caption, a `<title>`/`<desc>`, a legend and its numbers as a table.

mod bars;
mod figure;
mod frame;
mod lines;

use super::html::Html;
use crate::series::{MetricsHour, MetricsResponse};
use chrono::NaiveDate;
use figure::{figure, Kind};
use frame::{Chart, Series};
use std::collections::BTreeMap;

/// Runs ended per hour by outcome (stacked), dispatch latency and run duration (p50, p95),
/// and the queue depth, from an hourly answer.
pub(crate) fn hourly(page: &mut Html, metrics: &MetricsResponse) {
    let hours = &metrics.hours;
    let labels: Vec<String> = hours
        .iter()
        .map(|h| h.hour.format("%H:00").to_string())
        .collect();
    let span = span_words(metrics);
    let column = |pick: fn(&MetricsHour) -> Option<f64>| hours.iter().map(pick).collect();
    let runs = Chart {
        id: "chart-runs",
        title: "Runs ended per hour, by outcome",
        description: format!(
            "Stacked bars of the runs that ended in each hour {span}: {} succeeded, {} failed, {} cancelled, {} abandoned, {} awaiting input.",
            metrics.totals.runs.succeeded, metrics.totals.runs.failed,
            metrics.totals.runs.cancelled, metrics.totals.runs.abandoned,
            metrics.totals.runs.awaiting_input
        ),
        x_title: "Hour (UTC)",
        y_title: "Runs",
        x_labels: labels.clone(),
        series: vec![
            Series { name: "succeeded", colour: "ok", values: column(|h| Some(h.runs.succeeded as f64)) },
            Series { name: "failed", colour: "bad", values: column(|h| Some(h.runs.failed as f64)) },
            Series { name: "cancelled", colour: "warn", values: column(|h| Some(h.runs.cancelled as f64)) },
            Series { name: "abandoned", colour: "muted", values: column(|h| Some(h.runs.abandoned as f64)) },
            Series { name: "awaiting input", colour: "live", values: column(|h| Some(h.runs.awaiting_input as f64)) },
        ],
        format: count,
        empty: "No run ended in this span.",
    };
    figure(page, &runs, Kind::Stacked);
    let latency = |id,
                   title,
                   what: &'static str,
                   pick: fn(&MetricsHour) -> &crate::series::Percentiles| {
        Chart {
        id,
        title,
        description: format!(
            "Lines of the median (p50) and 95th percentile (p95) {what} per hour {span}; over the span p50 {} and p95 {}.",
            optional(pick(&metrics.totals).p50),
            optional(pick(&metrics.totals).p95)
        ),
        x_title: "Hour (UTC)",
        y_title: "Time",
        x_labels: labels.clone(),
        series: vec![
            Series { name: "p50", colour: "live", values: hours.iter().map(|h| pick(h).p50.map(|v| v as f64)).collect() },
            Series { name: "p95", colour: "warn", values: hours.iter().map(|h| pick(h).p95.map(|v| v as f64)).collect() },
        ],
        format: millis,
        empty: "No run in this span to measure.",
    }
    };
    figure(
        page,
        &latency(
            "chart-dispatch",
            "Dispatch latency (webhook → agent started)",
            "time from webhook to agent",
            |h| &h.dispatch_latency_ms,
        ),
        Kind::Lines,
    );
    figure(
        page,
        &latency(
            "chart-duration",
            "Run duration (claimed → ended)",
            "run duration",
            |h| &h.run_duration_ms,
        ),
        Kind::Lines,
    );
    let depth = Chart {
        id: "chart-queue",
        title: "Queue depth (items waiting for a runner)",
        description: format!(
            "Lines of the largest and the last sample per hour of the work items waiting for a runner, {span}; the largest was {}.",
            metrics.totals.queue_depth.map_or(0, |d| d.max)
        ),
        x_title: "Hour (UTC)",
        y_title: "Items",
        x_labels: labels,
        series: vec![
            Series { name: "max", colour: "live", values: column(|h| h.queue_depth.map(|d| d.max as f64)) },
            Series { name: "last", colour: "muted", values: column(|h| h.queue_depth.map(|d| d.last as f64)) },
        ],
        format: count,
        empty: if metrics.workflow.is_some() {
            "The queue is the deployment's, not a workflow's: see the overview."
        } else {
            "The queue was empty, or not sampled, in this span."
        },
    };
    figure(page, &depth, Kind::Lines);
}

/// The cost per day (UTC) of an answer spanning days.
pub(crate) fn daily_cost(page: &mut Html, metrics: &MetricsResponse) {
    let mut days: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for hour in &metrics.hours {
        *days.entry(hour.hour.date_naive()).or_default() += hour.cost_usd.unwrap_or(0.0);
    }
    let chart = Chart {
        id: "chart-cost",
        title: "Cost per day",
        description: format!(
            "Bars of what the agents' tokens cost each day {}, in USD: {} in all.",
            span_words(metrics),
            usd(metrics.totals.cost_usd.unwrap_or(0.0))
        ),
        x_title: "Day (UTC)",
        y_title: "USD",
        x_labels: days
            .keys()
            .map(|day| day.format("%b %d").to_string())
            .collect(),
        series: vec![Series {
            name: "cost",
            colour: "live",
            values: days.values().map(|v| Some(*v)).collect(),
        }],
        format: usd,
        empty: if metrics.priced {
            "No tokens were used in this span."
        } else {
            "Costs need token prices: set BATON_PRICE_INPUT_PER_MTOK and BATON_PRICE_OUTPUT_PER_MTOK."
        },
    };
    figure(page, &chart, Kind::Stacked);
}

fn span_words(metrics: &MetricsResponse) -> String {
    format!(
        "from {} to {}",
        metrics.from.format("%Y-%m-%d %H:%M UTC"),
        metrics.to.format("%Y-%m-%d %H:%M UTC")
    )
}

fn optional(millis: Option<u64>) -> String {
    millis.map_or_else(|| "—".to_owned(), |v| self::millis(v as f64))
}

/// `3`, or `2.5` for a tick between whole numbers.
fn count(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// `850 ms`, `4.5 s`, `1.7 min`, `12 min`, `3.2 h`.
fn millis(value: f64) -> String {
    if value < 1000.0 {
        format!("{value:.0} ms")
    } else if value < 60_000.0 {
        format!("{:.1} s", value / 1000.0)
    } else if value < 600_000.0 {
        format!("{:.1} min", value / 60_000.0)
    } else if value < 3_600_000.0 {
        format!("{:.0} min", value / 60_000.0)
    } else {
        format!("{:.1} h", value / 3_600_000.0)
    }
}

/// `$0.0042` under a dollar, `$12.35` above.
fn usd(value: f64) -> String {
    if value < 1.0 && value > 0.0 {
        format!("${value:.4}")
    } else {
        format!("${value:.2}")
    }
}
