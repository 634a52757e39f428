//! The trend charts in a real browser, on both backends: a day of runs with mixed outcomes
//! is recorded through the store with the updates the runner, the ingress and the reconciler
//! make (each at its hour), the app (webhooks, API, dashboard) is served over that store,
//! and headless Chromium loads the overview and the workflow's page. The numbers each chart
//! carries must be the API's, and the screenshots stay in `target/screenshots/`.
//!
//! Without `/usr/bin/chromium` the test skips loudly, unless `BATON_REQUIRE_BROWSER` is set.

#[macro_use]
mod common;

use baton_core::clock::SystemClock;
use baton_core::domain::{JobId, JobReason, Run, RunId, RunStatus, TokenTotals, WorkItemKey};
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::ports::Store;
use baton_core::trends::{hour_of, MetricsUpdate, WebhookVerdict};
use baton_core::workflow::Workflow;
use baton_web::api::{self, CursorKey};
use baton_web::dashboard::{router_with_pricing, Pricing};
use baton_web::ingress::router;
use chrono::{DateTime, TimeDelta, Utc};
use common::browser::{screenshots_dir, Browser, CHROMIUM};
use common::{all_secrets, backends, serve_router, Backend};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

const WORKFLOW: &str = "nightly-fixes";
const INPUT_PRICE: f64 = 2.5;
const OUTPUT_PRICE: f64 = 10.0;

on_both_backends!(the_charts_show_what_the_api_says);

fn run(claimed: DateTime<Utc>, status: RunStatus, n: i64) -> Run {
    Run {
        run_id: RunId::generate(),
        work_item: WorkItemKey::parse(&format!("github:acme/app#{n}")).expect("key"),
        job_id: JobId::generate(),
        reason: JobReason::Labeled,
        attempt: 1,
        runner: "runner-1".into(),
        status,
        received_at: Some(claimed - TimeDelta::milliseconds(300 + 700 * (n % 5))),
        queued_at: claimed,
        claimed_at: claimed,
        agent_started_at: Some(claimed + TimeDelta::milliseconds(900 + 400 * (n % 3))),
        ended_at: Some(claimed + TimeDelta::seconds(40 + 35 * (n % 7))),
        session_id: None,
        turns: 2,
        tokens: TokenTotals {
            input_tokens: 20_000 + 3_000 * (n as u64 % 11),
            output_tokens: 1_500 + 200 * (n as u64 % 5),
            total_tokens: 0,
        },
        error: None,
        workspace: None,
        branch: None,
        commit: None,
        events: 0,
        version: 3,
    }
}

/// 24 hours of runs, a few to a dozen an hour, mostly succeeding; the webhooks that asked
/// for them (and some refused ones); the reconciler's queue depth samples.
async fn fill_a_day(store: &dyn Store, now: DateTime<Utc>) {
    let outcomes = [
        RunStatus::Succeeded,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Succeeded,
        RunStatus::Cancelled,
        RunStatus::Succeeded,
        RunStatus::Abandoned,
        RunStatus::Succeeded,
        RunStatus::AwaitingInput,
    ];
    let first = hour_of(now) - TimeDelta::hours(23);
    let mut n = 0;
    let mut updates = Vec::new();
    for h in 0..23 {
        let hour = first + TimeDelta::hours(h);
        for i in 0..(2 + (h * 5) % 11) {
            n += 1;
            let claimed = hour + TimeDelta::minutes((i * 4) % 50);
            let status = outcomes[(n as usize) % outcomes.len()];
            let run = run(claimed, status, n);
            let workflow = Some(WORKFLOW);
            updates.push(MetricsUpdate::webhook(
                claimed,
                None,
                WebhookVerdict::Accepted,
            ));
            updates.push(MetricsUpdate::run_started(claimed, workflow));
            updates.push(MetricsUpdate::run_ended(&run, workflow, claimed));
        }
        if h % 4 == 1 {
            updates.push(MetricsUpdate::webhook(hour, None, WebhookVerdict::Refused));
        }
        for minute in [0, 20, 40] {
            let depth = ((h * 3 + minute / 10) % 9) as u64;
            updates.push(MetricsUpdate::queue_depth(
                hour + TimeDelta::minutes(minute),
                depth,
            ));
        }
    }
    for update in updates {
        store.record_metrics(&update).await.expect("record metrics");
    }
}

/// Webhooks, the API and the dashboard over `store`, as `baton dev` serves them.
async fn serve(backend: Backend) -> (common::TestApp, Arc<dyn Store>) {
    let (store, queue) = backends(backend).await;
    let ingress = Arc::new(Ingress::new(
        &Workflow::development(),
        all_secrets(),
        Arc::clone(&store),
        Arc::clone(&queue),
        Arc::new(SystemClock),
        IngressSettings::default(),
    ));
    let pricing = Pricing::per_million_tokens(INPUT_PRICE, OUTPUT_PRICE).expect("prices");
    let app = router(Arc::clone(&ingress))
        .merge(api::router(ingress, CursorKey::random()))
        .merge(router_with_pricing(
            Arc::clone(&store),
            Arc::new(SystemClock),
            pricing,
        ));
    (serve_router(app, Arc::clone(&store), queue).await, store)
}

/// The figure `id` of a page's DOM.
fn figure<'a>(dom: &'a str, id: &str) -> &'a str {
    dom.split(&format!("<figure class=\"chart\" id=\"{id}\">"))
        .nth(1)
        .and_then(|rest| rest.split("</figure>").next())
        .unwrap_or_else(|| panic!("no chart {id} in the page"))
}

/// A chart's data table: row label → the `data-value` of each cell (`None` for `—`).
fn table(figure: &str) -> BTreeMap<String, Vec<Option<f64>>> {
    let body = figure
        .split("<tbody>")
        .nth(1)
        .and_then(|rest| rest.split("</tbody>").next())
        .expect("a data table");
    body.split("<tr><th>")
        .skip(1)
        .map(|row| {
            let label = row.split("</th>").next().unwrap_or_default().to_owned();
            let values = row
                .split("<td")
                .skip(1)
                .map(|cell| {
                    cell.split("data-value=\"")
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .map(|value| value.parse().expect("a number"))
                })
                .collect();
            (label, values)
        })
        .collect()
}

fn number(value: &Value) -> Option<f64> {
    value.as_f64()
}

async fn the_charts_show_what_the_api_says(backend: Backend) {
    let Some(browser) = Browser::find() else {
        eprintln!("\n\n!!! SKIPPED the trends browser test: {CHROMIUM} is missing.\n");
        return;
    };
    let browser = Arc::new(browser);
    let (app, store) = serve(backend).await;
    let now = Utc::now();
    fill_a_day(store.as_ref(), now).await;

    let api: Value = app
        .client
        .get(format!(
            "{}/api/v1/metrics?workflow={WORKFLOW}",
            app.base_url
        ))
        .send()
        .await
        .expect("get metrics")
        .json()
        .await
        .expect("metrics json");
    let hours = api["hours"].as_array().expect("hours");
    let ended: u64 = hours
        .iter()
        .map(|h| {
            [
                "succeeded",
                "failed",
                "cancelled",
                "abandoned",
                "awaiting_input",
            ]
            .iter()
            .map(|o| h["runs"][o].as_u64().unwrap_or(0))
            .sum::<u64>()
        })
        .sum();
    assert!(ended > 100, "a day of runs: {}", api["totals"]);
    for outcome in [
        "succeeded",
        "failed",
        "cancelled",
        "abandoned",
        "awaiting_input",
    ] {
        assert!(
            api["totals"]["runs"][outcome].as_u64() > Some(0),
            "{outcome}"
        );
    }

    let page = |path: &'static str| {
        let browser = Arc::clone(&browser);
        let url = format!("{}{path}", app.base_url);
        async move {
            tokio::task::spawn_blocking(move || browser.dom(&url))
                .await
                .expect("chromium")
        }
    };
    let dom = page("/workflows/nightly-fixes").await;
    assert!(dom.contains("Workflow nightly-fixes"), "{dom}");

    // Runs by outcome: each hour's stacked values are the API's.
    let runs = table(figure(&dom, "chart-runs"));
    for hour in hours {
        let label = hour["hour"].as_str().expect("hour")[11..13].to_owned() + ":00";
        let expected: Vec<Option<f64>> = [
            "succeeded",
            "failed",
            "cancelled",
            "abandoned",
            "awaiting_input",
        ]
        .iter()
        .map(|o| number(&hour["runs"][o]))
        .collect();
        match runs.get(&label) {
            Some(shown) => assert_eq!(shown, &expected, "runs at {label}"),
            None => assert!(expected.iter().all(|v| *v == Some(0.0)), "{label} missing"),
        }
    }
    // Latency: p50 and p95 per hour.
    let dispatch = table(figure(&dom, "chart-dispatch"));
    let duration = table(figure(&dom, "chart-duration"));
    for hour in hours
        .iter()
        .filter(|h| h["run_duration_ms"]["count"].as_u64() > Some(0))
    {
        let label = hour["hour"].as_str().expect("hour")[11..13].to_owned() + ":00";
        let percentiles =
            |which: &str| vec![number(&hour[which]["p50"]), number(&hour[which]["p95"])];
        assert_eq!(
            dispatch[&label],
            percentiles("dispatch_latency_ms"),
            "dispatch at {label}"
        );
        assert_eq!(
            duration[&label],
            percentiles("run_duration_ms"),
            "duration at {label}"
        );
    }
    // Cost per day: the API's tokens at the prices set.
    let mut days: BTreeMap<String, f64> = BTreeMap::new();
    for hour in hours {
        let cost = hour["tokens"]["input"].as_f64().unwrap_or(0.0) * INPUT_PRICE / 1e6
            + hour["tokens"]["output"].as_f64().unwrap_or(0.0) * OUTPUT_PRICE / 1e6;
        *days
            .entry(hour["hour"].as_str().expect("hour")[..10].to_owned())
            .or_default() += cost;
    }
    let cost = table(figure(&dom, "chart-cost"));
    let shown: f64 = cost.values().filter_map(|row| row[0]).sum();
    let expected: f64 = days.values().sum();
    assert!(
        (shown - expected).abs() < 1e-6,
        "cost: shown {shown}, API {expected}"
    );
    assert!(!cost.is_empty());

    // The overview: every workflow together, and the queue depth the reconciler sampled.
    let overview = page("/").await;
    let all: Value = app
        .client
        .get(format!("{}/api/v1/metrics", app.base_url))
        .send()
        .await
        .expect("get metrics")
        .json()
        .await
        .expect("metrics json");
    let queue = table(figure(&overview, "chart-queue"));
    for hour in all["hours"].as_array().expect("hours") {
        let Some(depth) = hour["queue_depth"].as_object() else {
            continue;
        };
        let label = hour["hour"].as_str().expect("hour")[11..13].to_owned() + ":00";
        if depth["max"].as_u64() == Some(0) {
            continue;
        }
        assert_eq!(
            queue[&label],
            vec![number(&depth["max"]), number(&depth["last"])],
            "queue at {label}"
        );
    }
    let received = all["totals"]["webhooks"]["received"]
        .as_u64()
        .expect("received");
    assert!(
        overview.contains(&format!("{received} webhooks received")),
        "the overview's summary"
    );
    assert!(figure(&overview, "chart-runs").contains("<svg"));

    let shots = screenshots_dir();
    let name = match backend {
        Backend::Memory => "memory",
        Backend::Aws => "aws",
    };
    for (path, file) in [("/", "overview"), ("/workflows/nightly-fixes", "workflow")] {
        let browser = Arc::clone(&browser);
        let url = format!("{}{path}", app.base_url);
        let shot = shots.join(format!("trends-{file}-{name}.png"));
        tokio::task::spawn_blocking(move || browser.screenshot(&url, &shot))
            .await
            .expect("chromium");
    }
}
