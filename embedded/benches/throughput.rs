//! Throughput of the SQLite backend against the memory adapters, measured in one run:
//!
//! - `sequence`: the store and queue calls of one ingress delivery (`begin_delivery`,
//!   `get_work_item`, `put_work_item`, `send`, `complete_delivery`) alone;
//! - `ingress`: the whole in-process ingress pipeline (`Ingress::accept`: verify the
//!   signature, parse a ~4 KB GitHub webhook, route, and those calls).
//!
//! Each runs with 64 deliveries in flight. `cargo bench -p baton-embedded --bench
//! throughput`; `BATON_BENCH_DELIVERIES` sets how many deliveries each case runs (20000).
//! Compare the ratios, not the absolute figures: the machines are noisy.

use baton_core::clock::SystemClock;
use baton_core::domain::{
    DeliveryKey, DeliveryOutcome, IssueSnapshot, Job, JobId, JobReason, SourceKind, WorkItem,
    WorkItemKey, WorkItemStatus, JOB_SCHEMA_VERSION,
};
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{DeliveryClaim, Queue, Store};
use baton_core::secret::Secret;
use baton_core::workflow::Workflow;
use chrono::Utc;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "bench-secret";
const IN_FLIGHT: usize = 64;
const LEASE: Duration = Duration::from_secs(30);
const RETAIN: Duration = Duration::from_secs(7 * 24 * 3600);

type Backend = (Arc<dyn Store>, Arc<dyn Queue>);

fn memory() -> Backend {
    (Arc::new(MemoryStore::new()), Arc::new(MemoryQueue::new()))
}

fn sqlite(dir: &std::path::Path) -> Backend {
    let embedded = baton_embedded::open(dir).expect("open the data dir");
    (Arc::new(embedded.store), Arc::new(embedded.queue))
}

fn work_item(key: WorkItemKey) -> WorkItem {
    let now = Utc::now();
    WorkItem {
        source: SourceKind::Github,
        issue: IssueSnapshot {
            id: "1".into(),
            identifier: key.as_str().into(),
            title: "Export fails for large workspaces".into(),
            body: "Steps to reproduce: open the export page, choose CSV, wait. ".repeat(60),
            ..IssueSnapshot::default()
        },
        key,
        status: WorkItemStatus::Queued,
        attempt: 0,
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        created_at: now,
        updated_at: now,
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: Default::default(),
        approved_by: None,
        pull_request: None,
        status_comment: None,
        input_request: None,
        agent_session: None,
        workflow: None,
        version: 1,
    }
}

/// One delivery's store and queue calls, as the ingress makes them.
async fn one_delivery((store, queue): &Backend, worker: usize, n: usize) {
    let key = DeliveryKey::new(SourceKind::Github, format!("delivery-{worker}-{n}"));
    let now = Utc::now();
    let claim = store
        .begin_delivery(&key, "bench", now, LEASE, RETAIN)
        .await
        .expect("begin_delivery");
    assert_eq!(claim, DeliveryClaim::Claimed);
    let item_key = WorkItemKey::new(SourceKind::Github, &format!("acme/app#{worker}-{}", n % 50));
    let (item, expected) = match store.get_work_item(&item_key).await.expect("get") {
        Some(mut item) => {
            let expected = item.version;
            item.version += 1;
            item.updated_at = now;
            (item, Some(expected))
        }
        None => (work_item(item_key.clone()), None),
    };
    store.put_work_item(&item, expected).await.expect("put");
    let job = Job {
        v: JOB_SCHEMA_VERSION,
        job_id: JobId::generate(),
        work_item: item_key.clone(),
        reason: JobReason::Labeled,
        attempt: 1,
        queued_at: now,
        delivery_id: Some(key.id.clone()),
        continuation: 0,
    };
    queue.send(&job).await.expect("send");
    let outcome = DeliveryOutcome::Queued {
        work_item: item_key,
        job_id: job.job_id,
    };
    store
        .complete_delivery(
            &key,
            "bench",
            &outcome,
            &baton_core::contract::store::sample_event(),
            now,
            RETAIN,
        )
        .await
        .expect("complete_delivery");
}

/// Runs `total` deliveries with [`IN_FLIGHT`] workers; deliveries per second.
async fn run<F, Fut>(total: usize, delivery: F) -> f64
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..IN_FLIGHT {
        let delivery = delivery.clone();
        workers.spawn(async move {
            for n in (worker..total).step_by(IN_FLIGHT) {
                delivery(worker, n).await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("worker");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

fn github_body(number: usize) -> Vec<u8> {
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

fn signed(body: &[u8], delivery: &str) -> HeaderMap {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).expect("header value"));
    };
    set("content-type", "application/json");
    set("x-github-event", "issues");
    set("x-github-delivery", delivery);
    set("x-hub-signature-256", &signature);
    headers
}

fn ingress((store, queue): Backend) -> Arc<Ingress> {
    let secrets = [(SourceKind::Github, Secret::new(SECRET).expect("secret"))]
        .into_iter()
        .collect();
    Arc::new(Ingress::new(
        &Workflow::development(),
        secrets,
        store,
        queue,
        Arc::new(SystemClock),
        IngressSettings::default(),
    ))
}

async fn run_ingress(total: usize, backend: Backend, bodies: Arc<Vec<Vec<u8>>>) -> f64 {
    let pipeline = ingress(backend);
    run(total, move |worker, n| {
        let pipeline = Arc::clone(&pipeline);
        let bodies = Arc::clone(&bodies);
        async move {
            let body = &bodies[n % bodies.len()];
            let headers = signed(body, &format!("delivery-{worker}-{n}"));
            pipeline
                .accept(SourceKind::Github, &headers, body)
                .await
                .expect("accepted");
        }
    })
    .await
}

fn report(case: &str, memory: f64, sqlite: f64) {
    println!(
        "{case:<9} memory {memory:>9.0}/s  sqlite {sqlite:>9.0}/s  ratio {:.2}",
        sqlite / memory
    );
}

fn main() {
    let total: usize = std::env::var("BATON_BENCH_DELIVERIES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temporary directory");

        let backend = memory();
        let memory_rate = run(total, move |w, n| {
            let backend = backend.clone();
            async move { one_delivery(&backend, w, n).await }
        })
        .await;
        let backend = sqlite(&dir.path().join("sequence"));
        let sqlite_rate = run(total, move |w, n| {
            let backend = backend.clone();
            async move { one_delivery(&backend, w, n).await }
        })
        .await;
        report("sequence", memory_rate, sqlite_rate);

        let bodies: Arc<Vec<Vec<u8>>> = Arc::new((1..=1000).map(github_body).collect());
        let memory_rate = run_ingress(total, memory(), Arc::clone(&bodies)).await;
        let sqlite_rate = run_ingress(
            total,
            sqlite(&dir.path().join("ingress")),
            Arc::clone(&bodies),
        )
        .await;
        report("ingress", memory_rate, sqlite_rate);
    });
}
