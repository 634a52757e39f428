//! The API's tests, on the real router over the memory adapters (`tower::oneshot`, no
//! socket), except the auth tests, which serve it on loopback sockets to have a real peer.

mod accounts;
mod actions;
mod auth;
mod limits;
mod metrics;
mod openapi;
mod runs;

use super::{router, CursorKey, EVENTS_PER_RUN, STATE_LIST_LIMIT};
use crate::ingress;
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use baton_core::clock::{Clock, ManualClock, SystemClock};
use baton_core::domain::{
    DeliveryKey, DeliveryOutcome, IssueSnapshot, JobId, JobReason, Lease, Run, RunError, RunEvent,
    RunId, RunStatus, SourceKind, TokenTotals, WorkItem, WorkItemKey, WorkItemStatus,
};
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{DeliveryClaim, SlotPool, Store, StoreError};
use baton_core::workflow::Workflow;
use chrono::{DateTime, TimeZone, Utc};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const RETAIN: Duration = Duration::from_secs(24 * 3600);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(now()))
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// Distinct per item, so sums show which items were added.
fn tokens(n: u64) -> TokenTotals {
    TokenTotals {
        input_tokens: n * 10,
        output_tokens: n,
        total_tokens: n * 11,
    }
}

fn github(identifier: &str) -> WorkItemKey {
    WorkItemKey::new(SourceKind::Github, identifier)
}

/// The key as a client puts it in the path: one percent-encoded segment.
fn encoded(key: &WorkItemKey) -> String {
    utf8_percent_encode(key.as_str(), NON_ALPHANUMERIC).to_string()
}

fn item(key: WorkItemKey, status: WorkItemStatus, updated_minutes_ago: i64, n: u64) -> WorkItem {
    let identifier = key
        .as_str()
        .split_once(':')
        .map_or("", |(_, identifier)| identifier)
        .to_owned();
    WorkItem {
        source: SourceKind::Github,
        issue: IssueSnapshot {
            id: format!("I_{n}"),
            identifier: identifier.clone(),
            title: format!("Issue {n}"),
            body: String::new(),
            state: "open".into(),
            labels: vec!["baton".into()],
            url: Some(format!(
                "https://github.com/{}",
                identifier.replace('#', "/issues/")
            )),
            repository: Some("acme/app".into()),
            author: Some("octocat".into()),
        },
        key,
        status,
        attempt: 1,
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        created_at: now() - minutes(60),
        updated_at: now() - minutes(updated_minutes_ago),
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: tokens(n),
        approved_by: None,
        pull_request: None,
        status_comment: None,
        input_request: None,
        agent_session: None,
        workflow: None,
        version: 1,
    }
}

fn run_id(n: u32) -> RunId {
    RunId::parse(&format!("00000000-0000-7000-8000-{n:012}")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(key: &WorkItemKey, id: RunId, attempt: u32, status: RunStatus) -> Run {
    Run {
        run_id: id,
        work_item: key.clone(),
        job_id: JobId::from(format!("job-{attempt}")),
        reason: JobReason::Labeled,
        attempt,
        runner: "runner-a".into(),
        status,
        received_at: Some(now() - minutes(30)),
        queued_at: now() - minutes(30),
        claimed_at: now() - minutes(29),
        agent_started_at: Some(now() - minutes(28)),
        ended_at: None,
        session_id: Some(format!("session-{attempt}")),
        turns: attempt,
        tokens: tokens(u64::from(attempt)),
        error: None,
        workspace: Some("/tmp/ws".into()),
        branch: Some("baton/acme-app-12".into()),
        commit: None,
        events: 0,
        version: 1,
    }
}

/// Events stamped with the real time: the memory store expires them by the wall clock.
async fn add_events(store: &MemoryStore, run_id: &RunId, count: u32) {
    let events: Vec<RunEvent> = (1..=count)
        .map(|seq| RunEvent {
            run_id: run_id.clone(),
            seq,
            at: Utc::now(),
            kind: "message".into(),
            data: json!({ "text": format!("event {seq}") }),
        })
        .collect();
    store.append_events(&events, RETAIN).await.expect("append");
}

async fn put(store: &MemoryStore, item: WorkItem) {
    store.put_work_item(&item, None).await.expect("put item");
}

/// One work item of each status (two queued), tokens 1..=8.
async fn seeded() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    put(
        &store,
        item(github("acme/app#1"), WorkItemStatus::Queued, 10, 1),
    )
    .await;
    put(
        &store,
        item(github("acme/app#2"), WorkItemStatus::Queued, 5, 2),
    )
    .await;

    let mut running = item(github("acme/app#3"), WorkItemStatus::Running, 1, 3);
    running.attempt = 2;
    running.last_run = Some(run_id(3));
    running.lease = Some(Lease {
        owner: "runner-a".into(),
        run_id: run_id(3),
        expires_at: now() + chrono::Duration::seconds(60),
    });
    running.issue.state = "In Progress".into();
    put(&store, running).await;

    let mut retrying = item(github("acme/app#4"), WorkItemStatus::Retrying, 2, 4);
    retrying.attempt = 3;
    retrying.last_run = Some(run_id(4));
    retrying.next_retry_at = Some(now() + chrono::Duration::seconds(30));
    retrying.last_error = Some("turn_failed: the agent gave up".into());
    put(&store, retrying).await;

    put(
        &store,
        item(github("acme/app#5"), WorkItemStatus::Succeeded, 3, 5),
    )
    .await;
    let mut failed = item(github("acme/app#6"), WorkItemStatus::Failed, 4, 6);
    failed.last_error = Some("hook_failed: before_run exited 1".into());
    put(&store, failed).await;
    put(
        &store,
        item(github("acme/app#7"), WorkItemStatus::Cancelled, 6, 7),
    )
    .await;
    let mut dead = item(github("acme/app#8"), WorkItemStatus::DeadLettered, 7, 8);
    dead.last_error = Some("stalled: no event for 300s".into());
    put(&store, dead).await;
    store
}

/// An ingress over `store` and `queue` serving the built-in development workflow, on the
/// test clock.
fn ingress_on(store: Arc<dyn Store>, queue: Arc<MemoryQueue>) -> Arc<Ingress> {
    Arc::new(Ingress::new(
        &Workflow::development(),
        BTreeMap::new(),
        store,
        queue,
        clock(),
        IngressSettings::default(),
    ))
}

/// The API's routes over `store` (with a queue nobody reads).
fn router_on(store: Arc<dyn Store>) -> Router {
    router(
        ingress_on(store, Arc::new(MemoryQueue::new())),
        CursorKey::random(),
    )
}

fn api(store: Arc<MemoryStore>) -> Router {
    router_on(store)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn send(app: &Router, method: Method, uri: &str) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    answer(app, request, uri).await
}

/// Sends `request` and reads the JSON answer.
async fn answer(app: &Router, request: Request<Body>, uri: &str) -> Answer {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: the body is not JSON ({e}): {bytes:?}"));
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(app: &Router, uri: &str) -> Answer {
    send(app, Method::GET, uri).await
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// Asserts the shared error envelope, exactly, and returns its message.
fn assert_error(answer: &Answer, status: StatusCode, code: &str) -> String {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(keys(&answer.body), set(&["error"]), "{}", answer.body);
    assert_eq!(
        keys(&answer.body["error"]),
        set(&["code", "message"]),
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"]["code"], code, "{}", answer.body);
    answer.body["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("message is not a string: {}", answer.body))
        .to_owned()
}

fn identifiers(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|entry| entry["identifier"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn state_counts_every_status_and_lists_the_live_and_failed_items() {
    let store = seeded().await;
    // Held at the dispatch gate; no tokens, so the sums below stay those of items 1..=8.
    put(
        &store,
        item(github("acme/app#9"), WorkItemStatus::AwaitingApproval, 8, 0),
    )
    .await;
    // Waiting on its agent's question; no tokens either.
    let mut asking = item(github("acme/app#10"), WorkItemStatus::AwaitingInput, 9, 0);
    asking.input_request = Some(baton_core::domain::InputRequest {
        question: "Which database?".into(),
        asked_at: asking.updated_at,
        deadline: Some(asking.updated_at + chrono::Duration::hours(24)),
        run_id: baton_core::domain::RunId::generate(),
        session_id: None,
        answer: None,
    });
    put(&store, asking).await;
    let app = api(store);
    let answer = get(&app, "/api/v1/state").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(
        keys(body),
        set(&[
            "generated_at",
            "counts",
            "counts_capped_at",
            "capped",
            "running",
            "retrying",
            "queued",
            "failed",
            "dead_lettered",
            "awaiting_approval",
            "awaiting_input",
            "token_totals",
            "rate_limits",
        ])
    );
    assert_eq!(body["generated_at"], "2026-03-01T12:00:00Z");
    assert_eq!(
        body["counts"],
        json!({
            "queued": 2, "running": 1, "retrying": 1, "succeeded": 1,
            "failed": 1, "cancelled": 1, "dead_lettered": 1, "awaiting_approval": 1,
            "awaiting_input": 1,
        })
    );
    assert_eq!(body["counts_capped_at"], STATE_LIST_LIMIT);
    assert_eq!(body["capped"], json!([]));
    assert_eq!(body["rate_limits"], Value::Null);

    // Most recently updated first.
    assert_eq!(identifiers(&body["queued"]), ["acme/app#2", "acme/app#1"]);
    assert_eq!(identifiers(&body["running"]), ["acme/app#3"]);
    assert_eq!(identifiers(&body["retrying"]), ["acme/app#4"]);
    assert_eq!(identifiers(&body["failed"]), ["acme/app#6"]);
    assert_eq!(identifiers(&body["dead_lettered"]), ["acme/app#8"]);
    assert_eq!(identifiers(&body["awaiting_approval"]), ["acme/app#9"]);
    assert_eq!(body["awaiting_approval"][0]["status"], "awaiting_approval");
    assert_eq!(identifiers(&body["awaiting_input"]), ["acme/app#10"]);
    assert_eq!(body["awaiting_input"][0]["question"], "Which database?");
    assert_eq!(
        body["awaiting_input"][0]["input_deadline"],
        "2026-03-02T11:51:00Z"
    );

    let running = &body["running"][0];
    assert_eq!(
        running,
        &json!({
            "question": null,
            "input_deadline": null,
            "waiting_for_account": null,
            "work_item": "github:acme/app#3",
            "identifier": "acme/app#3",
            "title": "Issue 3",
            "url": "https://github.com/acme/app/issues/3",
            "state": "In Progress",
            "status": "running",
            "attempt": 2,
            "run_id": run_id(3).as_str(),
            "lease_owner": "runner-a",
            "lease_expires_at": "2026-03-01T12:01:00Z",
            "next_retry_at": null,
            "last_error": null,
            "cancel_requested": false,
            "updated_at": "2026-03-01T11:59:00Z",
            "tokens": { "input_tokens": 30, "output_tokens": 3, "total_tokens": 33 },
        })
    );
    let retrying = &body["retrying"][0];
    assert_eq!(retrying["status"], "retrying");
    assert_eq!(retrying["attempt"], 3);
    assert_eq!(retrying["run_id"], run_id(4).as_str());
    assert_eq!(retrying["next_retry_at"], "2026-03-01T12:00:30Z");
    assert_eq!(retrying["last_error"], "turn_failed: the agent gave up");
    assert_eq!(retrying["lease_owner"], Value::Null);
    assert_eq!(
        body["dead_lettered"][0]["last_error"],
        "stalled: no event for 300s"
    );

    // Items 1..=8, succeeded and cancelled included.
    assert_eq!(
        body["token_totals"],
        json!({ "input_tokens": 360, "output_tokens": 36, "total_tokens": 396 })
    );
}

#[tokio::test]
async fn state_of_an_empty_store_is_all_zeros() {
    let app = api(Arc::new(MemoryStore::new()));
    let answer = get(&app, "/api/v1/state").await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = &answer.body;
    for status in [
        "queued",
        "running",
        "retrying",
        "succeeded",
        "failed",
        "cancelled",
        "dead_lettered",
        "awaiting_approval",
    ] {
        assert_eq!(body["counts"][status], 0, "{status}");
    }
    for list in [
        "running",
        "retrying",
        "queued",
        "failed",
        "dead_lettered",
        "awaiting_approval",
    ] {
        assert_eq!(body[list], json!([]), "{list}");
    }
    assert_eq!(
        body["token_totals"],
        json!({ "input_tokens": 0, "output_tokens": 0, "total_tokens": 0 })
    );
}

#[tokio::test]
async fn state_names_the_statuses_whose_count_reached_the_cap() {
    let store = Arc::new(MemoryStore::new());
    let cap = STATE_LIST_LIMIT as i64;
    // One more succeeded item than the cap; exactly the cap of queued ones.
    for n in 0..=cap {
        let key = github(&format!("acme/done#{n}"));
        put(&store, item(key, WorkItemStatus::Succeeded, n, 1)).await;
    }
    for n in 0..cap {
        let key = github(&format!("acme/todo#{n}"));
        put(&store, item(key, WorkItemStatus::Queued, n, 1)).await;
    }
    let answer = get(&api(store), "/api/v1/state").await;
    assert_eq!(answer.status, StatusCode::OK);
    let body = &answer.body;
    assert_eq!(body["counts"]["succeeded"], STATE_LIST_LIMIT);
    assert_eq!(body["counts"]["queued"], STATE_LIST_LIMIT);
    assert_eq!(body["capped"], json!(["succeeded"]));
    let queued = identifiers(&body["queued"]);
    assert_eq!(queued.len(), STATE_LIST_LIMIT);
    assert_eq!(queued.first(), Some(&"acme/todo#0"));
    // Summed over the counted items only: 2 * cap items of tokens(1).
    assert_eq!(body["token_totals"]["output_tokens"], 2 * STATE_LIST_LIMIT);
}

/// An item with two runs (3 and 2 events) and a neighbour whose run must not show.
async fn item_with_runs() -> (Arc<MemoryStore>, WorkItemKey) {
    let store = seeded().await;
    let key = github("acme/app#12");
    let mut work_item = item(key.clone(), WorkItemStatus::Running, 0, 12);
    work_item.last_run = Some(run_id(2));
    put(&store, work_item).await;

    let mut first = run(&key, run_id(1), 1, RunStatus::Failed);
    first.ended_at = Some(now() - minutes(20));
    first.error = Some(RunError {
        code: "turn_failed".into(),
        message: "the agent gave up".into(),
    });
    first.commit = Some("0123abc".into());
    first.events = 3;
    store.put_run(&first, None).await.expect("put run");
    add_events(&store, &run_id(1), 3).await;

    let mut second = run(&key, run_id(2), 2, RunStatus::Running);
    second.events = 2;
    store.put_run(&second, None).await.expect("put run");
    add_events(&store, &run_id(2), 2).await;

    let neighbour = run(&github("acme/app#1"), run_id(9), 1, RunStatus::Succeeded);
    store.put_run(&neighbour, None).await.expect("put run");
    add_events(&store, &run_id(9), 1).await;
    (store, key)
}

#[tokio::test]
async fn an_issue_is_found_by_its_percent_encoded_key_with_its_runs_and_timelines() {
    let (store, key) = item_with_runs().await;
    // What the item's runs spent, as the runner charges it under `budgets`.
    let spend = baton_core::ports::BudgetSpend {
        tokens: 1_500,
        cost_micro_usd: 4_200,
    };
    let charge = baton_core::ports::BudgetCharge {
        scope: baton_core::ports::BudgetScope::new(None, &key, chrono::Utc::now()),
        spend,
        at: chrono::Utc::now(),
    };
    store.charge_budget(&charge).await.expect("charge");
    let app = api(store);
    // The literal a client builds from the ingress's `"work_item": "github:acme/app#12"`.
    assert_eq!(encoded(&key), "github%3Aacme%2Fapp%2312");
    let answer = get(&app, "/api/v1/issues/github%3Aacme%2Fapp%2312").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(keys(body), set(&["work_item", "runs", "budget"]));
    let counted = json!({ "tokens": 1_500, "cost_micro_usd": 4_200 });
    assert_eq!(body["budget"], json!({ "item": counted, "day": counted }));
    assert_eq!(body["work_item"]["key"], "github:acme/app#12");
    assert_eq!(body["work_item"]["issue"]["identifier"], "acme/app#12");
    assert_eq!(body["work_item"]["status"], "running");
    assert_eq!(body["work_item"]["last_run"], run_id(2).as_str());

    let runs = body["runs"].as_array().expect("runs");
    let ids: Vec<_> = runs.iter().map(|run| run["run_id"].clone()).collect();
    assert_eq!(ids, [json!(run_id(1).as_str()), json!(run_id(2).as_str())]);
    let first = &runs[0];
    assert_eq!(
        keys(first),
        set(&[
            "run_id",
            "job_id",
            "reason",
            "attempt",
            "runner",
            "status",
            "received_at",
            "queued_at",
            "claimed_at",
            "agent_started_at",
            "ended_at",
            "error",
            "tokens",
            "turns",
            "session_id",
            "workspace",
            "branch",
            "commit",
            "event_count",
            "events",
            "events_truncated",
        ])
    );
    assert_eq!(first["status"], "failed");
    assert_eq!(first["reason"], "labeled");
    assert_eq!(first["received_at"], "2026-03-01T11:30:00Z");
    assert_eq!(first["claimed_at"], "2026-03-01T11:31:00Z");
    assert_eq!(first["ended_at"], "2026-03-01T11:40:00Z");
    assert_eq!(
        first["error"],
        json!({ "code": "turn_failed", "message": "the agent gave up" })
    );
    assert_eq!(first["commit"], "0123abc");
    assert_eq!(first["session_id"], "session-1");
    assert_eq!(first["event_count"], 3);
    assert_eq!(first["events_truncated"], false);
    let events = first["events"].as_array().expect("events");
    let seqs: Vec<_> = events.iter().map(|event| event["seq"].clone()).collect();
    assert_eq!(seqs, [json!(1), json!(2), json!(3)]);
    assert_eq!(events[0]["kind"], "message");
    assert_eq!(events[0]["data"], json!({ "text": "event 1" }));
    assert_eq!(events[0]["run_id"], run_id(1).as_str());

    let second = &runs[1];
    assert_eq!(second["status"], "running");
    assert_eq!(second["ended_at"], Value::Null);
    assert_eq!(second["error"], Value::Null);
    assert_eq!(second["events"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn keys_with_slashes_hashes_and_other_reserved_characters_round_trip() {
    let store = Arc::new(MemoryStore::new());
    let keys = [
        WorkItemKey::new(SourceKind::Gitlab, "group/sub/project#3"),
        WorkItemKey::new(SourceKind::Linear, "ENG-42"),
        WorkItemKey::new(SourceKind::Jira, "PROJ-7"),
        github("acme/app#12"),
        // Not a real identifier, but nothing in the path handling may mangle it.
        github("we?ird/na me%20#1+ü"),
    ];
    for (n, key) in keys.iter().enumerate() {
        put(
            &store,
            item(key.clone(), WorkItemStatus::Queued, 0, n as u64),
        )
        .await;
    }
    let app = api(store);
    for key in &keys {
        let answer = get(&app, &format!("/api/v1/issues/{}", encoded(key))).await;
        assert_eq!(answer.status, StatusCode::OK, "{key}: {}", answer.body);
        assert_eq!(answer.body["work_item"]["key"], key.as_str());
        assert_eq!(answer.body["runs"], json!([]), "{key}");
    }
    // `:` and `-` need no encoding.
    let answer = get(&app, "/api/v1/issues/linear:ENG-42").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["work_item"]["key"], "linear:ENG-42");
}

#[tokio::test]
async fn an_unknown_issue_is_404_issue_not_found() {
    let app = api(seeded().await);
    let answer = get(&app, "/api/v1/issues/github%3Aacme%2Fapp%2399").await;
    let message = assert_error(&answer, StatusCode::NOT_FOUND, "issue_not_found");
    assert!(message.contains("github:acme/app#99"), "{message}");
}

#[tokio::test]
async fn a_malformed_key_is_400_invalid_key() {
    let app = api(seeded().await);
    for path in [
        // No `<source>:` prefix.
        "nosource",
        "acme%2Fapp%2312",
        // Not a source baton knows.
        "bitbucket%3Aacme%2Fapp%2312",
        // No identifier.
        "github%3A",
        // Percent-decodes to bytes that are not UTF-8.
        "github%3A%FF%FE",
    ] {
        let answer = get(&app, &format!("/api/v1/issues/{path}")).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_key");
    }
}

#[tokio::test]
async fn a_timeline_longer_than_the_bound_is_cut_and_flagged() {
    let store = Arc::new(MemoryStore::new());
    let key = github("acme/app#12");
    put(&store, item(key.clone(), WorkItemStatus::Succeeded, 0, 1)).await;
    let bound = EVENTS_PER_RUN as u32;
    // Exactly the bound, then one more.
    for (n, count) in [(1, bound), (2, bound + 1)] {
        let mut r = run(&key, run_id(n), n, RunStatus::Succeeded);
        r.events = count;
        store.put_run(&r, None).await.expect("put run");
        add_events(&store, &run_id(n), count).await;
    }
    let answer = get(&api(store), &format!("/api/v1/issues/{}", encoded(&key))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let runs = answer.body["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2);
    for (run, truncated, count) in [(&runs[0], false, bound), (&runs[1], true, bound + 1)] {
        let events = run["events"].as_array().expect("events");
        assert_eq!(events.len(), EVENTS_PER_RUN);
        assert_eq!(events.first().map(|e| e["seq"].clone()), Some(json!(1)));
        assert_eq!(events.last().map(|e| e["seq"].clone()), Some(json!(bound)));
        assert_eq!(run["events_truncated"], truncated);
        assert_eq!(run["event_count"], count);
    }
}

#[tokio::test]
async fn wrong_methods_are_405_method_not_allowed() {
    let app = api(seeded().await);
    for (method, uri) in [
        (Method::POST, "/api/v1/state"),
        (Method::DELETE, "/api/v1/state"),
        (Method::PUT, "/api/v1/issues/github%3Aacme%2Fapp%231"),
        (Method::POST, "/api/v1/issues/github%3Aacme%2Fapp%231"),
    ] {
        let answer = send(&app, method.clone(), uri).await;
        assert_error(
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        );
    }
}

/// A secret the backend put in its error, which must not reach a response body.
const BACKEND_DETAIL: &str = "arn:aws:dynamodb:eu-west-1:123456789012:table/baton";

/// Delegates to a [`MemoryStore`], except that the method named `fails` is unavailable.
struct FailingStore {
    inner: Arc<MemoryStore>,
    fails: &'static str,
}

impl FailingStore {
    fn check(&self, method: &str) -> Result<(), StoreError> {
        if method == self.fails {
            Err(StoreError::Unavailable(format!(
                "AccessDenied on {BACKEND_DETAIL}"
            )))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Store for FailingStore {
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        self.check("begin_delivery")?;
        self.inner
            .begin_delivery(key, owner, now, lease, retain)
            .await
    }

    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        outcome: &DeliveryOutcome,
        event: &baton_core::domain::NormalizedEvent,
        now: DateTime<Utc>,
        retain: Duration,
    ) -> Result<(), StoreError> {
        self.check("complete_delivery")?;
        self.inner
            .complete_delivery(key, owner, outcome, event, now, retain)
            .await
    }

    async fn get_delivery(
        &self,

        key: &DeliveryKey,

        now: DateTime<Utc>,
    ) -> Result<Option<baton_core::domain::DeliveryRecord>, StoreError> {
        self.check("get_delivery")?;

        self.inner.get_delivery(key, now).await
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        self.check("release_delivery")?;
        self.inner.release_delivery(key, owner).await
    }

    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError> {
        self.check("get_work_item")?;
        self.inner.get_work_item(key).await
    }

    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.check("put_work_item")?;
        self.inner.put_work_item(item, expected_version).await
    }

    async fn delete_work_item(
        &self,
        key: &WorkItemKey,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.check("delete_work_item")?;
        self.inner.delete_work_item(key, expected_version).await
    }

    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        self.check("list_work_items")?;
        self.inner.list_work_items(status, limit).await
    }

    async fn put_run(&self, run: &Run, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.check("put_run")?;
        self.inner.put_run(run, expected_version).await
    }

    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        self.check("get_run")?;
        self.inner.get_run(run_id).await
    }

    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        self.check("list_runs")?;
        self.inner.list_runs(key).await
    }

    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError> {
        self.check("append_events")?;
        self.inner.append_events(events, retain).await
    }

    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        self.check("list_events")?;
        self.inner.list_events(run_id, after, limit).await
    }

    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        self.check("get_slot_pool")?;
        self.inner.get_slot_pool(scope).await
    }

    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.check("put_slot_pool")?;
        self.inner.put_slot_pool(pool, expected_version).await
    }

    async fn get_account_pool(
        &self,
        provider: &str,
    ) -> Result<Option<baton_core::ports::AccountPool>, StoreError> {
        self.check("get_account_pool")?;
        self.inner.get_account_pool(provider).await
    }

    async fn put_account_pool(
        &self,
        pool: &baton_core::ports::AccountPool,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        self.check("put_account_pool")?;
        self.inner.put_account_pool(pool, expected_version).await
    }

    async fn record_metrics(
        &self,
        update: &baton_core::trends::MetricsUpdate,
    ) -> Result<(), StoreError> {
        self.check("record_metrics")?;
        self.inner.record_metrics(update).await
    }

    async fn read_metrics(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<baton_core::trends::MetricsRecord>, StoreError> {
        self.check("read_metrics")?;
        self.inner.read_metrics(scope, from, to).await
    }

    async fn charge_budget(
        &self,
        charge: &baton_core::ports::BudgetCharge,
    ) -> Result<baton_core::ports::BudgetTotals, StoreError> {
        self.check("charge_budget")?;
        self.inner.charge_budget(charge).await
    }

    async fn read_budget(
        &self,
        scope: &baton_core::ports::BudgetScope,
    ) -> Result<baton_core::ports::BudgetTotals, StoreError> {
        self.check("read_budget")?;
        self.inner.read_budget(scope).await
    }
}

#[tokio::test]
async fn store_failures_are_503_store_unavailable_without_the_detail() {
    let (inner, key) = item_with_runs().await;
    let issue = format!("/api/v1/issues/{}", encoded(&key));
    for (fails, uri) in [
        ("list_work_items", "/api/v1/state"),
        ("get_work_item", issue.as_str()),
        ("list_runs", issue.as_str()),
        ("list_events", issue.as_str()),
        ("read_budget", issue.as_str()),
    ] {
        let store = Arc::new(FailingStore {
            inner: inner.clone(),
            fails,
        });
        let answer = get(&router_on(store), uri).await;
        let message = assert_error(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
        );
        assert!(!message.contains(BACKEND_DETAIL), "{fails}: {message}");
        assert!(!answer.body.to_string().contains("AccessDenied"), "{fails}");
        assert_eq!(
            answer.headers.get("retry-after").map(|v| v.as_bytes()),
            Some(&b"5"[..]),
            "{fails}"
        );
    }
    // The same requests succeed when nothing fails: the failures above came from the store.
    let store = Arc::new(FailingStore {
        inner,
        fails: "nothing",
    });
    let app = router_on(store);
    assert_eq!(get(&app, "/api/v1/state").await.status, StatusCode::OK);
    assert_eq!(get(&app, &issue).await.status, StatusCode::OK);
}

/// The ingress and the API in one router, as `baton dev` serves them.
fn merged(store: Arc<MemoryStore>) -> Router {
    let ingress = Ingress::new(
        &Workflow::development(),
        BTreeMap::new(),
        store.clone(),
        Arc::new(MemoryQueue::new()),
        Arc::new(SystemClock),
        IngressSettings::default(),
    );
    let ingress = Arc::new(ingress);
    ingress::router(Arc::clone(&ingress)).merge(router(ingress, CursorKey::random()))
}

#[tokio::test]
async fn the_api_merges_into_the_ingress_router_whose_fallback_answers_unknown_paths() {
    let (store, key) = item_with_runs().await;
    let app = merged(store);

    let state = get(&app, "/api/v1/state").await;
    assert_eq!(state.status, StatusCode::OK, "{}", state.body);
    assert_eq!(state.body["counts"]["running"], 2);
    let issue = get(&app, &format!("/api/v1/issues/{}", encoded(&key))).await;
    assert_eq!(issue.status, StatusCode::OK, "{}", issue.body);
    assert_eq!(issue.body["work_item"]["key"], "github:acme/app#12");

    for uri in [
        "/api",
        "/api/v1",
        "/api/v1/nope",
        "/api/v2/state",
        "/api/v1/issues",
        "/api/v1/issues/",
        // An unencoded `/` splits the key into two segments: no such route.
        "/api/v1/issues/github:acme/app%2312",
        "/api/v1/state/extra",
    ] {
        let answer = get(&app, uri).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    let answer = send(&app, Method::POST, "/api/v1/state").await;
    assert_error(
        &answer,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );

    // The ingress's own routes are untouched.
    let health = get(&app, "/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, json!({ "status": "ok" }));
    let answer = send(&app, Method::GET, "/webhooks/github").await;
    assert_error(
        &answer,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let answer = send(&app, Method::POST, "/webhooks/github").await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_signature");
}
