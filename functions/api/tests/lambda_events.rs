//! The api function's router behind Lambda: recorded-shape Function URL and API Gateway v2
//! events go through `lambda_http`'s own event parsing into the router the function serves.

use axum::body::Body;
use baton_core::clock::SystemClock;
use baton_core::domain::{
    IssueSnapshot, JobReason, SourceKind, WorkItem, WorkItemKey, WorkItemStatus,
};
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{Queue, Store};
use baton_core::secret::Secret;
use baton_core::workflow::Workflow;
use baton_web::api::{ApiAuth, CursorKey};
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const TOKEN: &str = "lambda-api-token";
const KEY: &str = "github:acme/app#12";
/// The key as one percent-encoded path segment.
const ENCODED_KEY: &str = "github%3Aacme%2Fapp%2312";

struct Function {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    app: axum::Router,
}

/// The function over memory adapters, with one failed work item.
async fn function(auth: ApiAuth) -> Function {
    let store = Arc::new(MemoryStore::new());
    let queue = Arc::new(MemoryQueue::new());
    let now = Utc::now();
    let item = WorkItem {
        key: WorkItemKey::parse(KEY).expect("key"),
        source: SourceKind::Github,
        issue: IssueSnapshot {
            identifier: "acme/app#12".into(),
            title: "Fix the login page".into(),
            state: "open".into(),
            ..IssueSnapshot::default()
        },
        status: WorkItemStatus::Failed,
        attempt: 3,
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        created_at: now,
        updated_at: now,
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: Some("turn_failed: the agent gave up".into()),
        tokens: Default::default(),
        approved_by: None,
        pull_request: None,
        status_comment: None,
        input_request: None,
        agent_session: None,
        workflow: None,
        version: 1,
    };
    store.put_work_item(&item, None).await.expect("put");
    let ingress = Ingress::new(
        &Workflow::development(),
        BTreeMap::new(),
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        IngressSettings::default(),
    );
    Function {
        app: baton_api::app(
            Arc::new(ingress),
            auth,
            CursorKey::random(),
            baton_web::dashboard::Pricing::unset(),
        ),
        store,
        queue,
    }
}

fn token_auth() -> ApiAuth {
    ApiAuth::token(Secret::new(TOKEN).expect("token"))
}

/// A payload format 2.0 event, as Function URLs and HTTP APIs send it.
fn event(domain: &str, route_key: &str, method: &str, raw_path: &str, headers: Value) -> String {
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": domain,
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "198.51.100.23",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route_key,
            "stage": "$default",
            "time": "02/May/2024:10:01:44 +0000",
            "timeEpoch": 1714644104000_u64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

const FUNCTION_URL: &str = "abcdefghij.lambda-url.us-east-1.on.aws";
const HTTP_API: &str = "abcdefghij.execute-api.us-east-1.amazonaws.com";

fn bearer() -> Value {
    json!({ "authorization": format!("Bearer {TOKEN}"), "accept": "application/json" })
}

struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    body: Value,
}

async fn invoke(app: &axum::Router, event: &str) -> Answer {
    let request = lambda_http::request::from_str(event).expect("a valid Lambda event");
    let response = app
        .clone()
        .oneshot(request.map(|body| Body::from(body.to_vec())))
        .await
        .expect("router answers");
    let status = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        www_authenticate,
        body: serde_json::from_slice(&bytes).expect("json answer"),
    }
}

#[tokio::test]
async fn a_function_url_event_with_the_token_reads_the_state_and_the_issue() {
    let f = function(token_auth()).await;
    let state = invoke(
        &f.app,
        &event(FUNCTION_URL, "$default", "GET", "/api/v1/state", bearer()),
    )
    .await;
    assert_eq!(state.status, 200, "{}", state.body);
    assert_eq!(state.body["counts"]["failed"], 1);
    assert_eq!(state.body["failed"][0]["work_item"], KEY);

    // The key stays one segment through the Function URL's raw path.
    let path = format!("/api/v1/issues/{ENCODED_KEY}");
    let issue = invoke(
        &f.app,
        &event(FUNCTION_URL, "$default", "GET", &path, bearer()),
    )
    .await;
    assert_eq!(issue.status, 200, "{}", issue.body);
    assert_eq!(issue.body["work_item"]["key"], KEY);
}

#[tokio::test]
async fn without_the_token_every_route_is_401() {
    let f = function(token_auth()).await;
    for (method, path) in [
        ("GET", "/api/v1/state".to_owned()),
        ("GET", "/api/v1/openapi.json".to_owned()),
        ("POST", format!("/api/v1/issues/{ENCODED_KEY}/retry")),
    ] {
        let answer = invoke(
            &f.app,
            &event(FUNCTION_URL, "$default", method, &path, json!({})),
        )
        .await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.body);
        assert_eq!(answer.body["error"]["code"], "unauthorized");
        assert_eq!(answer.www_authenticate.as_deref(), Some("Bearer"));
    }
    assert!(f
        .queue
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("receive")
        .is_empty());
}

#[tokio::test]
async fn without_a_token_or_iam_a_lambda_refuses_everyone() {
    // A Lambda has no loopback peer: loopback-only mode admits nobody.
    let f = function(ApiAuth::LoopbackOnly).await;
    let answer = invoke(
        &f.app,
        &event(FUNCTION_URL, "$default", "GET", "/api/v1/state", json!({})),
    )
    .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
}

#[tokio::test]
async fn an_http_api_event_retries_the_item_through_the_queue() {
    let f = function(token_auth()).await;
    let path = format!("/api/v1/issues/{ENCODED_KEY}/retry");
    let answer = invoke(
        &f.app,
        &event(
            HTTP_API,
            "POST /api/v1/issues/{key}/retry",
            "POST",
            &path,
            bearer(),
        ),
    )
    .await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body["status"], "queued");
    let jobs = f
        .queue
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(jobs.len(), 1);
    let job = jobs[0].job.clone().expect("a valid job");
    assert_eq!(job.reason, JobReason::Manual);
    assert_eq!(Some(job.job_id.as_str()), answer.body["job_id"].as_str());
    let item = f
        .store
        .get_work_item(&WorkItemKey::parse(KEY).expect("key"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(item.status, WorkItemStatus::Queued);
}

#[tokio::test]
async fn iam_mode_trusts_the_function_url() {
    let f = function(ApiAuth::Iam).await;
    let answer = invoke(
        &f.app,
        &event(FUNCTION_URL, "$default", "GET", "/api/v1/state", json!({})),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let unknown = invoke(
        &f.app,
        &event(
            FUNCTION_URL,
            "$default",
            "GET",
            "/webhooks/github",
            json!({}),
        ),
    )
    .await;
    assert_eq!(unknown.status, 404, "webhooks are the ingress function's");
    assert_eq!(unknown.body["error"]["code"], "not_found");
}
