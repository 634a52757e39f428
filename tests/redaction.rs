//! No secret leaves baton: a real `baton dev` process on the emulator is given distinct known
//! secrets (the webhook secret, credentials in its environment) which then turn up in a
//! webhook's issue text, in the agent's messages, command output and stderr, and in the
//! error that fails the run. None of them may appear in any log line, metric line, stored
//! record (work item, run, events) or read API answer; `[redacted]` shows where they were.
//! The same run shows that log lines are JSON carrying the work item, run and session, and
//! that the EMF metrics come out on stdout.

mod common;

use baton_core::domain::WorkItemKey;
use baton_core::ports::Store;
use common::control_plane::Scratch;
use common::signing::{self, github_issue};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The webhook secret: signs every delivery.
const WEBHOOK_SECRET: &str = "whsec-redact-7f3a91c2e4";
/// A tracker credential in the environment (a secret by its name).
const TRACKER_TOKEN: &str = "lin_api_redactTest5b8d0e6f";
/// The agent's model key in the environment; the issue text and the agent leak it.
const MODEL_KEY: &str = "sk-redact-test-93c1a7d4f0";
/// Every value that must never be shown.
const SECRETS: [&str; 3] = [WEBHOOK_SECRET, TRACKER_TOKEN, MODEL_KEY];

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Collects a child's output lines on a thread, so the pipe never fills.
fn collect_lines(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock().expect("lines lock").push(line);
        }
    });
    lines
}

struct Dev {
    child: Child,
    base_url: String,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Dev {
    fn start(workflow: &std::path::Path, names: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["dev", "--aws", "--port", &port.to_string(), "--workflow"])
            .arg(workflow)
            .envs(names.iter().map(|(k, v)| (*k, v.as_str())))
            .env("GITHUB_WEBHOOK_SECRET", WEBHOOK_SECRET)
            .env("LINEAR_API_KEY", TRACKER_TOKEN)
            .env("OPENAI_API_KEY", MODEL_KEY)
            // Every line there is, in the format production writes, with metrics on.
            .env("RUST_LOG", "debug")
            .env("BATON_LOG_FORMAT", "json")
            .env("BATON_METRICS", "on")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn baton dev");
        let stderr = collect_lines(child.stderr.take().expect("stderr"));
        let stdout = collect_lines(child.stdout.take().expect("stdout"));
        Self {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            stderr,
            stdout,
        }
    }

    async fn wait_until_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!(
                    "baton dev exited with {status}:\n{}",
                    self.stderr.lock().expect("lock").join("\n")
                );
            }
            let healthy = client
                .get(format!("{}/healthz", self.base_url))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if healthy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("baton dev did not become healthy within 60 s");
    }

    async fn post(&self, body: &[u8], headers: Vec<(String, String)>) -> (u16, String) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/webhooks/github", self.base_url))
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("post");
        let status = response.status().as_u16();
        (status, response.text().await.expect("answer"))
    }

    async fn get(&self, path: &str) -> String {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("get");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.text().await.expect("text")
    }

    /// SIGTERM, so the process flushes and stops cleanly.
    fn stop(&mut self) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.child.try_wait().expect("wait").is_none() {
            assert!(Instant::now() < deadline, "baton dev ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The reader threads drain what is left in the pipes.
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Fails naming the secret and the place when `text` holds any secret.
fn assert_no_secret(place: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "secret {secret:?} leaked in {place}:\n{text}"
        );
    }
}

/// The agent leaks the model key in a message, in command output, on stderr and in the error
/// that fails its turn; its prompt carries the issue text, which holds the key too.
const SCENARIO: &str = r#"{"do":"message","text":"Found OPENAI_API_KEY=sk-redact-test-93c1a7d4f0 in the environment."}
{"do":"command","command":"env","exit_code":0,"output":"LINEAR_API_KEY=lin_api_redactTest5b8d0e6f\nHOME=/root"}
{"do":"stderr","text":"debug: signing with whsec-redact-7f3a91c2e4"}
{"do":"usage","input":700,"output":200}
{"do":"complete","status":"failed","error":"the model refused key sk-redact-test-93c1a7d4f0"}
"#;

fn workflow_text(workspaces: &std::path::Path) -> String {
    format!(
        "---\ntracker: {{kind: github}}\ntriggers: {{label: baton}}\n\
         webhooks: {{github: {{secret: $GITHUB_WEBHOOK_SECRET}}}}\n\
         agent_provider: {{kind: mock, options: {{scenario: leaky.jsonl}}}}\n\
         agent: {{max_turns: 1, max_continuations: 0, max_attempts: 1}}\n\
         workspace: {{root: \"{}\"}}\n---\n\
         Fix {{{{ issue.identifier }}}}: {{{{ issue.description }}}}\n",
        workspaces.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_a_record_or_an_answer() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `scripts/test`, which starts the emulator"
    );
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let names = [
        ("BATON_TABLE", format!("redact-table-{suffix}")),
        ("BATON_QUEUE", format!("redact-jobs-{suffix}")),
        ("BATON_DLQ", format!("redact-dlq-{suffix}")),
    ];
    let setup = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("setup")
        .envs(names.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run baton setup");
    assert!(
        setup.status.success(),
        "setup failed: {}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let scratch = Scratch::new("baton-redaction");
    let workflow = scratch.0.join("WORKFLOW.md");
    std::fs::write(&workflow, workflow_text(&scratch.0.join("workspaces"))).expect("workflow");
    std::fs::write(scratch.0.join("leaky.jsonl"), SCENARIO).expect("scenario");

    let mut dev = Dev::start(&workflow, &names);
    dev.wait_until_healthy().await;
    let mut answers = Vec::new();

    // A delivery signed with the wrong secret is refused.
    let body = github_issue(
        "labeled",
        7,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let (status, answer) = dev
        .post(
            &body,
            signing::github("not-the-secret", "issues", "bad-1", &body),
        )
        .await;
    assert_eq!(status, 401, "{answer}");
    answers.push(answer);

    // The issue text holds the model key, as when someone pastes a credential into an issue.
    let mut payload: Value = serde_json::from_slice(&body).expect("payload");
    payload["issue"]["body"] = json!(format!("It fails with key {MODEL_KEY} set, please fix."));
    let body = serde_json::to_vec(&payload).expect("body");
    let delivery = uuid::Uuid::new_v4().to_string();
    let (status, answer) = dev
        .post(
            &body,
            signing::github(WEBHOOK_SECRET, "issues", &delivery, &body),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    answers.push(answer);

    // A label named like a secret: ignored, and the answer says why without showing it.
    let labeled = github_issue(
        "labeled",
        8,
        &["baton", MODEL_KEY],
        json!({ "label": { "name": MODEL_KEY } }),
    );
    let (status, answer) = dev
        .post(
            &labeled,
            signing::github(WEBHOOK_SECRET, "issues", "label-1", &labeled),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("label `[redacted]`"), "{answer}");
    answers.push(answer);

    // The run fails on the agent's error, and is not retried.
    let path = "/api/v1/issues/github%3Aacme%2Fapp%237";
    let deadline = Instant::now() + Duration::from_secs(60);
    let issue = loop {
        let issue: Value = serde_json::from_str(&dev.get(path).await).unwrap_or(Value::Null);
        let status = issue["work_item"]["status"].as_str().unwrap_or_default();
        if ["failed", "dead_lettered"].contains(&status) {
            break issue;
        }
        assert!(
            Instant::now() < deadline,
            "the run never ended; last answer: {issue}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let issue_text = issue.to_string();
    answers.push(issue_text.clone());
    answers.push(dev.get("/api/v1/state").await);
    let run_id = issue["runs"][0]["run_id"]
        .as_str()
        .expect("a run id")
        .to_owned();
    answers.push(
        dev.get(&format!("/api/v1/runs/{run_id}/events?limit=500"))
            .await,
    );
    // The dashboard's pages render the same records as HTML.
    let pages = [
        dev.get("/").await,
        dev.get("/issues/github%3Aacme%2Fapp%237").await,
        dev.get(&format!("/runs/{run_id}")).await,
    ];
    dev.stop();

    for answer in &answers {
        assert_no_secret("a read API or webhook answer", answer);
    }
    for page in &pages {
        assert_no_secret("a dashboard page", page);
    }
    assert!(
        pages[2].contains("[redacted]"),
        "the run page shows where a secret was removed"
    );
    // Where the secrets were, the record says so.
    assert!(
        issue_text.contains("the model refused key [redacted]"),
        "the run's error is recorded redacted: {issue_text}"
    );

    // The stored records, read straight from the emulator.
    let settings = baton_aws::Settings {
        table: names[0].1.clone(),
        queue: names[1].1.clone(),
        dead_letter_queue: names[2].1.clone(),
    };
    let (store, _) = baton_aws::connect(&settings).await;
    let key = WorkItemKey::parse("github:acme/app#7").expect("key");
    let item = store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("the work item");
    let last_error = item.last_error.clone().expect("the run's error");
    assert!(last_error.contains("[redacted]"), "{last_error}");
    assert_no_secret("the work item", &format!("{item:?}"));
    assert!(
        item.issue.body.contains("[redacted]"),
        "the issue text is stored redacted: {:?}",
        item.issue.body
    );
    let runs = store.list_runs(&key).await.expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_no_secret("the run", &format!("{run:?}"));
    let events = store
        .list_events(&run.run_id, 0, 10_000)
        .await
        .expect("events");
    let events_text = serde_json::to_string(&events).expect("events json");
    assert_no_secret("the run's events", &events_text);
    for kind in ["message", "command"] {
        let event = events
            .iter()
            .find(|event| event.kind == kind)
            .unwrap_or_else(|| panic!("no {kind} event in {events_text}"));
        assert!(
            event.data.to_string().contains("[redacted]"),
            "{kind} event: {}",
            event.data
        );
    }

    // Every log line: JSON, free of secrets, and the run's lines name their context.
    let log = dev.stderr.lock().expect("lock").clone();
    assert!(!log.is_empty());
    let mut lines = Vec::new();
    for line in &log {
        assert_no_secret("a log line", line);
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert_eq!(parsed["service"], "baton", "{line}");
        assert!(parsed["timestamp"].is_string(), "{line}");
        lines.push(parsed);
    }
    let run_ended = lines
        .iter()
        .find(|line| line["message"] == "run ended")
        .unwrap_or_else(|| panic!("no `run ended` line in:\n{}", log.join("\n")));
    assert_eq!(run_ended["work_item"], "github:acme/app#7", "{run_ended}");
    assert_eq!(run_ended["run_id"], run_id.as_str(), "{run_ended}");
    assert_eq!(run_ended["delivery_id"], delivery.as_str(), "{run_ended}");
    assert!(run_ended["session_id"].is_string(), "{run_ended}");
    let refused = lines
        .iter()
        .find(|line| line["message"] == "webhook refused")
        .unwrap_or_else(|| panic!("no `webhook refused` line in:\n{}", log.join("\n")));
    assert_eq!(refused["source"], "github", "{refused}");
    assert!(
        lines
            .iter()
            .any(|line| line["delivery_id"] == delivery.as_str()
                && line["work_item"] == "github:acme/app#7"
                && line["source"] == "github"),
        "no ingress line names the delivery and its work item"
    );

    // Metrics: EMF lines on stdout, secret-free, for what happened.
    let out = dev.stdout.lock().expect("lock").clone();
    let mut metrics = Vec::new();
    for line in &out {
        assert_no_secret("a metric line", line);
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a stdout line that is not JSON ({e}): {line}"));
        let directive = &parsed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Baton", "{line}");
        assert!(parsed["_aws"]["Timestamp"].is_i64(), "{line}");
        metrics.push(parsed);
    }
    let has = |name: &str, dimension: &str, value: &str| {
        metrics
            .iter()
            .any(|m| m[name].is_number() && m[dimension] == value)
    };
    assert!(has("WebhooksReceived", "Source", "github"), "{out:?}");
    assert!(has("WebhooksAccepted", "Source", "github"), "{out:?}");
    assert!(has("WebhooksRefused", "Reason", "bad_signature"), "{out:?}");
    assert!(has("RunOutcome", "Outcome", "failed"), "{out:?}");
    assert!(has("TokensUsed", "Direction", "input"), "{out:?}");
    assert!(
        metrics.iter().any(|m| m["DispatchLatency"].is_number()),
        "{out:?}"
    );
}
