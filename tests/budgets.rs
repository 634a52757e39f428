//! Budgets that hold across runs and runners, end to end with the real ingress, runners and
//! mock agent on each backend: a spent per-item budget keeps the item's next run from
//! starting, a per-day budget shared by two runners stops the run that crosses it and every
//! run after, and a run over its per-run cost limit is stopped and says so on the issue.
//!
//! The mock's `happy_path` reports 1200 input and 300 output tokens (1500 in all).

#[macro_use]
mod common;

use baton_core::clock::SystemClock;
use baton_core::domain::{Run, RunStatus, WorkItem, WorkItemKey, WorkItemStatus};
use baton_core::ports::{BudgetScope, BudgetSpend, Store};
use baton_core::workflow::Workflow;
use baton_integrations::test_support::fakes::github::{GithubFake, NewIssue};
use baton_integrations::test_support::FakeApi;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{RunPlan, Runner};
use baton_runner::workspace::RepoConfig;
use chrono::Utc;
use common::control_plane::{
    events, github_delivery_workflow, runner_settings, spawn_control_plane_with, wait_for_item,
    wait_for_runs, workflow_text, ControlPlane, GithubDelivery, Scratch,
};
use common::remote::bare_remote;
use common::signing::{self, github_issue};
use common::{Backend, GITHUB_SECRET};
use serde_json::json;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

on_both_backends!(
    a_spent_item_budget_keeps_the_items_next_run_from_starting,
    a_day_budget_shared_by_two_runners_stops_the_run_that_crosses_it_and_later_ones,
    a_run_over_its_cost_limit_is_stopped_and_the_issue_says_why
);

/// Labels issue `number` with `baton` through a signed webhook: a run request.
async fn label(plane: &ControlPlane, number: u64) -> WorkItemKey {
    let body = github_issue(
        "labeled",
        number,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let delivery = uuid::Uuid::new_v4().to_string();
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery, &body);
    let (status, answer) = plane.app.post("github", &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    WorkItemKey::parse(&format!("github:acme/app#{number}")).expect("key")
}

async fn ended(plane: &ControlPlane, key: &WorkItemKey, what: &str) -> WorkItem {
    let store = &*plane.app.store;
    wait_for_item(store, key, what, |item| {
        !item.status.is_active() && item.lease.is_none()
    })
    .await
}

fn error_of(run: &Run) -> (&str, &str) {
    run.error
        .as_ref()
        .map_or(("", ""), |e| (e.code.as_str(), e.message.as_str()))
}

/// The item's counter and its workflow's counter of today.
async fn spent(store: &dyn Store, key: &WorkItemKey) -> (BudgetSpend, BudgetSpend) {
    let item = store.get_work_item(key).await.expect("get").expect("item");
    let totals = store
        .read_budget(&BudgetScope::new(item.workflow.as_deref(), key, Utc::now()))
        .await
        .expect("read budget");
    (totals.item, totals.day)
}

fn tokens(tokens: u64) -> BudgetSpend {
    BudgetSpend {
        tokens,
        cost_micro_usd: 0,
    }
}

/// The `budget_exceeded` entry of a run's timeline.
async fn budget_event(store: &dyn Store, run: &Run) -> serde_json::Value {
    let events = events(store, run).await;
    events
        .iter()
        .find(|e| e.kind == "budget_exceeded")
        .map(|e| e.data.clone())
        .unwrap_or_else(|| panic!("no budget_exceeded on the timeline: {events:#?}"))
}

async fn a_spent_item_budget_keeps_the_items_next_run_from_starting(backend: Backend) {
    let scratch = Scratch::new("baton-budgets-item");
    let text = workflow_text(
        &scratch.0.join("workspaces"),
        "happy_path",
        "budgets: {per_item: {tokens: 1500}}",
    );
    let plane = spawn_control_plane_with(backend, &text, scratch).await;
    let store = &*plane.app.store;

    // The first run spends exactly the budget: within it.
    let key = label(&plane, 1).await;
    let first = ended(&plane, &key, "the first run").await;
    assert_eq!(first.status, WorkItemStatus::Succeeded);
    assert_eq!(spent(store, &key).await.0, tokens(1500));

    // Asked again, the item has nothing left: the run ends before any session.
    label(&plane, 1).await;
    let second = wait_for_item(store, &key, "the refused run", |item| {
        item.status == WorkItemStatus::Failed
    })
    .await;
    let runs = wait_for_runs(store, &key, 2).await;
    assert_eq!(runs.len(), 2, "no retry can fix it");
    let refused = runs
        .iter()
        .find(|r| r.status == RunStatus::Failed)
        .expect("the refused run");
    let (code, message) = error_of(refused);
    assert_eq!(code, "budget_exceeded");
    assert!(
        message.contains("per-item budget is spent: 1500 tokens of 1500 tokens"),
        "{message}"
    );
    assert!(message.contains("did not start"), "{message}");
    assert_eq!(refused.session_id, None, "no agent was started");
    let event = budget_event(store, refused).await;
    assert_eq!(event["budget"], "per_item");
    assert_eq!(event["before_start"], true);
    assert_eq!(
        spent(store, &key).await.0,
        tokens(1500),
        "nothing more spent"
    );
    assert!(second
        .last_error
        .as_deref()
        .is_some_and(|e| e.starts_with("budget_exceeded")));
    plane.stop().await;
}

async fn a_day_budget_shared_by_two_runners_stops_the_run_that_crosses_it_and_later_ones(
    backend: Backend,
) {
    let scratch = Scratch::new("baton-budgets-day");
    let text = workflow_text(
        &scratch.0.join("workspaces"),
        "happy_path",
        "budgets: {per_day: {tokens: 2000}}",
    );
    let plane = spawn_control_plane_with(backend, &text, scratch).await;
    // A second runner on the same store and queue.
    let workflow = Workflow::parse(&text).expect("workflow");
    let mock = MockAgentCommand(vec![
        env!("CARGO_BIN_EXE_baton").to_owned(),
        "mock-agent".to_owned(),
    ]);
    let second_runner = Runner::new(
        Arc::clone(&plane.app.store),
        Arc::clone(&plane.app.queue),
        Arc::new(SystemClock),
        runner_settings("runner-two"),
        RunPlan::from_workflow(&workflow, Some(&mock)).expect("plan"),
        Redactor::default(),
    );
    let stop_second = CancellationToken::new();
    let second_task = tokio::spawn(second_runner.run(stop_second.clone()));
    let store = &*plane.app.store;

    // Two items at once: each spends 1500, and whichever charge makes the day 3000 stops
    // its session.
    let one = label(&plane, 1).await;
    let two = label(&plane, 2).await;
    let mut outcomes = Vec::new();
    for key in [&one, &two] {
        let item = ended(&plane, key, "the run").await;
        let runs = wait_for_runs(store, key, 1).await;
        assert_eq!(runs.len(), 1, "no retry");
        outcomes.push((item.status, runs[0].clone()));
    }
    let (succeeded, stopped): (Vec<_>, Vec<_>) = outcomes
        .iter()
        .partition(|(status, _)| *status == WorkItemStatus::Succeeded);
    assert_eq!(succeeded.len(), 1, "{outcomes:#?}");
    assert_eq!(stopped.len(), 1, "{outcomes:#?}");
    let (status, crossed) = &stopped[0];
    assert_eq!(*status, WorkItemStatus::Failed);
    let (code, message) = error_of(crossed);
    assert_eq!(code, "budget_exceeded");
    assert!(
        message.contains(
            "per-day (UTC) budget is exceeded: 3000 tokens spent, the limit is 2000 tokens"
        ),
        "{message}"
    );
    assert_eq!(budget_event(store, crossed).await["budget"], "per_day");
    // Both runs were charged in full, by whichever runner ran them: no charge was lost.
    assert_eq!(spent(store, &one).await.1, tokens(3000));

    // The day is spent: a third item does not start, on either runner.
    let three = label(&plane, 3).await;
    let item = ended(&plane, &three, "the refused run").await;
    assert_eq!(item.status, WorkItemStatus::Failed);
    let runs = wait_for_runs(store, &three, 1).await;
    let (code, message) = error_of(&runs[0]);
    assert_eq!(code, "budget_exceeded");
    assert!(
        message.contains("per-day (UTC) budget is spent"),
        "{message}"
    );
    assert_eq!(runs[0].session_id, None);
    assert_eq!(spent(store, &three).await, (tokens(0), tokens(3000)));

    stop_second.cancel();
    let _ = second_task.await;
    plane.stop().await;
}

const TRACKER_TOKEN: &str = "budget-tracker-token";
const REPO_TOKEN: &str = "budget-repo-token";

async fn a_run_over_its_cost_limit_is_stopped_and_the_issue_says_why(backend: Backend) {
    let scratch = Scratch::new("baton-budgets-cost");
    let remote = bare_remote(&scratch.0);
    // One GitHub: the tracker and the repo platform, each with its own token, see the same
    // issues, pull requests, comments and labels.
    let github = GithubFake::new("acme/app")
        .require_token(TRACKER_TOKEN)
        .require_token(REPO_TOKEN);
    let mut issue = NewIssue::new("Issue 1");
    issue.labels = vec!["baton".into()];
    github.add_issue(issue);
    github.push(&RepoConfig::default().work_branch("acme/app#1"));
    let api = FakeApi::spawn(github.router()).await;
    let env = format!("BUDGETS_TEST_{backend:?}").to_uppercase();
    std::env::set_var(format!("{env}_TRACKER"), TRACKER_TOKEN);
    std::env::set_var(format!("{env}_REPO"), REPO_TOKEN);
    // 1200 input tokens at $1/M and 300 output at $10/M: $0.0042, over $0.004.
    let text = github_delivery_workflow(&GithubDelivery {
        scratch: &scratch.0,
        remote: &remote,
        issues_url: &api.url(),
        repo_url: &api.url(),
        env_prefix: &env,
        scenario: "happy_path",
    })
    .replace(
        "agent: {max_turns: 1, max_continuations: 0}\n",
        "agent: {max_turns: 1, max_continuations: 0}\n\
         budgets:\n  per_run: {cost_usd: 0.004}\n  prices: {default: {input: 1, output: 10}}\n",
    );
    assert!(text.contains("budgets:"), "the budget is in the workflow");
    let plane = spawn_control_plane_with(backend, &text, scratch).await;
    let store = &*plane.app.store;

    let key = label(&plane, 1).await;
    let item = ended(&plane, &key, "the stopped run").await;
    assert_eq!(item.status, WorkItemStatus::Failed, "no retry can fix it");
    let runs = wait_for_runs(store, &key, 1).await;
    assert_eq!(runs.len(), 1);
    let (code, message) = error_of(&runs[0]);
    assert_eq!(code, "budget_exceeded");
    assert!(
        message.contains("per-run budget is exceeded: $0.0042 spent, the limit is $0.0040"),
        "{message}"
    );
    let event = budget_event(store, &runs[0]).await;
    assert_eq!(
        (event["budget"].as_str(), event["unit"].as_str()),
        (Some("per_run"), Some("cost_usd"))
    );
    assert_eq!(event["spent"], 4200);
    // Nothing was delivered, and the issue's status comment names the budget.
    assert!(
        github.pulls().is_empty(),
        "no pull request for a stopped run"
    );
    let comments = github.comments(1);
    let status = comments
        .iter()
        .find(|c| c.body.contains("budget_exceeded"))
        .unwrap_or_else(|| panic!("no comment names the budget: {comments:#?}"));
    assert!(
        status.body.contains("per-run budget is exceeded")
            && status.body.contains("`budgets.per_run.cost_usd`"),
        "{}",
        status.body
    );
    let cost = spent(store, &key).await.0.cost_micro_usd;
    assert_eq!(cost, 4200, "the spend is counted to the micro-dollar");
    plane.stop().await;
}
