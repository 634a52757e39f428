//! Agent account pools end to end with the real mock agent: each run leases its own
//! account and its agent sees only that credential; a provider's rate-limit report marks the
//! account used up so the next run takes another; with every account used up the job waits
//! (delayed, not failed) and the state API says why. On both backends: the pools live in the
//! store (memory, or DynamoDB with conditional writes) and the jobs on its queue.

#[macro_use]
mod common;
use common::Backend;

use baton_core::clock::SystemClock;
use baton_core::domain::{
    IssueSnapshot, Job, JobId, JobReason, RunEvent, SourceKind, WorkItem, WorkItemKey,
    WorkItemStatus, JOB_SCHEMA_VERSION,
};
use baton_core::ports::{Queue, Store};
use baton_core::workflow::Workflow;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{RunPlan, Runner, RunnerSettings};
use baton_web::api::snapshot;
use chrono::Utc;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const BATON: &str = env!("CARGO_BIN_EXE_baton");
const WAIT: Duration = Duration::from_secs(30);
const KEY_A: &str = "acct-key-a-0123456789";
const KEY_B: &str = "acct-key-b-9876543210";

on_both_backends!(
    concurrent_runs_lease_different_accounts_and_see_only_their_own_credential,
    a_used_up_account_is_skipped_and_with_all_used_up_the_job_waits,
    a_run_refused_for_quota_tries_the_next_account_without_spending_an_attempt,
    the_accounts_of_a_crashed_runner_free_themselves_when_their_lease_runs_out,
);

struct Harness {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    /// Holds the workspaces, scenario and key files until the test ends.
    _dir: common::control_plane::Scratch,
    shutdown: CancellationToken,
}

impl Harness {
    /// A runner whose workflow pools two Codex accounts read from files, its mock agent
    /// playing `steps`.
    async fn start(backend: Backend, steps: &str) -> Self {
        Self::start_with(backend, steps, "max_turns: 1, max_continuations: 0").await
    }

    /// As [`Self::start`], with `agent` as the workflow's `agent:` settings.
    async fn start_with(backend: Backend, steps: &str, agent: &str) -> Self {
        let dir = common::control_plane::Scratch::new("baton-accounts");
        std::fs::write(dir.0.join("key-a"), format!("{KEY_A}\n")).expect("key a");
        std::fs::write(dir.0.join("key-b"), KEY_B).expect("key b");
        let scenario = dir.0.join("scenario.jsonl");
        std::fs::write(&scenario, steps).expect("scenario");
        let text = format!(
            "---\ntracker: {{kind: github}}\n\
             agent_provider: {{kind: mock, options: {{scenario: \"{}\"}}}}\n\
             workspace: {{root: \"{}\"}}\nagent: {{{agent}}}\n\
             accounts:\n  codex:\n    - {{name: team-a, credential: \"file:{}\"}}\n    \
             - {{name: team-b, credential: \"file:{}\"}}\n---\nFix it",
            scenario.display(),
            dir.0.join("workspaces").display(),
            dir.0.join("key-a").display(),
            dir.0.join("key-b").display(),
        );
        let workflow = Workflow::parse(&text).expect("workflow");
        let mock = MockAgentCommand(vec![BATON.into(), "mock-agent".into()]);
        let plan = RunPlan::from_workflow(&workflow, Some(&mock)).expect("plan");
        let (store, queue) = common::backends(backend).await;
        let settings = RunnerSettings {
            runner_id: "runner-a".into(),
            lease: Duration::from_secs(3),
            heartbeat: Duration::from_secs(1),
            watch_interval: Duration::from_millis(100),
            poll_wait: Duration::from_secs(1),
            busy_retry: Duration::from_secs(1),
            ..RunnerSettings::default()
        };
        let runner = Runner::new(
            store.clone(),
            queue.clone(),
            Arc::new(SystemClock),
            settings,
            plan,
            Redactor::new(Vec::<String>::new()),
        );
        let shutdown = CancellationToken::new();
        tokio::spawn(runner.run(shutdown.clone()));
        Self {
            store,
            queue,
            _dir: dir,
            shutdown,
        }
    }

    async fn request(&self, number: u32) -> WorkItemKey {
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
            delivery_id: None,
            continuation: 0,
        };
        let item = WorkItem {
            key: key.clone(),
            source: SourceKind::Github,
            issue: IssueSnapshot {
                id: number.to_string(),
                identifier,
                title: format!("Issue {number}"),
                state: "open".into(),
                ..IssueSnapshot::default()
            },
            status: WorkItemStatus::Queued,
            attempt: 1,
            cancel_requested: false,
            pending_job: Some(job.job_id.clone()),
            last_delivery: None,
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
            workflow: None,
            agent_session: None,
            version: 1,
        };
        self.store.put_work_item(&item, None).await.expect("item");
        self.queue.send(&job).await.expect("job");
        key
    }

    async fn wait_for(&self, key: &WorkItemKey, done: impl Fn(&WorkItem) -> bool) -> WorkItem {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(item) = self.store.get_work_item(key).await.expect("get") {
                if done(&item) {
                    return item;
                }
                assert!(Instant::now() < deadline, "timed out; item: {item:#?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn events(&self, key: &WorkItemKey) -> Vec<RunEvent> {
        let runs = self.store.list_runs(key).await.expect("runs");
        let run = runs.last().expect("a run");
        self.store
            .list_events(&run.run_id, 0, 10_000)
            .await
            .expect("events")
    }

    /// The environment the item's agent wrote.
    async fn agent_env(&self, key: &WorkItemKey) -> serde_json::Map<String, serde_json::Value> {
        let workspace = self
            .events(key)
            .await
            .iter()
            .find(|e| e.kind == "workspace_ready")
            .and_then(|e| e.data["path"].as_str())
            .map(PathBuf::from)
            .expect("workspace");
        let text = std::fs::read_to_string(workspace.join("env.json")).expect("env.json");
        serde_json::from_str(&text).expect("json")
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn credentials_in(env: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    env.iter()
        .filter(|(name, _)| name.contains("KEY") || name.contains("TOKEN"))
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect()
}

async fn concurrent_runs_lease_different_accounts_and_see_only_their_own_credential(
    backend: Backend,
) {
    let harness = Harness::start(
        backend,
        "{\"do\":\"write_env\",\"path\":\"env.json\"}\n{\"do\":\"sleep\",\"ms\":1500}\n{\"do\":\"complete\"}\n",
    )
    .await;
    let first = harness.request(1).await;
    let second = harness.request(2).await;
    // Both hold an account at once.
    let deadline = Instant::now() + WAIT;
    loop {
        let pool = harness.store.get_account_pool("codex").await.expect("pool");
        let leased = pool.map_or(0, |p| {
            p.accounts
                .values()
                .filter(|a| a.leased_at(Utc::now()).is_some())
                .count()
        });
        if leased == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "two accounts were never leased at once"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for key in [&first, &second] {
        harness
            .wait_for(key, |i| i.status == WorkItemStatus::Succeeded)
            .await;
    }
    let a = credentials_in(&harness.agent_env(&first).await);
    let b = credentials_in(&harness.agent_env(&second).await);
    assert_eq!(a.len(), 1, "one credential: {a:?}");
    assert_eq!(b.len(), 1, "one credential: {b:?}");
    assert_eq!(a[0].0, "OPENAI_API_KEY");
    let mut keys = vec![a[0].1.clone(), b[0].1.clone()];
    keys.sort();
    assert_eq!(keys, [KEY_A, KEY_B], "each run had its own account");
    let pool = harness
        .store
        .get_account_pool("codex")
        .await
        .expect("pool")
        .expect("pool");
    assert!(
        pool.accounts.values().all(|a| a.lease.is_none()),
        "both accounts were given back: {pool:?}"
    );
}

async fn a_used_up_account_is_skipped_and_with_all_used_up_the_job_waits(backend: Backend) {
    let reset = Utc::now().timestamp() + 3600;
    let harness = Harness::start(backend, &format!(
        "{{\"do\":\"write_env\",\"path\":\"env.json\"}}\n\
         {{\"do\":\"rate_limits\",\"rate_limits\":{{\"primary\":{{\"usedPercent\":100.0,\"windowDurationMins\":300,\"resetsAt\":{reset}}}}}}}\n\
         {{\"do\":\"complete\"}}\n"
    ))
    .await;
    let first = harness.request(1).await;
    harness
        .wait_for(&first, |i| i.status == WorkItemStatus::Succeeded)
        .await;
    let second = harness.request(2).await;
    harness
        .wait_for(&second, |i| i.status == WorkItemStatus::Succeeded)
        .await;
    let a = credentials_in(&harness.agent_env(&first).await)[0]
        .1
        .clone();
    let b = credentials_in(&harness.agent_env(&second).await)[0]
        .1
        .clone();
    assert_ne!(
        a, b,
        "the second run took the account the first did not use up"
    );

    let pool = harness
        .store
        .get_account_pool("codex")
        .await
        .expect("pool")
        .expect("pool");
    for (name, account) in &pool.accounts {
        assert_eq!(
            account.exhausted_until.map(|t| t.timestamp()),
            Some(reset),
            "{name} is used up until the window resets"
        );
        let window = &account.signals.as_ref().expect("signals").windows[0];
        assert_eq!(window.used_percent, Some(100.0));
        assert_eq!(window.window_minutes, Some(300));
    }

    let third = harness.request(3).await;
    let deadline = Instant::now() + WAIT;
    let state = loop {
        let state = snapshot(&*harness.store, &SystemClock)
            .await
            .expect("state");
        if state.queued.iter().any(|e| e.waiting_for_account.is_some()) {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "the item never showed it waits: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let entry = state
        .queued
        .iter()
        .find(|e| e.work_item == third)
        .expect("queued");
    let wait = entry.waiting_for_account.as_ref().expect("wait");
    assert_eq!(wait.provider, "codex");
    assert_eq!(wait.until.timestamp(), reset);
    let limits = state.rate_limits.expect("rate limits");
    assert_eq!(limits["codex"].len(), 2);
    assert!(limits["codex"].iter().all(|a| a.exhausted_until.is_some()));
    // Waiting spends no attempt: no run, still queued, never dead-lettered.
    let item = harness
        .store
        .get_work_item(&third)
        .await
        .expect("get")
        .expect("item");
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert_eq!(item.attempt, 1);
    assert!(harness
        .store
        .list_runs(&third)
        .await
        .expect("runs")
        .is_empty());
    assert_eq!(harness.queue.dead_letter_count().await.unwrap_or(0), 0);
}

/// A run that fails because its account is used up spends no attempt: with one attempt
/// allowed, the item is neither failed nor dead-lettered; it goes again on the other account,
/// and once that one is used up too, it waits for the first reset.
async fn a_run_refused_for_quota_tries_the_next_account_without_spending_an_attempt(
    backend: Backend,
) {
    let harness = Harness::start_with(
        backend,
        "{\"do\":\"write_env\",\"path\":\"env.json\"}\n\
         {\"do\":\"complete\",\"status\":\"failed\",\"error\":\"429 Too Many Requests: rate_limit_error\"}\n",
        "max_turns: 1, max_continuations: 0, max_attempts: 1",
    )
    .await;
    let key = harness.request(1).await;
    let deadline = Instant::now() + WAIT;
    let runs = loop {
        let runs = harness.store.list_runs(&key).await.expect("runs");
        let ended = runs.iter().filter(|r| r.ended_at.is_some()).count();
        if ended >= 2 {
            break runs;
        }
        assert!(Instant::now() < deadline, "two runs never ended: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(runs.len(), 2, "one run per account, then a wait: {runs:#?}");
    assert!(runs.iter().all(|r| r.attempt == 1), "{runs:#?}");
    // Each run had its own account, and its timeline names it.
    let mut seen = Vec::new();
    for run in &runs {
        let events = harness
            .store
            .list_events(&run.run_id, 0, 10_000)
            .await
            .expect("events");
        let claimed = events
            .iter()
            .find(|e| e.kind == "claimed")
            .expect("claimed");
        seen.push(
            claimed.data["account"]
                .as_str()
                .expect("account")
                .to_owned(),
        );
    }
    seen.sort();
    assert_eq!(
        seen,
        ["team-a", "team-b"],
        "the retry took the other account"
    );

    let item = harness
        .wait_for(&key, |item| {
            !matches!(item.status, WorkItemStatus::Running) && item.lease.is_none()
        })
        .await;
    assert!(
        matches!(
            item.status,
            WorkItemStatus::Retrying | WorkItemStatus::Queued
        ),
        "waiting for an account, not failed: {item:#?}"
    );
    assert_eq!(item.attempt, 1, "{item:#?}");
    assert_eq!(harness.queue.dead_letter_count().await.unwrap_or(0), 0);
    let pool = harness
        .store
        .get_account_pool("codex")
        .await
        .expect("pool")
        .expect("pool");
    assert!(
        pool.accounts.values().all(|a| a.exhausted_until.is_some()),
        "{pool:?}"
    );
}

async fn the_accounts_of_a_crashed_runner_free_themselves_when_their_lease_runs_out(
    backend: Backend,
) {
    let harness = Harness::start(
        backend,
        "{\"do\":\"write_env\",\"path\":\"env.json\"}\n{\"do\":\"complete\"}\n",
    )
    .await;
    // A runner leased both accounts, then died: nothing renews them.
    let expires_at = Utc::now() + chrono::Duration::seconds(2);
    let crashed = |run: &str| baton_core::ports::AccountState {
        lease: Some(baton_core::ports::AccountLease {
            run_id: run.to_owned(),
            expires_at,
        }),
        ..Default::default()
    };
    let pool = baton_core::ports::AccountPool {
        provider: "codex".into(),
        accounts: [
            ("team-a".to_owned(), crashed("dead-1")),
            ("team-b".to_owned(), crashed("dead-2")),
        ]
        .into(),
        waiting: Default::default(),
        version: 1,
    };
    harness
        .store
        .put_account_pool(&pool, None)
        .await
        .expect("pool");
    let key = harness.request(1).await;
    let item = harness
        .wait_for(&key, |i| i.status == WorkItemStatus::Succeeded)
        .await;
    assert_eq!(item.attempt, 1, "waiting for the lease spent no attempt");
    let runs = harness.store.list_runs(&key).await.expect("runs");
    assert!(
        runs[0].claimed_at >= expires_at,
        "the run started only once the crashed runner's lease ran out"
    );
    assert_eq!(credentials_in(&harness.agent_env(&key).await).len(), 1);
}
