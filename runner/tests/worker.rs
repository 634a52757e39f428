//! The runner loop end to end on the embedded backends, with the real mock agent binary over
//! real pipes: claims, runs, records, retries, cancels, dead-letters, limits concurrency.
//! (The same loop against DynamoDB and SQS, and across processes, is in `tests/` at the root.)
//!
//! No test asserts a tight timing; waits are generous and poll for the state they expect.

use baton_core::clock::SystemClock;
use baton_core::domain::{
    IssueSnapshot, Job, JobId, JobReason, PullRequestLink, Run, RunEvent, RunStatus, SourceKind,
    WorkItem, WorkItemKey, WorkItemStatus, JOB_SCHEMA_VERSION,
};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{Queue, Store};
use baton_core::workflow::Workflow;
use baton_integrations::repo::memory::MemoryPlatform;
use baton_integrations::repo::{
    CheckState, PullRequestSpec, PullRequestState, RepoPlatform, ReviewVerdict,
};
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{RunPlan, Runner, RunnerSettings};
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const MOCK: &str = env!("CARGO_BIN_EXE_baton-mock-agent");
const WAIT: Duration = Duration::from_secs(30);

fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.jsonl"))
        .display()
        .to_string()
}

struct Harness {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    dir: tempfile::TempDir,
    runners: Vec<(CancellationToken, JoinHandle<()>)>,
}

fn settings(id: &str) -> RunnerSettings {
    RunnerSettings {
        runner_id: id.to_owned(),
        lease: Duration::from_secs(3),
        heartbeat: Duration::from_secs(1),
        watch_interval: Duration::from_millis(100),
        poll_wait: Duration::from_secs(1),
        local_sessions: 4,
        shutdown_grace: Duration::from_secs(1),
        busy_retry: Duration::from_secs(1),
        ..RunnerSettings::default()
    }
}

impl Harness {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::new()),
            dir: tempfile::tempdir().expect("tempdir"),
            runners: Vec::new(),
        }
    }

    /// A workflow with the mock agent playing `scenario`, plus `extra` front matter lines.
    fn workflow(&self, scenario_name: &str, extra: &str) -> Workflow {
        // `extra` may name another agent instead.
        let agent = if extra.contains("agent_provider:") {
            String::new()
        } else {
            format!(
                "agent_provider: {{kind: mock, options: {{scenario: \"{}\"}}}}\n",
                scenario(scenario_name)
            )
        };
        // ... and another workspace root.
        let workspace = if extra.contains("workspace:") {
            String::new()
        } else {
            format!(
                "workspace: {{root: \"{}\"}}\n",
                self.dir.path().join("workspaces").display()
            )
        };
        let text = format!(
            "---\ntracker: {{kind: github}}\n{agent}{workspace}\
             codex: {{read_timeout_ms: 10000, stall_timeout_ms: 20000}}\n{extra}\n---\n\
             Fix {{{{ issue.identifier }}}}",
        );
        Workflow::parse(&text).expect("workflow")
    }

    fn start(&mut self, id: &str, workflow: &Workflow, redactor: Redactor) -> Arc<Runner> {
        self.start_with(settings(id), workflow, redactor)
    }

    fn start_with(
        &mut self,
        settings: RunnerSettings,
        workflow: &Workflow,
        redactor: Redactor,
    ) -> Arc<Runner> {
        let plan = RunPlan::from_workflow(workflow, Some(&MockAgentCommand(vec![MOCK.into()])))
            .expect("plan");
        self.start_plan(settings, plan, redactor)
    }

    /// Starts a runner on a plan the test has adjusted (its agent command, its platform).
    fn start_plan(
        &mut self,
        settings: RunnerSettings,
        plan: RunPlan,
        redactor: Redactor,
    ) -> Arc<Runner> {
        let runner = Runner::new(
            self.store.clone(),
            self.queue.clone(),
            Arc::new(SystemClock),
            settings,
            plan,
            redactor,
        );
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(Arc::clone(&runner).run(shutdown.clone()));
        self.runners.push((shutdown, task));
        runner
    }

    /// What the ingress does for a run request: the item with its pending job, then the job.
    async fn request(&self, number: u32) -> (WorkItemKey, Job) {
        let identifier = format!("acme/app#{number}");
        let key = WorkItemKey::new(SourceKind::Github, &identifier);
        let now = Utc::now();
        let job = Job {
            v: JOB_SCHEMA_VERSION,
            job_id: JobId::generate(),
            work_item: key.clone(),
            reason: JobReason::Labeled,
            attempt: 1,
            queued_at: now,
            delivery_id: Some(format!("delivery-{number}")),
            continuation: 0,
        };
        let item = WorkItem {
            key: key.clone(),
            source: SourceKind::Github,
            issue: IssueSnapshot {
                id: number.to_string(),
                identifier,
                title: format!("Issue {number}"),
                body: "Please fix it.".into(),
                state: "open".into(),
                labels: vec!["baton".into()],
                ..IssueSnapshot::default()
            },
            status: WorkItemStatus::Queued,
            attempt: 1,
            cancel_requested: false,
            pending_job: Some(job.job_id.clone()),
            last_delivery: job.delivery_id.clone(),
            created_at: now,
            updated_at: now,
            requested_at: Some(now),
            lease: None,
            last_run: None,
            next_retry_at: None,
            last_error: None,
            tokens: Default::default(),
            approved_by: None,
            pull_request: None,
            status_comment: None,
            input_request: None,
            agent_session: None,
            workflow: None,
            version: 1,
        };
        self.store
            .put_work_item(&item, None)
            .await
            .expect("put item");
        self.queue.send(&job).await.expect("send job");
        (key, job)
    }

    /// Changes the stored item as another writer (the ingress) would: a versioned write.
    async fn change_item(&self, key: &WorkItemKey, change: impl FnOnce(&mut WorkItem)) {
        let mut item = self
            .store
            .get_work_item(key)
            .await
            .expect("get")
            .expect("item");
        let expected = item.version;
        change(&mut item);
        item.version += 1;
        self.store
            .put_work_item(&item, Some(expected))
            .await
            .expect("versioned write");
    }

    async fn wait_for(
        &self,
        key: &WorkItemKey,
        what: &str,
        done: impl Fn(&WorkItem) -> bool,
    ) -> WorkItem {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(item) = self.store.get_work_item(key).await.expect("get") {
                if done(&item) {
                    return item;
                }
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting for {what}; item: {item:#?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn runs(&self, key: &WorkItemKey) -> Vec<Run> {
        self.store.list_runs(key).await.expect("runs")
    }

    async fn events(&self, run: &Run) -> Vec<RunEvent> {
        self.store
            .list_events(&run.run_id, 0, 10_000)
            .await
            .expect("events")
    }

    /// Waits until the run's agent has said something: its session is under way.
    async fn wait_for_message(&self, run: &Run) {
        let deadline = Instant::now() + WAIT;
        while !self.events(run).await.iter().any(|e| e.kind == "message") {
            assert!(Instant::now() < deadline, "the agent never spoke");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn stop(mut self) {
        for (shutdown, task) in self.runners.drain(..) {
            shutdown.cancel();
            let _ = task.await;
        }
    }
}

fn kinds(events: &[RunEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

fn git(cwd: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn local_repository(dir: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("src")).expect("mkdir");
    std::fs::write(repo.join("src/lib.rs"), "pub fn broken() {}\n").expect("write");
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    git(&repo, &["add", "--all"]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "--quiet",
            "-m",
            "init",
        ],
    );
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_becomes_a_recorded_session_and_a_commit_on_the_work_branch() {
    let mut harness = Harness::new();
    let repo = local_repository(harness.dir.path());
    let workflow = harness.workflow(
        "happy_path",
        &format!(
            "agent: {{max_turns: 1, max_continuations: 0}}\nrepo: {{path: \"{}\", branch: {{work_prefix: baton/}}}}",
            repo.display()
        ),
    );
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, job) = harness.request(1).await;

    let item = harness
        .wait_for(&key, "success", |i| i.status == WorkItemStatus::Succeeded)
        .await;
    assert!(item.lease.is_none(), "the lease is released");
    assert!(item.pending_job.is_none());
    assert_eq!(
        item.tokens.total_tokens, 1500,
        "the mock reports 1200 + 300 tokens"
    );

    let runs = harness.runs(&key).await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.job_id, job.job_id);
    assert_eq!(run.runner, "runner-a");
    assert_eq!(item.last_run.as_ref(), Some(&run.run_id));
    let started = run.agent_started_at.expect("agent_started_at");
    let ended = run.ended_at.expect("ended_at");
    assert!(run.received_at.expect("received_at") <= run.claimed_at);
    assert!(run.queued_at <= run.claimed_at && run.claimed_at <= started && started <= ended);
    assert_eq!(run.turns, 1);
    assert_eq!(run.session_id.as_deref(), Some("thr_mock"));

    let events = harness.events(run).await;
    let kinds = kinds(&events);
    for expected in [
        "claimed",
        "workspace_ready",
        "session_started",
        "turn_started",
        "message",
        "command",
        "file_change",
        "usage",
        "turn_ended",
        "committed",
        "run_ended",
    ] {
        assert!(kinds.contains(&expected), "missing {expected} in {kinds:?}");
    }
    let seqs: Vec<u32> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u32).collect::<Vec<_>>(),
        "numbered without gaps"
    );
    assert_eq!(run.events as usize, events.len());

    // The agent's edit is committed on the work branch of the issue's workspace.
    let workspace = events
        .iter()
        .find(|e| e.kind == "workspace_ready")
        .and_then(|e| e.data["path"].as_str())
        .map(PathBuf::from)
        .expect("workspace path");
    assert!(git(&workspace, &["rev-parse", "--abbrev-ref", "HEAD"]).starts_with("baton/acme_app_1"));
    assert_eq!(
        git(&workspace, &["show", "HEAD:src/lib.rs"]),
        "pub fn fixed() {}"
    );
    assert_eq!(Some(git(&workspace, &["rev-parse", "HEAD"])), run.commit);
    assert_eq!(run.workspace.as_deref(), workspace.to_str());
    assert!(
        run.branch
            .as_deref()
            .is_some_and(|b| b.starts_with("baton/acme_app_1")),
        "{run:?}"
    );
    assert!(harness.queue.dead_letters().is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_agent_is_retried_with_backoff_then_dead_lettered() {
    let mut harness = Harness::new();
    let workflow = harness.workflow(
        "failed_turn",
        "agent: {max_attempts: 2, max_retry_backoff_ms: 1000}",
    );
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, _) = harness.request(2).await;

    let retrying = harness
        .wait_for(&key, "a scheduled retry", |i| {
            i.status == WorkItemStatus::Retrying
        })
        .await;
    assert_eq!(retrying.attempt, 2, "the retry is attempt 2");
    assert!(retrying.next_retry_at.is_some());
    assert!(
        retrying
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("turn_failed")),
        "{retrying:?}"
    );

    let dead = harness
        .wait_for(&key, "dead-lettering", |i| {
            i.status == WorkItemStatus::DeadLettered
        })
        .await;
    assert!(dead.pending_job.is_none() && dead.lease.is_none());
    assert!(
        dead.last_error
            .as_deref()
            .is_some_and(|e| e.contains("upstream model error")),
        "{dead:?}"
    );
    let runs = harness.runs(&key).await;
    assert_eq!(
        runs.iter()
            .map(|r| (r.attempt, r.status))
            .collect::<Vec<_>>(),
        [(1, RunStatus::Failed), (2, RunStatus::Failed)]
    );
    assert_eq!(
        runs[0].error.as_ref().map(|e| e.code.as_str()),
        Some("turn_failed")
    );
    // The retry waited out its backoff (1 s, the cap here) after the first run ended.
    let gap = runs[1].claimed_at - runs[0].ended_at.expect("ended");
    assert!(
        gap >= chrono::Duration::milliseconds(900),
        "retried after {gap}"
    );
    let dead_letters = harness.queue.dead_letters();
    assert_eq!(dead_letters.len(), 1);
    let job = Job::from_message(&dead_letters[0]).expect("a job");
    assert_eq!(
        (job.work_item, job.attempt, job.reason),
        (key, 2, JobReason::Retry)
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_the_session_within_seconds() {
    let mut harness = Harness::new();
    let workflow = harness.workflow("stall", "");
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, _) = harness.request(3).await;
    harness
        .wait_for(&key, "the session to start", |i| {
            i.status == WorkItemStatus::Running
        })
        .await;
    let runs = harness.runs(&key).await;
    harness.wait_for_message(&runs[0]).await;

    // What the ingress does on `/baton stop` or an unlabel while the item runs.
    harness
        .change_item(&key, |item| {
            item.cancel_requested = true;
            item.pending_job = None;
        })
        .await;
    let asked = Instant::now();

    let cancelled = harness
        .wait_for(&key, "the cancel", |i| {
            i.status == WorkItemStatus::Cancelled
        })
        .await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "stopped in {:?}",
        asked.elapsed()
    );
    assert!(cancelled.lease.is_none());
    let runs = harness.runs(&key).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    let events = harness.events(&runs[0]).await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == "turn_ended" && e.data["status"] == "interrupted"),
        "{:?}",
        kinds(&events)
    );
    assert!(harness.queue.dead_letters().is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_and_orphan_jobs_do_not_run() {
    let mut harness = Harness::new();
    let workflow = harness.workflow("happy_path", "agent: {max_turns: 1, max_continuations: 0}");
    // A job whose item has a newer pending job: acknowledged without a run.
    let (key, stale) = harness.request(4).await;
    harness
        .change_item(&key, |item| {
            item.pending_job = Some(JobId::generate());
        })
        .await;
    // A job for a work item that does not exist: dead-lettered, since nothing can run it.
    let orphan = Job {
        work_item: WorkItemKey::new(SourceKind::Github, "acme/app#404"),
        job_id: JobId::generate(),
        ..stale.clone()
    };
    harness.queue.send(&orphan).await.expect("send");
    harness.start("runner-a", &workflow, Redactor::default());

    let deadline = Instant::now() + WAIT;
    while harness.queue.dead_letters().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the orphan job was not dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead = Job::from_message(&harness.queue.dead_letters()[0]).expect("job");
    assert_eq!(dead.job_id, orphan.job_id);
    // Give the stale job time to be (wrongly) run, then check it was not.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        harness.runs(&key).await.is_empty(),
        "a superseded job never runs"
    );
    let received = harness
        .queue
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("receive");
    assert!(received.is_empty(), "both messages were acknowledged");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_limit_holds_across_runners() {
    let mut harness = Harness::new();
    let workflow = harness.workflow(
        "slow_happy_path",
        "agent: {max_concurrent_agents: 1, max_turns: 1, max_continuations: 0}",
    );
    harness.start("runner-a", &workflow, Redactor::default());
    harness.start("runner-b", &workflow, Redactor::default());
    let (first, _) = harness.request(5).await;
    let (second, _) = harness.request(6).await;
    for key in [&first, &second] {
        harness
            .wait_for(key, "success", |i| i.status == WorkItemStatus::Succeeded)
            .await;
    }
    let a = &harness.runs(&first).await[0];
    let b = &harness.runs(&second).await[0];
    let (earlier, later) = if a.claimed_at <= b.claimed_at {
        (a, b)
    } else {
        (b, a)
    };
    assert!(
        later.claimed_at >= earlier.ended_at.expect("ended"),
        "with one slot the runs never overlap: {earlier:?} {later:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_agent_binary_is_a_recorded_failure() {
    let mut harness = Harness::new();
    let workflow = harness.workflow(
        "happy_path",
        "agent: {max_attempts: 1}
agent_provider: {kind: codex, options: {command_argv: [/nonexistent/codex, app-server]}}",
    );
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, _) = harness.request(7).await;
    let item = harness
        .wait_for(&key, "the failure", |i| !i.status.is_active())
        .await;
    assert_eq!(item.status, WorkItemStatus::DeadLettered);
    let runs = harness.runs(&key).await;
    let error = runs[0].error.as_ref().expect("error");
    assert_eq!(error.code, "agent_spawn_failed");
    assert!(error.message.contains("/nonexistent/codex"), "{error:?}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_timeline_or_the_agent() {
    let mut harness = Harness::new();
    let secret = "sk-live-very-secret-value-123";
    let scenario_file = harness.dir.path().join("leaky.jsonl");
    std::fs::write(
        &scenario_file,
        format!(
            "{{\"do\":\"message\",\"text\":\"the token is {secret}\"}}\n{{\"do\":\"write_env\",\"path\":\"env.json\"}}\n{{\"do\":\"complete\"}}\n"
        ),
    )
    .expect("scenario");
    let workflow = Workflow::parse(&format!(
        "---\ntracker: {{kind: github}}\nagent_provider: {{kind: mock, options: {{scenario: \"{}\", env: [HOME, GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY]}}}}\n\
         workspace: {{root: \"{}\"}}\nagent: {{max_turns: 1, max_continuations: 0}}\n---\nFix it",
        scenario_file.display(),
        harness.dir.path().join("workspaces").display()
    ))
    .expect("workflow");
    harness.start("runner-a", &workflow, Redactor::new([secret.to_owned()]));
    let (key, _) = harness.request(8).await;
    harness
        .wait_for(&key, "success", |i| i.status == WorkItemStatus::Succeeded)
        .await;
    let runs = harness.runs(&key).await;
    let events = harness.events(&runs[0]).await;
    let timeline = serde_json::to_string(&events).expect("json");
    assert!(!timeline.contains(secret), "{timeline}");
    assert!(timeline.contains("the token is [redacted]"), "{timeline}");

    let workspace = events
        .iter()
        .find(|e| e.kind == "workspace_ready")
        .and_then(|e| e.data["path"].as_str())
        .map(PathBuf::from)
        .expect("workspace");
    let env: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(workspace.join("env.json")).expect("env.json"),
    )
    .expect("json");
    for name in env.keys() {
        assert!(
            !name.starts_with("AWS_")
                && !name.starts_with("GITHUB_")
                && !name.starts_with("BATON_"),
            "{name} reached the agent"
        );
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_over_its_token_budget_fails() {
    let mut harness = Harness::new();
    // The happy path reports 1500 tokens.
    let workflow = harness.workflow("happy_path", "agent: {max_tokens_per_run: 1000}");
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, _) = harness.request(9).await;
    let item = harness
        .wait_for(&key, "the failure", |i| !i.status.is_active())
        .await;
    // Another attempt would only spend the budget again: no retry, no dead letter.
    assert_eq!(item.status, WorkItemStatus::Failed);
    let runs = harness.runs(&key).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Failed);
    assert_eq!(
        runs[0].error.as_ref().map(|e| e.code.as_str()),
        Some("token_budget_exceeded")
    );
    assert!(harness.queue.dead_letters().is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_environments_end_in_recorded_readable_failures() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let not_a_directory = scratch.path().join("a-file");
    std::fs::write(&not_a_directory, "").expect("write");
    let cases = [
        // A hook that hangs is killed after hooks.timeout_ms.
        (
            "happy_path",
            "hooks: {before_run: 'sleep 30', timeout_ms: 300}".to_owned(),
            "hook_timed_out",
        ),
        // A workspace root that cannot be created.
        (
            "happy_path",
            format!(
                "workspace: {{root: \"{}/workspaces\"}}",
                not_a_directory.display()
            ),
            "workspace_create_failed",
        ),
        // An agent that dies mid-turn.
        ("crash", String::new(), "agent_crashed"),
    ];
    for (number, (scenario_name, extra, code)) in cases.iter().enumerate() {
        let mut harness = Harness::new();
        let workflow = harness.workflow(
            scenario_name,
            &format!("agent: {{max_attempts: 1}}\n{extra}"),
        );
        harness.start("runner-a", &workflow, Redactor::default());
        let (key, _) = harness.request(10 + number as u32).await;
        let item = harness
            .wait_for(&key, code, |i| !i.status.is_active())
            .await;
        assert_eq!(
            item.status,
            WorkItemStatus::DeadLettered,
            "{code}: {item:?}"
        );
        let runs = harness.runs(&key).await;
        let error = runs[0].error.as_ref().expect("error");
        assert_eq!(error.code, *code, "{error:?}");
        assert!(!error.message.is_empty());
        assert!(
            item.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with(code)),
            "{item:?}"
        );
        assert!(item.lease.is_none());
        harness.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_made_while_a_run_goes_on_runs_after_it() {
    let mut harness = Harness::new();
    // About five seconds of work, longer than the 3 s lease: the lease is renewed meanwhile.
    let workflow = harness.workflow(
        "slow_happy_path",
        "agent: {max_turns: 1, max_continuations: 0}",
    );
    harness.start("runner-a", &workflow, Redactor::default());
    harness.start("runner-b", &workflow, Redactor::default());
    let (key, first) = harness.request(20).await;
    harness
        .wait_for(&key, "the first run", |i| {
            i.status == WorkItemStatus::Running
        })
        .await;

    // What the ingress does for `/baton run` while the item runs.
    let second = Job {
        job_id: JobId::generate(),
        reason: JobReason::CommentRun,
        ..first.clone()
    };
    harness
        .change_item(&key, |item| {
            item.pending_job = Some(second.job_id.clone());
        })
        .await;
    harness.queue.send(&second).await.expect("send");

    let deadline = Instant::now() + WAIT;
    let runs = loop {
        let runs = harness.runs(&key).await;
        if runs.len() == 2 && runs.iter().all(|r| r.status != RunStatus::Running) {
            break runs;
        }
        assert!(
            Instant::now() < deadline,
            "the second request never ran: {runs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        runs.iter().map(|r| &r.job_id).collect::<Vec<_>>(),
        [&first.job_id, &second.job_id]
    );
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Succeeded),
        "{runs:#?}"
    );
    assert!(
        runs[1].claimed_at >= runs[0].ended_at.expect("ended"),
        "never two at once"
    );
    let item = harness
        .wait_for(&key, "success", |i| i.status == WorkItemStatus::Succeeded)
        .await;
    assert!(item.pending_job.is_none());
    assert!(harness.queue.dead_letters().is_empty());
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_made_while_the_runner_was_dead_is_settled() {
    let mut harness = Harness::new();
    let workflow = harness.workflow("happy_path", "");
    let (key, _) = harness.request(21).await;
    // A runner claimed it and died; then the issue was closed (the ingress sets the flag and
    // clears the pending job, leaving the status to the runner that is gone).
    harness
        .change_item(&key, |item| {
            item.status = WorkItemStatus::Running;
            item.lease = Some(baton_core::domain::Lease {
                owner: "dead-runner".into(),
                run_id: baton_core::domain::RunId::generate(),
                expires_at: Utc::now() - chrono::Duration::seconds(1),
            });
            item.cancel_requested = true;
            item.pending_job = None;
        })
        .await;
    harness.start("runner-a", &workflow, Redactor::default());

    let item = harness
        .wait_for(&key, "the cancel to be settled", |i| {
            i.status == WorkItemStatus::Cancelled
        })
        .await;
    assert!(item.lease.is_none());
    assert!(harness.runs(&key).await.is_empty(), "nothing ran");
    harness.stop().await;
}

/// Whether a process whose command line contains `needle` is running.
fn process_running(needle: &str) -> bool {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .any(|cmdline| {
            String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .contains(needle)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_during_a_hanging_hook_stops_it_and_its_processes() {
    let mut harness = Harness::new();
    // A duration of its own, so the check below finds this hook's `sleep` and nothing else.
    let sleep = format!("sleep 47.{}", std::process::id());
    let workflow = harness.workflow(
        "happy_path",
        &format!("hooks: {{before_run: '{sleep}', timeout_ms: 120000}}"),
    );
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, _) = harness.request(30).await;
    harness
        .wait_for(&key, "the claim", |i| i.status == WorkItemStatus::Running)
        .await;
    let deadline = Instant::now() + WAIT;
    while !process_running(&sleep) {
        assert!(Instant::now() < deadline, "the hook never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    harness
        .change_item(&key, |item| {
            item.cancel_requested = true;
            item.pending_job = None;
        })
        .await;
    let asked = Instant::now();
    harness
        .wait_for(&key, "the cancel", |i| {
            i.status == WorkItemStatus::Cancelled
        })
        .await;
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "took {:?}",
        asked.elapsed()
    );
    let runs = harness.runs(&key).await;
    assert_eq!(runs[0].status, RunStatus::Cancelled);
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_running(&sleep) {
        assert!(
            Instant::now() < deadline,
            "the hook's process outlived the cancel"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_shutting_down_returns_unfinished_work_at_once() {
    let mut harness = Harness::new();
    // `stall` never finishes by itself; the lease is long, so a takeover by expiry would be slow.
    let workflow = harness.workflow("stall", "");
    let long_lease = |id: &str| RunnerSettings {
        lease: Duration::from_secs(60),
        heartbeat: Duration::from_secs(20),
        shutdown_grace: Duration::from_millis(500),
        ..settings(id)
    };
    harness.start_with(long_lease("runner-a"), &workflow, Redactor::default());
    let (key, _) = harness.request(40).await;
    harness
        .wait_for(&key, "runner-a to run it", |i| {
            i.lease.as_ref().is_some_and(|l| l.owner == "runner-a")
        })
        .await;
    let runs = harness.runs(&key).await;
    harness.wait_for_message(&runs[0]).await;

    // SIGTERM: the grace period passes, the session is stopped and the job returned.
    let (shutdown, task) = harness.runners.remove(0);
    let stopping = Instant::now();
    shutdown.cancel();
    task.await.expect("runner-a stops");
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "took {:?}",
        stopping.elapsed()
    );
    let item = harness
        .store
        .get_work_item(&key)
        .await
        .expect("get")
        .expect("item");
    assert_eq!(item.status, WorkItemStatus::Queued, "{item:?}");
    assert!(item.lease.is_none(), "the lease is given back");
    let runs = harness.runs(&key).await;
    assert_eq!(runs[0].status, RunStatus::Abandoned);
    assert_eq!(
        runs[0].error.as_ref().map(|e| e.code.as_str()),
        Some("runner_shutdown")
    );

    // Another runner takes it at once, not after the 60 s lease.
    let restarted = Instant::now();
    harness.start_with(long_lease("runner-b"), &workflow, Redactor::default());
    harness
        .wait_for(&key, "runner-b to take it", |i| {
            i.lease.as_ref().is_some_and(|l| l.owner == "runner-b")
        })
        .await;
    assert!(
        restarted.elapsed() < Duration::from_secs(30),
        "took {:?}",
        restarted.elapsed()
    );
    assert_eq!(harness.runs(&key).await.len(), 2);
    harness.stop().await;
}

// ---------------------------------------------------------------------------------------
// Workspace lifecycle, continuations and the auto-merge path.

/// Copies `$BATON_WORKSPACE/proof.txt` (or says it was missing) outside the workspace, to
/// `<dir>/before_remove.txt`: the hook ran, and ran while the workspace was still there.
const PROOF_HOOK: &str = "hooks: {before_remove: 'cat proof.txt > ../../before_remove.txt || echo missing > ../../before_remove.txt'}";

impl Harness {
    async fn workspace_path(&self, run: &Run) -> PathBuf {
        self.events(run)
            .await
            .iter()
            .find(|e| e.kind == "workspace_ready")
            .and_then(|e| e.data["path"].as_str())
            .map(PathBuf::from)
            .expect("workspace path")
    }

    async fn wait_until_gone(&self, path: &Path) {
        let deadline = Instant::now() + WAIT;
        while path.exists() {
            assert!(
                Instant::now() < deadline,
                "{} was never removed",
                path.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn hook_proof(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("before_remove.txt")).ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_issue_during_a_run_removes_its_workspace_after_before_remove() {
    let mut harness = Harness::new();
    let workflow = harness.workflow(
        "slow_happy_path",
        &format!("agent: {{max_turns: 1, max_continuations: 0}}\n{PROOF_HOOK}"),
    );
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, _) = harness.request(50).await;
    let run = harness
        .wait_for(&key, "the run", |i| i.status == WorkItemStatus::Running)
        .await;
    let runs = harness.runs(&key).await;
    harness.wait_for_message(&runs[0]).await;
    let workspace = harness.workspace_path(&runs[0]).await;
    std::fs::write(workspace.join("proof.txt"), "was there").expect("proof");
    assert!(run.lease.is_some());

    // What the ingress does when the issue is closed while it runs.
    harness
        .change_item(&key, |item| {
            item.cancel_requested = true;
            item.pending_job = None;
            item.issue.state = "closed".into();
        })
        .await;
    harness
        .wait_for(&key, "the cancel", |i| {
            i.status == WorkItemStatus::Cancelled
        })
        .await;
    harness.wait_until_gone(&workspace).await;
    assert_eq!(harness.hook_proof().as_deref(), Some("was there"));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_sweeps_the_workspaces_of_items_that_ended_while_it_was_down() {
    let mut harness = Harness::new();
    let workflow = harness.workflow(
        "happy_path",
        &format!("agent: {{max_turns: 1, max_continuations: 0}}\n{PROOF_HOOK}"),
    );
    harness.start("runner-a", &workflow, Redactor::default());
    let (key, _) = harness.request(51).await;
    harness
        .wait_for(&key, "success", |i| i.status == WorkItemStatus::Succeeded)
        .await;
    let runs = harness.runs(&key).await;
    let workspace = harness.workspace_path(&runs[0]).await;
    // The issue is still open: a review may ask for rework in this workspace.
    assert!(workspace.is_dir(), "kept while the issue is open");
    std::fs::write(workspace.join("proof.txt"), "swept").expect("proof");
    for (shutdown, task) in harness.runners.drain(..) {
        shutdown.cancel();
        let _ = task.await;
    }

    // Closed while no runner was up (the ingress records the state of a finished item).
    harness
        .change_item(&key, |item| item.issue.state = "closed".into())
        .await;
    harness.start("runner-b", &workflow, Redactor::default());
    harness.wait_until_gone(&workspace).await;
    assert_eq!(harness.hook_proof().as_deref(), Some("swept"));
    assert_eq!(harness.runs(&key).await.len(), 1, "the sweep runs nothing");
    harness.stop().await;
}

/// Every `turn/start` input the runner sent, in order, from a log of the agent's stdin.
fn turn_inputs(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["method"] == "turn/start")
        .map(|message| {
            message["params"]["input"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|part| part["text"].as_str())
                .collect::<Vec<_>>()
                .join("")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_with_the_issue_still_active_continues_up_to_the_limit() {
    let mut harness = Harness::new();
    // Two turns per session; the issue stays open and eligible throughout.
    let workflow = harness.workflow("two_turns", "agent: {max_turns: 2, max_continuations: 2}");
    let log = harness.dir.path().join("agent-stdin.jsonl");
    // The mock agent, with what the runner writes to it copied to a log.
    let agent = MockAgentCommand(vec![
        "sh".into(),
        "-c".into(),
        format!("tee -a '{}' | '{MOCK}' \"$@\"", log.display()),
        "sh".into(),
    ]);
    let plan = RunPlan::from_workflow(&workflow, Some(&agent)).expect("plan");
    harness.start_plan(settings("runner-a"), plan, Redactor::default());
    let (key, first) = harness.request(52).await;

    let deadline = Instant::now() + WAIT;
    let runs = loop {
        let runs = harness.runs(&key).await;
        let item = harness.store.get_work_item(&key).await.expect("get");
        let settled = item.is_some_and(|i| i.status == WorkItemStatus::Succeeded);
        if settled && runs.iter().all(|r| r.status != RunStatus::Running) {
            break runs;
        }
        assert!(Instant::now() < deadline, "never settled: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        runs.iter().map(|r| r.reason).collect::<Vec<_>>(),
        [
            JobReason::Labeled,
            JobReason::Continuation,
            JobReason::Continuation
        ],
        "two continuations, then the limit: {runs:#?}"
    );
    assert_eq!(runs[0].job_id, first.job_id);
    assert!(runs.iter().all(|r| r.status == RunStatus::Succeeded));
    for pair in runs.windows(2) {
        let gap = pair[1].claimed_at - pair[0].ended_at.expect("ended");
        assert!(
            gap >= chrono::Duration::milliseconds(900),
            "a continuation starts a second after the run before it: {gap:?}"
        );
    }
    let item = harness
        .wait_for(&key, "the end", |i| i.status == WorkItemStatus::Succeeded)
        .await;
    assert!(item.pending_job.is_none(), "nothing follows the last one");

    // Each session gets the issue's prompt first, then the continuation note; a continuation
    // run is a new session on the same workspace, so it starts from the prompt again.
    let prompt = "Fix acme/app#52";
    let note = baton_runner::worker::CONTINUATION_NOTE;
    assert_eq!(
        turn_inputs(&log),
        [prompt, note, prompt, note, prompt, note],
        "what each turn was sent"
    );
    // The limit holds: no fourth run comes later.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(harness.runs(&key).await.len(), 3);
    harness.stop().await;
}

/// An item with a delivered pull request on a memory platform, and a job for `reason`.
async fn pull_request_follow_up(
    harness: &Harness,
    platform: &MemoryPlatform,
    number: u32,
    reason: JobReason,
) -> (WorkItemKey, u64) {
    let (key, labelled) = harness.request(number).await;
    // The labelled job `request` sent is not the one under test; others stay queued.
    for message in harness
        .queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .expect("receive")
    {
        let ours = message
            .job
            .as_ref()
            .is_ok_and(|job| job.job_id == labelled.job_id);
        if ours {
            harness
                .queue
                .delete(&message.receipt)
                .await
                .expect("delete");
        } else {
            let back = harness
                .queue
                .change_visibility(&message.receipt, Duration::ZERO);
            back.await.expect("back on the queue");
        }
    }
    let branch = format!("baton/acme_app_{number}");
    let pull = platform
        .ensure_pull_request(&PullRequestSpec {
            head: branch.clone(),
            base: "main".into(),
            title: format!("Issue {number}"),
            body: key.marker(),
            labels: Vec::new(),
        })
        .await
        .expect("pull request");
    platform.set_head(&branch, "0123456789abcdef");
    let job = Job {
        v: JOB_SCHEMA_VERSION,
        job_id: JobId::generate(),
        work_item: key.clone(),
        reason,
        attempt: 1,
        queued_at: Utc::now(),
        delivery_id: None,
        continuation: 0,
    };
    harness
        .change_item(&key, |item| {
            item.status = WorkItemStatus::Queued;
            item.pending_job = Some(job.job_id.clone());
            item.pull_request = Some(PullRequestLink {
                number: pull.number,
                url: pull.url.clone(),
                branch: branch.clone(),
            });
        })
        .await;
    harness.queue.send(&job).await.expect("send");
    (key, pull.number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_pull_request_is_merged_only_when_every_gate_passes() {
    let mut harness = Harness::new();
    let workflow = harness.workflow("happy_path", "gates: {merge: {auto: true}}");
    let platform = MemoryPlatform::new();
    let mut plan = RunPlan::from_workflow(&workflow, Some(&MockAgentCommand(vec![MOCK.into()])))
        .expect("plan");
    plan.delivery.platform = Some(Arc::new(platform.clone()));

    // Approved, checks passing, no conflicts: merged.
    let (ready, ready_pr) =
        pull_request_follow_up(&harness, &platform, 53, JobReason::ReviewApproved).await;
    platform
        .submit_review(ready_pr, ReviewVerdict::Approved, "ship it", Vec::new())
        .expect("review");
    platform
        .set_checks(ready_pr, CheckState::Passing)
        .expect("checks");
    // Approved but a check failed: left open, and the record says why.
    let (blocked, blocked_pr) =
        pull_request_follow_up(&harness, &platform, 54, JobReason::ReviewApproved).await;
    platform
        .submit_review(blocked_pr, ReviewVerdict::Approved, "ship it", Vec::new())
        .expect("review");
    platform
        .set_checks(blocked_pr, CheckState::Failing)
        .expect("checks");

    harness.start_plan(settings("runner-a"), plan, Redactor::default());
    for key in [&ready, &blocked] {
        harness
            .wait_for(key, "the merge attempt", |i| {
                i.status == WorkItemStatus::Succeeded
            })
            .await;
    }
    let state = |number| platform.pull(number).expect("pull").state;
    assert_eq!(state(ready_pr), PullRequestState::Merged);
    assert_eq!(state(blocked_pr), PullRequestState::Open);

    for (key, expected) in [
        (&ready, format!("merged pull request #{ready_pr}")),
        (&blocked, "not merged yet: checks failed".to_owned()),
    ] {
        let runs = harness.runs(key).await;
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].reason, JobReason::ReviewApproved);
        assert_eq!(runs[0].agent_started_at, None, "no agent for a merge");
        let events = harness.events(&runs[0]).await;
        let result = events
            .iter()
            .find(|e| e.kind == "merge_gates")
            .map(|e| e.data["result"].clone());
        assert_eq!(result, Some(serde_json::json!(expected)), "{key}");
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_waits_for_its_answer_and_the_next_run_carries_both() {
    let mut harness = Harness::new();
    let workflow = harness.workflow(
        "input_required",
        "agent: {input_timeout_ms: 3600000, max_turns: 1, max_continuations: 0, \
         max_attempts: 2, max_retry_backoff_ms: 200}",
    );
    let log = harness.dir.path().join("agent-stdin.jsonl");
    let answered = harness.dir.path().join("answered");
    let failed_once = harness.dir.path().join("failed-once");
    // The mock asks until the test has answered; then its first try fails, and the retry
    // finishes the work.
    let agent = MockAgentCommand(vec![
        "sh".into(),
        "-c".into(),
        format!(
            "tee -a '{log}' | if [ ! -e '{answered}' ]; then exec '{MOCK}' \"$@\"; \
             elif [ ! -e '{failed}' ]; then touch '{failed}'; \
             exec '{MOCK}' --scenario failed_turn; \
             else exec '{MOCK}' --scenario happy_path; fi",
            log = log.display(),
            answered = answered.display(),
            failed = failed_once.display()
        ),
        "sh".into(),
    ]);
    let plan = RunPlan::from_workflow(&workflow, Some(&agent)).expect("plan");
    harness.start_plan(settings("runner-a"), plan, Redactor::default());
    let (key, _) = harness.request(61).await;

    let waiting = harness
        .wait_for(&key, "the question", |i| {
            i.status == WorkItemStatus::AwaitingInput
        })
        .await;
    let input = waiting.input_request.clone().expect("the open question");
    assert_eq!(input.question, "Which database should I use?");
    assert!(input.answer.is_none());
    let wait = input.deadline.expect("deadline") - input.asked_at;
    assert_eq!(wait, chrono::Duration::hours(1), "agent.input_timeout_ms");
    assert!(
        waiting.pending_job.is_none(),
        "nothing is queued while it waits"
    );
    let runs = harness.runs(&key).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::AwaitingInput);
    assert_eq!(input.run_id, runs[0].run_id);
    assert_eq!(
        input.session_id, runs[0].session_id,
        "the session that asked"
    );
    assert!(input.session_id.is_some());
    assert!(runs[0].error.is_none(), "a question is not a failure");

    // What the ingress does for a reply: the answer on the item, a run queued to take it.
    std::fs::write(&answered, "").unwrap();
    let job = Job {
        v: JOB_SCHEMA_VERSION,
        job_id: JobId::generate(),
        work_item: key.clone(),
        reason: JobReason::InputAnswered,
        attempt: 1,
        queued_at: Utc::now(),
        delivery_id: None,
        continuation: 0,
    };
    let pending = job.job_id.clone();
    harness
        .change_item(&key, move |item| {
            item.status = WorkItemStatus::Queued;
            item.pending_job = Some(pending);
            if let Some(input) = item.input_request.as_mut() {
                input.answer = Some(baton_core::domain::InputAnswer {
                    by: "alice".into(),
                    text: "Postgres, please.".into(),
                    at: Utc::now(),
                });
            }
        })
        .await;
    harness.queue.send(&job).await.expect("send");

    let done = harness
        .wait_for(&key, "the answered run", |i| {
            i.status == WorkItemStatus::Succeeded
        })
        .await;
    assert!(done.input_request.is_none(), "the answer was taken");
    let inputs = turn_inputs(&log);
    // The answered run failed; its retry is given the answer again.
    assert_eq!(inputs.len(), 3, "{inputs:?}");
    for resumed in &inputs[1..] {
        assert!(resumed.starts_with("Fix acme/app#61"), "{resumed}");
        assert!(
            resumed.contains("> Which database should I use?"),
            "{resumed}"
        );
        assert!(resumed.contains("alice answered"), "{resumed}");
        assert!(resumed.contains("> Postgres, please."), "{resumed}");
    }
    let runs = harness.runs(&key).await;
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[1].reason, JobReason::InputAnswered);
    assert_eq!(runs[1].status, RunStatus::Failed);
    assert_eq!(runs[2].reason, JobReason::Retry);
    for run in &runs[1..] {
        assert!(kinds(&harness.events(run).await).contains(&"input_answered"));
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_end_is_announced_in_chat_without_waiting_for_slack() {
    use baton_core::workflow::NotifyEvent;
    use baton_integrations::test_support::slack::{SlackFake, WEBHOOK_PATH};
    use baton_integrations::test_support::{FakeApi, Fault};
    use baton_runner::notify::{Notifier, SlackClient, SlackRetry, SlackTarget};

    let slack = SlackFake::default();
    let api = FakeApi::spawn(slack.router()).await;
    // Slack is rate limiting: the message can only land two seconds after the first try.
    api.inject(Fault::rate_limited(2));
    let target = SlackTarget::Webhook {
        url: format!("{}{WEBHOOK_PATH}", api.url()),
    };
    let client = SlackClient::new(target, SlackRetry::default()).expect("client");

    let mut harness = Harness::new();
    let workflow = harness.workflow("failed_turn", "agent: {max_attempts: 1}");
    let mut plan = RunPlan::from_workflow(&workflow, Some(&MockAgentCommand(vec![MOCK.into()])))
        .expect("plan");
    plan.notify = Some(Arc::new(Notifier::new(client, NotifyEvent::ALL.to_vec())));
    harness.start_plan(settings("runner-a"), plan, Redactor::default());
    let (key, _) = harness.request(31).await;

    let ended = harness
        .wait_for(&key, "the failure recorded", |i| {
            matches!(
                i.status,
                WorkItemStatus::Failed | WorkItemStatus::DeadLettered
            )
        })
        .await;
    let runs = harness.runs(&key).await;
    assert!(runs[0].ended_at.is_some(), "{runs:?}");
    assert!(
        slack.posted().is_empty(),
        "the end was recorded before Slack took the message"
    );

    let deadline = Instant::now() + Duration::from_secs(15);
    while slack.posted().is_empty() {
        assert!(
            Instant::now() < deadline,
            "never posted: {:?}",
            api.requests()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let message = slack.posted()[0].to_string();
    assert!(message.contains("acme/app#31"), "{message}");
    assert!(message.contains("Run failed"), "{message}");
    assert!(message.contains("turn_failed"), "{message}");
    assert!(api.requests().len() >= 2, "retried after the 429");
    assert!(ended.last_error.is_some());
    harness.stop().await;
}
