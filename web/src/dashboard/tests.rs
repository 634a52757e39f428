use super::{escape, router_with_pricing, Pricing};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use baton_core::clock::{Clock, ManualClock};
use baton_core::domain::{
    IssueSnapshot, JobId, JobReason, Lease, PullRequestLink, Run, RunError, RunEvent, RunId,
    RunStatus, SourceKind, TokenTotals, WorkItem, WorkItemKey, WorkItemStatus,
};
use baton_core::memory::MemoryStore;
use baton_core::ports::Store;
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const RETAIN: Duration = Duration::from_secs(24 * 3600);
const HOSTILE: &str = "<script>alert('owned')</script>";

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

fn tokens(input: u64, output: u64) -> TokenTotals {
    TokenTotals {
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output,
    }
}

fn github(number: u32) -> WorkItemKey {
    WorkItemKey::new(SourceKind::Github, &format!("acme/app#{number}"))
}

fn encoded(key: &WorkItemKey) -> String {
    utf8_percent_encode(key.as_str(), NON_ALPHANUMERIC).to_string()
}

fn item(number: u32, status: WorkItemStatus, title: &str) -> WorkItem {
    let key = github(number);
    WorkItem {
        source: SourceKind::Github,
        issue: IssueSnapshot {
            id: format!("I_{number}"),
            identifier: format!("acme/app#{number}"),
            title: title.to_owned(),
            body: String::new(),
            state: "open".into(),
            labels: vec!["baton".into()],
            url: Some(format!("https://github.com/acme/app/issues/{number}")),
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
        updated_at: now() - minutes(5),
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: tokens(1000 * u64::from(number), 100 * u64::from(number)),
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
    let ended = status != RunStatus::Running;
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
        ended_at: ended.then(|| now() - minutes(20)),
        session_id: Some(format!("thr_{attempt}")),
        turns: 1,
        tokens: tokens(1200, 300),
        error: None,
        workspace: Some("/tmp/ws".into()),
        branch: Some("baton/acme_app_12".into()),
        commit: None,
        events: 0,
        version: 1,
    }
}

/// Events stamped with the real time: the memory store expires them by the wall clock.
async fn add_events(store: &MemoryStore, run_id: &RunId, events: &[(&str, Value)]) {
    let events: Vec<RunEvent> = events
        .iter()
        .enumerate()
        .map(|(index, (kind, data))| RunEvent {
            run_id: run_id.clone(),
            seq: index as u32 + 1,
            at: Utc::now(),
            kind: (*kind).to_owned(),
            data: data.clone(),
        })
        .collect();
    store.append_events(&events, RETAIN).await.expect("append");
}

async fn put(store: &MemoryStore, item: &WorkItem) {
    store.put_work_item(item, None).await.expect("put item");
}

fn priced() -> Pricing {
    Pricing::per_million_tokens(2.0, 10.0).expect("valid prices")
}

fn app(store: Arc<MemoryStore>, pricing: Pricing) -> Router {
    router_with_pricing(store, clock(), pricing)
}

struct Page {
    status: StatusCode,
    content_type: String,
    csp: String,
    body: String,
}

async fn send(app: &Router, method: Method, uri: &str) -> Page {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let header_text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let content_type = header_text(header::CONTENT_TYPE);
    let csp = header_text(header::CONTENT_SECURITY_POLICY);
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Page {
        status,
        content_type,
        csp,
        body: String::from_utf8(bytes.to_vec()).expect("utf-8"),
    }
}

async fn get(app: &Router, uri: &str) -> Page {
    send(app, Method::GET, uri).await
}

/// The overview's sections by heading: `(heading, html)`.
fn sections(body: &str) -> Vec<(String, String)> {
    body.split("<section><h2>")
        .skip(1)
        .map(|part| {
            let heading = part.split(" <span").next().unwrap_or_default().to_owned();
            let content = part
                .split("</section>")
                .next()
                .unwrap_or_default()
                .to_owned();
            (heading, content)
        })
        .collect()
}

fn refreshes(body: &str) -> bool {
    body.contains("<meta http-equiv=\"refresh\" content=\"5\">")
}

/// One item per status the overview lists, and a succeeded and a cancelled one.
async fn one_of_each() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let mut running = item(1, WorkItemStatus::Running, "Running title");
    running.lease = Some(Lease {
        owner: "runner-7".into(),
        run_id: run_id(1),
        expires_at: now() + minutes(1),
    });
    running.last_run = Some(run_id(1));
    put(&store, &running).await;
    put(
        &store,
        &item(2, WorkItemStatus::AwaitingApproval, "Gated title"),
    )
    .await;
    let mut asking = item(9, WorkItemStatus::AwaitingInput, "Asking title");
    asking.input_request = Some(baton_core::domain::InputRequest {
        question: "Which database?".into(),
        asked_at: now(),
        deadline: None,
        run_id: run_id(9),
        session_id: None,
        answer: None,
    });
    asking.tokens = Default::default();
    put(&store, &asking).await;
    put(&store, &item(3, WorkItemStatus::Queued, "Queued title")).await;
    let mut retrying = item(4, WorkItemStatus::Retrying, "Retrying title");
    retrying.next_retry_at = Some(now() + minutes(2));
    retrying.last_error = Some("turn_failed: upstream model error".into());
    put(&store, &retrying).await;
    let mut failed = item(5, WorkItemStatus::Failed, "Failed title");
    failed.last_error = Some("hook_failed: before_run exited 1".into());
    put(&store, &failed).await;
    let mut dead = item(6, WorkItemStatus::DeadLettered, "Dead title");
    dead.last_error = Some("stalled: no event for 300 s".into());
    put(&store, &dead).await;
    put(&store, &item(7, WorkItemStatus::Succeeded, "Done title")).await;
    put(
        &store,
        &item(8, WorkItemStatus::Cancelled, "Cancelled title"),
    )
    .await;
    store
}

#[tokio::test]
async fn the_overview_lists_each_item_under_its_status_with_counts_tokens_and_cost() {
    let app = app(one_of_each().await, priced());
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    assert!(refreshes(&page.body), "the overview reloads itself");

    let sections = sections(&page.body);
    let expected = [
        ("Running", "Running title", "runner-7"),
        (
            "Awaiting approval",
            "Gated title",
            "waiting for an approver",
        ),
        ("Awaiting input", "Asking title", "asks: Which database?"),
        ("Queued", "Queued title", "acme/app#3"),
        ("Retrying", "Retrying title", "upstream model error"),
        ("Failed", "Failed title", "before_run exited 1"),
        ("Dead-lettered", "Dead title", "no event for 300 s"),
    ];
    let headings: Vec<&str> = sections.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(
        headings,
        expected.iter().map(|(h, _, _)| *h).collect::<Vec<_>>()
    );
    for ((heading, content), (_, title, detail)) in sections.iter().zip(expected) {
        assert!(
            content.contains(title),
            "{heading} lacks {title}: {content}"
        );
        assert!(
            content.contains(detail),
            "{heading} lacks {detail}: {content}"
        );
        assert!(content.contains("(1)"), "{heading} counts one: {content}");
        for (_, other, _) in expected.iter().filter(|(_, other, _)| *other != title) {
            assert!(!content.contains(other), "{other} listed under {heading}");
        }
    }
    // Finished items are counted, not listed.
    assert!(!page.body.contains("Done title"));
    assert!(page.body.contains("<b>1</b>Succeeded"), "{}", page.body);
    assert!(page.body.contains("<b>1</b>Cancelled"));
    // The snapshot's token totals (n·1000 in, n·100 out for every item, the gated #2
    // included; the asking #9 has none) and their cost at $2 / $10 per Mtok.
    assert!(
        page.body.contains("36,000 in · 3,600 out · 39,600 total"),
        "{}",
        page.body
    );
    assert!(page.body.contains("$0.1080"), "{}", page.body);
    // Links to the issue and run pages.
    assert!(page
        .body
        .contains(&format!("href=\"/issues/{}\"", encoded(&github(1)))));
    assert!(page.body.contains(&format!("href=\"/runs/{}\"", run_id(1))));
}

#[tokio::test]
async fn an_empty_overview_says_so_in_every_section_and_costs_are_dashes_without_prices() {
    let app = app(Arc::new(MemoryStore::new()), Pricing::unset());
    let page = get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    for empty in [
        "Nothing is running.",
        "Nothing is waiting for approval.",
        "Nothing is queued.",
        "Nothing is waiting for a retry.",
        "Nothing has failed.",
        "Nothing is dead-lettered.",
    ] {
        assert!(page.body.contains(empty), "missing `{empty}`");
    }
    assert!(!page.body.contains("<table"), "no tables when empty");
    assert!(
        page.body.contains("<dt>Cost</dt><dd>—</dd>"),
        "{}",
        page.body
    );
}

/// A work item with two runs: a failed one and a running retry with every kind of event.
async fn item_with_runs() -> (Arc<MemoryStore>, WorkItemKey) {
    let store = Arc::new(MemoryStore::new());
    let mut work = item(12, WorkItemStatus::Running, "Fix the login bug");
    work.attempt = 2;
    work.pull_request = Some(PullRequestLink {
        number: 77,
        url: "https://github.com/acme/app/pull/77".into(),
        branch: "baton/acme_app_12".into(),
    });
    work.status_comment = Some("123456".into());
    put(&store, &work).await;

    let mut failed = run(&work.key, run_id(1), 1, RunStatus::Failed);
    failed.error = Some(RunError {
        code: "turn_failed".into(),
        message: "upstream model error".into(),
    });
    failed.events = 2;
    store.put_run(&failed, None).await.expect("put run");
    add_events(
        &store,
        &failed.run_id,
        &[
            ("turn_ended", json!({"turn": 1, "status": "failed", "error": "upstream model error"})),
            ("run_ended", json!({"status": "failed", "code": "turn_failed", "message": "upstream model error"})),
        ],
    )
    .await;

    let mut running = run(&work.key, run_id(2), 2, RunStatus::Running);
    running.events = 9;
    store.put_run(&running, None).await.expect("put run");
    add_events(
        &store,
        &running.run_id,
        &[
            (
                "claimed",
                json!({"runner": "runner-a", "attempt": 2, "reason": "retry", "account": "team-b"}),
            ),
            (
                "session_started",
                json!({"session_id": "thr_mock", "pid": 42}),
            ),
            ("message", json!({"text": "Looking at the issue."})),
            (
                "command",
                json!({"command": "cargo test", "exit_code": 0, "output": "test result: ok"}),
            ),
            (
                "file_change",
                json!({"path": "src/lib.rs", "kind": "update"}),
            ),
            (
                "tool_call",
                json!({"name": "echo", "arguments": {"text": "hi"}, "success": true}),
            ),
            (
                "approval",
                json!({"kind": "command", "decision": "accept", "detail": "rm -rf target"}),
            ),
            (
                "usage",
                json!({"input_tokens": 1200, "output_tokens": 300, "total_tokens": 1500}),
            ),
            (
                "rate_limit",
                json!({"details": {"primary": {"usedPercent": 12}}}),
            ),
        ],
    )
    .await;
    (store, work.key)
}

#[tokio::test]
async fn the_issue_page_shows_the_item_its_runs_newest_first_and_their_timelines() {
    let (store, key) = item_with_runs().await;
    let app = app(store, priced());
    let page = get(&app, &format!("/issues/{}", encoded(&key))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(
        body.contains("<h1>acme/app#12 · Fix the login bug</h1>"),
        "{body}"
    );
    assert!(refreshes(body), "a running item's page reloads itself");
    assert!(body.contains("href=\"https://github.com/acme/app/pull/77\">#77</a>"));
    assert!(
        body.contains("href=\"https://github.com/acme/app/issues/12#issuecomment-123456\""),
        "{body}"
    );
    // The item's tokens (12,000 in, 1,200 out) and cost: 0.024 + 0.012.
    assert!(body.contains("12,000 in · 1,200 out · 13,200 total"));
    assert!(body.contains("$0.0360"));

    let newest = body.find("Attempt 2").expect("the running run");
    let oldest = body.find("Attempt 1").expect("the failed run");
    assert!(newest < oldest, "newest run first");
    let failed = &body[oldest..];
    assert!(failed.contains("<code>turn_failed</code> upstream model error"));
    assert!(failed.contains("run took 9 min 00 s"), "{failed}");
    let running = &body[newest..oldest];
    for shown in [
        "by runner-a · attempt 2 · retry · account team-b",
        "session <code>thr_mock</code>",
        "<pre>Looking at the issue.</pre>",
        "<code>$ cargo test</code> <span class=\"succeeded\">exit 0</span>",
        "<pre>test result: ok</pre>",
        "update <code>src/lib.rs</code>",
        "<code>echo</code> <span class=\"succeeded\">ok</span>",
        "command: <span class=\"status accept\">accept</span> <code>rm -rf target</code>",
        "1,200 in · 300 out · 1,500 total tokens",
        "usedPercent",
        "Running for",
    ] {
        assert!(running.contains(shown), "missing `{shown}` in {running}");
    }
}

#[tokio::test]
async fn an_ended_items_page_does_not_reload_and_says_when_nothing_ran() {
    let store = Arc::new(MemoryStore::new());
    let work = item(3, WorkItemStatus::Failed, "Never ran");
    put(&store, &work).await;
    let page = get(
        &app(store, Pricing::unset()),
        &format!("/issues/{}", encoded(&work.key)),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!refreshes(&page.body));
    assert!(page.body.contains("No runs yet."));
    assert!(page
        .body
        .contains("<dt>Pull request</dt><dd><span class=\"muted\">none yet"));
}

#[tokio::test]
async fn the_run_page_shows_the_whole_timeline_past_the_issue_pages_bound() {
    let store = Arc::new(MemoryStore::new());
    let work = item(4, WorkItemStatus::Succeeded, "Long run");
    put(&store, &work).await;
    let mut long = run(&work.key, run_id(9), 1, RunStatus::Succeeded);
    long.events = 620;
    store.put_run(&long, None).await.expect("put run");
    let texts: Vec<String> = (1..=620).map(|n| format!("step number {n}.")).collect();
    let events: Vec<(&str, Value)> = texts
        .iter()
        .map(|text| ("message", json!({ "text": text })))
        .collect();
    add_events(&store, &long.run_id, &events).await;
    let app = app(store, Pricing::unset());

    let page = get(&app, &format!("/runs/{}", long.run_id)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("step number 1."));
    assert!(page.body.contains("step number 620."));
    assert_eq!(page.body.matches("<tr><td>").count(), 620);
    assert!(!refreshes(&page.body), "an ended run does not reload");
    assert!(page.body.contains("acme/app#4 · Long run"));

    // The issue page shows the first 500 and points at the run page.
    let issue = get(&app, &format!("/issues/{}", encoded(&work.key))).await;
    assert!(issue.body.contains("step number 500."));
    assert!(!issue.body.contains("step number 501."));
    assert!(issue.body.contains("has the rest"));
}

#[tokio::test]
async fn a_running_runs_page_reloads_itself() {
    let (store, _) = item_with_runs().await;
    let page = get(
        &app(store, Pricing::unset()),
        &format!("/runs/{}", run_id(2)),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(refreshes(&page.body));
    assert!(page.body.contains("<pre>Looking at the issue.</pre>"));
}

#[tokio::test]
async fn hostile_issue_text_and_agent_output_are_escaped_on_every_page() {
    let store = Arc::new(MemoryStore::new());
    let mut work = item(66, WorkItemStatus::Running, HOSTILE);
    work.issue.state = "<b>open</b>".into();
    work.issue.url = Some("javascript:alert(1)".into());
    work.last_error = Some("\"><img src=x onerror=alert(2)>".into());
    work.pull_request = Some(PullRequestLink {
        number: 1,
        url: "javascript:alert(3)".into(),
        branch: "<i>b</i>".into(),
    });
    work.last_run = Some(run_id(66));
    put(&store, &work).await;
    let mut hostile_run = run(&work.key, run_id(66), 1, RunStatus::Running);
    hostile_run.runner = HOSTILE.into();
    store.put_run(&hostile_run, None).await.expect("put run");
    add_events(
        &store,
        &hostile_run.run_id,
        &[
            ("message", json!({ "text": HOSTILE })),
            (
                "command",
                json!({ "command": HOSTILE, "exit_code": 1, "output": HOSTILE }),
            ),
            ("<script>kind</script>", json!({ "x": HOSTILE })),
        ],
    )
    .await;
    let app = app(store, Pricing::unset());
    for uri in [
        "/".to_owned(),
        format!("/issues/{}", encoded(&work.key)),
        format!("/runs/{}", run_id(66)),
    ] {
        let page = get(&app, &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{uri}");
        assert!(!page.body.contains("<script"), "{uri}: {}", page.body);
        assert!(!page.body.contains("<img"), "{uri}");
        assert!(!page.body.contains("<b>open"), "{uri}");
        assert!(!page.body.contains("href=\"javascript:"), "{uri}");
        assert!(page.body.contains(&escape(HOSTILE)), "{uri}");
        assert!(page.csp.contains("default-src 'none'"), "{uri}");
    }
}

#[tokio::test]
async fn bad_and_unknown_keys_and_run_ids_answer_html_error_pages() {
    let (store, _) = item_with_runs().await;
    let app = app(store, Pricing::unset());
    for (uri, status, says) in [
        (
            "/issues/not-a-key",
            StatusCode::BAD_REQUEST,
            "Not a work item key",
        ),
        (
            "/issues/nosuch%3Ax%231",
            StatusCode::BAD_REQUEST,
            "Not a work item key",
        ),
        (
            "/issues/%FF%FE",
            StatusCode::BAD_REQUEST,
            "Not a work item key",
        ),
        (
            "/issues/github%3Aacme%2Fapp%23404",
            StatusCode::NOT_FOUND,
            "Issue not found",
        ),
        ("/runs/12", StatusCode::BAD_REQUEST, "Not a run id"),
        (
            "/runs/00000000-0000-7000-8000-000000000404",
            StatusCode::NOT_FOUND,
            "Run not found",
        ),
    ] {
        let page = get(&app, uri).await;
        assert_eq!(page.status, status, "{uri}: {}", page.body);
        assert_eq!(page.content_type, "text/html; charset=utf-8", "{uri}");
        assert!(page.body.contains(says), "{uri}: {}", page.body);
        assert!(page.body.starts_with("<!DOCTYPE html>"), "{uri}");
    }
    let page = send(&app, Method::POST, "/").await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(page.body.contains("Method not allowed"));
}

#[test]
fn escape_covers_markup_and_both_quotes() {
    assert_eq!(
        escape("<a href=\"x\" title='y'>&</a>"),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
    );
}

#[tokio::test]
async fn a_store_failure_is_a_503_page_that_retries_without_the_backend_detail() {
    use super::DashboardError;
    use axum::response::IntoResponse;
    use baton_core::ports::StoreError;

    let detail = "AccessDenied on arn:aws:dynamodb:eu-west-1:123456789012:table/baton";
    let response = DashboardError::Store {
        during: "listing work items",
        error: StoreError::Unavailable(detail.into()),
    }
    .into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = String::from_utf8(bytes.to_vec()).expect("utf-8");
    assert!(body.contains("Store unavailable"), "{body}");
    assert!(
        !body.contains("arn:aws"),
        "the backend detail leaked: {body}"
    );
    assert!(refreshes(&body), "the error page tries again by itself");
}
