//! The ingress's edges on a real socket: the Content-Type rule, what the headers refuse
//! before the body is read, and the memory budget for bodies waiting for verification.

#[macro_use]
mod common;

use baton_core::ingress::IngressSettings;
use baton_core::workflow::Workflow;
use common::signing::{self, github_issue};
use common::{spawn_app, spawn_with, Backend, TestApp, GITHUB_SECRET};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

on_both_backends!(a_captured_body_resent_with_fresh_ids_is_a_duplicate);

fn delivery_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn labelled(number: u64) -> Vec<u8> {
    github_issue(
        "labeled",
        number,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    )
}

fn with_content_type(
    mut headers: Vec<(String, String)>,
    value: Option<&str>,
) -> Vec<(String, String)> {
    headers.retain(|(name, _)| name != "content-type");
    if let Some(value) = value {
        headers.push(("content-type".into(), value.into()));
    }
    headers
}

/// A body that sends `first` and then never ends: a server that waited for the whole body
/// before answering would never answer.
fn stalled(first: Vec<u8>) -> reqwest::Body {
    let chunks = futures::stream::once(async move { Ok::<_, std::io::Error>(first) })
        .chain(futures::stream::pending());
    reqwest::Body::wrap_stream(chunks)
}

use futures::StreamExt;

async fn post_within(
    app: &TestApp,
    source: &str,
    headers: &[(String, String)],
    body: reqwest::Body,
) -> (u16, serde_json::Value) {
    tokio::time::timeout(Duration::from_secs(10), app.post(source, headers, body))
        .await
        .expect("answered without waiting for the body")
}

#[tokio::test]
async fn json_and_form_types_are_accepted_and_others_are_415() {
    let app = spawn_app(Backend::Memory).await;
    let mut number = 100;
    for content_type in [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/vnd.github+json"),
        // A relay that drops the header still carries a signed JSON body.
        None,
    ] {
        number += 1;
        let body = labelled(number);
        let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
        let headers = with_content_type(headers, content_type);
        let (status, answer) = app.post("github", &headers, body).await;
        assert_eq!(status, 202, "{content_type:?}: {answer}");
    }
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        let body = labelled(200);
        let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
        let headers = with_content_type(headers, Some(content_type));
        let (status, answer) = app.post("github", &headers, body).await;
        assert_eq!(status, 415, "{content_type}: {answer}");
        assert_eq!(answer["error"]["code"], "unsupported_media_type");
    }
    // Only GitHub form-encodes; a form to Linear is refused before its body is read.
    let form = "application/x-www-form-urlencoded";
    let headers = signing::linear(common::LINEAR_SECRET, "Issue", &delivery_id(), b"payload=1");
    let headers = with_content_type(headers, Some(form));
    let (status, answer) =
        post_within(&app, "linear", &headers, stalled(b"payload=".to_vec())).await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(app.drain_jobs().await.len(), 4);
}

#[tokio::test]
async fn what_the_headers_decide_is_refused_before_the_body_is_read() {
    let app = spawn_app(Backend::Memory).await;
    let body = labelled(300);
    let signed = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);

    let unsigned: Vec<_> = signed
        .iter()
        .filter(|(name, _)| name != "x-hub-signature-256")
        .cloned()
        .collect();
    let (status, answer) = post_within(&app, "github", &unsigned, stalled(body.clone())).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_signature");

    let (status, answer) = post_within(&app, "bitbucket", &signed, stalled(body.clone())).await;
    assert_eq!(status, 404, "{answer}");

    // A declared length over the limit (6 MiB by default).
    let mut oversized = signed.clone();
    oversized.push(("content-length".into(), (7 * 1024 * 1024).to_string()));
    let (status, answer) = post_within(&app, "github", &oversized, stalled(body.clone())).await;
    assert_eq!(status, 413, "{answer}");

    // A GitLab hook without its token.
    let gitlab: Vec<_> = signing::gitlab("x", "Issue Hook", &delivery_id())
        .into_iter()
        .filter(|(name, _)| name != "x-gitlab-token")
        .collect();
    let (status, _) = post_within(&app, "gitlab", &gitlab, stalled(b"{".to_vec())).await;
    assert_eq!(status, 401);
    assert!(app.drain_jobs().await.is_empty());
}

#[tokio::test]
async fn bodies_past_the_memory_budget_get_503_with_retry_after() {
    let (store, queue) = common::memory_backends();
    let settings = IngressSettings {
        max_body_bytes: 8_000,
        body_budget_bytes: 8_010,
        ..IngressSettings::default()
    };
    let app = spawn_with(
        &Workflow::development(),
        common::all_secrets(),
        store,
        queue,
        settings,
    )
    .await;
    let body = labelled(400);
    assert!(
        body.len() > 10,
        "the body must not fit beside the slow upload"
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);

    // One slow upload declares 8,000 bytes and holds them while it trickles: a raw socket,
    // so the declared length is exactly what the server sees.
    let address = app.base_url.trim_start_matches("http://").to_owned();
    let mut holder = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let mut head =
        format!("POST /webhooks/github HTTP/1.1\r\nhost: {address}\r\ncontent-length: 8000\r\n");
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    holder.write_all(head.as_bytes()).await.expect("head");
    holder.write_all(&[b' '; 100]).await.expect("first bytes");
    // Until the holder's bytes are taken the next request may still fit; wait for the 503.
    let mut answer = None;
    for _ in 0..100 {
        let response = app
            .client
            .post(format!("{}/webhooks/github", app.base_url))
            .headers(header_map(&headers))
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        if response.status().as_u16() == 503 {
            answer = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = answer.expect("a body past the budget is refused with 503");
    assert_eq!(
        answer.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    let envelope: serde_json::Value = answer.json().await.expect("envelope");
    assert_eq!(envelope["error"]["code"], "server_busy");

    // Once the slow upload goes away its bytes are given back.
    drop(holder);
    let mut status = 503;
    for _ in 0..100 {
        let fresh = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
        status = app.post("github", &fresh, body.clone()).await.0;
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 202);
}

fn header_map(pairs: &[(String, String)]) -> reqwest::header::HeaderMap {
    pairs
        .iter()
        .filter_map(|(name, value)| {
            Some((
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok()?,
                reqwest::header::HeaderValue::from_str(value).ok()?,
            ))
        })
        .collect()
}

/// GitHub signs the body but not the delivery id: a captured body resent with 50 fresh ids
/// (at once) queues nothing more, on either backend.
async fn a_captured_body_resent_with_fresh_ids_is_a_duplicate(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    let body = labelled(500);
    let original = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
    let (status, answer) = app.post("github", &original, body.clone()).await;
    assert_eq!(status, 202, "{answer}");

    let replays = (0..50).map(|_| {
        let (app, body) = (Arc::clone(&app), body.clone());
        let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
        tokio::spawn(async move { app.post("github", &headers, body).await })
    });
    for replay in futures::future::join_all(replays).await {
        let (status, answer) = replay.expect("task");
        assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));
    }
    // The genuine redelivery (same id, same body) is still a duplicate, and a different
    // body under a fresh id is still new work.
    let (status, answer) = app.post("github", &original, body).await;
    assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));
    let other = labelled(501);
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &other);
    assert_eq!(app.post("github", &headers, other).await.0, 202);
    assert_eq!(app.drain_jobs().await.len(), 2);
}
