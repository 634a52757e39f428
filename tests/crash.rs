//! Runners as real processes sharing DynamoDB and SQS on the emulator: one is killed with
//! SIGKILL in the middle of a session, and another takes the work item over once the dead
//! runner's lease runs out and finishes it — once.

mod common;

use baton_core::domain::{RunStatus, WorkItemKey, WorkItemStatus};
use baton_core::ingress::IngressSettings;
use baton_core::workflow::Workflow;
use common::control_plane::{
    wait_for_item, wait_for_message, wait_for_runs, workflow_text, Scratch,
};
use common::signing::{self, github_issue};
use common::{all_secrets, aws_backends_named, spawn_with, unique_aws_settings, GITHUB_SECRET};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `baton runner --aws` process; killed on drop.
struct RunnerProcess(Child);

impl RunnerProcess {
    fn start(id: &str, workflow: &Path, settings: &baton_aws::Settings) -> Self {
        let child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(["runner", "--aws", "--workflow"])
            .arg(workflow)
            .env("BATON_TABLE", &settings.table)
            .env("BATON_QUEUE", &settings.queue)
            .env("BATON_DLQ", &settings.dead_letter_queue)
            .env("BATON_RUNNER_ID", id)
            .env("BATON_LEASE_SECS", "4")
            .env("BATON_POLL_WAIT_SECS", "1")
            .env("BATON_SHUTDOWN_GRACE_SECS", "2")
            .env("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn baton runner");
        Self(child)
    }

    fn kill(&mut self) {
        // SIGKILL: no chance to release anything.
        self.0.kill().expect("kill");
        let _ = self.0.wait();
    }

    /// SIGTERM, and a clean exit within the grace period.
    fn terminate(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.0.try_wait().expect("wait") {
                assert!(status.success(), "baton runner exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "baton runner ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runner_s_work_is_finished_once_by_another() {
    let scratch = Scratch::new("baton-crash");
    let workflow_file = scratch.0.join("WORKFLOW.md");
    // About five seconds of work: time enough to kill the first runner in the middle.
    let text = workflow_text(&scratch.0.join("workspaces"), "slow_happy_path", "");
    std::fs::write(&workflow_file, &text).expect("write workflow");
    let settings = unique_aws_settings();
    let (store, queue) = aws_backends_named(&settings).await;
    // Loaded from the file, as the runner processes load it: items name it `WORKFLOW.md`.
    let workflow = Workflow::load(&workflow_file).expect("workflow");
    let app = spawn_with(
        &workflow,
        all_secrets(),
        store.clone(),
        queue,
        IngressSettings::default(),
    )
    .await;

    let mut first = RunnerProcess::start("runner-a", &workflow_file, &settings);
    let body = github_issue(
        "labeled",
        9,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let (status, answer) = app
        .post(
            "github",
            &signing::github(GITHUB_SECRET, "issues", "crash-delivery", &body),
            body,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let key = WorkItemKey::parse(answer["work_item"].as_str().expect("key")).expect("key");

    // Mid-session: runner-a holds the lease and the agent has spoken.
    wait_for_item(&*store, &key, "runner-a to claim", |i| {
        i.lease
            .as_ref()
            .is_some_and(|lease| lease.owner == "runner-a")
    })
    .await;
    let runs = wait_for_runs(&*store, &key, 1).await;
    wait_for_message(&*store, &runs[0]).await;
    first.kill();

    let second = RunnerProcess::start("runner-b", &workflow_file, &settings);
    let item = wait_for_item(&*store, &key, "runner-b to finish", |i| {
        i.status == WorkItemStatus::Succeeded
    })
    .await;
    assert!(item.lease.is_none());
    assert_eq!(
        item.attempt, 1,
        "a takeover is the same attempt, not a retry"
    );

    let runs = wait_for_runs(&*store, &key, 2).await;
    let summary: Vec<_> = runs.iter().map(|r| (r.runner.as_str(), r.status)).collect();
    assert_eq!(
        summary,
        [
            ("runner-a", RunStatus::Abandoned),
            ("runner-b", RunStatus::Succeeded)
        ],
        "{runs:#?}"
    );
    assert_eq!(
        runs[0].error.as_ref().map(|e| e.code.as_str()),
        Some("lease_expired")
    );
    // Never two at once: runner-b started after runner-a's lease had run out.
    assert!(
        runs[1].claimed_at >= runs[0].ended_at.expect("ended"),
        "{runs:#?}"
    );
    second.terminate();
}
