//! `baton dev` and `baton setup` as real processes: start, answer webhooks, stop on SIGTERM.

mod common;

use baton_core::ports::Queue;
use common::signing::{self, github_issue};
use common::GITHUB_SECRET;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

struct DevServer {
    child: Child,
    base_url: String,
}

impl DevServer {
    async fn start(extra_args: &[&str], env: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .args(["dev", "--port", &port.to_string()])
            .args(extra_args)
            .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("spawn baton dev");
        let server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_healthy().await;
        server
    }

    async fn wait_until_healthy(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(response) = client
                .get(format!("{}/healthz", self.base_url))
                .send()
                .await
            {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("baton dev did not become healthy within 30 s");
    }

    async fn post_labeled_issue(&self, number: u64, delivery: &str) -> (u16, serde_json::Value) {
        let body = github_issue(
            "labeled",
            number,
            &["baton"],
            json!({ "label": { "name": "baton" } }),
        );
        let mut request = reqwest::Client::new()
            .post(format!("{}/webhooks/github", self.base_url))
            .body(body.clone());
        for (name, value) in signing::github(GITHUB_SECRET, "issues", delivery, &body) {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("post");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json answer"))
    }

    /// Sends SIGTERM and expects a clean exit.
    fn stop(mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "baton dev exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "baton dev ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn baton_dev_embedded_queues_a_labelled_issue_and_stops_cleanly() {
    let server = DevServer::start(&[], &[]).await;
    let delivery = uuid::Uuid::new_v4().to_string();

    let (status, answer) = server.post_labeled_issue(1, &delivery).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "github:acme/app#1");
    let (status, answer) = server.post_labeled_issue(1, &delivery).await;
    assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));

    server.stop();
}

#[tokio::test]
async fn baton_setup_then_dev_with_aws_uses_the_emulator() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `scripts/test`, which starts the emulator"
    );
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let names = [
        ("BATON_TABLE", format!("dev-table-{suffix}")),
        ("BATON_QUEUE", format!("dev-jobs-{suffix}")),
        ("BATON_DLQ", format!("dev-dlq-{suffix}")),
    ];
    for _ in 0..2 {
        // Twice: setup is idempotent.
        let output = Command::new(env!("CARGO_BIN_EXE_baton"))
            .arg("setup")
            .envs(names.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("run baton setup");
        assert!(
            output.status.success(),
            "setup failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let server = DevServer::start(&["--aws"], &names).await;
    let delivery = uuid::Uuid::new_v4().to_string();
    let (status, answer) = server.post_labeled_issue(2, &delivery).await;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = server.post_labeled_issue(2, &delivery).await;
    assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));
    server.stop();

    // The job is on the emulator's queue, where a runner would find it.
    let settings = baton_aws::Settings {
        table: names[0].1.clone(),
        queue: names[1].1.clone(),
        dead_letter_queue: names[2].1.clone(),
    };
    let (_, queue) = baton_aws::connect(&settings).await;
    let received = queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
    let job = received[0].job.as_ref().expect("well-formed job");
    assert_eq!(job.work_item.as_str(), "github:acme/app#2");
}
