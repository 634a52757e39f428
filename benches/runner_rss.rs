//! Memory of the runner: the resident set of a `baton dev` process (ingress, read API and
//! runner loop, embedded backends) idle, and with N concurrent mock agent sessions running.
//! The agents are separate processes and are not counted.
//!
//! `cargo bench --bench runner_rss` (N = 100). Under `cargo test` it runs N = 5 as a smoke
//! test. Linux only: it reads `/proc/<pid>/status`.

#[allow(unused_macros)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::control_plane::Scratch;
use common::signing::{self, github_issue};
use common::GITHUB_SECRET;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Resident set size of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Dev(Child);

impl Drop for Dev {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Option<Value> {
    let response = client.get(url).send().await.ok()?;
    response.json().await.ok()
}

fn main() {
    let sessions: u64 = if std::env::args().any(|arg| arg == "--bench") {
        100
    } else {
        5
    };
    let scratch = Scratch::new("baton-rss");
    let workflow = scratch.0.join("WORKFLOW.md");
    // `stall`: the agent speaks once, then waits until interrupted: sessions stay open.
    std::fs::write(
        &workflow,
        format!(
            "---\ntracker: {{kind: github}}\nwebhooks: {{github: {{secret: $GITHUB_WEBHOOK_SECRET}}}}\n\
             agent_provider: {{kind: mock, options: {{scenario: stall}}}}\n\
             agent: {{max_concurrent_agents: {sessions}, max_turns: 1, max_continuations: 0}}\n\
             codex: {{stall_timeout_ms: 0}}\nworkspace: {{root: \"{}\"}}\n---\nFix it\n",
            scratch.0.join("workspaces").display()
        ),
    )
    .expect("workflow");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("port");
    let dev = Dev(Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["dev", "--port", &port.to_string(), "--workflow"])
        .arg(&workflow)
        .arg("--data-dir")
        .arg(scratch.0.join("data"))
        .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
        .env("BATON_RUNNER_SESSIONS", sessions.to_string())
        .env("BATON_SHUTDOWN_GRACE_SECS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn baton dev"));
    let pid = dev.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&client, &format!("{base}/healthz")).await.is_none() {
            assert!(Instant::now() < deadline, "baton dev did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = rss_kib(pid);

        for number in 1..=sessions {
            let body = github_issue("labeled", number, &["baton"], json!({ "label": { "name": "baton" } }));
            let delivery = uuid::Uuid::new_v4().to_string();
            let mut request = client.post(format!("{base}/webhooks/github")).body(body.clone());
            for (name, value) in signing::github(GITHUB_SECRET, "issues", &delivery, &body) {
                request = request.header(name, value);
            }
            let response = request.send().await.expect("post");
            assert_eq!(response.status().as_u16(), 202);
        }
        // Every session is up once each running item's agent has spoken.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let state = get(&client, &format!("{base}/api/v1/state")).await.unwrap_or_default();
            if state["counts"]["running"].as_u64() == Some(sessions) {
                break;
            }
            assert!(Instant::now() < deadline, "not all sessions started: {state}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let busy = rss_kib(pid);
        println!(
            "runner RSS (baton dev, embedded): idle {:.1} MiB; with {sessions} concurrent mock sessions {:.1} MiB",
            idle as f64 / 1024.0,
            busy as f64 / 1024.0
        );
    });
    drop(dev);
}
