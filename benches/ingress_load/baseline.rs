//! The benchmark baseline: a bare axum handler that does what any webhook receiver must and
//! nothing else. It verifies the GitHub signature, parses the body, deduplicates the
//! delivery id in a map and enqueues a small job, then answers 202 (200 for a duplicate).
//! It keeps every id and job, as a receiver with no retention policy would.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

#[derive(Deserialize)]
struct Payload {
    action: String,
    issue: Issue,
    repository: Repository,
}

#[derive(Deserialize)]
struct Issue {
    number: u64,
    #[allow(dead_code)]
    title: String,
    #[allow(dead_code)]
    body: Option<String>,
    #[allow(dead_code)]
    labels: Vec<Label>,
}

#[derive(Deserialize)]
struct Label {
    #[allow(dead_code)]
    name: String,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

/// What the queue holds per accepted delivery.
#[allow(dead_code)]
struct Job {
    delivery: String,
    work_item: String,
    action: String,
}

struct Receiver {
    secret: Vec<u8>,
    seen: Mutex<HashSet<String>>,
    jobs: Mutex<VecDeque<Job>>,
}

type Answer = (StatusCode, Json<Value>);

fn refuse(status: StatusCode, message: &str) -> Answer {
    (status, Json(json!({ "error": message })))
}

async fn webhook(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Answer {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("sha256="))
        .and_then(|value| hex::decode(value).ok());
    let Some(signature) = signature else {
        return refuse(StatusCode::UNAUTHORIZED, "missing signature");
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&receiver.secret) else {
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "bad secret");
    };
    mac.update(&body);
    if mac.verify_slice(&signature).is_err() {
        return refuse(StatusCode::UNAUTHORIZED, "bad signature");
    }
    let Some(delivery) = headers
        .get("x-github-delivery")
        .and_then(|value| value.to_str().ok())
    else {
        return refuse(StatusCode::BAD_REQUEST, "missing delivery id");
    };
    let payload: Payload = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "malformed payload"),
    };
    if !receiver
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(delivery.to_owned())
    {
        return (StatusCode::OK, Json(json!({ "status": "duplicate" })));
    }
    let work_item = format!(
        "github:{}#{}",
        payload.repository.full_name, payload.issue.number
    );
    let answer = json!({ "status": "queued", "work_item": work_item });
    receiver
        .jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push_back(Job {
            delivery: delivery.to_owned(),
            work_item,
            action: payload.action,
        });
    (StatusCode::ACCEPTED, Json(answer))
}

/// Serves the baseline on `port` until the process is killed, on tokio's default
/// multi-threaded runtime, as `baton dev` runs.
pub fn serve(port: u16, secret: &str) {
    let receiver = Arc::new(Receiver {
        secret: secret.as_bytes().to_vec(),
        seen: Mutex::default(),
        jobs: Mutex::default(),
    });
    let app = Router::new()
        .route("/webhooks/github", post(webhook))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .with_state(receiver);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind the baseline's port");
        axum::serve(listener, app).await.expect("serve");
    });
}
