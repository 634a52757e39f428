//! One deployment, many repositories: a directory of two workflows for two repositories on
//! two trackers (GitHub, GitLab), each with its own mock scenario, profile, remote and repo
//! platform. Every job runs with the workflow that accepted it: each issue is cloned from,
//! pushed to and opened as a pull request on its own repository, with its own agent and its
//! own tracker comment, on both backends.

#[macro_use]
mod common;
use baton_integrations::test_support::fakes::{github, gitlab};

use baton_core::domain::{WorkItemKey, WorkItemStatus};
use baton_core::workflow::{SecretLookup, WorkflowSource};
use baton_integrations::test_support::FakeApi;
use baton_runner::workspace::RepoConfig;
use common::control_plane::{spawn_control_plane_for, wait_for_item, wait_for_runs, Scratch};
use common::remote::{bare_remote_named, git};
use common::signing::{self, github_issue};
use common::{Backend, GITHUB_SECRET, GITLAB_TOKEN};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

on_both_backends!(each_repository_runs_and_delivers_with_its_own_workflow);

const GITHUB_TOKEN: &str = "github-token-of-the-app-workflow";
const GITLAB_API_TOKEN: &str = "gitlab-token-of-the-svc-workflow";

fn webhook_secrets() -> SecretLookup {
    Arc::new(|name: &str| match name {
        "GITHUB_WEBHOOK_SECRET" => Some(GITHUB_SECRET.to_owned()),
        "GITLAB_WEBHOOK_TOKEN" => Some(GITLAB_TOKEN.to_owned()),
        _ => None,
    })
}

/// The GitHub repository's workflow: the `iterate` scenario, reviewed under `In Review`.
fn app_workflow(scratch: &Path, remote: &Path, issues: &str, repo: &str, env: &str) -> String {
    format!(
        r#"---
tracker:
  kind: github
  provider:
    repository: acme/app
    base_url: "{issues}"
    token: ${env}_GH
    state_labels: {{"In Review": "status:in-review"}}
triggers: {{label: baton}}
agent_provider: {{kind: mock, options: {{scenario: iterate}}}}
agent: {{max_turns: 1, max_continuations: 0}}
workspace: {{root: "{root}"}}
repo:
  path: "{remote}"
  provider: {{kind: github, repository: acme/app, base_url: "{repo}", token: ${env}_GH}}
workflow:
  profile:
    kind: coding_pr_delivery
    routes: {{developing: [open], review: [In Review]}}
---
App issue {{{{ issue.identifier }}}}
"#,
        root = scratch.join("app-workspaces").display(),
        remote = remote.display(),
    )
}

/// The GitLab project's workflow: the `happy_path` scenario, reviewed under `Review`.
fn svc_workflow(scratch: &Path, remote: &Path, issues: &str, repo: &str, env: &str) -> String {
    format!(
        r#"---
tracker:
  kind: gitlab
  provider:
    project: group/svc
    base_url: "{issues}/api/v4"
    token: ${env}_GL
    state_labels: {{"Review": "workflow::review"}}
triggers: {{label: agent}}
agent_provider: {{kind: mock, options: {{scenario: happy_path}}}}
agent: {{max_turns: 1, max_continuations: 0}}
workspace: {{root: "{root}"}}
repo:
  path: "{remote}"
  provider: {{kind: gitlab, project: group/svc, base_url: "{repo}/api/v4", token: ${env}_GL}}
workflow:
  profile:
    kind: coding_pr_delivery
    routes: {{developing: [opened], review: [Review]}}
---
Service issue {{{{ issue.identifier }}}}
"#,
        root = scratch.join("svc-workspaces").display(),
        remote = remote.display(),
    )
}

/// GitLab's `Issue Hook` for `group/svc#1`, opened with the label `Agent`.
fn gitlab_issue_opened() -> Vec<u8> {
    let mut payload: Value = serde_json::from_str(include_str!(
        "../core/src/webhooks/fixtures/gitlab/issue_open.json"
    ))
    .expect("fixture");
    payload["project"]["path_with_namespace"] = json!("group/svc");
    payload["project"]["web_url"] = json!("https://gitlab.example.com/group/svc");
    payload["object_attributes"]["iid"] = json!(1);
    payload["object_attributes"]["url"] = json!("https://gitlab.example.com/group/svc/-/issues/1");
    serde_json::to_vec(&payload).expect("json")
}

async fn each_repository_runs_and_delivers_with_its_own_workflow(backend: Backend) {
    let scratch = Scratch::new("baton-many");
    let app_remote = bare_remote_named(&scratch.0, "app");
    let svc_remote = bare_remote_named(&scratch.0, "svc");

    // One fake per platform: its tracker and its repo side see the same issues and
    // pull (merge) requests.
    let github = github::GithubFake::new("acme/app").require_token(GITHUB_TOKEN);
    let mut app_issue = github::NewIssue::new("App issue");
    app_issue.labels = vec!["baton".into()];
    assert_eq!(github.add_issue(app_issue), 1);
    let app_branch = RepoConfig::default().work_branch("acme/app#1");
    github.push(&app_branch);
    let github_api = FakeApi::spawn(github.router()).await;

    let gitlab = gitlab::GitlabFake::new("group/svc").require_token(GITLAB_API_TOKEN);
    let mut svc_issue = gitlab::NewIssue::new("Service issue");
    svc_issue.labels = vec!["Agent".into()];
    assert_eq!(gitlab.add_issue(svc_issue), 1);
    let svc_branch = RepoConfig::default().work_branch("group/svc#1");
    gitlab.push(&svc_branch);
    let gitlab_api = FakeApi::spawn(gitlab.router()).await;

    // Adapters read their tokens from the process environment, as deployed.
    let env = format!("MANY_REPOS_{backend:?}").to_uppercase();
    std::env::set_var(format!("{env}_GH"), GITHUB_TOKEN);
    std::env::set_var(format!("{env}_GL"), GITLAB_API_TOKEN);
    let dir = scratch.0.join("workflows");
    std::fs::create_dir_all(&dir).expect("workflows dir");
    let app = app_workflow(
        &scratch.0,
        &app_remote,
        &github_api.url(),
        &github_api.url(),
        &env,
    );
    let svc = svc_workflow(
        &scratch.0,
        &svc_remote,
        &gitlab_api.url(),
        &gitlab_api.url(),
        &env,
    );
    std::fs::write(dir.join("app.md"), app).expect("app.md");
    std::fs::write(dir.join("svc.md"), svc).expect("svc.md");
    let source = WorkflowSource::open(&dir, webhook_secrets()).expect("the workflows load");
    assert_eq!(source.set().len(), 2);
    let plane = spawn_control_plane_for(backend, source, scratch).await;
    let store = &*plane.app.store;

    let body = github_issue(
        "labeled",
        1,
        &["baton"],
        json!({ "label": { "name": "baton" }, "repository": { "full_name": "acme/app" } }),
    );
    let delivery = uuid::Uuid::new_v4().to_string();
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery, &body);
    let (status, answer) = plane.app.post("github", &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    let headers = signing::gitlab(
        GITLAB_TOKEN,
        "Issue Hook",
        &uuid::Uuid::new_v4().to_string(),
    );
    let (status, answer) = plane
        .app
        .post("gitlab", &headers, gitlab_issue_opened())
        .await;
    assert_eq!(status, 202, "{answer}");

    let app_key = WorkItemKey::parse("github:acme/app#1").expect("key");
    let svc_key = WorkItemKey::parse("gitlab:group/svc#1").expect("key");
    for (key, workflow) in [(&app_key, "app.md"), (&svc_key, "svc.md")] {
        let item = wait_for_item(store, key, "its run to succeed", |item| {
            item.status == WorkItemStatus::Succeeded
        })
        .await;
        assert_eq!(item.workflow.as_deref(), Some(workflow), "{key}");
        let runs = wait_for_runs(store, key, 1).await;
        let workspace = runs[0].workspace.clone().unwrap_or_default();
        let root = if workflow == "app.md" {
            "app-workspaces"
        } else {
            "svc-workspaces"
        };
        assert!(
            workspace.contains(root),
            "{key} ran in its own workflow's workspace root: {workspace}"
        );
    }

    // Each agent's change is on its own remote, and only there.
    let app_change = git(&app_remote, &["show", &format!("{app_branch}:CHANGES.md")]);
    assert_eq!(
        app_change, "- another iteration",
        "the iterate scenario ran for acme/app"
    );
    let svc_change = git(&svc_remote, &["show", &format!("{svc_branch}:src/lib.rs")]);
    assert_eq!(
        svc_change, "pub fn fixed() {}",
        "the happy_path scenario ran for group/svc"
    );
    let app_branches = git(&app_remote, &["branch", "--list"]);
    let svc_branches = git(&svc_remote, &["branch", "--list"]);
    assert!(!app_branches.contains(&svc_branch), "{app_branches}");
    assert!(!svc_branches.contains(&app_branch), "{svc_branches}");

    // Each pull request on its own platform.
    let pulls = github.pulls();
    assert_eq!(pulls.len(), 1, "one GitHub pull request: {pulls:#?}");
    assert_eq!(pulls[0].head, app_branch);
    assert!(
        pulls[0].body.contains(&app_key.marker()),
        "{}",
        pulls[0].body
    );
    let merge_requests = gitlab.merge_requests();
    assert_eq!(
        merge_requests.len(),
        1,
        "one GitLab merge request: {merge_requests:#?}"
    );
    assert_eq!(merge_requests[0].source_branch, svc_branch);
    assert!(
        merge_requests[0].description.contains(&svc_key.marker()),
        "{}",
        merge_requests[0].description
    );

    // Each tracker got its issue's evidence and its own profile's state move.
    let app_comments = github.comments(1);
    assert_eq!(app_comments.len(), 1, "{app_comments:#?}");
    let app_labels = github.issue(1).expect("issue").labels;
    assert!(
        app_labels.iter().any(|l| l == "status:in-review"),
        "{app_labels:?}"
    );
    let svc_notes = gitlab.notes(1);
    assert!(
        svc_notes
            .iter()
            .any(|note| note.body.contains("svc") || note.body.contains(&svc_branch)),
        "the evidence note is on the GitLab issue: {svc_notes:#?}"
    );
    let svc_labels = gitlab.issue(1).expect("issue").labels;
    assert!(
        svc_labels.iter().any(|l| l == "workflow::review"),
        "{svc_labels:?}"
    );
    plane.stop().await;
}

on_both_backends!(a_job_whose_workflow_is_gone_fails_naming_it_and_runs_under_no_other);

/// A webhook-only workflow with the mock agent for the GitHub repository `repository`.
fn plain_workflow(scratch: &Path, repository: &str) -> String {
    format!(
        "---\ntracker:\n  kind: github\n  provider: {{repository: {repository}, token: $MANY_REPOS_GONE_TOKEN}}\n\
         agent_provider: {{kind: mock, options: {{scenario: happy_path}}}}\n\
         agent: {{max_turns: 1, max_continuations: 0}}\n\
         workspace: {{root: \"{}\"}}\n---\nWork.\n",
        scratch.join("workspaces").display()
    )
}

async fn a_job_whose_workflow_is_gone_fails_naming_it_and_runs_under_no_other(backend: Backend) {
    let scratch = Scratch::new("baton-gone");
    std::env::set_var("MANY_REPOS_GONE_TOKEN", "token-of-a-tracker-never-called");
    let dir = scratch.0.join("workflows");
    std::fs::create_dir_all(&dir).expect("workflows dir");
    // `any.md` serves every GitHub repository: the gone workflow's item must not fall to it.
    std::fs::write(
        dir.join("any.md"),
        plain_workflow(&scratch.0, "acme/any").replace(
            "  provider: {repository: acme/any, token: $MANY_REPOS_GONE_TOKEN}\n",
            "",
        ),
    )
    .expect("any.md");
    std::fs::write(dir.join("svc.md"), plain_workflow(&scratch.0, "acme/svc")).expect("svc.md");
    let source = WorkflowSource::open(&dir, webhook_secrets()).expect("the workflows load");
    let plane = spawn_control_plane_for(backend, source, scratch).await;
    let store = &*plane.app.store;

    // An item svc.md accepted, whose job waits while svc.md is removed and the set reloads.
    std::fs::remove_file(dir.join("svc.md")).expect("remove svc.md");
    let workflows = plane.workflows.clone().expect("the shared set");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while workflows.current().get("svc.md").is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "the set never reloaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let key = WorkItemKey::parse("github:acme/svc#4").expect("key");
    let now = chrono::Utc::now();
    let job_id = baton_core::domain::JobId::generate();
    let item = baton_core::domain::WorkItem {
        key: key.clone(),
        source: baton_core::domain::SourceKind::Github,
        issue: baton_core::domain::IssueSnapshot {
            identifier: "acme/svc#4".into(),
            repository: Some("acme/svc".into()),
            state: "open".into(),
            labels: vec!["baton".into()],
            ..Default::default()
        },
        status: WorkItemStatus::Queued,
        attempt: 1,
        cancel_requested: false,
        pending_job: Some(job_id.clone()),
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
        workflow: Some("svc.md".into()),
        version: 1,
    };
    store
        .put_work_item(&item, None)
        .await
        .expect("put the item");
    let job = baton_core::domain::Job {
        v: baton_core::domain::JOB_SCHEMA_VERSION,
        job_id,
        work_item: key.clone(),
        reason: baton_core::domain::JobReason::Labeled,
        attempt: 1,
        queued_at: now,
        delivery_id: None,
        continuation: 0,
    };
    plane.app.queue.send(&job).await.expect("send the job");

    let failed = wait_for_item(store, &key, "the item to fail", |item| {
        item.status == WorkItemStatus::Failed
    })
    .await;
    let error = failed.last_error.unwrap_or_default();
    assert!(error.starts_with("workflow_missing: "), "{error}");
    assert!(
        error.contains("svc.md"),
        "the error names the file: {error}"
    );
    let runs = store.list_runs(&key).await.expect("runs");
    assert!(
        runs.is_empty(),
        "nothing ran under another workflow: {runs:#?}"
    );
    assert_eq!(failed.pending_job, None);
    plane.stop().await;
}
