//! Trackers that send no webhooks originate work through the safety poll: a TAPD story (read
//! from a stateful fake of TAPD's open API through the real adapter) and an issue on the
//! memory tracker's board, in an active state with the trigger label, are queued once; one
//! without the label or in a terminal state is not. Then a TAPD story runs end to end: the
//! poll queues it, the runner runs the mock agent, and the evidence comment lands on TAPD;
//! and a memory issue the same way, the poll and the runner sharing one board.

#[macro_use]
mod common;
// Shared with the adapter's own tests; this file uses part of it.
#[allow(dead_code)]
use baton_integrations::test_support::fakes::tapd_api;

use baton_core::clock::SystemClock;
use baton_core::domain::{JobReason, Run, SourceKind, WorkItemKey, WorkItemStatus};
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{
    IssuePoller, PollReport, Reconciler, ReconcilerSettings, SafetyPoll, Schedule,
};
use baton_core::workflow::{Workflow, WorkflowSet};
use baton_integrations::test_support::FakeApi;
use baton_integrations::tracker::TrackerIssue;
use baton_integrations::wiring::{Connections, Wiring};
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::delivery::DeliveryPlan;
use baton_runner::worker::{RunPlan, Runner};
use common::control_plane::{runner_settings, wait_for_item, wait_for_runs, Scratch};
use common::Backend;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tapd_api::{TapdFake, API_PASSWORD, API_USER, WORKSPACE_ID};
use tokio_util::sync::CancellationToken;

on_both_backends!(
    a_labelled_active_tapd_story_is_queued_once,
    a_labelled_active_memory_issue_is_queued_once,
    a_polled_tapd_story_is_run_and_commented_on,
    a_polled_memory_issue_is_run_and_commented_on,
);

const PASSWORD_VARIABLE: &str = "TAPD_TEST_PASSWORD";

/// The TAPD password comes from this lookup, not the process environment.
fn env(name: &str) -> Option<String> {
    (name == PASSWORD_VARIABLE).then(|| API_PASSWORD.to_owned())
}

fn tapd_workflow(base_url: &str, workspaces: &str) -> Workflow {
    let text = format!(
        "---\ntracker:\n  kind: tapd\n  provider:\n    base_url: \"{base_url}\"\n    \
         workspace_id: \"{WORKSPACE_ID}\"\n    api_user: {API_USER}\n    \
         api_password: ${PASSWORD_VARIABLE}\ntriggers: {{label: baton}}\n\
         agent_provider: {{kind: mock, options: {{scenario: happy_path}}}}\n\
         agent: {{max_turns: 1, max_continuations: 0}}\n\
         workspace: {{root: \"{workspaces}\"}}\n---\nFix {{{{ issue.identifier }}}}\n"
    );
    Workflow::parse(&text).expect("a TAPD workflow")
}

/// The workflow's adapters and its poller, as the wiring builds them for `baton dev`, the
/// runner and the reconciler function: the poll and the delivery share one tracker (for
/// the memory tracker, one board).
fn wired(workflow: &Workflow) -> (Connections, Arc<dyn IssuePoller>) {
    let set = WorkflowSet::single(Arc::new(workflow.clone()), BTreeMap::new());
    let served = set.iter().next().expect("one workflow");
    let connections = Wiring::with_env(Arc::new(env))
        .connections(served)
        .expect("the workflow's adapters");
    let poller = connections.poller(served).expect("a tracker to poll");
    (connections, poller)
}

async fn poll_once(
    workflow: &Workflow,
    poller: &dyn IssuePoller,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
) -> PollReport {
    SafetyPoll::new(workflow, store, queue, Arc::new(SystemClock))
        .poll(poller)
        .await
        .expect("the poll")
}

/// Takes every visible job off the queue, returning their work items.
async fn drain(queue: &dyn Queue) -> Vec<WorkItemKey> {
    let mut keys = Vec::new();
    loop {
        let batch = queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(60))
            .await
            .expect("receive");
        if batch.is_empty() {
            return keys;
        }
        for message in batch {
            queue.delete(&message.receipt).await.expect("delete");
            keys.push(message.job.expect("a job").work_item);
        }
    }
}

fn labels(names: &[&str]) -> Vec<String> {
    names.iter().map(|l| (*l).to_owned()).collect()
}

async fn a_labelled_active_tapd_story_is_queued_once(backend: Backend) {
    let fake = TapdFake::default();
    let api = FakeApi::spawn(fake.router()).await;
    let workflow = tapd_workflow(&api.url(), "/nonexistent");
    let ready = fake.seed("Export as CSV", "", "planning", &labels(&["baton"]));
    let unlabelled = fake.seed("Not asked for", "", "developing", &labels(&["bug"]));
    let finished = fake.seed("Done already", "", "resolved", &labels(&["baton"]));
    let refused = fake.seed("Refused", "", "rejected", &labels(&["baton"]));

    let (_, poller) = wired(&workflow);
    let (store, queue) = common::backends(backend).await;
    let report = poll_once(&workflow, &*poller, store.clone(), queue.clone()).await;

    let key = WorkItemKey::new(SourceKind::Tapd, &format!("TAPD-{ready}"));
    assert_eq!(report.queued, vec![key.clone()], "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(drain(&*queue).await, vec![key.clone()]);
    let item = store.get_work_item(&key).await.expect("get").expect("item");
    assert_eq!(item.source, SourceKind::Tapd);
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert!(item
        .issue
        .url
        .as_deref()
        .is_some_and(|url| url.ends_with(&format!("/{WORKSPACE_ID}/prong/stories/view/{ready}"))));
    for other in [unlabelled, finished, refused] {
        let other = WorkItemKey::new(SourceKind::Tapd, &format!("TAPD-{other}"));
        assert_eq!(store.get_work_item(&other).await.expect("get"), None);
    }
    // Polled again, the unchanged story asks for nothing more.
    let again = poll_once(&workflow, &*poller, store.clone(), queue.clone()).await;
    assert!(again.queued.is_empty(), "{again:?}");
    assert!(drain(&*queue).await.is_empty());
}

fn memory_issue(id: &str, state: &str, labels: &[&str]) -> TrackerIssue {
    TrackerIssue {
        id: id.to_owned(),
        identifier: format!("MEM-{id}"),
        title: format!("Memory issue {id}"),
        state: state.to_owned(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        ..TrackerIssue::default()
    }
}

async fn a_labelled_active_memory_issue_is_queued_once(backend: Backend) {
    let workflow = Workflow::parse("---\ntracker: {kind: memory}\ntriggers: {label: baton}\n---\n")
        .expect("a memory workflow");
    // One board for the poll and the runner's delivery, as the seam promises.
    let (connections, poller) = wired(&workflow);
    let board = connections.memory.clone().expect("the memory board");
    let plan = DeliveryPlan::new(&workflow, connections, "main", &env);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let id = |n: &str| format!("{run}-{n}");
    board.upsert(memory_issue(&id("ready"), "Todo", &["baton"]));
    board.upsert(memory_issue(&id("unlabelled"), "In Progress", &[]));
    board.upsert(memory_issue(&id("done"), "Done", &["baton"]));
    // A copy of another tracker's issue: its own tracker originates it, not this board.
    board.mirror(memory_issue(&id("mirror"), "Todo", &["baton"]));

    let (store, queue) = common::backends(backend).await;
    let report = poll_once(&workflow, &*poller, store.clone(), queue.clone()).await;

    let key = WorkItemKey::new(SourceKind::Memory, &format!("MEM-{}", id("ready")));
    assert_eq!(report.queued, vec![key.clone()], "{report:?}");
    assert_eq!(drain(&*queue).await, vec![key.clone()]);
    let item = store.get_work_item(&key).await.expect("get").expect("item");
    assert_eq!(item.source, SourceKind::Memory);
    for other in ["unlabelled", "done", "mirror"] {
        let other = WorkItemKey::new(SourceKind::Memory, &format!("MEM-{}", id(other)));
        assert_eq!(store.get_work_item(&other).await.expect("get"), None);
    }
    // The runner's plan writes to the board the poll read.
    let issue = plan.issue_ref(&item.issue);
    let tracker = plan.tracker.as_ref().expect("tracker");
    tracker
        .create_comment(&issue, "ran")
        .await
        .expect("comment");
    assert_eq!(board.comments(&id("ready")).len(), 1);
    let again = poll_once(&workflow, &*poller, store.clone(), queue.clone()).await;
    assert!(again.queued.is_empty(), "{again:?}");
}

fn mock_agent() -> MockAgentCommand {
    MockAgentCommand(vec![
        env!("CARGO_BIN_EXE_baton").to_owned(),
        "mock-agent".to_owned(),
    ])
}

/// Runs the runner loop with `plan` and the reconciler loop polling with `poller` until the
/// polled item's run succeeded and `commented` says its evidence comment is there, then a
/// few more polls; returns the item's runs.
async fn run_polled(
    workflow: &Workflow,
    plan: RunPlan,
    poller: Arc<dyn IssuePoller>,
    backend: Backend,
    key: &WorkItemKey,
    commented: impl Fn() -> bool,
) -> Vec<Run> {
    let (store, queue) = common::backends(backend).await;
    let shutdown = CancellationToken::new();
    let runner = Runner::new(
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        runner_settings("origin-runner"),
        plan,
        Redactor::default(),
    );
    let reconciler = Reconciler::new(
        workflow,
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        ReconcilerSettings {
            lease_grace: Duration::from_secs(60),
            retry_grace: Duration::from_secs(60),
            queued_grace: Duration::from_secs(60),
        },
    )
    .with_poller(poller);
    let schedule = Schedule {
        reconcile_every: Duration::from_secs(5),
        poll_every: Duration::from_millis(200),
    };
    let tasks = [
        tokio::spawn(runner.run(shutdown.clone())),
        tokio::spawn(reconciler.run(schedule, shutdown.clone().cancelled_owned())),
    ];
    wait_for_item(&*store, key, "the polled issue's run to succeed", |item| {
        item.status == WorkItemStatus::Succeeded
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !commented() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // More polls: a finished issue that stays in its active state is not run again.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    shutdown.cancel();
    for task in tasks {
        task.await.expect("loop task");
    }
    wait_for_runs(&*store, key, 1).await
}

async fn a_polled_tapd_story_is_run_and_commented_on(backend: Backend) {
    let fake = TapdFake::default();
    let api = FakeApi::spawn(fake.router()).await;
    let scratch = Scratch::new("baton-tapd-origin");
    let workspaces = scratch.0.join("workspaces");
    let workflow = tapd_workflow(&api.url(), &workspaces.display().to_string());
    let story = fake.seed(
        "Export as CSV",
        "Add a CSV export.",
        "developing",
        &labels(&["baton"]),
    );
    let key = WorkItemKey::new(SourceKind::Tapd, &format!("TAPD-{story}"));
    // The runner reads the TAPD password from the environment, as `baton runner` does.
    std::env::set_var(PASSWORD_VARIABLE, API_PASSWORD);
    let plan = RunPlan::from_workflow(&workflow, Some(&mock_agent())).expect("the run plan");
    let (_, poller) = wired(&workflow);

    let runs = run_polled(&workflow, plan, poller, backend, &key, || {
        !fake.comments(&story).is_empty()
    })
    .await;
    assert_eq!(runs.len(), 1, "exactly one run: {runs:#?}");
    assert_eq!(runs[0].reason, JobReason::Polled);
    let comments = fake.comments(&story);
    assert_eq!(comments.len(), 1, "one evidence comment: {comments:?}");
    assert!(
        comments[0].contains("baton finished this run"),
        "{comments:?}"
    );
}

async fn a_polled_memory_issue_is_run_and_commented_on(backend: Backend) {
    let scratch = Scratch::new("baton-memory-origin");
    let text = format!(
        "---\ntracker: {{kind: memory}}\ntriggers: {{label: baton}}\n\
         agent_provider: {{kind: mock, options: {{scenario: happy_path}}}}\n\
         agent: {{max_turns: 1, max_continuations: 0}}\n\
         workspace: {{root: \"{}\"}}\n---\nFix {{{{ issue.identifier }}}}\n",
        scratch.0.join("workspaces").display()
    );
    let workflow = Workflow::parse(&text).expect("a memory workflow");
    // The runner's delivery and the poll share one board, through the wiring.
    let (connections, poller) = wired(&workflow);
    let board = connections.memory.clone().expect("the memory board");
    board.upsert(memory_issue("1", "Todo", &["baton"]));
    let key = WorkItemKey::new(SourceKind::Memory, "MEM-1");
    let plan = RunPlan::new(&workflow, connections, Some(&mock_agent())).expect("the run plan");

    let runs = run_polled(&workflow, plan, poller, backend, &key, || {
        !board.comments("1").is_empty()
    })
    .await;
    assert_eq!(runs.len(), 1, "exactly one run: {runs:#?}");
    assert_eq!(runs[0].reason, JobReason::Polled);
    let comments = board.comments("1");
    assert_eq!(comments.len(), 1, "one evidence comment: {comments:?}");
    assert!(
        comments[0].body.contains("baton finished this run"),
        "{comments:?}"
    );
}
