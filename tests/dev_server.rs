//! `baton dev` and `baton setup` as real processes: start, answer webhooks, stop on SIGTERM.

mod common;

use baton_core::ports::Queue;
use common::dev_process::DevServer;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test]
async fn baton_dev_embedded_runs_a_labelled_issue_to_a_finished_session() {
    let server = DevServer::start(&[], &[]).await;
    let delivery = uuid::Uuid::new_v4().to_string();

    let (status, answer) = server.post_labeled_issue(1, &delivery).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "github:acme/app#1");
    let (status, answer) = server.post_labeled_issue(1, &delivery).await;
    assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));

    // The runner in the same process ran the mock agent; the read API shows the result.
    let issue = server
        .wait_for_issue("github%3Aacme%2Fapp%231", |issue| {
            issue["work_item"]["status"] == "succeeded"
        })
        .await;
    let runs = issue["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{issue}");
    assert_eq!(runs[0]["status"], "succeeded");
    for field in [
        "received_at",
        "queued_at",
        "claimed_at",
        "agent_started_at",
        "ended_at",
    ] {
        assert!(runs[0][field].is_string(), "{field} missing: {}", runs[0]);
    }
    let kinds: Vec<&str> = runs[0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"file_change") && kinds.contains(&"run_ended"),
        "{kinds:?}"
    );
    let state = server.get("/api/v1/state").await;
    assert_eq!(state["counts"]["succeeded"], 1, "{state}");
    assert_eq!(state["token_totals"]["total_tokens"], 1500, "{state}");

    server.stop();
}

#[tokio::test]
async fn baton_demo_completes_the_loop_with_nothing_installed() {
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("demo")
        .output()
        .expect("run baton demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "baton demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "claimed",
        "session_started",
        "file_change",
        "committed",
        "✓ committed on baton/",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    assert!(stdout.contains("src/lib.rs | 2 +-"), "{stdout}");
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

    // Ingress only: the job stays on the queue for a separate runner.
    let server = DevServer::start(&["--aws", "--no-runner"], &names).await;
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

#[tokio::test]
async fn baton_dev_and_demo_with_aws_run_sessions_on_the_emulator() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `scripts/test`, which starts the emulator"
    );
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let names = [
        ("BATON_TABLE", format!("run-table-{suffix}")),
        ("BATON_QUEUE", format!("run-jobs-{suffix}")),
        ("BATON_DLQ", format!("run-dlq-{suffix}")),
    ];
    // `baton demo --aws` creates what it needs, then runs the loop on the emulator.
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["demo", "--aws"])
        .envs(names.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run baton demo --aws");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "baton demo --aws failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("✓ committed on baton/"), "{stdout}");

    // `baton dev --aws` on the same table and queues runs a webhook's session too.
    let server = DevServer::start(&["--aws"], &names).await;
    let delivery = uuid::Uuid::new_v4().to_string();
    let (status, answer) = server.post_labeled_issue(3, &delivery).await;
    assert_eq!(status, 202, "{answer}");
    let issue = server
        .wait_for_issue("github%3Aacme%2Fapp%233", |issue| {
            issue["work_item"]["status"] == "succeeded"
                && issue["runs"]
                    .as_array()
                    .is_some_and(|runs| !runs.is_empty())
        })
        .await;
    assert_eq!(issue["runs"][0]["status"], "succeeded", "{issue}");
    server.stop();
}

/// Polls `GET /api/v1/workflows` until the first workflow's status satisfies `done`.
async fn wait_for_workflow_status(
    server: &DevServer,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listing = server.get("/api/v1/workflows").await;
        if done(&listing["workflows"][0]) {
            return listing["workflows"][0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "workflow status never changed: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn baton_dev_follows_a_rewritten_workflow_and_keeps_the_last_good_one() {
    let dir = std::env::temp_dir().join(format!("baton-dev-reload-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("WORKFLOW.md");
    let with_label = |label: &str| {
        baton_core::workflow::DEV_WORKFLOW.replace("label: baton", &format!("label: {label}"))
    };
    std::fs::write(&path, with_label("alpha")).expect("write workflow");
    let server = DevServer::start(
        &["--workflow", &path.to_string_lossy()],
        &[("BATON_WORKFLOW_RELOAD_MS", "100".into())],
    )
    .await;
    let delivery = || uuid::Uuid::new_v4().to_string();

    let (status, answer) = server.post_labeled(1, "alpha", &delivery()).await;
    assert_eq!(status, 202, "{answer}");
    let first = wait_for_workflow_status(&server, |status| status["active"] == true).await;

    // Rewritten: the next webhook follows the new trigger label.
    std::fs::write(&path, with_label("beta")).expect("rewrite workflow");
    wait_for_workflow_status(&server, |status| status["version"] != first["version"]).await;
    let (status, answer) = server.post_labeled(2, "alpha", &delivery()).await;
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("ignored")),
        "{answer}"
    );
    let (status, answer) = server.post_labeled(2, "beta", &delivery()).await;
    assert_eq!(status, 202, "{answer}");

    // An invalid rewrite keeps the last good version, and the API says why.
    std::fs::write(&path, "---\ntracker: [unclosed\n---\n").expect("break workflow");
    let broken = wait_for_workflow_status(&server, |status| !status["last_error"].is_null()).await;
    assert_eq!(broken["error_code"], "workflow_parse_error", "{broken}");
    assert_eq!(broken["active"], true, "{broken}");
    let (status, answer) = server.post_labeled(3, "beta", &delivery()).await;
    assert_eq!(status, 202, "{answer}");

    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Requests to the status API of a `baton dev` started with `BATON_API_TOKEN`.
struct StatusApi<'a> {
    server: &'a DevServer,
    token: &'a str,
}

impl StatusApi<'_> {
    async fn call(&self, method: reqwest::Method, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.server.base_url))
            .bearer_auth(self.token)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json"))
    }

    /// Polls `path` until `done` holds.
    async fn wait_for(
        &self,
        path: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = serde_json::Value::Null;
        while Instant::now() < deadline {
            let (status, body) = self.call(reqwest::Method::GET, path).await;
            if status == 200 && done(&body) {
                return body;
            }
            last = body;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting on {path}; last answer: {last}");
    }
}

#[tokio::test]
async fn baton_dev_status_api_needs_the_token_and_retries_and_replays() {
    let token = format!("tok-{}", uuid::Uuid::new_v4());
    let server = DevServer::start(&[], &[("BATON_API_TOKEN", token.clone())]).await;
    let api = StatusApi {
        server: &server,
        token: &token,
    };
    let anonymous = reqwest::get(format!("{}/api/v1/state", server.base_url))
        .await
        .expect("get");
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(
        anonymous
            .headers()
            .get("www-authenticate")
            .map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );

    let delivery = uuid::Uuid::new_v4().to_string();
    let (status, answer) = server.post_labeled_issue(2, &delivery).await;
    assert_eq!(status, 202, "{answer}");
    let issue_path = "/api/v1/issues/github%3Aacme%2Fapp%232";
    api.wait_for(issue_path, |issue| {
        issue["work_item"]["status"] == "succeeded"
    })
    .await;

    // A manual retry runs the item again, as a second run with reason `manual`.
    let (status, retried) = api
        .call(reqwest::Method::POST, &format!("{issue_path}/retry"))
        .await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["status"], "queued");
    let issue = api
        .wait_for(issue_path, |issue| {
            issue["runs"]
                .as_array()
                .is_some_and(|runs| runs.len() == 2 && runs[1]["status"] == "succeeded")
        })
        .await;
    let second = &issue["runs"][1];
    assert_eq!(second["reason"], "manual", "{second}");
    assert_eq!(second["job_id"], retried["job_id"]);

    // Its timeline, two events a page, ends with a null cursor and holds every event once.
    let run_id = second["run_id"].as_str().expect("run id");
    let mut path = format!("/api/v1/runs/{run_id}/events?limit=2");
    let mut seqs = Vec::new();
    loop {
        let (status, page) = api.call(reqwest::Method::GET, &path).await;
        assert_eq!(status, 200, "{page}");
        seqs.extend(
            page["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| e["seq"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/runs/{run_id}/events?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seqs.len() as u64,
        second["event_count"].as_u64().expect("count")
    );
    assert_eq!(seqs.first(), Some(&json!(1)));

    // The first webhook, replayed: a new job under a fresh delivery id.
    let (status, replayed) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/deliveries/github%3A{delivery}/replay"),
        )
        .await;
    assert_eq!(status, 202, "{replayed}");
    assert_eq!(replayed["status"], "queued");
    assert_eq!(replayed["work_item"], "github:acme/app#2");
    assert_ne!(replayed["job_id"], retried["job_id"]);

    server.stop();
}
