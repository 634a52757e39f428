//! Hot paths of the ingress: signature verification per source, parsing, and the whole
//! in-process pipeline (verify, parse, route, claim, work item, job) with the embedded
//! backends, with and without the HTTP router. Bodies are ~4 KB, like real issue webhooks.
//!
//! `cargo bench -p baton-core`. Compare figures within one run: the machines are noisy.

use axum::body::Body;
use baton_core::clock::SystemClock;
use baton_core::domain::SourceKind;
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::Queue;
use baton_core::secret::Secret;
use baton_core::sources::webhook as source;
use baton_core::webhooks::WebhookRequest;
use baton_core::workflow::Workflow;
use baton_web::ingress::router;
use chrono::{TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use sha2::Sha256;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

const SECRET: &str = "bench-secret";
/// `webhookTimestamp` of the Linear fixture.
const LINEAR_SENT_MS: i64 = 1_714_640_000_000;

fn sign_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn headers(pairs: &[(&str, String)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            )
        })
        .collect()
}

/// A GitHub `issues.labeled` delivery of about 4 KB.
fn github_body(number: u64) -> Vec<u8> {
    let padding = "Steps to reproduce: open the export page, choose CSV, wait. ".repeat(60);
    serde_json::to_vec(&serde_json::json!({
        "action": "labeled",
        "label": { "id": 1, "name": "baton" },
        "issue": {
            "id": 100_000 + number, "number": number, "title": "Export fails for large workspaces",
            "body": padding, "state": "open",
            "labels": [{ "id": 1, "name": "baton" }, { "id": 2, "name": "bug" }],
            "html_url": format!("https://github.com/acme/app/issues/{number}"),
            "user": { "login": "alice", "type": "User" }, "author_association": "OWNER"
        },
        "repository": { "full_name": "acme/app", "name": "app", "owner": { "login": "acme" } },
        "sender": { "login": "alice", "type": "User" }
    }))
    .expect("json")
}

fn github_headers(body: &[u8], delivery: &str) -> HeaderMap {
    headers(&[
        ("content-type", "application/json".into()),
        ("x-github-event", "issues".into()),
        ("x-github-delivery", delivery.into()),
        ("x-hub-signature-256", format!("sha256={}", sign_hex(body))),
    ])
}

/// A fixture padded with trailing whitespace (still valid JSON) to about 4 KB.
fn padded(fixture: &str) -> Vec<u8> {
    let mut body = fixture.as_bytes().to_vec();
    body.resize(body.len().max(4096), b' ');
    body
}

fn verification(c: &mut Criterion) {
    let secret = Secret::new(SECRET).expect("secret");
    let github = github_body(1);
    let linear = padded(include_str!(
        "../../core/src/webhooks/fixtures/linear/issue_update_labels.json"
    ));
    let jira = padded(include_str!(
        "../../core/src/webhooks/fixtures/jira/issue_updated_labels.json"
    ));
    let gitlab = padded(include_str!(
        "../../core/src/webhooks/fixtures/gitlab/issue_update_labels.json"
    ));
    let cases = [
        (
            SourceKind::Github,
            github_headers(&github, "d"),
            github.clone(),
        ),
        (
            SourceKind::Linear,
            headers(&[
                ("linear-signature", sign_hex(&linear)),
                ("linear-delivery", "d".into()),
            ]),
            linear,
        ),
        (
            SourceKind::Jira,
            headers(&[
                ("x-hub-signature", format!("sha256={}", sign_hex(&jira))),
                ("x-atlassian-webhook-identifier", "d".into()),
            ]),
            jira,
        ),
        (
            SourceKind::Gitlab,
            headers(&[
                ("x-gitlab-token", SECRET.into()),
                ("x-gitlab-event", "Issue Hook".into()),
                ("x-gitlab-event-uuid", "d".into()),
            ]),
            gitlab,
        ),
    ];
    let now = Utc
        .timestamp_millis_opt(LINEAR_SENT_MS)
        .single()
        .expect("time");

    let mut group = c.benchmark_group("verify");
    for (kind, headers, body) in &cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        let request = WebhookRequest { headers, body };
        let handler = source(*kind).expect("a webhook source");
        group.bench_function(kind.as_str(), |b| {
            b.iter(|| {
                handler
                    .verify(black_box(request), &secret, now)
                    .expect("valid")
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("parse");
    for (kind, headers, body) in &cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        let request = WebhookRequest { headers, body };
        let handler = source(*kind).expect("a webhook source");
        group.bench_function(kind.as_str(), |b| {
            b.iter(|| handler.parse(black_box(request)).expect("parses"))
        });
    }
    // The baseline the typed parsers are measured against.
    group.bench_function("github_as_serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&github)).expect("json"))
    });
    group.finish();
}

fn ingress() -> (Arc<Ingress>, Arc<MemoryQueue>) {
    let workflow = Workflow::development();
    let secrets = [(SourceKind::Github, Secret::new(SECRET).expect("secret"))]
        .into_iter()
        .collect();
    let queue = Arc::new(MemoryQueue::new());
    let ingress = Ingress::new(
        &workflow,
        secrets,
        Arc::new(MemoryStore::new()),
        queue.clone(),
        Arc::new(SystemClock),
        IngressSettings::default(),
    );
    (Arc::new(ingress), queue)
}

/// Takes the jobs off the queue outside the timed section, so memory stays flat.
async fn drain(queue: &MemoryQueue) {
    loop {
        let batch = queue
            .receive(10, Duration::ZERO, Duration::from_secs(60))
            .await
            .expect("receive");
        if batch.is_empty() {
            return;
        }
        for message in batch {
            queue.delete(&message.receipt).await.expect("delete");
        }
    }
}

fn handler(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // 1000 issues, pre-signed: each request a new delivery on one of them.
    let bodies: Vec<_> = (1..=1000).map(github_body).collect();
    let signatures: Vec<_> = bodies
        .iter()
        .map(|body| format!("sha256={}", sign_hex(body)))
        .collect();
    let mut group = c.benchmark_group("handler");
    group.throughput(Throughput::Elements(1));

    let (pipeline, queue) = ingress();
    let mut counter = 0u64;
    group.bench_function("accept_github_labeled", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    counter += 1;
                    let i = (counter % 1000) as usize;
                    let mut headers = github_headers(b"", &format!("delivery-{counter}"));
                    headers.insert(
                        "x-hub-signature-256",
                        HeaderValue::from_str(&signatures[i]).expect("value"),
                    );
                    let started = Instant::now();
                    let accepted = pipeline
                        .accept(SourceKind::Github, &headers, &bodies[i])
                        .await
                        .expect("accepted");
                    spent += started.elapsed();
                    black_box(accepted);
                    if counter.is_multiple_of(4096) {
                        drain(&queue).await;
                    }
                }
                spent
            })
        })
    });

    let (pipeline, queue) = ingress();
    let app = router(pipeline);
    group.bench_function("router_github_labeled", |b| {
        b.iter_custom(|iterations| {
            runtime.block_on(async {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    counter += 1;
                    let i = (counter % 1000) as usize;
                    let request = Request::post("/webhooks/github")
                        .header("content-type", "application/json")
                        .header("x-github-event", "issues")
                        .header("x-github-delivery", format!("delivery-{counter}"))
                        .header("x-hub-signature-256", &signatures[i])
                        .body(Body::from(bodies[i].clone()))
                        .expect("request");
                    let started = Instant::now();
                    let response = app.clone().oneshot(request).await.expect("response");
                    spent += started.elapsed();
                    assert_eq!(response.status(), 202);
                    if counter.is_multiple_of(4096) {
                        drain(&queue).await;
                    }
                }
                spent
            })
        })
    });

    let duplicate_headers = github_headers(&bodies[0], "the-same-delivery");
    let (pipeline, _queue) = ingress();
    runtime.block_on(async {
        pipeline
            .accept(SourceKind::Github, &duplicate_headers, &bodies[0])
            .await
            .expect("first copy")
    });
    group.bench_function("accept_duplicate", |b| {
        b.iter(|| {
            runtime.block_on(pipeline.accept(SourceKind::Github, &duplicate_headers, &bodies[0]))
        })
    });
    group.finish();
}

criterion_group!(benches, verification, handler);
criterion_main!(benches);
