//! From a signed webhook to a finished agent session, through the real ingress, queue, store
//! and runner loop, with the mock agent as a real process: on the embedded backends and on
//! DynamoDB and SQS in the emulator.

#[macro_use]
mod common;

use baton_core::domain::{RunStatus, WorkItemKey, WorkItemStatus};
use common::control_plane::{
    events, spawn_control_plane, wait_for_item, wait_for_message, wait_for_runs,
};
use common::signing::{self, github_issue};
use common::{Backend, GITHUB_SECRET};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_backends!(
    a_labelled_issue_ends_in_a_finished_recorded_session,
    unlabelling_a_running_issue_stops_its_session
);

async fn post_issue_event(
    app: &common::TestApp,
    action: &str,
    number: u64,
    labels: &[&str],
) -> WorkItemKey {
    let body = github_issue(
        action,
        number,
        labels,
        json!({ "label": { "name": "baton" } }),
    );
    let delivery = uuid::Uuid::new_v4().to_string();
    let (status, answer) = app
        .post(
            "github",
            &signing::github(GITHUB_SECRET, "issues", &delivery, &body),
            body,
        )
        .await;
    let expected = if labels.is_empty() { 200 } else { 202 };
    assert_eq!(status, expected, "{answer}");
    WorkItemKey::parse(answer["work_item"].as_str().expect("work_item")).expect("key")
}

async fn a_labelled_issue_ends_in_a_finished_recorded_session(backend: Backend) {
    let plane = spawn_control_plane(backend, "happy_path").await;
    let store = &*plane.app.store;
    let key = post_issue_event(&plane.app, "labeled", 1, &["baton"]).await;

    let item = wait_for_item(store, &key, "a succeeded run", |i| {
        i.status == WorkItemStatus::Succeeded
    })
    .await;
    let runs = wait_for_runs(store, &key, 1).await;
    assert_eq!(runs.len(), 1, "exactly one run: {runs:#?}");
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(item.last_run.as_ref(), Some(&run.run_id));
    // Every timestamp of the run's life is recorded, in order.
    let received = run.received_at.expect("received_at");
    let started = run.agent_started_at.expect("agent_started_at");
    let ended = run.ended_at.expect("ended_at");
    assert!(received <= run.queued_at && run.queued_at <= run.claimed_at);
    assert!(run.claimed_at <= started && started <= ended);
    assert_eq!(run.tokens.total_tokens, 1500);
    let kinds: Vec<String> = events(store, run)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for expected in [
        "claimed",
        "workspace_ready",
        "session_started",
        "message",
        "file_change",
        "turn_ended",
        "run_ended",
    ] {
        assert!(
            kinds.iter().any(|k| k == expected),
            "missing {expected}: {kinds:?}"
        );
    }
    plane.stop().await;
}

async fn unlabelling_a_running_issue_stops_its_session(backend: Backend) {
    // The `stall` scenario speaks once, then waits until interrupted.
    let plane = spawn_control_plane(backend, "stall").await;
    let store = &*plane.app.store;
    let key = post_issue_event(&plane.app, "labeled", 2, &["baton"]).await;
    wait_for_item(store, &key, "the session to run", |i| {
        i.status == WorkItemStatus::Running
    })
    .await;
    let runs = wait_for_runs(store, &key, 1).await;
    wait_for_message(store, &runs[0]).await;

    let unlabelled = Instant::now();
    let same = post_issue_event(&plane.app, "unlabeled", 2, &[]).await;
    assert_eq!(same, key);
    let item = wait_for_item(store, &key, "the cancel", |i| {
        i.status == WorkItemStatus::Cancelled
    })
    .await;
    let took = unlabelled.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the session stopped {took:?} after the unlabel"
    );
    assert!(item.lease.is_none());
    let runs = wait_for_runs(store, &key, 1).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    plane.stop().await;
}
