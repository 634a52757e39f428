//! `baton status --since 24h [--workflow NAME]`: `GET /api/v1/metrics` as a compact table,
//! one row per hour that saw anything and a total row: runs by outcome (`INPUT`: ended
//! waiting for a person's answer), dispatch latency
//! and run duration (p50/p95), tokens and cost, the queue depth and the webhooks.

use super::http::{Answer, ApiClient, ClientError};
use super::table::{self, Table};
use baton_web::series::{MetricsHour, MetricsResponse, Percentiles, MAX_RANGE_DAYS};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

pub const METRICS_PATH: &str = "/api/v1/metrics";

/// `30m`, `24h`, `7d`: a span of whole minutes, hours or days, up to the retention.
pub fn parse_since(text: &str) -> Result<TimeDelta, ClientError> {
    let usage = || {
        ClientError::Usage(format!(
            "--since takes a span such as 30m, 24h or 7d (at most {MAX_RANGE_DAYS}d), not `{}`",
            table::clean(text)
        ))
    };
    let split = text.len().checked_sub(1).ok_or_else(usage)?;
    let (number, unit) = text.split_at_checked(split).ok_or_else(usage)?;
    let number: i64 = number.parse().map_err(|_| usage())?;
    let span = match unit {
        "m" => TimeDelta::try_minutes(number),
        "h" => TimeDelta::try_hours(number),
        "d" => TimeDelta::try_days(number),
        _ => None,
    }
    .ok_or_else(usage)?;
    if span <= TimeDelta::zero() || span > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(usage());
    }
    Ok(span)
}

/// The path and query for the span up to `now`.
pub fn path(since: TimeDelta, now: DateTime<Utc>, workflow: Option<&str>) -> String {
    let from = (now - since).to_rfc3339_opts(SecondsFormat::Secs, true);
    let to = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("from", &from).append_pair("to", &to);
    if let Some(workflow) = workflow {
        query.append_pair("workflow", workflow);
    }
    format!("{METRICS_PATH}?{}", query.finish())
}

pub async fn fetch(
    client: &ApiClient,
    since: TimeDelta,
    workflow: Option<&str>,
) -> Result<Answer, ClientError> {
    client.get(&path(since, Utc::now(), workflow)).await
}

pub fn render(metrics: &MetricsResponse) -> String {
    let scope = metrics.workflow.as_deref().map_or_else(
        || "every workflow".to_owned(),
        |w| format!("workflow {}", table::clean(w)),
    );
    let mut out = format!(
        "Trends from {} to {} UTC ({scope})\n",
        metrics.from.format("%Y-%m-%d %H:%M"),
        metrics.to.format("%Y-%m-%d %H:%M")
    );
    let mut rows = Table::new(&[
        "HOUR",
        "STARTED",
        "OK",
        "FAILED",
        "CANCELLED",
        "ABANDONED",
        "INPUT",
        "DISPATCH p50/p95",
        "DURATION p50/p95",
        "TOKENS IN/OUT",
        "COST",
        "QUEUE max",
        "WEBHOOKS rcv/acc/ref",
    ]);
    let active = metrics.hours.iter().filter(|hour| is_active(hour));
    for hour in active {
        rows.row(cells(hour.hour.format("%m-%d %H:00").to_string(), hour));
    }
    rows.row(cells("total".to_owned(), &metrics.totals));
    out.push_str(&rows.render());
    if !metrics.priced {
        out.push_str("(cost: set BATON_PRICE_INPUT_PER_MTOK and BATON_PRICE_OUTPUT_PER_MTOK on the server)\n");
    }
    out
}

fn is_active(hour: &MetricsHour) -> bool {
    hour.runs.started > 0
        || hour.ended() > 0
        || hour.webhooks.received > 0
        || hour.queue_depth.is_some_and(|depth| depth.max > 0)
}

fn cells(label: String, hour: &MetricsHour) -> Vec<String> {
    vec![
        label,
        hour.runs.started.to_string(),
        hour.runs.succeeded.to_string(),
        hour.runs.failed.to_string(),
        hour.runs.cancelled.to_string(),
        hour.runs.abandoned.to_string(),
        hour.runs.awaiting_input.to_string(),
        percentiles(&hour.dispatch_latency_ms),
        percentiles(&hour.run_duration_ms),
        format!(
            "{}/{}",
            table::count(hour.tokens.input),
            table::count(hour.tokens.output)
        ),
        hour.cost_usd
            .map_or_else(|| "-".to_owned(), |cost| format!("${cost:.2}")),
        hour.queue_depth
            .map_or_else(|| "-".to_owned(), |depth| depth.max.to_string()),
        format!(
            "{}/{}/{}",
            hour.webhooks.received, hour.webhooks.accepted, hour.webhooks.refused
        ),
    ]
}

fn percentiles(p: &Percentiles) -> String {
    match (p.p50, p.p95) {
        (Some(p50), Some(p95)) => format!("{}/{}", millis(p50), millis(p95)),
        _ => "-".to_owned(),
    }
}

/// `850ms`, `4.5s`, `12m`, `3.2h`: short, as the table is wide.
fn millis(value: u64) -> String {
    let value = value as f64;
    if value < 1000.0 {
        format!("{value:.0}ms")
    } else if value < 60_000.0 {
        format!("{:.1}s", value / 1000.0)
    } else if value < 600_000.0 {
        format!("{:.1}m", value / 60_000.0)
    } else if value < 3_600_000.0 {
        format!("{:.0}m", value / 60_000.0)
    } else {
        format!("{:.1}h", value / 3_600_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::trends::MetricsRecord;
    use baton_web::dashboard::Pricing;
    use baton_web::series::{hourly, MetricsQuery};
    use std::collections::BTreeMap;

    #[test]
    fn spans_are_minutes_hours_or_days_within_the_retention() {
        assert_eq!(parse_since("24h").ok(), Some(TimeDelta::hours(24)));
        assert_eq!(parse_since("30m").ok(), Some(TimeDelta::minutes(30)));
        assert_eq!(parse_since("90d").ok(), Some(TimeDelta::days(90)));
        for bad in ["", "h", "24", "0h", "-1h", "91d", "1w", "1.5h", "é"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
        let now = DateTime::parse_from_rfc3339("2026-03-02T10:30:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(
            path(TimeDelta::hours(2), now, Some("a b&c")),
            "/api/v1/metrics?from=2026-03-02T08%3A30%3A00Z&to=2026-03-02T10%3A30%3A00Z&workflow=a+b%26c"
        );
    }

    #[test]
    fn prints_the_active_hours_and_a_total() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T10:30:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let query = MetricsQuery::last(TimeDelta::hours(3), now, None);
        let hour = query.from + TimeDelta::hours(1);
        let record = MetricsRecord {
            hour,
            values: BTreeMap::from([
                ("runs_started".to_owned(), 4),
                ("ended_succeeded".to_owned(), 3),
                ("ended_failed".to_owned(), 1),
                ("dispatch_7".to_owned(), 4),
                ("duration_20".to_owned(), 4),
                ("input_tokens".to_owned(), 2_000_000),
                ("queue_depth_max".to_owned(), 5),
                ("webhooks_received".to_owned(), 6),
                ("webhooks_accepted".to_owned(), 4),
            ]),
        };
        let pricing = Pricing::per_million_tokens(2.5, 10.0).expect("prices");
        let text = render(&hourly(&query, &[record], &pricing));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0]
            .starts_with("Trends from 2026-03-02 07:00 to 2026-03-02 10:30 UTC (every workflow)"));
        assert!(lines[1].starts_with("HOUR"), "{text}");
        for line in &lines[2..] {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                cells[cells.len() - 12..cells.len() - 5],
                ["4", "3", "1", "0", "0", "0", "1.1s/1.1s"][..],
                "{line}"
            );
            assert!(
                line.contains("1.7m/1.7m")
                    && line.contains("2,000,000/0")
                    && line.contains("$5.00"),
                "{line}"
            );
            assert_eq!(cells[cells.len() - 2..], ["5", "6/4/0"][..], "{line}");
        }
        assert!(lines[2].starts_with("03-02 08:00"), "{text}");
        assert!(lines[3].starts_with("total"), "{text}");
    }
}
