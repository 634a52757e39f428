//! The charts on the overview and a workflow's page: drawn from the stored series, with
//! their text fallbacks, saying so when there is nothing to draw, and no script.

use super::{router_with_pricing, Pricing};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use baton_core::clock::ManualClock;
use baton_core::memory::MemoryStore;
use baton_core::ports::Store;
use baton_core::trends::{hour_of, MetricsUpdate, WebhookVerdict};
use chrono::{TimeDelta, Utc};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

/// The series live in real time (90 days of it), so the page's clock is the real one.
fn app(store: Arc<MemoryStore>, pricing: Pricing) -> Router {
    router_with_pricing(store, Arc::new(ManualClock::new(Utc::now())), pricing)
}

async fn page(app: &Router, uri: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

/// The markup of the figure `id`.
fn figure<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body
        .find(&format!("<figure class=\"chart\" id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no figure {id} in {body}"));
    let end = body[start..].find("</figure>").expect("figure end") + start;
    &body[start..end]
}

#[tokio::test]
async fn the_overview_draws_the_last_day_with_text_fallbacks() {
    let store = Arc::new(MemoryStore::new());
    let hour = hour_of(Utc::now()) - TimeDelta::hours(2);
    for (minutes, workflow) in [(1, "main"), (2, "main"), (3, "<b>docs</b>")] {
        store
            .record_metrics(&MetricsUpdate::run_started(
                hour + TimeDelta::minutes(minutes),
                Some(workflow),
            ))
            .await
            .expect("record");
    }
    let mut update = MetricsUpdate::webhook(hour, None, WebhookVerdict::Accepted);
    update.add.push(("ended_succeeded".into(), 2));
    update.add.push(("ended_failed".into(), 1));
    update.add.push(("duration_20".into(), 3));
    update.add.push(("input_tokens".into(), 1_000_000));
    store.record_metrics(&update).await.expect("record");
    let pricing = Pricing::per_million_tokens(2.5, 10.0).expect("prices");
    let app = app(Arc::clone(&store), pricing);

    let (status, body) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("<script"), "{body}");
    assert!(
        body.contains("3 runs started, 3 ended (1 failed)"),
        "{body}"
    );
    let runs = figure(&body, "chart-runs");
    assert!(runs.contains("<svg role=\"img\""), "{runs}");
    assert!(runs.contains("<title id=\"chart-runs-title\">"), "{runs}");
    assert!(
        runs.contains("2 succeeded, 1 failed, 0 cancelled, 0 abandoned"),
        "{runs}"
    );
    assert!(
        runs.contains("class=\"c-ok\""),
        "a bar of successes: {runs}"
    );
    assert!(
        runs.contains("<td data-value=\"2\">2</td><td data-value=\"1\">1</td>"),
        "{runs}"
    );
    assert!(
        runs.contains("Hour (UTC)") && runs.contains(">Runs</text>"),
        "{runs}"
    );
    let duration = figure(&body, "chart-duration");
    // Bucket 20: up to 102.4 s.
    assert!(
        duration.contains("<polyline") || duration.contains("<circle"),
        "{duration}"
    );
    assert!(duration.contains("data-value=\"102400\""), "{duration}");
    let cost = figure(&body, "chart-cost");
    assert!(cost.contains("data-value=\"2.5\">$2.50"), "{cost}");
    // Nothing dispatched and nothing sampled: said, not drawn.
    let dispatch = figure(&body, "chart-dispatch");
    assert!(dispatch.contains("class=\"empty no-data\""), "{dispatch}");
    assert!(!dispatch.contains("<svg"), "{dispatch}");
    assert!(figure(&body, "chart-queue").contains("no-data"));

    // One workflow's page: its runs only; a hostile name stays text.
    let (status, docs) = page(&app, "/workflows/%3Cb%3Edocs%3C%2Fb%3E").await;
    assert_eq!(status, StatusCode::OK, "{docs}");
    assert!(docs.contains("Workflow &lt;b&gt;docs&lt;/b&gt;"), "{docs}");
    assert!(docs.contains("1 runs started, 0 ended"), "{docs}");
    assert!(figure(&docs, "chart-runs").contains("no-data"));
}

#[tokio::test]
async fn without_data_or_prices_every_chart_says_so() {
    let app = app(Arc::new(MemoryStore::new()), Pricing::unset());
    let (status, body) = page(&app, "/").await;
    assert_eq!(status, StatusCode::OK);
    for id in [
        "chart-runs",
        "chart-dispatch",
        "chart-duration",
        "chart-queue",
    ] {
        assert!(figure(&body, id).contains("no-data"), "{id}");
    }
    assert!(figure(&body, "chart-cost").contains("BATON_PRICE_INPUT_PER_MTOK"));
    let (status, _) = page(&app, "/workflows/%00").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
