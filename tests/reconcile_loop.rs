//! The reconciler in the whole loop, with the real ingress, runner and mock agent: a job
//! lost before any runner saw it, a runner killed mid-session whose job message is then lost
//! too, and an issue whose webhook never arrived all end in exactly one finished run.

#[macro_use]
mod common;

use baton_core::clock::SystemClock;
use baton_core::domain::{
    IssueSnapshot, JobReason, RunStatus, SourceKind, WorkItemKey, WorkItemStatus,
};
use baton_core::ingress::IngressSettings;
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{MemoryPoller, Reconciler, ReconcilerSettings, Schedule};
use baton_core::workflow::Workflow;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{RunPlan, Runner};
use common::control_plane::{
    runner_settings, wait_for_item, wait_for_message, wait_for_runs, workflow_text, Scratch,
};
use common::signing::{self, github_issue};
use common::{all_secrets, spawn_with, Backend, GITHUB_SECRET};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

on_both_backends!(
    a_job_lost_before_any_runner_took_it_ends_in_one_finished_run,
    an_issue_whose_webhook_never_arrived_is_run_once
);

/// Short graces, so the reconciler steps in within a second or two.
fn quick() -> (ReconcilerSettings, Schedule) {
    (
        ReconcilerSettings {
            lease_grace: Duration::from_secs(1),
            retry_grace: Duration::from_secs(1),
            queued_grace: Duration::from_secs(1),
        },
        Schedule {
            reconcile_every: Duration::from_millis(500),
            poll_every: Duration::from_millis(200),
        },
    )
}

/// The runner and reconciler loops of one test, stopped together.
struct Loops {
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Loops {
    fn new() -> Self {
        Self {
            shutdown: CancellationToken::new(),
            tasks: Vec::new(),
        }
    }

    fn runner(&mut self, workflow: &Workflow, store: Arc<dyn Store>, queue: Arc<dyn Queue>) {
        let mock = MockAgentCommand(vec![
            env!("CARGO_BIN_EXE_baton").to_owned(),
            "mock-agent".to_owned(),
        ]);
        let plan = RunPlan::from_workflow(workflow, Some(&mock)).expect("plan");
        let runner = Runner::new(
            store,
            queue,
            Arc::new(SystemClock),
            runner_settings("runner-in-test"),
            plan,
            Redactor::default(),
        );
        self.tasks
            .push(tokio::spawn(runner.run(self.shutdown.clone())));
    }

    fn reconciler(&mut self, reconciler: Reconciler, schedule: Schedule) {
        let stop = self.shutdown.clone().cancelled_owned();
        self.tasks
            .push(tokio::spawn(reconciler.run(schedule, stop)));
    }

    async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            task.await.expect("loop task");
        }
    }
}

fn github_workflow(scratch: &Scratch, scenario: &str) -> (String, Workflow) {
    let text = workflow_text(&scratch.0.join("workspaces"), scenario, "");
    let workflow = Workflow::parse(&text).expect("workflow");
    (text, workflow)
}

/// Posts a signed `labeled` webhook for `acme/app#<number>`.
async fn label(app: &common::TestApp, number: u64, delivery: &str) -> WorkItemKey {
    let body = github_issue(
        "labeled",
        number,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let (status, answer) = app
        .post(
            "github",
            &signing::github(GITHUB_SECRET, "issues", delivery, &body),
            body,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    WorkItemKey::parse(answer["work_item"].as_str().expect("key")).expect("key")
}

/// Takes every visible job off the queue: they are lost.
async fn lose_jobs(queue: &dyn Queue) -> usize {
    let mut lost = 0;
    loop {
        let batch = queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(60))
            .await
            .expect("receive");
        if batch.is_empty() {
            return lost;
        }
        for message in batch {
            queue.delete(&message.receipt).await.expect("delete");
            lost += 1;
        }
    }
}

async fn a_job_lost_before_any_runner_took_it_ends_in_one_finished_run(backend: Backend) {
    let scratch = Scratch::new("baton-reconcile");
    let (_, workflow) = github_workflow(&scratch, "happy_path");
    let (store, queue) = common::backends(backend).await;
    let app = spawn_with(
        &workflow,
        all_secrets(),
        store.clone(),
        queue.clone(),
        IngressSettings::default(),
    )
    .await;
    let key = label(&app, 31, "lost-before-any-runner").await;
    assert_eq!(lose_jobs(&*queue).await, 1);

    let (settings, schedule) = quick();
    let mut loops = Loops::new();
    loops.runner(&workflow, store.clone(), queue.clone());
    let reconciler = Reconciler::new(
        &workflow,
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        settings,
    );
    loops.reconciler(reconciler, schedule);

    wait_for_item(&*store, &key, "the requeued job's run to succeed", |item| {
        item.status == WorkItemStatus::Succeeded
    })
    .await;
    // A few more passes: nothing more happens to a finished item.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    loops.stop().await;
    let runs = wait_for_runs(&*store, &key, 1).await;
    assert_eq!(runs.len(), 1, "exactly one run: {runs:#?}");
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_eq!(runs[0].reason, JobReason::Reconciled);
    assert_eq!(
        store
            .get_work_item(&key)
            .await
            .expect("get")
            .map(|i| i.status),
        Some(WorkItemStatus::Succeeded)
    );
}

async fn an_issue_whose_webhook_never_arrived_is_run_once(backend: Backend) {
    let scratch = Scratch::new("baton-poll");
    let (_, workflow) = github_workflow(&scratch, "happy_path");
    let (store, queue) = common::backends(backend).await;
    let tracker = Arc::new(MemoryPoller::new(SourceKind::Github, &["open"]));
    tracker.put(IssueSnapshot {
        id: "1032".into(),
        identifier: "acme/app#32".into(),
        title: "Labelled while the webhook endpoint was down".into(),
        state: "open".into(),
        labels: vec!["baton".into()],
        repository: Some("acme/app".into()),
        ..IssueSnapshot::default()
    });
    let key = WorkItemKey::new(SourceKind::Github, "acme/app#32");

    let (settings, schedule) = quick();
    let mut loops = Loops::new();
    loops.runner(&workflow, store.clone(), queue.clone());
    let reconciler = Reconciler::new(
        &workflow,
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        settings,
    )
    .with_poller(tracker.clone());
    loops.reconciler(reconciler, schedule);

    wait_for_item(&*store, &key, "the polled issue's run to succeed", |item| {
        item.status == WorkItemStatus::Succeeded
    })
    .await;
    let polls = tracker.polls();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tracker.polls() < polls + 5 {
        assert!(Instant::now() < deadline, "the poll stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loops.stop().await;
    let runs = wait_for_runs(&*store, &key, 1).await;
    assert_eq!(runs.len(), 1, "polled again and again, run once: {runs:#?}");
    assert_eq!(runs[0].reason, JobReason::Polled);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
}

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
}

impl Drop for RunnerProcess {
    fn drop(&mut self) {
        // SIGKILL: no chance to release anything.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runner_whose_job_message_is_lost_too_is_finished_by_the_reconciler() {
    let scratch = Scratch::new("baton-reconcile-crash");
    let workflow_file = scratch.0.join("WORKFLOW.md");
    // About five seconds of work: time enough to kill the first runner in the middle.
    let (text, _) = github_workflow(&scratch, "slow_happy_path");
    std::fs::write(&workflow_file, &text).expect("write workflow");
    // Loaded from the file, as the runner processes load it: items name it `WORKFLOW.md`.
    let workflow = Workflow::load(&workflow_file).expect("workflow");
    let settings = common::unique_aws_settings();
    let (store, queue) = common::aws_backends_named(&settings).await;
    let app = spawn_with(
        &workflow,
        all_secrets(),
        store.clone(),
        queue.clone(),
        IngressSettings::default(),
    )
    .await;

    let first = RunnerProcess::start("runner-a", &workflow_file, &settings);
    let key = label(&app, 33, "killed-and-lost").await;
    wait_for_item(&*store, &key, "runner-a to claim", |item| {
        item.lease
            .as_ref()
            .is_some_and(|lease| lease.owner == "runner-a")
    })
    .await;
    let runs = wait_for_runs(&*store, &key, 1).await;
    wait_for_message(&*store, &runs[0]).await;
    drop(first);

    // The dead runner's message comes back once its visibility runs out; it is lost now.
    let deadline = Instant::now() + Duration::from_secs(30);
    while lose_jobs(&*queue).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the dead runner's message never came back"
        );
    }

    let second = RunnerProcess::start("runner-b", &workflow_file, &settings);
    let (reconcile, schedule) = quick();
    let mut loops = Loops::new();
    loops.reconciler(
        Reconciler::new(
            &workflow,
            store.clone(),
            queue.clone(),
            Arc::new(SystemClock),
            reconcile,
        ),
        schedule,
    );
    let item = wait_for_item(&*store, &key, "runner-b to finish", |item| {
        item.status == WorkItemStatus::Succeeded
    })
    .await;
    loops.stop().await;
    drop(second);
    assert!(item.lease.is_none());
    assert_eq!(item.attempt, 1, "a takeover is the same attempt");

    let runs = wait_for_runs(&*store, &key, 2).await;
    let summary: Vec<_> = runs
        .iter()
        .map(|run| (run.runner.as_str(), run.status, run.reason))
        .collect();
    assert_eq!(
        summary,
        [
            ("runner-a", RunStatus::Abandoned, JobReason::Labeled),
            ("runner-b", RunStatus::Succeeded, JobReason::Reconciled),
        ],
        "{runs:#?}"
    );
    assert_eq!(
        runs[0].error.as_ref().map(|e| e.code.as_str()),
        Some("lease_expired")
    );
}
