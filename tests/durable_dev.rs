//! `baton dev` on its embedded durable store, as a real process: killed with SIGKILL at
//! random points (mid-webhook, mid-run, mid-delivery) and started again on the same data
//! directory. Nothing acknowledged is lost, an interrupted run is taken over like a dead
//! runner's, and no pull request or comment is made twice. Also: a `baton runner` sharing
//! the data directory with a `baton dev`, and a backup that a restart can use.

mod common;

use baton_integrations::test_support::fakes::github::{GithubFake, NewIssue};
use baton_integrations::test_support::FakeApi;
use baton_runner::workspace::RepoConfig;
use common::control_plane::{github_delivery_workflow, workflow_text, GithubDelivery, Scratch};
use common::dev_process::{post_github, DevServer, RunnerProcess};
use common::remote::bare_remote;
use common::signing::github_issue;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TRACKER_TOKEN: &str = "durable-tracker-token";
const REPO_TOKEN: &str = "durable-repo-token";
const ISSUES: u64 = 3;
/// Kills at random points after the first, deterministic one.
const RANDOM_KILLS: usize = 4;

/// A small deterministic generator: the seed is printed, so a failing run can be replayed
/// with `BATON_TEST_SEED`.
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        let seed = std::env::var("BATON_TEST_SEED")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0 | 1);
        eprintln!("durable_dev seed: BATON_TEST_SEED={seed}");
        Self(seed)
    }

    fn below(&mut self, bound: u64) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// `github:acme/app#<number>`, percent-encoded for a path.
fn encoded_key(number: u64) -> String {
    format!("github%3Aacme%2Fapp%23{number}")
}

fn issue_path(number: u64) -> String {
    format!("/api/v1/issues/{}", encoded_key(number))
}

/// A `labeled` delivery for `number` with a body of its own (a captured body sent again
/// with a fresh id would be a replay).
fn labeled(number: u64) -> (String, Vec<u8>) {
    let id = uuid::Uuid::new_v4().to_string();
    let body = github_issue(
        "labeled",
        number,
        &["baton"],
        json!({ "label": { "name": "baton" }, "baton_test_nonce": id }),
    );
    (id, body)
}

type Acknowledged = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Posts fresh deliveries every 50 ms until aborted; those answered 2xx are recorded.
fn keep_posting(
    server_url: String,
    acknowledged: Acknowledged,
    seed: u64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rng = Rng(seed);
        loop {
            let (id, body) = labeled(1 + rng.below(ISSUES));
            if let Ok((status, _)) = post_github(&server_url, "issues", &id, &body).await {
                if (200..300).contains(&status) {
                    acknowledged.lock().expect("lock").push((id, body));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

fn runs_of(issue: &Value) -> Vec<Value> {
    issue["runs"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_nothing_acknowledged_and_delivers_once() {
    let scratch = Scratch::new("baton-durable");
    let remote = bare_remote(&scratch.0);
    // One GitHub: the tracker and the repo platform, each with its own token, see the same
    // issues, pull requests, comments and labels.
    let github = GithubFake::new("acme/app")
        .require_token(TRACKER_TOKEN)
        .require_token(REPO_TOKEN);
    for number in 1..=ISSUES {
        let mut issue = NewIssue::new(&format!("Issue {number}"));
        issue.labels = vec!["baton".into()];
        assert_eq!(github.add_issue(issue), number);
        // The fake does not look into the git remote: it knows the branches baton pushes.
        github.push(&RepoConfig::default().work_branch(&format!("acme/app#{number}")));
    }
    let api = FakeApi::spawn(github.router()).await;
    let workflow_file = scratch.0.join("WORKFLOW.md");
    std::fs::write(
        &workflow_file,
        github_delivery_workflow(&GithubDelivery {
            scratch: &scratch.0,
            remote: &remote,
            issues_url: &api.url(),
            repo_url: &api.url(),
            env_prefix: "DURABLE_TEST",
            scenario: "slow_happy_path",
        }),
    )
    .expect("write workflow");
    let data_dir = scratch.0.join("data");
    let args = [
        "--workflow",
        workflow_file.to_str().expect("utf-8 path"),
        "--data-dir",
        data_dir.to_str().expect("utf-8 path"),
    ];
    let env = [
        ("DURABLE_TEST_TRACKER", TRACKER_TOKEN.to_owned()),
        ("DURABLE_TEST_REPO", REPO_TOKEN.to_owned()),
        ("BATON_LEASE_SECS", "3".to_owned()),
        ("BATON_POLL_WAIT_SECS", "1".to_owned()),
    ];
    let acknowledged: Acknowledged = Arc::default();
    let mut rng = Rng::seeded();

    // 1. Killed in the middle of a run, once the agent has spoken: an abandoned run is certain.
    let server = DevServer::start_with(&args, &env).await;
    let (id, body) = labeled(1);
    let (status, answer) = server
        .post_github("issues", &id, &body)
        .await
        .expect("post");
    assert_eq!(status, 202, "{answer}");
    acknowledged.lock().expect("lock").push((id, body));
    let before_kill = server
        .wait_for_issue(&encoded_key(1), |issue| {
            issue["work_item"]["status"] == "running"
                && runs_of(issue).first().is_some_and(|run| {
                    run["events"]
                        .as_array()
                        .is_some_and(|events| events.iter().any(|e| e["kind"] == "message"))
                })
        })
        .await;
    server.kill();
    let interrupted = runs_of(&before_kill)[0].clone();
    let events_before_kill = interrupted["events"].as_array().map_or(0, Vec::len);

    // 2. Killed at random points, with deliveries arriving and runs and deliveries under way.
    for _ in 0..RANDOM_KILLS {
        let server = DevServer::start_with(&args, &env).await;
        let sender = keep_posting(
            server.base_url.clone(),
            Arc::clone(&acknowledged),
            rng.below(u64::MAX) | 1,
        );
        tokio::time::sleep(Duration::from_millis(200 + rng.below(5_000))).await;
        server.kill();
        sender.abort();
        let _ = sender.await;
    }

    // 3. The last start: everything that was acknowledged runs to its end.
    let server = DevServer::start_with(&args, &env).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state = server.get("/api/v1/state").await;
        let counts = &state["counts"];
        let busy = ["running", "queued", "retrying"]
            .iter()
            .map(|status| counts[*status].as_u64().unwrap_or(0))
            .sum::<u64>();
        if busy == 0 && counts["succeeded"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the work never settled: {state}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Every acknowledged delivery is still known: its redelivery is a duplicate.
    let acknowledged = acknowledged.lock().expect("lock").clone();
    let state = server.get("/api/v1/state").await;
    eprintln!(
        "{} deliveries acknowledged over {} kills; counts now {}",
        acknowledged.len(),
        RANDOM_KILLS + 1,
        state["counts"]
    );
    for (id, body) in &acknowledged {
        let (status, answer) = server.post_github("issues", id, body).await.expect("post");
        assert_eq!(
            (status, answer),
            (200, json!({ "status": "duplicate" })),
            "redelivery of {id}"
        );
    }

    // The run that was killed is abandoned, its timeline kept; its item ran again.
    let issue = server.get(&issue_path(1)).await;
    let runs = runs_of(&issue);
    let first = runs
        .iter()
        .find(|run| run["run_id"] == interrupted["run_id"])
        .unwrap_or_else(|| panic!("the interrupted run is gone: {issue}"));
    assert_eq!(first["status"], "abandoned", "{first}");
    assert_eq!(first["error"]["code"], "lease_expired", "{first}");
    assert!(
        first["events"].as_array().map_or(0, Vec::len) >= events_before_kill,
        "the interrupted run's timeline lost events: {first}"
    );
    assert_eq!(issue["work_item"]["status"], "succeeded", "{issue}");

    // Whatever ran, and however often: one pull request and one living comment per issue.
    let pulls = github.pulls();
    for number in 1..=ISSUES {
        let issue = server.get(&issue_path(number)).await;
        for run in runs_of(&issue) {
            assert_ne!(run["status"], "running", "a run left running: {run}");
        }
        if runs_of(&issue)
            .iter()
            .all(|run| run["status"] != "succeeded")
        {
            continue;
        }
        let branch = RepoConfig::default().work_branch(&format!("acme/app#{number}"));
        let opened = pulls.iter().filter(|pull| pull.head == branch).count();
        assert_eq!(opened, 1, "pull requests for #{number}: {pulls:#?}");
        let comments = github.comments(number);
        assert_eq!(comments.len(), 1, "comments on #{number}: {comments:#?}");
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_process_shares_the_data_dir_of_a_dev_server() {
    let scratch = Scratch::new("baton-shared-dir");
    let workflow_file = scratch.0.join("WORKFLOW.md");
    std::fs::write(
        &workflow_file,
        workflow_text(&scratch.0.join("workspaces"), "happy_path", ""),
    )
    .expect("write workflow");
    let data_dir = scratch.0.join("data");
    let args = [
        "--no-runner",
        "--workflow",
        workflow_file.to_str().expect("utf-8 path"),
        "--data-dir",
        data_dir.to_str().expect("utf-8 path"),
    ];
    // The ingress alone: the job waits in the shared database for the runner process.
    let server = DevServer::start_with(&args, &[]).await;
    let runner = RunnerProcess::start_embedded("runner-shared", &workflow_file, &data_dir, &[]);
    let (status, answer) = server.post_labeled_issue(5, "shared-dir-delivery").await;
    assert_eq!(status, 202, "{answer}");
    let issue = server
        .wait_for_issue("github%3Aacme%2Fapp%235", |issue| {
            issue["work_item"]["status"] == "succeeded"
        })
        .await;
    let runs = runs_of(&issue);
    assert_eq!(runs.len(), 1, "{issue}");
    assert_eq!(runs[0]["runner"], "runner-shared", "{issue}");
    runner.stop();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_of_a_live_data_dir_starts_a_server_with_the_same_state() {
    let scratch = Scratch::new("baton-backup");
    let workflow_file = scratch.0.join("WORKFLOW.md");
    std::fs::write(
        &workflow_file,
        workflow_text(&scratch.0.join("workspaces"), "happy_path", ""),
    )
    .expect("write workflow");
    let data_dir = scratch.0.join("data");
    let server = DevServer::start_with(
        &[
            "--workflow",
            workflow_file.to_str().expect("utf-8 path"),
            "--data-dir",
            data_dir.to_str().expect("utf-8 path"),
        ],
        &[],
    )
    .await;
    let (status, answer) = server.post_labeled_issue(6, "backup-delivery").await;
    assert_eq!(status, 202, "{answer}");
    let original = server
        .wait_for_issue("github%3Aacme%2Fapp%236", |issue| {
            issue["work_item"]["status"] == "succeeded"
        })
        .await;

    // Copied while the server runs.
    let copy = scratch.0.join("copy");
    let output = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("backup")
        .arg(&copy)
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run baton backup");
    assert!(
        output.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A second backup into the same place is refused rather than mixed in.
    let again = Command::new(env!("CARGO_BIN_EXE_baton"))
        .arg("backup")
        .arg(&copy)
        .arg("--data-dir")
        .arg(&data_dir)
        .output()
        .expect("run baton backup");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    server.kill();

    let restored = DevServer::start_with(
        &[
            "--no-runner",
            "--workflow",
            workflow_file.to_str().expect("utf-8 path"),
            "--data-dir",
            copy.to_str().expect("utf-8 path"),
        ],
        &[],
    )
    .await;
    let issue = restored.get("/api/v1/issues/github%3Aacme%2Fapp%236").await;
    assert_eq!(issue["work_item"], original["work_item"]);
    assert_eq!(runs_of(&issue), runs_of(&original));
    // The delivery ids came along too.
    let (status, answer) = restored.post_labeled_issue(6, "backup-delivery").await;
    assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));
    restored.stop();
}
