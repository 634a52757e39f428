//! Shared harness for the whole-system tests: spawn the real HTTP server on a free port,
//! backed by the embedded adapters or by DynamoDB and SQS on the emulator, and sign
//! webhooks the way each sender does.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

/// Runs each named `async fn(Backend)` once per backend: `<name>::embedded` and `<name>::aws`.
#[allow(unused_macros)] // Not every test binary runs on both backends.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                super::$name(super::Backend::Memory).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn aws() {
                super::$name(super::Backend::Aws).await
            }
        }
    )*};
}

pub mod browser;
pub mod control_plane;
pub mod dev_process;
pub mod faults;
pub mod remote;
pub mod signing;

use baton_core::clock::SystemClock;
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{Queue, Store};
use baton_core::secret::Secret;
use baton_core::workflow::Workflow;
use baton_web::ingress::router;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const GITHUB_SECRET: &str = "github-test-secret";
pub const LINEAR_SECRET: &str = "linear-test-secret";
pub const JIRA_SECRET: &str = "jira-test-secret";
pub const GITLAB_TOKEN: &str = "gitlab-test-token";

/// Which adapters back the app under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    /// DynamoDB and SQS at `AWS_ENDPOINT_URL` (moto in `scripts/test`).
    Aws,
}

pub struct TestApp {
    pub base_url: String,
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub client: reqwest::Client,
}

pub fn all_secrets() -> BTreeMap<baton_core::domain::SourceKind, Secret> {
    use baton_core::domain::SourceKind::*;
    [
        (Github, GITHUB_SECRET),
        (Linear, LINEAR_SECRET),
        (Jira, JIRA_SECRET),
        (Gitlab, GITLAB_TOKEN),
    ]
    .into_iter()
    .filter_map(|(source, value)| Secret::new(value).map(|secret| (source, secret)))
    .collect()
}

/// Unique table and queue names, so tests run in parallel on one emulator.
pub fn unique_aws_settings() -> baton_aws::Settings {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    baton_aws::Settings {
        table: format!("baton-test-{suffix}"),
        queue: format!("baton-jobs-{suffix}"),
        dead_letter_queue: format!("baton-dlq-{suffix}"),
    }
}

/// The table and queues named by `settings` on the emulator, created.
pub async fn aws_backends_named(
    settings: &baton_aws::Settings,
) -> (Arc<dyn Store>, Arc<dyn Queue>) {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `scripts/test`, which starts the emulator"
    );
    let (store, queue) = baton_aws::connect(settings).await;
    baton_aws::setup(&store, &queue)
        .await
        .expect("setup on the emulator");
    (Arc::new(store), Arc::new(queue))
}

/// Fresh, uniquely named table and queues on the emulator, so tests run in parallel.
pub async fn aws_backends() -> (Arc<dyn Store>, Arc<dyn Queue>) {
    aws_backends_named(&unique_aws_settings()).await
}

pub fn memory_backends() -> (Arc<dyn Store>, Arc<dyn Queue>) {
    (Arc::new(MemoryStore::new()), Arc::new(MemoryQueue::new()))
}

pub async fn backends(backend: Backend) -> (Arc<dyn Store>, Arc<dyn Queue>) {
    match backend {
        Backend::Memory => memory_backends(),
        Backend::Aws => aws_backends().await,
    }
}

/// Serves the ingress router with the given workflow, secrets and adapters on 127.0.0.1.
pub async fn spawn_with(
    workflow: &Workflow,
    secrets: BTreeMap<baton_core::domain::SourceKind, Secret>,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    settings: IngressSettings,
) -> TestApp {
    let ingress = Ingress::new(
        workflow,
        secrets,
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        settings,
    );
    serve_router(router(Arc::new(ingress)), store, queue).await
}

/// Serves `app` on a free loopback port.
pub async fn serve_router(
    app: axum::Router,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("server") });
    TestApp {
        base_url: format!("http://{address}"),
        store,
        queue,
        client: reqwest::Client::new(),
    }
}

/// The development workflow, every secret configured, the given backend.
pub async fn spawn_app(backend: Backend) -> TestApp {
    let (store, queue) = backends(backend).await;
    spawn_with(
        &Workflow::development(),
        all_secrets(),
        store,
        queue,
        IngressSettings::default(),
    )
    .await
}

impl TestApp {
    pub async fn post(
        &self,
        source: &str,
        headers: &[(String, String)],
        body: impl Into<reqwest::Body>,
    ) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .post(format!("{}/webhooks/{source}", self.base_url))
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body read");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, json)
    }

    /// Takes every job currently visible on the queue (acknowledging them).
    pub async fn drain_jobs(&self) -> Vec<baton_core::domain::Job> {
        let mut jobs = Vec::new();
        loop {
            let batch = self
                .queue
                // SQS waits in whole seconds: anything shorter is a short poll that may miss.
                .receive(
                    10,
                    std::time::Duration::from_secs(1),
                    std::time::Duration::from_secs(30),
                )
                .await
                .expect("receive");
            if batch.is_empty() {
                return jobs;
            }
            for message in batch {
                self.queue.delete(&message.receipt).await.expect("delete");
                jobs.push(message.job.expect("a well-formed job"));
            }
        }
    }
}
