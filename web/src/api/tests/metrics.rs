//! `GET /api/v1/metrics`: the hourly series as the store holds it, per workflow or all
//! together, and a 400 that says which parameter is wrong.

use super::*;
use baton_core::trends::{hour_of, MetricsUpdate, WebhookVerdict};

/// The buckets live in real time (they expire after 90 days of it), so the test's hours
/// are the last few real ones, asked for with explicit `from` and `to`.
#[tokio::test]
async fn answers_every_hour_of_the_span_per_workflow_or_all() {
    let store = Arc::new(MemoryStore::new());
    let start = hour_of(Utc::now()) - chrono::Duration::hours(3);
    let at = |minutes: i64| start + chrono::Duration::minutes(minutes);
    for (minute, workflow) in [(5, "main"), (10, "main"), (20, "docs")] {
        store
            .record_metrics(&MetricsUpdate::run_started(at(minute), Some(workflow)))
            .await
            .expect("record");
    }
    let mut ended = run(&github("acme/app#1"), run_id(1), 1, RunStatus::Failed);
    ended.claimed_at = at(30);
    ended.ended_at = Some(at(70));
    ended.tokens = tokens(1000);
    store
        .record_metrics(&MetricsUpdate::run_ended(&ended, Some("main"), at(70)))
        .await
        .expect("record");
    for verdict in [WebhookVerdict::Accepted, WebhookVerdict::Refused] {
        store
            .record_metrics(&MetricsUpdate::webhook(at(1), None, verdict))
            .await
            .expect("record");
    }
    store
        .record_metrics(&MetricsUpdate::queue_depth(at(90), 4))
        .await
        .expect("record");
    let app = api(store);
    let from = start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let to =
        (start + chrono::Duration::hours(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let uri = format!("/api/v1/metrics?from={from}&to={to}");
    let answer = get(&app, &uri).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = &answer.body;
    let hours = body["hours"].as_array().expect("hours");
    assert_eq!(hours.len(), 3, "{body}");
    assert_eq!(hours[0]["runs"]["started"], 3);
    assert_eq!(
        hours[0]["webhooks"],
        json!({"received": 2, "accepted": 1, "refused": 1})
    );
    assert_eq!(hours[1]["runs"]["failed"], 1);
    assert_eq!(hours[1]["run_duration_ms"]["count"], 1);
    assert_eq!(hours[1]["tokens"]["input"], ended.tokens.input_tokens);
    assert_eq!(hours[1]["queue_depth"], json!({"last": 4, "max": 4}));
    assert_eq!(hours[2]["runs"]["started"], 0);
    assert_eq!(hours[2]["queue_depth"], Value::Null);
    assert_eq!(body["totals"]["runs"]["started"], 3);
    assert_eq!(body["workflow"], Value::Null);

    let docs = get(&app, &format!("{uri}&workflow=docs")).await;
    assert_eq!(docs.status, StatusCode::OK, "{}", docs.body);
    assert_eq!(docs.body["totals"]["runs"]["started"], 1);
    assert_eq!(docs.body["totals"]["runs"]["failed"], 0);
    assert_eq!(docs.body["totals"]["webhooks"]["received"], 0);
    assert_eq!(docs.body["workflow"], "docs");
}

#[tokio::test]
async fn bad_parameters_are_a_400_that_names_them() {
    let app = api(Arc::new(MemoryStore::new()));
    for (query, says) in [
        ("from=yesterday", "`from` must be an RFC 3339 time"),
        ("to=2026-13-01T00:00:00Z", "`to` must be an RFC 3339 time"),
        (
            "from=2026-03-01T12:00:00Z&to=2026-03-01T11:00:00Z",
            "must be before `to`",
        ),
        (
            "from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
            "at most 90 days",
        ),
        ("workflow=", "`workflow`"),
    ] {
        let answer = get(&app, &format!("/api/v1/metrics?{query}")).await;
        let message = assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_query");
        assert!(message.contains(says), "{query}: {message}");
    }
    // The default span is the 24 hours up to the clock's now (12:00 sharp): 24 rows.
    let answer = get(&app, "/api/v1/metrics").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["hours"].as_array().map(Vec::len), Some(24));
}
