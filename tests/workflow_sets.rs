//! One ingress serving several workflow files: each repository follows its own workflow's
//! rules and secret, and a rewritten file applies from the next webhook on.

mod common;

use baton_core::clock::SystemClock;
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::workflow::{SecretLookup, WorkflowSource, WorkflowWatch};
use baton_web::ingress::router;
use common::signing::{self, github_issue};
use common::{TestApp, GITHUB_SECRET};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A scratch directory of workflow files, removed on drop.
struct WorkflowDir(PathBuf);

impl WorkflowDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("baton-sets-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    /// A workflow for the GitHub repository `repository`, triggered by `label`, whose secret
    /// is in `$secret_variable`.
    fn write(&self, name: &str, repository: &str, label: &str, secret_variable: &str) {
        let text = format!(
            "---\ntracker:\n  kind: github\n  provider:\n    repository: {repository}\n\
             triggers:\n  label: {label}\nwebhooks:\n  github:\n    secret: ${secret_variable}\n---\nWork.\n"
        );
        std::fs::write(self.0.join(name), text).expect("write workflow");
    }
}

impl Drop for WorkflowDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn secrets(pairs: &'static [(&'static str, &'static str)]) -> SecretLookup {
    Arc::new(move |name| {
        pairs
            .iter()
            .find(|(variable, _)| *variable == name)
            .map(|(_, value)| (*value).to_owned())
    })
}

async fn serve(workflows: WorkflowWatch) -> TestApp {
    let (store, queue) = common::memory_backends();
    let ingress = Ingress::with_workflows(
        workflows,
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        IngressSettings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router(Arc::new(ingress)))
            .await
            .expect("server");
    });
    TestApp {
        base_url: format!("http://{address}"),
        store,
        queue,
        client: reqwest::Client::new(),
    }
}

fn open(dir: &Path, lookup: SecretLookup) -> WorkflowSource {
    WorkflowSource::open(dir, lookup).expect("the workflows load")
}

/// Posts `acme/<repo>#<number>` labelled `label`, signed with `secret`.
async fn post_labeled(
    app: &TestApp,
    repository: &str,
    number: u64,
    label: &str,
    secret: &str,
) -> (u16, serde_json::Value) {
    let body = github_issue(
        "labeled",
        number,
        &[label],
        json!({
            "label": { "name": label },
            "repository": { "full_name": repository },
        }),
    );
    let delivery = uuid::Uuid::new_v4().to_string();
    let headers = signing::github(secret, "issues", &delivery, &body);
    app.post("github", &headers, body).await
}

#[tokio::test]
async fn two_repositories_follow_the_trigger_labels_of_their_own_workflows() {
    let dir = WorkflowDir::new();
    dir.write("app.md", "acme/app", "app-run", "GITHUB_WEBHOOK_SECRET");
    dir.write("web.md", "acme/web", "web-run", "GITHUB_WEBHOOK_SECRET");
    let lookup = secrets(&[("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)]);
    let app = serve(WorkflowWatch::start(open(&dir.0, lookup), None)).await;

    let (status, answer) = post_labeled(&app, "acme/app", 1, "app-run", GITHUB_SECRET).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "github:acme/app#1");

    let (status, answer) = post_labeled(&app, "acme/web", 2, "app-run", GITHUB_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "ignored");
    assert_eq!(answer["reason"], "label `app-run` does not trigger runs");

    let (status, answer) = post_labeled(&app, "acme/web", 2, "web-run", GITHUB_SECRET).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "github:acme/web#2");

    let (status, answer) = post_labeled(&app, "acme/api", 3, "app-run", GITHUB_SECRET).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "status": "ignored", "reason": "no workflow serves github repository acme/api" })
    );

    let mut queued: Vec<String> = app
        .drain_jobs()
        .await
        .into_iter()
        .map(|job| job.work_item.to_string())
        .collect();
    queued.sort();
    assert_eq!(queued, ["github:acme/app#1", "github:acme/web#2"]);
}

#[tokio::test]
async fn one_repositorys_secret_cannot_sign_for_another_repository() {
    let dir = WorkflowDir::new();
    dir.write("app.md", "acme/app", "baton", "APP_SECRET");
    dir.write("web.md", "acme/web", "baton", "WEB_SECRET");
    let lookup = secrets(&[("APP_SECRET", "app-secret"), ("WEB_SECRET", "web-secret")]);
    let app = serve(WorkflowWatch::start(open(&dir.0, lookup), None)).await;

    let (status, answer) = post_labeled(&app, "acme/app", 1, "baton", "app-secret").await;
    assert_eq!(status, 202, "{answer}");
    let (status, answer) = post_labeled(&app, "acme/web", 2, "baton", "web-secret").await;
    assert_eq!(status, 202, "{answer}");

    // Signed correctly — but with acme/app's secret, for acme/web.
    let (status, answer) = post_labeled(&app, "acme/web", 3, "baton", "app-secret").await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_signature");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("web.md"), "{message}");

    let (status, answer) = post_labeled(&app, "acme/app", 4, "baton", "guessed").await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "signature does not match the body"
    );

    assert_eq!(app.drain_jobs().await.len(), 2);
}

#[tokio::test]
async fn a_rewritten_workflow_applies_from_the_next_webhook() {
    let dir = WorkflowDir::new();
    dir.write("app.md", "acme/app", "alpha", "GITHUB_WEBHOOK_SECRET");
    let lookup = secrets(&[("GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)]);
    let (workflows, mut reloader) = WorkflowWatch::new(open(&dir.0, lookup));
    let app = serve(workflows).await;

    let (status, answer) = post_labeled(&app, "acme/app", 1, "beta", GITHUB_SECRET).await;
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("ignored")),
        "{answer}"
    );

    dir.write("app.md", "acme/app", "beta", "GITHUB_WEBHOOK_SECRET");
    assert!(reloader.reload_now(), "the rewrite is picked up");
    let (status, answer) = post_labeled(&app, "acme/app", 1, "beta", GITHUB_SECRET).await;
    assert_eq!(status, 202, "{answer}");

    // An invalid rewrite keeps the rules of the last good version.
    std::fs::write(dir.0.join("app.md"), "---\ntriggers: [\n---\n").expect("write");
    assert!(!reloader.reload_now());
    let (status, answer) = post_labeled(&app, "acme/app", 2, "beta", GITHUB_SECRET).await;
    assert_eq!(status, 202, "{answer}");
}
