//! Every webhook source end to end over HTTP: a delivery in each sender's real shape is
//! verified, normalized, routed and queued; a bad signature is refused.

#[macro_use]
mod common;

use baton_core::ingress::IngressSettings;
use baton_core::workflow::Workflow;
use common::signing;
use common::{spawn_with, Backend, TestApp, GITLAB_TOKEN, JIRA_SECRET, LINEAR_SECRET};

on_both_backends!(
    linear_label_added_is_queued,
    jira_issue_created_with_the_label_is_queued,
    gitlab_issue_opened_with_the_label_is_queued,
    gitlab_commands_need_an_allowlisted_author,
);

const LINEAR_LABELS: &str =
    include_str!("../core/src/webhooks/fixtures/linear/issue_update_labels.json");
const JIRA_CREATED: &str = include_str!("../core/src/webhooks/fixtures/jira/issue_created.json");
const GITLAB_OPEN: &str = include_str!("../core/src/webhooks/fixtures/gitlab/issue_open.json");
const GITLAB_NOTE: &str = include_str!("../core/src/webhooks/fixtures/gitlab/note_issue.json");
/// The `webhookTimestamp` in the Linear fixtures.
const LINEAR_FIXTURE_TIMESTAMP: &str = "1714640000000";

/// The fixtures carry the label `Agent` and the command prefix `/agent`.
async fn spawn(backend: Backend, extra_triggers: &str) -> TestApp {
    let workflow = Workflow::parse(&format!(
        "---\ntracker:\n  kind: memory\ntriggers:\n  label: agent\n  command_prefix: /agent\n{extra_triggers}---\n"
    ))
    .expect("workflow");
    let (store, queue) = common::backends(backend).await;
    spawn_with(
        &workflow,
        common::all_secrets(),
        store,
        queue,
        IngressSettings::default(),
    )
    .await
}

fn delivery_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now_ms() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
        .to_string()
}

async fn linear_label_added_is_queued(backend: Backend) {
    let app = spawn(backend, "").await;
    let body = LINEAR_LABELS.replace(LINEAR_FIXTURE_TIMESTAMP, &now_ms());
    let headers = signing::linear(LINEAR_SECRET, "Issue", &delivery_id(), body.as_bytes());
    let (status, answer) = app.post("linear", &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "linear:ENG-42");
    assert_eq!(app.drain_jobs().await.len(), 1);

    // The same delivery an hour later than signed: a replay, refused.
    let stale = LINEAR_LABELS.to_owned();
    let headers = signing::linear(LINEAR_SECRET, "Issue", &delivery_id(), stale.as_bytes());
    let (status, answer) = app.post("linear", &headers, stale).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_signature");
}

async fn jira_issue_created_with_the_label_is_queued(backend: Backend) {
    let app = spawn(backend, "").await;
    let headers = signing::jira(JIRA_SECRET, &delivery_id(), JIRA_CREATED.as_bytes());
    let (status, answer) = app.post("jira", &headers, JIRA_CREATED).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "jira:PROJ-7");
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    let item = app
        .store
        .get_work_item(&jobs[0].work_item)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.issue.title, "Checkout button does nothing on Safari");
    assert!(
        item.issue.body.contains("does nothing"),
        "ADF flattened: {}",
        item.issue.body
    );

    let headers = signing::jira("wrong", &delivery_id(), JIRA_CREATED.as_bytes());
    assert_eq!(app.post("jira", &headers, JIRA_CREATED).await.0, 401);
}

async fn gitlab_issue_opened_with_the_label_is_queued(backend: Backend) {
    let app = spawn(backend, "").await;
    let delivery = delivery_id();
    let headers = signing::gitlab(GITLAB_TOKEN, "Issue Hook", &delivery);
    let (status, answer) = app.post("gitlab", &headers, GITLAB_OPEN).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "gitlab:acme/platform/api#23");
    let (status, answer) = app.post("gitlab", &headers, GITLAB_OPEN).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(app.drain_jobs().await.len(), 1);

    let wrong = signing::gitlab("not-the-token", "Issue Hook", &delivery_id());
    let (status, answer) = app.post("gitlab", &wrong, GITLAB_OPEN).await;
    assert_eq!(status, 401, "{answer}");
}

async fn gitlab_commands_need_an_allowlisted_author(backend: Backend) {
    // The fixture's commenter is a project bot; make it a person.
    let note = GITLAB_NOTE.replace("project_5_bot_3f9a1c", "jdoe");
    // GitLab reports no association, so by default nobody may command...
    let app = spawn(backend, "").await;
    let headers = signing::gitlab(GITLAB_TOKEN, "Note Hook", &delivery_id());
    let (status, answer) = app.post("gitlab", &headers, note.clone()).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    assert!(app.drain_jobs().await.is_empty());

    // ...unless the workflow names them.
    let app = spawn(backend, "  allowed_authors: [JDoe]\n").await;
    let headers = signing::gitlab(GITLAB_TOKEN, "Note Hook", &delivery_id());
    let (status, answer) = app.post("gitlab", &headers, note.clone()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(app.drain_jobs().await.len(), 1);
}
