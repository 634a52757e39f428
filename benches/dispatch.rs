//! Dispatch latency: a signed webhook accepted by the ingress → the agent process started
//! and its session up (`received_at` → `agent_started_at` on the run record), through the
//! real HTTP ingress, queue, store and runner loop, with the mock agent as a child process.
//! Embedded backends always; DynamoDB and SQS too when `AWS_ENDPOINT_URL` is set (as in
//! `scripts/test`, or against LocalStack).
//!
//! `cargo bench --bench dispatch` (with `scripts/moto.sh` for the emulator figures). Under
//! `cargo test` it runs a few samples only, as a smoke test.

#[allow(unused_macros)]
#[path = "../tests/common/mod.rs"]
mod common;

use baton_core::domain::WorkItemKey;
use common::control_plane::{spawn_control_plane, wait_for_item, wait_for_runs};
use common::signing::{self, github_issue};
use common::{Backend, GITHUB_SECRET};
use serde_json::json;
use std::time::Duration;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(backend: Backend, samples: u64) -> Vec<f64> {
    let plane = spawn_control_plane(backend, "happy_path").await;
    let store = &*plane.app.store;
    let mut latencies = Vec::new();
    for number in 1..=samples {
        let body = github_issue(
            "labeled",
            number,
            &["baton"],
            json!({ "label": { "name": "baton" } }),
        );
        let delivery = uuid::Uuid::new_v4().to_string();
        let (status, answer) = plane
            .app
            .post(
                "github",
                &signing::github(GITHUB_SECRET, "issues", &delivery, &body),
                body,
            )
            .await;
        assert_eq!(status, 202, "{answer}");
        let key =
            WorkItemKey::parse(answer["work_item"].as_str().unwrap_or_default()).expect("key");
        wait_for_item(store, &key, "the run to end", |item| {
            !item.status.is_active()
        })
        .await;
        let runs = wait_for_runs(store, &key, 1).await;
        let run = runs.last().expect("a run");
        let (Some(received), Some(started)) = (run.received_at, run.agent_started_at) else {
            panic!("run without timestamps: {run:?}");
        };
        latencies.push((started - received).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0);
        // Let the runner go back to its long poll, as it would between webhooks.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    plane.stop().await;
    latencies
}

fn report(name: &str, mut latencies: Vec<f64>) {
    latencies.sort_by(f64::total_cmp);
    println!(
        "dispatch latency {name:<9} n={:<3} p50={:>7.1} ms  p90={:>7.1} ms  p99={:>7.1} ms  max={:>7.1} ms",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
    );
}

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let samples = if benchmarking { 100 } else { 3 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        report("embedded", measure(Backend::Memory, samples).await);
        if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            report("emulator", measure(Backend::Aws, samples).await);
        } else {
            println!("dispatch latency emulator: skipped (AWS_ENDPOINT_URL is not set)");
        }
    });
}
