//! Each workflow profile's contract, enforced by the runner on a real mock agent session:
//! what a run must deliver, and what the living status comment on the issue then shows.
//! The tracker is the in-memory one, so its comments can be read back.

use baton_core::clock::SystemClock;
use baton_core::domain::{
    IssueSnapshot, Job, JobId, JobReason, RunStatus, SourceKind, WorkItem, WorkItemKey,
    WorkItemStatus, JOB_SCHEMA_VERSION,
};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{Queue, Store};
use baton_core::workflow::Workflow;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{RunPlan, Runner, RunnerSettings};
use chrono::Utc;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const MOCK: &str = env!("CARGO_BIN_EXE_baton-mock-agent");

/// How a profile's run ended, and the status comment it left.
struct Outcome {
    status: RunStatus,
    error_code: Option<String>,
    comment: String,
}

/// Runs one session of `profile` with the mock playing `steps`, on a `Todo` issue whose
/// profile routes map `Todo` to the dispatching route and `Review` to `review_route`.
async fn run_profile(profile: &str, review_route: &str, steps: &[serde_json::Value]) -> Outcome {
    let dispatch_route = match profile {
        "requirement_analysis" => "analyzing",
        "requirement_refinement" => "refining",
        "review_routing" => "routing",
        _ => "classifying",
    };
    let routes = format!("{dispatch_route}: [Todo], {review_route}: [Review]");
    run_profile_with(profile, &routes, steps).await
}

/// As [`run_profile`], with the profile's `routes` map written out (`Todo` is the issue's
/// state, `Review` where a delivered run must leave it).
async fn run_profile_with(profile: &str, routes: &str, steps: &[serde_json::Value]) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("scenario.jsonl");
    let mut lines: Vec<String> = steps.iter().map(|s| s.to_string()).collect();
    lines.push(json!({"do": "usage", "input": 50, "output": 10}).to_string());
    lines.push(json!({"do": "complete", "status": "completed"}).to_string());
    std::fs::write(&scenario, lines.join("\n")).expect("scenario");
    let text = format!(
        "---\ntracker: {{kind: memory, active_states: [Todo], terminal_states: [Done]}}\n\
         agent_provider: {{kind: mock, options: {{scenario: \"{}\"}}}}\n\
         agent: {{max_turns: 1, max_continuations: 0, max_attempts: 1}}\n\
         workspace: {{root: \"{}\"}}\n\
         workflow: {{profile: {{kind: {profile}, routes: {{{routes}}}}}}}\n\
         ---\nWork on {{{{ issue.identifier }}}}. Contract: {{{{ workflow.profile.contract }}}}",
        scenario.display(),
        dir.path().join("workspaces").display(),
    );
    let workflow = Workflow::parse(&text).expect("workflow");
    let plan = RunPlan::from_workflow(&workflow, Some(&MockAgentCommand(vec![MOCK.into()])))
        .expect("plan");
    let store = Arc::new(MemoryStore::new());
    let queue = Arc::new(MemoryQueue::new());
    let runner = Runner::new(
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        RunnerSettings {
            runner_id: "profiles".into(),
            poll_wait: Duration::from_millis(200),
            ..RunnerSettings::default()
        },
        plan,
        Redactor::default(),
    );
    let key = request(&*store, &*queue).await;
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(Arc::clone(&runner).run(shutdown.clone()));

    let deadline = Instant::now() + Duration::from_secs(30);
    let item = loop {
        let item = store.get_work_item(&key).await.expect("get").expect("item");
        if !item.status.is_active() {
            break item;
        }
        assert!(Instant::now() < deadline, "the run never ended: {item:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    shutdown.cancel();
    let _ = task.await;
    let run = store
        .get_run(item.last_run.as_ref().expect("a run"))
        .await
        .expect("get run")
        .expect("run");
    let plan = runner.plan_for(&item).expect("the item's plan");
    let tracker = plan.delivery.memory_tracker().expect("memory tracker");
    let comments = tracker.comments("issue-1");
    assert_eq!(
        comments.len(),
        1,
        "one living status comment: {comments:#?}"
    );
    let moved = tracker.issue("issue-1").expect("issue").state;
    let outcome = Outcome {
        status: run.status,
        error_code: run.error.map(|e| e.code),
        comment: comments[0].body.clone(),
    };
    if outcome.status == RunStatus::Succeeded {
        assert_eq!(
            moved, "Review",
            "a delivered run moves the issue to its review route"
        );
        assert_eq!(item.status, WorkItemStatus::Succeeded);
    } else {
        assert_eq!(
            moved, "Todo",
            "a run that did not deliver leaves the issue where it was"
        );
    }
    outcome
}

async fn request(store: &dyn Store, queue: &dyn Queue) -> WorkItemKey {
    let key = WorkItemKey::new(SourceKind::Github, "acme/app#1");
    let now = Utc::now();
    let job = Job {
        v: JOB_SCHEMA_VERSION,
        job_id: JobId::generate(),
        work_item: key.clone(),
        reason: JobReason::StateChanged,
        attempt: 1,
        queued_at: now,
        delivery_id: None,
        continuation: 0,
    };
    let item = WorkItem {
        key: key.clone(),
        source: SourceKind::Github,
        issue: IssueSnapshot {
            id: "issue-1".into(),
            identifier: "acme/app#1".into(),
            title: "Sign-in with SSO".into(),
            body: "Users want SSO.".into(),
            state: "Todo".into(),
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
        agent_session: None,
        workflow: None,
        version: 1,
    };
    store.put_work_item(&item, None).await.expect("put item");
    queue.send(&job).await.expect("send job");
    key
}

fn message(text: &str) -> serde_json::Value {
    json!({"do": "message", "text": text})
}

fn result_file(value: serde_json::Value) -> serde_json::Value {
    json!({"do": "write_file", "path": ".baton/result.json", "content": value.to_string()})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirement_analysis_posts_the_analysis() {
    let analysis = "Scope: the sign-in page and the session API. Risk: existing sessions.";
    let done = run_profile("requirement_analysis", "review", &[message(analysis)]).await;
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(done.comment.contains(analysis), "{}", done.comment);

    let short = run_profile("requirement_analysis", "review", &[message("ok")]).await;
    assert_eq!(short.status, RunStatus::Failed);
    assert_eq!(short.error_code.as_deref(), Some("deliverable_missing"));
    assert!(short.comment.contains("too short"), "{}", short.comment);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirement_refinement_needs_acceptance_criteria() {
    let refined = "## Acceptance criteria\n- [ ] SSO users land on their dashboard\n- [ ] a failed SSO login says why";
    let done = run_profile("requirement_refinement", "review", &[message(refined)]).await;
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(
        done.comment.contains("- [ ] a failed SSO login says why"),
        "{}",
        done.comment
    );

    let vague = run_profile(
        "requirement_refinement",
        "review",
        &[message("Make SSO work well.")],
    )
    .await;
    assert_eq!(vague.error_code.as_deref(), Some("deliverable_missing"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_routing_needs_reviewers() {
    let done = run_profile(
        "review_routing",
        "assigned",
        &[result_file(
            json!({"reviewers": ["alice"], "reason": "owns auth"}),
        )],
    )
    .await;
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(
        done.comment.contains("Suggested reviewers:** @alice"),
        "{}",
        done.comment
    );

    let none = run_profile("review_routing", "assigned", &[message("Alice, probably.")]).await;
    assert_eq!(none.error_code.as_deref(), Some("deliverable_missing"));
    assert!(
        none.comment.contains(".baton/result.json"),
        "{}",
        none.comment
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_needs_labels_and_a_priority() {
    let done = run_profile(
        "triage",
        "routed",
        &[result_file(
            json!({"labels": ["Auth", "feature"], "priority": 2}),
        )],
    )
    .await;
    assert_eq!(done.status, RunStatus::Succeeded);
    assert!(
        done.comment
            .contains("labels `auth`, `feature`; priority 2"),
        "{}",
        done.comment
    );

    let out_of_range = run_profile(
        "triage",
        "routed",
        &[result_file(json!({"labels": ["auth"], "priority": 9}))],
    )
    .await;
    assert_eq!(
        out_of_range.error_code.as_deref(),
        Some("deliverable_missing")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transition_route_moves_the_issue_on_before_the_run_and_on_after_it() {
    // triage: `intake` transitions to `classifying` then dispatches; `routed` comes after.
    let done = run_profile_with(
        "triage",
        "intake: [Todo], classifying: [Doing], routed: [Review]",
        &[result_file(json!({"labels": ["auth"], "priority": 3}))],
    )
    .await;
    assert_eq!(done.status, RunStatus::Succeeded, "{}", done.comment);
    // `run_profile_with` checked it ended in `Review`: from `Doing`, where the start put it.
    assert!(done.comment.contains("`Review`"), "{}", done.comment);
}
