//! The whole control plane in the test process: the ingress on a real port and a runner loop
//! on the same backends, with the mock agent as a real child process (`baton mock-agent`).

use super::{all_secrets, backends, serve_router, spawn_with, Backend, TestApp};
use baton_core::clock::SystemClock;
use baton_core::domain::{Run, RunEvent, WorkItem, WorkItemKey};
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::ports::Store;
use baton_core::workflow::{Workflow, WorkflowSource, WorkflowWatch};
use baton_integrations::wiring::Wiring;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{PlanBook, RunPlan, Runner, RunnerSettings};
use baton_web::ingress::router;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a test waits for a state before it fails.
pub const WAIT: Duration = Duration::from_secs(60);

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A GitHub workflow whose agent is the mock playing the built-in `scenario`.
pub fn workflow_text(workspaces: &Path, scenario: &str, extra: &str) -> String {
    format!(
        "---\ntracker: {{kind: github}}\ntriggers: {{label: baton}}\n\
         webhooks: {{github: {{secret: $GITHUB_WEBHOOK_SECRET}}}}\n\
         agent_provider: {{kind: mock, options: {{scenario: {scenario}}}}}\n\
         agent: {{max_turns: 1, max_continuations: 0}}\n\
         workspace: {{root: \"{}\"}}\n{extra}\n---\nFix {{{{ issue.identifier }}}}\n",
        workspaces.display()
    )
}

/// Where a GitHub-delivering workflow finds its fakes and its git remote.
pub struct GithubDelivery<'a> {
    pub scratch: &'a Path,
    pub remote: &'a Path,
    pub issues_url: &'a str,
    pub repo_url: &'a str,
    /// Tokens are read from `<env_prefix>_TRACKER` and `<env_prefix>_REPO`.
    pub env_prefix: &'a str,
    pub scenario: &'a str,
}

/// A workflow that delivers to GitHub (`acme/app` on the fakes): the mock agent plays
/// `scenario`, the work branch is pushed to `remote`, a pull request opened and the issue
/// moved to `In Review` (the label `status:in-review`).
pub fn github_delivery_workflow(to: &GithubDelivery<'_>) -> String {
    let mock = format!("{{kind: mock, options: {{scenario: {}}}}}", to.scenario);
    github_delivery_workflow_with_agent(to, &mock)
}

/// The same workflow with another agent: `agent_provider` is the YAML of that key (a flow
/// mapping such as `{kind: codex}`); `to.scenario` is then unused.
pub fn github_delivery_workflow_with_agent(
    to: &GithubDelivery<'_>,
    agent_provider: &str,
) -> String {
    format!(
        r#"---
tracker:
  kind: github
  provider:
    repository: acme/app
    base_url: "{issues_url}"
    token: ${env}_TRACKER
    state_labels: {{"In Review": "status:in-review"}}
triggers: {{label: baton}}
webhooks: {{github: {{secret: $GITHUB_WEBHOOK_SECRET}}}}
agent_provider: {agent_provider}
agent: {{max_turns: 1, max_continuations: 0}}
workspace: {{root: "{workspaces}"}}
repo:
  path: "{remote}"
  base_branch: main
  provider:
    kind: github
    repository: acme/app
    base_url: "{repo_url}"
    token: ${env}_REPO
workflow:
  profile:
    kind: coding_pr_delivery
    routes:
      developing: [open]
      review: [In Review]
---
Fix {{{{ issue.identifier }}}}: {{{{ issue.title }}}}. {{{{ workflow.profile.contract }}}}
"#,
        issues_url = to.issues_url,
        repo_url = to.repo_url,
        env = to.env_prefix,
        workspaces = to.scratch.join("workspaces").display(),
        remote = to.remote.display(),
    )
}

pub fn runner_settings(id: &str) -> RunnerSettings {
    RunnerSettings {
        runner_id: id.to_owned(),
        lease: Duration::from_secs(5),
        heartbeat: Duration::from_secs(1),
        watch_interval: Duration::from_millis(100),
        poll_wait: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(2),
        ..RunnerSettings::default()
    }
}

pub struct ControlPlane {
    pub app: TestApp,
    pub scratch: Scratch,
    /// The workflow set the ingress and the runner share, when it comes from files.
    pub workflows: Option<WorkflowWatch>,
    shutdown: CancellationToken,
    runner: Option<JoinHandle<()>>,
}

pub async fn spawn_control_plane(backend: Backend, scenario: &str) -> ControlPlane {
    let scratch = Scratch::new("baton-system");
    let text = workflow_text(&scratch.0.join("workspaces"), scenario, "");
    spawn_control_plane_with(backend, &text, scratch).await
}

/// The control plane running `workflow_text`; `scratch` is kept with it.
pub async fn spawn_control_plane_with(
    backend: Backend,
    workflow_text: &str,
    scratch: Scratch,
) -> ControlPlane {
    let workflow = Workflow::parse(workflow_text).expect("workflow");
    let (store, queue) = backends(backend).await;
    let plan = RunPlan::from_workflow(
        &workflow,
        Some(&MockAgentCommand(vec![
            env!("CARGO_BIN_EXE_baton").to_owned(),
            "mock-agent".to_owned(),
        ])),
    )
    .expect("plan");
    let runner = Runner::new(
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        runner_settings("runner-in-test"),
        plan,
        Redactor::default(),
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner.run(shutdown.clone()));
    let app = spawn_with(
        &workflow,
        all_secrets(),
        store,
        queue,
        IngressSettings::default(),
    )
    .await;
    ControlPlane {
        app,
        scratch,
        workflows: None,
        shutdown,
        runner: Some(task),
    }
}

/// The control plane serving every workflow of `source` as a deployment does: the ingress
/// and the runner share one reloaded set, and the runner builds each workflow's plan and
/// adapters through the wiring (adapters read their settings from the process
/// environment). `scratch` is kept with it.
pub async fn spawn_control_plane_for(
    backend: Backend,
    source: WorkflowSource,
    scratch: Scratch,
) -> ControlPlane {
    let (store, queue) = backends(backend).await;
    let workflows = WorkflowWatch::start(source, Some(Duration::from_millis(200)));
    let plans = PlanBook::watching(
        workflows.clone(),
        Wiring::from_env(),
        Some(MockAgentCommand(vec![
            env!("CARGO_BIN_EXE_baton").to_owned(),
            "mock-agent".to_owned(),
        ])),
    );
    let problems = plans.check_all();
    assert!(problems.is_empty(), "every workflow runs: {problems:?}");
    let runner = Runner::with_plans(
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        runner_settings("runner-in-test"),
        plans,
        Redactor::default(),
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner.run(shutdown.clone()));
    let ingress = Ingress::with_workflows(
        workflows.clone(),
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        IngressSettings::default(),
    );
    let app = serve_router(router(Arc::new(ingress)), store, queue).await;
    ControlPlane {
        app,
        scratch,
        workflows: Some(workflows),
        shutdown,
        runner: Some(task),
    }
}

impl ControlPlane {
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.runner.take() {
            let _ = task.await;
        }
    }
}

/// Polls the work item until `done` holds.
pub async fn wait_for_item(
    store: &dyn Store,
    key: &WorkItemKey,
    what: &str,
    done: impl Fn(&WorkItem) -> bool,
) -> WorkItem {
    let deadline = Instant::now() + WAIT;
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(item) = store.get_work_item(key).await.expect("get work item") {
            if done(&item) {
                return item;
            }
            last = Some(item);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}; last seen: {last:#?}");
}

/// Runs are listed through an index, which may lag: wait until `count` are there.
pub async fn wait_for_runs(store: &dyn Store, key: &WorkItemKey, count: usize) -> Vec<Run> {
    let deadline = Instant::now() + WAIT;
    loop {
        let runs = store.list_runs(key).await.expect("list runs");
        if runs.len() >= count || Instant::now() > deadline {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn events(store: &dyn Store, run: &Run) -> Vec<RunEvent> {
    store
        .list_events(&run.run_id, 0, 10_000)
        .await
        .expect("list events")
}

/// Waits until the run's agent has said something: its session is under way.
pub async fn wait_for_message(store: &dyn Store, run: &Run) {
    let deadline = Instant::now() + WAIT;
    while !events(store, run).await.iter().any(|e| e.kind == "message") {
        assert!(Instant::now() < deadline, "the agent never spoke");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
