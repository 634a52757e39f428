//! From a labelled GitHub issue to a pull request, and back through review: a signed
//! `issues.labeled` webhook runs the agent, the work branch is pushed to a local git remote,
//! a pull request is opened on a local server speaking GitHub's REST API, the issue gets one
//! living evidence comment and moves to `In Review`; then a review requesting changes runs
//! the agent again on the same branch, updating the same pull request and comment.

#[macro_use]
mod common;

use baton_core::domain::{JobReason, RunStatus, WorkItemKey, WorkItemStatus};
use baton_integrations::test_support::fakes::github::{GithubFake, NewIssue};
use baton_integrations::test_support::FakeApi;
use baton_runner::workspace::RepoConfig;
use common::control_plane::{
    events, github_delivery_workflow, spawn_control_plane_with, wait_for_item, wait_for_runs,
    GithubDelivery, Scratch,
};
use common::remote::{bare_remote, git};
use common::signing::{self, github_issue};
use common::{Backend, GITHUB_SECRET};
use serde_json::{json, Value};

on_both_backends!(a_labelled_issue_becomes_a_pull_request_with_evidence_then_rework);

const TRACKER_TOKEN: &str = "tracker-token-never-logged";
const REPO_TOKEN: &str = "repo-token-never-logged";

/// A `pull_request_review` webhook for the pull request baton opened.
fn review_webhook(pr: &Value, branch: &str, state: &str) -> Vec<u8> {
    let mut payload: Value = serde_json::from_str(include_str!(
        "../core/src/webhooks/fixtures/github/pull_request_review_submitted.json"
    ))
    .expect("fixture");
    payload["action"] = json!("submitted");
    payload["review"]["state"] = json!(state);
    payload["review"]["author_association"] = json!("MEMBER");
    payload["pull_request"]["number"] = pr["number"].clone();
    payload["pull_request"]["body"] = pr["body"].clone();
    payload["pull_request"]["head"]["ref"] = json!(branch);
    payload["repository"]["full_name"] = json!("acme/app");
    serde_json::to_vec(&payload).expect("json")
}

async fn a_labelled_issue_becomes_a_pull_request_with_evidence_then_rework(backend: Backend) {
    let scratch = Scratch::new("baton-delivery");
    let remote = bare_remote(&scratch.0);

    // One GitHub: the tracker and the repo platform, each with its own token, see the same
    // issues, pull requests, comments and labels.
    let github = GithubFake::new("acme/app")
        .require_token(TRACKER_TOKEN)
        .require_token(REPO_TOKEN);
    let mut issue = NewIssue::new("Issue 1");
    issue.labels = vec!["baton".into()];
    assert_eq!(github.add_issue(issue), 1);
    let branch = RepoConfig::default().work_branch("acme/app#1");
    // The fake API does not look into the git remote: tell it the branch exists, as GitHub
    // would know once baton pushed it.
    github.push(&branch);
    let api = FakeApi::spawn(github.router()).await;

    let env = format!("DELIVERY_TEST_{backend:?}").to_uppercase();
    std::env::set_var(format!("{env}_TRACKER"), TRACKER_TOKEN);
    std::env::set_var(format!("{env}_REPO"), REPO_TOKEN);
    let text = github_delivery_workflow(&GithubDelivery {
        scratch: &scratch.0,
        remote: &remote,
        issues_url: &api.url(),
        repo_url: &api.url(),
        env_prefix: &env,
        scenario: "iterate",
    });
    let plane = spawn_control_plane_with(backend, &text, scratch).await;
    let store = &*plane.app.store;

    // 1. The label arrives; the run delivers.
    let body = github_issue(
        "labeled",
        1,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(
        GITHUB_SECRET,
        "issues",
        &uuid::Uuid::new_v4().to_string(),
        &body,
    );
    let (status, answer) = plane.app.post("github", &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    let key = WorkItemKey::parse("github:acme/app#1").expect("key");
    let item = wait_for_item(store, &key, "the first run to succeed", |i| {
        i.status == WorkItemStatus::Succeeded
    })
    .await;

    let pushed = git(&remote, &["rev-parse", &format!("refs/heads/{branch}")]);
    let changes = git(&remote, &["show", &format!("{branch}:CHANGES.md")]);
    assert_eq!(
        changes, "- another iteration",
        "the agent's change is on the pushed branch"
    );
    let runs = wait_for_runs(store, &key, 1).await;
    assert_eq!(
        runs[0].commit.as_deref(),
        Some(pushed.as_str()),
        "the run records the pushed commit"
    );

    let pulls = github.pulls();
    assert_eq!(pulls.len(), 1, "one pull request: {pulls:#?}");
    let pull = &pulls[0];
    assert_eq!(
        (pull.head.as_str(), pull.base.as_str()),
        (branch.as_str(), "main")
    );
    assert!(
        pull.body.contains(&key.marker()),
        "the body links the work item: {}",
        pull.body
    );
    let link = item
        .pull_request
        .as_ref()
        .expect("the item records its pull request");
    assert_eq!(
        (link.number, link.branch.as_str()),
        (pull.number, branch.as_str())
    );

    let comments = github.comments(1);
    assert_eq!(comments.len(), 1, "one living comment: {comments:#?}");
    let evidence = &comments[0].body;
    for expected in [
        "✅",
        &format!("`{branch}`"),
        &format!("[#{}]", pull.number),
        "passed (`cargo test`)",
        "1 files, +1 −0",
        "`In Review`",
        "1100 (in 900 / out 200)",
    ] {
        assert!(
            evidence.contains(expected),
            "evidence lacks {expected:?}:\n{evidence}"
        );
    }
    let labels = github.issue(1).expect("issue").labels;
    assert!(
        labels.iter().any(|l| l == "status:in-review"),
        "moved to In Review: {labels:?}"
    );
    for request in api.requests() {
        assert!(
            !request.uri.contains("token"),
            "a credential in a URL: {}",
            request.uri
        );
    }

    // 2. A reviewer asks for changes: a rework run on the same branch.
    github.add_review(
        pull.number,
        "CHANGES_REQUESTED",
        "Please also note it in the changelog.",
        &[("CHANGES.md", 1, "Say why.")],
    );
    let pr = json!({ "number": pull.number, "body": pull.body });
    let body = review_webhook(&pr, &branch, "changes_requested");
    let headers = signing::github(
        GITHUB_SECRET,
        "pull_request_review",
        &uuid::Uuid::new_v4().to_string(),
        &body,
    );
    let (status, answer) = plane.app.post("github", &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], key.as_str());
    let runs = wait_for_runs(store, &key, 2).await;
    let rework = runs
        .iter()
        .find(|r| r.reason == JobReason::ReviewChangesRequested)
        .expect("a rework run");
    wait_for_item(store, &key, "the rework run to end", |i| {
        i.status == WorkItemStatus::Succeeded && i.last_run.as_ref() == Some(&rework.run_id)
    })
    .await;
    let rework = store
        .get_run(&rework.run_id)
        .await
        .expect("get run")
        .expect("run");
    assert_eq!(rework.status, RunStatus::Succeeded, "{rework:#?}");
    let steps: Vec<String> = events(store, &rework)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        steps.contains(&"rework_feedback".to_owned()),
        "the review reached the prompt: {steps:?}"
    );

    let reworked = git(&remote, &["rev-parse", &format!("refs/heads/{branch}")]);
    assert_ne!(reworked, pushed, "the rework pushed a new commit");
    assert_eq!(
        git(&remote, &["rev-parse", &format!("{reworked}^")]),
        pushed,
        "the rework continued the same branch"
    );
    assert_eq!(github.pulls().len(), 1, "still one pull request");
    let comments = github.comments(1);
    assert_eq!(comments.len(), 1, "still one living comment: {comments:#?}");
    assert!(
        comments[0].body.contains("(attempt 1)")
            && comments[0].body.contains(&rework.run_id.to_string()),
        "the comment shows the rework run:\n{}",
        comments[0].body
    );
    plane.stop().await;
}
