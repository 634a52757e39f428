//! The ingress router behind Lambda: recorded-shape Function URL and API Gateway v2 events go
//! through `lambda_http`'s own event parsing into the same router `baton dev` serves.

use axum::body::Body;
use base64::Engine;
use baton_core::clock::SystemClock;
use baton_core::domain::SourceKind;
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::secret::Secret;
use baton_core::workflow::Workflow;
use baton_web::ingress::router;
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::Arc;
use tower::ServiceExt;

const SECRET: &str = "lambda-test-secret";

fn app() -> axum::Router {
    let secrets = [(SourceKind::Github, Secret::new(SECRET).expect("secret"))]
        .into_iter()
        .collect();
    router(Arc::new(Ingress::new(
        &Workflow::development(),
        secrets,
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryQueue::new()),
        Arc::new(SystemClock),
        IngressSettings::default(),
    )))
}

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn labeled_issue() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "action": "labeled",
        "label": { "name": "baton" },
        "issue": {
            "id": 1, "number": 3, "title": "Fix it", "body": "", "state": "open",
            "labels": [{ "name": "baton" }], "user": { "login": "alice", "type": "User" }
        },
        "repository": { "full_name": "acme/app" },
        "sender": { "login": "alice", "type": "User" }
    }))
    .expect("json")
}

/// A payload format 2.0 event, as Function URLs and HTTP APIs send it.
fn event(domain: &str, route_key: &str, headers: Value, body: &str, base64: bool) -> String {
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": "/webhooks/github",
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": domain,
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "POST",
                "path": "/webhooks/github",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.30.252.1",
                "userAgent": "GitHub-Hookshot/abc123"
            },
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "routeKey": route_key,
            "stage": "$default",
            "time": "02/May/2024:10:01:44 +0000",
            "timeEpoch": 1714644104000_u64
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}

async fn invoke(event: &str) -> (u16, Value) {
    let request = lambda_http::request::from_str(event).expect("a valid Lambda event");
    let response = app()
        .oneshot(request.map(|body| Body::from(body.to_vec())))
        .await
        .expect("router answers");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).expect("json answer"))
}

fn github_headers(content_type: &str, signature: String) -> Value {
    json!({
        "content-type": content_type,
        "x-github-event": "issues",
        "x-github-delivery": uuid::Uuid::new_v4().to_string(),
        "x-hub-signature-256": signature,
        "user-agent": "GitHub-Hookshot/abc123"
    })
}

#[tokio::test]
async fn a_function_url_event_is_queued() {
    let body = labeled_issue();
    let headers = github_headers("application/json", signature(&body));
    let text = std::str::from_utf8(&body).expect("utf-8");
    let (status, answer) = invoke(&event(
        "abcdefghij.lambda-url.us-east-1.on.aws",
        "$default",
        headers,
        text,
        false,
    ))
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "github:acme/app#3");
}

#[tokio::test]
async fn a_base64_form_encoded_http_api_event_is_queued() {
    let json_body = labeled_issue();
    let form = format!(
        "payload={}",
        percent_encode(std::str::from_utf8(&json_body).expect("utf-8"))
    );
    let headers = github_headers(
        "application/x-www-form-urlencoded",
        signature(form.as_bytes()),
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(form.as_bytes());
    let (status, answer) = invoke(&event(
        "abcdefghij.execute-api.us-east-1.amazonaws.com",
        "POST /webhooks/{source}",
        headers,
        &encoded,
        true,
    ))
    .await;
    assert_eq!(status, 202, "{answer}");
}

#[tokio::test]
async fn a_tampered_event_is_refused() {
    let body = labeled_issue();
    let headers = github_headers("application/json", signature(b"something else"));
    let text = std::str::from_utf8(&body).expect("utf-8");
    let (status, answer) = invoke(&event(
        "abcdefghij.lambda-url.us-east-1.on.aws",
        "$default",
        headers,
        text,
        false,
    ))
    .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_signature");
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
