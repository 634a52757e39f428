//! The operator CLI as a user runs it: the real `baton` binary as a child process against a
//! real `baton dev` process (embedded backends, mock agent), after signed webhooks made
//! real runs.

mod common;

use common::signing::{self, github_issue};
use common::GITHUB_SECRET;
use serde_json::{json, Value};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A `baton dev` process on a free port, killed when dropped.
struct DevServer {
    child: Child,
    base_url: String,
    _scratch: Option<Scratch>,
}

/// A directory removed when dropped.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl DevServer {
    /// The built-in development workflow, with the mock agent playing `scenario`.
    async fn start(scenario: &str, env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("baton-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let workflow = dir.join("WORKFLOW.md");
        let text = baton_core::workflow::DEV_WORKFLOW
            .replace("scenario: happy_path", &format!("scenario: {scenario}"));
        assert!(
            text.contains(scenario),
            "the dev workflow names its scenario"
        );
        std::fs::write(&workflow, text).expect("write workflow");
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_baton"));
        command
            .args(["dev", "--port", &port.to_string(), "--workflow"])
            .arg(&workflow)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
            .env("RUST_LOG", "warn")
            .env_remove("BATON_API_TOKEN")
            .env_remove("BATON_BACKEND")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command.envs(env.iter().copied());
        let server = Self {
            child: command.spawn().expect("spawn baton dev"),
            base_url: format!("http://127.0.0.1:{port}"),
            _scratch: Some(Scratch(dir)),
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

    /// Sends a signed GitHub `issues.labeled` webhook for `acme/app#<number>`.
    async fn label_issue(&self, number: u64, delivery: &str) {
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
        let response = request.send().await.expect("post webhook");
        assert_eq!(response.status(), 202, "{:?}", response.text().await);
    }

    async fn get(&self, path: &str) -> Value {
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
        response.json().await.expect("json")
    }

    /// Polls the issue through the API until `done` holds.
    async fn wait_for_issue(&self, encoded_key: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = reqwest::Client::new();
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let response = client
                .get(format!("{}/api/v1/issues/{encoded_key}", self.base_url))
                .send()
                .await
                .expect("get issue");
            if response.status().is_success() {
                last = response.json().await.expect("json");
                if done(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for the issue; last answer: {last}");
    }

    /// `baton <args> --api <this server>`.
    fn baton(&self, args: &[&str]) -> Output {
        baton(&[args, &["--api", &self.base_url]].concat(), &[])
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the real `baton` binary with `args`, its environment free of API settings but
/// `env`, and returns what it did.
fn baton(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .env_remove("BATON_API_URL")
        .env_remove("BATON_API_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run baton")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
fn expect_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The snapshot without its timestamp, which differs between two reads.
fn without_generated_at(mut state: Value) -> Value {
    state
        .as_object_mut()
        .expect("state is an object")
        .remove("generated_at");
    state
}

/// A happy-path run of `acme/app#1`, ended; returns the issue and the webhook's delivery id.
async fn finished_run(server: &DevServer) -> (Value, String) {
    let delivery = uuid::Uuid::new_v4().to_string();
    server.label_issue(1, &delivery).await;
    let issue = server
        .wait_for_issue("github%3Aacme%2Fapp%231", |issue| {
            issue["work_item"]["status"] == "succeeded" && issue["runs"][0]["ended_at"].is_string()
        })
        .await;
    (issue, delivery)
}

#[tokio::test]
async fn status_and_runs_show_a_finished_run_as_tables_and_unchanged_json() {
    let server = DevServer::start("happy_path", &[]).await;
    let (issue, _) = finished_run(&server).await;
    let run_id = issue["runs"][0]["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();

    let status = server.baton(&["status"]);
    expect_exit(&status, 0);
    let text = stdout(&status);
    assert!(
        text.starts_with(
            "0 running · 0 queued · 0 retrying · 0 awaiting approval · 0 awaiting input · \
             0 failed · 0 dead-lettered · 1 succeeded · 0 cancelled\ntokens: 1,500 ("
        ),
        "{text}"
    );
    assert!(text.contains("Nothing is running"), "{text}");

    // `--json` is the API's answer unchanged: the same document as a direct read.
    let json = server.baton(&["status", "--json"]);
    expect_exit(&json, 0);
    let printed: Value = serde_json::from_slice(&json.stdout).expect("status --json is JSON");
    let direct = server.get("/api/v1/state").await;
    assert_eq!(without_generated_at(printed), without_generated_at(direct));

    let runs = server.baton(&["runs", "github:acme/app#1"]);
    expect_exit(&runs, 0);
    let text = stdout(&runs);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("github:acme/app#1  Issue 1"), "{text}");
    let header = text
        .lines()
        .find(|line| line.starts_with("RUN"))
        .unwrap_or_else(|| panic!("no table in:\n{text}"));
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        ["RUN", "STATUS", "REASON", "ATTEMPT", "STARTED", "DURATION", "TOKENS", "ERROR"]
    );
    let row = text
        .lines()
        .find(|line| line.starts_with(&run_id))
        .unwrap_or_else(|| panic!("no row for run {run_id} in:\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1..4], ["succeeded", "labeled", "1"], "{row}");
    assert_eq!(cells[7..], ["1,500", "-"], "{row}");

    let json = server.baton(&["runs", "github:acme/app#1", "--json"]);
    expect_exit(&json, 0);
    let printed: Value = serde_json::from_slice(&json.stdout).expect("runs --json is JSON");
    let direct = server.get("/api/v1/issues/github%3Aacme%2Fapp%231").await;
    assert_eq!(printed, direct);
}

#[tokio::test]
async fn status_lists_a_running_item_with_its_run_and_runner() {
    // The `stall` agent says one thing and then hangs: the item stays running.
    let server = DevServer::start("stall", &[]).await;
    server
        .label_issue(5, &uuid::Uuid::new_v4().to_string())
        .await;
    let issue = server
        .wait_for_issue("github%3Aacme%2Fapp%235", |issue| {
            issue["work_item"]["status"] == "running" && issue["runs"][0]["run_id"].is_string()
        })
        .await;
    let run_id = issue["runs"][0]["run_id"].as_str().expect("run id");

    let status = server.baton(&["status"]);
    expect_exit(&status, 0);
    let text = stdout(&status);
    assert!(text.starts_with("1 running · 0 queued"), "{text}");
    let section: Vec<&str> = text
        .split("\n\n")
        .find(|section| section.starts_with("Running (1)\n"))
        .unwrap_or_else(|| panic!("no running section in:\n{text}"))
        .lines()
        .collect();
    assert_eq!(
        section[1].split_whitespace().collect::<Vec<_>>(),
        ["ISSUE", "TITLE", "ATTEMPT", "RUN", "UPDATED", "TOKENS", "DETAIL"]
    );
    assert!(
        section[2].starts_with("github:acme/app#5  Issue 5  1"),
        "{text}"
    );
    assert!(section[2].contains(run_id), "{text}");
    assert!(
        section[2].contains("runner "),
        "the lease holder is shown: {text}"
    );
}

#[tokio::test]
async fn an_unknown_issue_exits_1_with_the_apis_message() {
    let server = DevServer::start("happy_path", &[]).await;
    let output = server.baton(&["runs", "github:acme/app#999"]);
    expect_exit(&output, 1);
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert_eq!(
        stderr(&output),
        "baton: no work item has the key `github:acme/app#999` (HTTP 404, issue_not_found)\n"
    );
    // `--json` does not change how errors are reported.
    let output = server.baton(&["runs", "github:acme/app#999", "--json"]);
    expect_exit(&output, 1);
    assert!(
        stderr(&output).contains("issue_not_found"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn an_api_nobody_serves_exits_3_naming_the_url_and_baton_dev() {
    // A port that was free a moment ago: nothing listens there.
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [vec!["status"], vec!["runs", "github:acme/app#1"]] {
        let output = baton(&[&args[..], &["--api", &url]].concat(), &[]);
        expect_exit(&output, 3);
        let message = stderr(&output);
        assert!(
            message.starts_with(&format!("baton: cannot connect to the baton API at {url}")),
            "{message}"
        );
        assert!(
            message.contains("`baton dev`") && message.contains("--api"),
            "{message}"
        );
    }
    // The URL can come from the environment too.
    let output = baton(&["status"], &[("BATON_API_URL", &url)]);
    expect_exit(&output, 3);
    assert!(stderr(&output).contains(&url), "{}", stderr(&output));
}

#[tokio::test]
async fn malformed_arguments_exit_2_without_calling_anything() {
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    for args in [
        vec!["runs", "acme/app#1"],
        vec!["logs", "not-a-run-id"],
        vec!["replay", "72d3162e"],
        vec!["status", "--api", "ftp://example.com"],
        vec!["status", "--bogus"],
    ] {
        // Against a dead URL: exit 2 (not 3) shows nothing was attempted.
        let output = baton(&args, &[("BATON_API_URL", &unreachable)]);
        expect_exit(&output, 2);
        assert!(!stderr(&output).is_empty(), "{args:?} explains itself");
    }
    let help = baton(&["status", "--help"], &[]);
    expect_exit(&help, 0);
    let text = stdout(&help);
    for line in [
        "1  the API answered with an error",
        "2  usage error",
        "3  cannot connect",
    ] {
        assert!(text.contains(line), "--help documents exit codes: {text}");
    }
    assert!(text.contains("BATON_API_TOKEN"), "{text}");
}

#[tokio::test]
async fn logs_prints_a_finished_runs_timeline() {
    let server = DevServer::start("happy_path", &[]).await;
    let (issue, _) = finished_run(&server).await;
    let run_id = issue["runs"][0]["run_id"].as_str().expect("run id");
    let recorded = issue["runs"][0]["events"].as_array().expect("events").len();

    let output = server.baton(&["logs", run_id]);
    expect_exit(&output, 0);
    let text = stdout(&output);
    assert_eq!(
        text.lines().count(),
        recorded,
        "one line per event:\n{text}"
    );
    let kinds: Vec<&str> = text
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    assert_eq!(kinds.first(), Some(&"claimed"), "{text}");
    assert_eq!(kinds.last(), Some(&"run_ended"), "{text}");
    assert!(kinds.contains(&"file_change"), "{text}");

    // `--json`: the API's pages, one per line, holding the same events.
    let output = server.baton(&["logs", run_id, "--json"]);
    expect_exit(&output, 0);
    let events: Vec<Value> = stdout(&output)
        .lines()
        .flat_map(|line| {
            let page: Value = serde_json::from_str(line).expect("a page per line");
            page["events"].as_array().expect("events").clone()
        })
        .collect();
    assert_eq!(
        events,
        issue["runs"][0]["events"]
            .as_array()
            .expect("events")
            .clone()
    );

    // Following a run that has ended prints the same and returns.
    let output = server.baton(&["logs", run_id, "--follow"]);
    expect_exit(&output, 0);
    assert_eq!(stdout(&output), text);

    let unknown = uuid::Uuid::new_v4().to_string();
    let output = server.baton(&["logs", &unknown]);
    expect_exit(&output, 1);
    assert!(
        stderr(&output).contains("run_not_found"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test]
async fn logs_follow_streams_a_live_run_until_cancel_ends_it() {
    let server = DevServer::start("stall", &[]).await;
    server
        .label_issue(6, &uuid::Uuid::new_v4().to_string())
        .await;
    let issue = server
        .wait_for_issue("github%3Aacme%2Fapp%236", |issue| {
            issue["work_item"]["status"] == "running" && issue["runs"][0]["run_id"].is_string()
        })
        .await;
    let run_id = issue["runs"][0]["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();

    let follower = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args([
            "logs",
            &run_id,
            "--follow",
            "--poll-ms",
            "100",
            "--api",
            &server.base_url,
        ])
        .env_remove("BATON_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn baton logs --follow");

    let cancel = server.baton(&["cancel", "github:acme/app#6"]);
    expect_exit(&cancel, 0);
    assert!(
        stdout(&cancel).starts_with("cancel: cancel requested for github:acme/app#6"),
        "{}",
        stdout(&cancel)
    );

    // The follower returns by itself once the run has ended, with the whole timeline.
    let output = tokio::task::spawn_blocking(move || follower.wait_with_output())
        .await
        .expect("join")
        .expect("follower output");
    expect_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.lines().next().is_some_and(|l| l.contains("claimed")),
        "{text}"
    );
    assert!(text.contains("Thinking..."), "the agent's message: {text}");
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains("run_ended") && last.contains("cancelled"),
        "{text}"
    );
    // Not a terminal: the wait is announced once, plainly, on stderr.
    assert!(!stderr(&output).contains('\r'), "{}", stderr(&output));

    // Cancelling what has ended conflicts.
    let again = server.baton(&["cancel", "github:acme/app#6"]);
    expect_exit(&again, 1);
    assert!(
        stderr(&again).contains("(HTTP 409, conflict)"),
        "{}",
        stderr(&again)
    );
}

#[tokio::test]
async fn retry_and_replay_queue_new_runs() {
    let server = DevServer::start("happy_path", &[]).await;
    let (_, delivery) = finished_run(&server).await;

    let retry = server.baton(&["retry", "github:acme/app#1"]);
    expect_exit(&retry, 0);
    assert!(
        stdout(&retry).starts_with("retry: queued a run of github:acme/app#1 (job "),
        "{}",
        stdout(&retry)
    );
    let issue = server
        .wait_for_issue("github%3Aacme%2Fapp%231", |issue| {
            issue["work_item"]["status"] == "succeeded"
                && issue["runs"].as_array().is_some_and(|runs| runs.len() == 2)
        })
        .await;
    assert_eq!(issue["runs"][1]["reason"], "manual", "{issue}");

    let replay = server.baton(&["replay", &format!("github:{delivery}"), "--json"]);
    expect_exit(&replay, 0);
    let answer: Value = serde_json::from_slice(&replay.stdout).expect("replay --json is JSON");
    assert_eq!(answer["status"], "queued", "{answer}");
    assert_eq!(answer["work_item"], "github:acme/app#1", "{answer}");

    let unknown = server.baton(&["replay", &format!("github:{}", uuid::Uuid::new_v4())]);
    expect_exit(&unknown, 1);
    assert!(
        stderr(&unknown).contains("delivery_not_found"),
        "{}",
        stderr(&unknown)
    );
}

#[tokio::test]
async fn the_token_comes_from_the_environment_and_is_never_printed() {
    let token = "cli-test-token-5c1d";
    let server = DevServer::start("happy_path", &[("BATON_API_TOKEN", token)]).await;
    let without = server.baton(&["status"]);
    expect_exit(&without, 1);
    let message = stderr(&without);
    assert!(message.contains("(HTTP 401, unauthorized)"), "{message}");
    assert!(
        message.contains("BATON_API_TOKEN"),
        "the hint names the variable: {message}"
    );

    let wrong = baton(
        &["status", "--api", &server.base_url],
        &[("BATON_API_TOKEN", "not-the-token")],
    );
    expect_exit(&wrong, 1);
    assert!(
        !stderr(&wrong).contains("not-the-token"),
        "{}",
        stderr(&wrong)
    );

    let with = baton(
        &["status", "--api", &server.base_url],
        &[("BATON_API_TOKEN", token)],
    );
    expect_exit(&with, 0);
    assert!(!stdout(&with).contains(token) && !stderr(&with).contains(token));
}
