//! A run requested while another run of the same issue goes on starts when that run ends,
//! not when its lease would have run out: through the real ingress (a second `labeled`
//! webhook, as a redelivery or a re-label would send), queue, store and runner loop, on the
//! embedded backends and on DynamoDB and SQS in the emulator.

#[macro_use]
mod common;

use baton_core::clock::SystemClock;
use baton_core::domain::{RunStatus, WorkItemKey, WorkItemStatus};
use baton_core::ingress::IngressSettings;
use baton_core::workflow::Workflow;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{RunPlan, Runner};
use common::control_plane::{
    runner_settings, wait_for_item, wait_for_message, wait_for_runs, workflow_text, Scratch, WAIT,
};
use common::signing::{self, github_issue};
use common::{all_secrets, backends, spawn_with, Backend, GITHUB_SECRET};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

on_both_backends!(
    a_request_made_during_a_run_starts_when_the_run_ends,
    a_request_another_runner_receives_during_a_run_starts_when_the_run_ends
);

/// Longer than the whole first run: waiting for the lease would show as a gap of seconds.
const LEASE: Duration = Duration::from_secs(30);

async fn label(app: &common::TestApp, number: u64) -> WorkItemKey {
    let body = github_issue(
        "labeled",
        number,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let delivery = uuid::Uuid::new_v4().to_string();
    let (status, answer) = app
        .post(
            "github",
            &signing::github(GITHUB_SECRET, "issues", &delivery, &body),
            body,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "queued", "{answer}");
    WorkItemKey::parse(answer["work_item"].as_str().expect("work_item")).expect("key")
}

/// The runner that holds the item receives the second request too: it hands it over.
async fn a_request_made_during_a_run_starts_when_the_run_ends(backend: Backend) {
    request_during_a_run(backend, false).await
}

/// Another runner receives it (the holder has no free session): it looks again every second.
async fn a_request_another_runner_receives_during_a_run_starts_when_the_run_ends(backend: Backend) {
    request_during_a_run(backend, true).await
}

fn runner(
    workflow: &Workflow,
    store: &Arc<dyn baton_core::ports::Store>,
    queue: &Arc<dyn baton_core::ports::Queue>,
    id: &str,
    sessions: usize,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let plan = RunPlan::from_workflow(
        workflow,
        Some(&MockAgentCommand(vec![
            env!("CARGO_BIN_EXE_baton").to_owned(),
            "mock-agent".to_owned(),
        ])),
    )
    .expect("plan");
    let mut settings = runner_settings(id);
    settings.lease = LEASE;
    settings.heartbeat = LEASE / 3;
    settings.local_sessions = sessions;
    let runner = Runner::new(
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        settings,
        plan,
        Redactor::default(),
    );
    tokio::spawn(runner.run(shutdown.clone()))
}

async fn request_during_a_run(backend: Backend, another_runner: bool) {
    let scratch = Scratch::new("baton-handover");
    // About five seconds of agent work.
    let text = workflow_text(&scratch.0.join("workspaces"), "slow_happy_path", "");
    let workflow = Workflow::parse(&text).expect("workflow");
    let (store, queue) = backends(backend).await;
    let shutdown = CancellationToken::new();
    // One session: while it runs the first job, this runner receives nothing.
    let sessions = if another_runner { 1 } else { 4 };
    let mut tasks = vec![runner(
        &workflow, &store, &queue, "runner-a", sessions, &shutdown,
    )];
    let app = spawn_with(
        &workflow,
        all_secrets(),
        store.clone(),
        queue.clone(),
        IngressSettings::default(),
    )
    .await;

    let key = label(&app, 41).await;
    let first = wait_for_runs(&*store, &key, 1).await;
    assert_eq!(first.len(), 1, "the first run started");
    wait_for_message(&*store, &first[0]).await;
    if another_runner {
        tasks.push(runner(&workflow, &store, &queue, "runner-b", 4, &shutdown));
    }
    // The same request again while the agent works.
    assert_eq!(label(&app, 41).await, key);

    let deadline = Instant::now() + WAIT;
    let runs = loop {
        let runs = store.list_runs(&key).await.expect("runs");
        if runs.len() >= 2 && runs.iter().all(|r| r.status != RunStatus::Running) {
            break runs;
        }
        assert!(
            Instant::now() < deadline,
            "the second request never ran: {runs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let item = wait_for_item(&*store, &key, "the second run's success", |i| {
        i.status == WorkItemStatus::Succeeded
    })
    .await;
    assert!(item.pending_job.is_none());
    assert_ne!(runs[0].job_id, runs[1].job_id, "two requests, two jobs");
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Succeeded),
        "{runs:#?}"
    );
    let ended = runs[0].ended_at.expect("the first run's end");
    let gap = runs[1].claimed_at - ended;
    eprintln!(
        "{backend:?} (another runner: {another_runner}): second run claimed {} ms after the first ended",
        gap.num_milliseconds()
    );
    assert!(
        gap >= chrono::Duration::zero(),
        "never two runs at once: {runs:#?}"
    );
    assert!(
        gap <= chrono::Duration::seconds(2),
        "the second run started {} ms after the first ended",
        gap.num_milliseconds()
    );

    // No copy of either job is left to run a third time.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(store.list_runs(&key).await.expect("runs").len(), 2);
    assert_eq!(queue.dead_letter_count().await.expect("dead letters"), 0);
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
}
