use super::*;
use crate::domain::{IssueSnapshot, SourceKind};
use crate::workflow::WorkflowWatch;
use std::time::Duration;

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("baton-workflows-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write workflow");
        path
    }

    fn remove(&self, name: &str) {
        std::fs::remove_file(self.0.join(name)).expect("remove workflow");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn github_workflow(repository: Option<&str>, label: &str) -> String {
    let provider = repository
        .map(|repository| format!("\n  provider:\n    repository: {repository}"))
        .unwrap_or_default();
    format!("---\ntracker:\n  kind: github{provider}\ntriggers:\n  label: {label}\n---\nWork.\n")
}

const INVALID: &str = "---\ntracker: [unclosed\n---\n";

fn no_secrets() -> SecretLookup {
    Arc::new(|_| None)
}

fn issue(repository: &str) -> IssueSnapshot {
    IssueSnapshot {
        identifier: format!("{repository}#1"),
        repository: Some(repository.to_owned()),
        ..IssueSnapshot::default()
    }
}

/// The trigger label of the workflow serving `repository`.
fn label_for(source: &WorkflowSource, repository: &str) -> Option<String> {
    source
        .set()
        .select_served(SourceKind::Github, &issue(repository))
        .and_then(|served| served.rules().trigger_label.clone())
}

fn status<'a>(statuses: &'a [WorkflowStatus], name: &str) -> &'a WorkflowStatus {
    statuses
        .iter()
        .find(|status| status.name == name)
        .expect("status listed")
}

#[test]
fn a_changed_file_is_picked_up_and_an_unchanged_one_is_left_alone() {
    let scratch = Scratch::new();
    let path = scratch.write("WORKFLOW.md", &github_workflow(None, "alpha"));
    let mut source = WorkflowSource::open(&path, no_secrets()).expect("opens");
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("alpha"));
    let first_version = source.statuses()[0].version.clone();

    assert!(!source.refresh(), "nothing changed");
    scratch.write("WORKFLOW.md", &github_workflow(None, "beta"));
    assert!(source.refresh(), "the rewrite is picked up");

    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("beta"));
    let status = &source.statuses()[0];
    assert_ne!(status.version, first_version);
    assert_eq!(status.last_error, None);
    assert!(status.active);
}

#[test]
fn an_invalid_rewrite_keeps_the_last_good_version_until_fixed() {
    let scratch = Scratch::new();
    let path = scratch.write("WORKFLOW.md", &github_workflow(None, "alpha"));
    let mut source = WorkflowSource::open(&path, no_secrets()).expect("opens");
    let good_version = source.statuses()[0].version.clone();

    scratch.write("WORKFLOW.md", INVALID);
    assert!(!source.refresh(), "the set stays");
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("alpha"));
    let status = source.statuses()[0].clone();
    assert_eq!(status.error_code.as_deref(), Some("workflow_parse_error"));
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("workflow_parse_error:")),
        "{status:?}"
    );
    assert_eq!(status.version, good_version, "the served version is shown");
    assert!(status.active);
    assert!(
        !source.refresh(),
        "an unchanged invalid file is not re-read as news"
    );

    scratch.write("WORKFLOW.md", &github_workflow(None, "gamma"));
    assert!(source.refresh(), "the fixed file is picked up");
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("gamma"));
    assert_eq!(source.statuses()[0].last_error, None);
}

#[test]
fn undoing_an_invalid_edit_clears_the_error_without_a_reload() {
    let scratch = Scratch::new();
    let text = github_workflow(None, "alpha");
    let path = scratch.write("WORKFLOW.md", &text);
    let mut source = WorkflowSource::open(&path, no_secrets()).expect("opens");
    let before = source.set();

    scratch.write("WORKFLOW.md", INVALID);
    source.refresh();
    scratch.write("WORKFLOW.md", &text);
    assert!(!source.refresh());
    assert!(Arc::ptr_eq(&before, &source.set()));
    assert_eq!(source.statuses()[0].last_error, None);
}

#[test]
fn a_directory_serves_one_workflow_per_repository() {
    let scratch = Scratch::new();
    scratch.write("app.md", &github_workflow(Some("acme/app"), "app-run"));
    scratch.write("web.md", &github_workflow(Some("acme/web"), "web-run"));
    scratch.write(".app.md.swp.md", INVALID); // hidden: an editor's, not a workflow
    scratch.write("notes.txt", INVALID);
    let mut source = WorkflowSource::open(&scratch.0, no_secrets()).expect("opens");

    assert_eq!(source.set().len(), 2);
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("app-run"));
    assert_eq!(label_for(&source, "acme/web").as_deref(), Some("web-run"));
    assert_eq!(label_for(&source, "acme/api"), None);
    let statuses = source.statuses();
    assert_eq!(
        status(&statuses, "web.md").serves.as_deref(),
        Some("github repository acme/web")
    );

    // A new file is picked up; an invalid new file is listed with its error.
    scratch.write("api.md", &github_workflow(Some("acme/api"), "api-run"));
    scratch.write("broken.md", INVALID);
    assert!(source.refresh());
    assert_eq!(label_for(&source, "acme/api").as_deref(), Some("api-run"));
    let statuses = source.statuses();
    let broken = status(&statuses, "broken.md");
    assert!(!broken.active);
    assert_eq!(broken.error_code.as_deref(), Some("workflow_parse_error"));
}

#[test]
fn a_rewrite_that_conflicts_waits_until_the_conflict_is_gone() {
    let scratch = Scratch::new();
    scratch.write("app.md", &github_workflow(Some("acme/app"), "app-run"));
    scratch.write("web.md", &github_workflow(Some("acme/web"), "web-run"));
    let mut source = WorkflowSource::open(&scratch.0, no_secrets()).expect("opens");

    // web.md now claims acme/app too: refused, and its last good version stays.
    scratch.write("web.md", &github_workflow(Some("acme/app"), "web-run-2"));
    assert!(!source.refresh());
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("app-run"));
    assert_eq!(label_for(&source, "acme/web").as_deref(), Some("web-run"));
    let statuses = source.statuses();
    let web = status(&statuses, "web.md");
    assert_eq!(web.error_code.as_deref(), Some("workflow_conflict"));
    let message = web.last_error.as_deref().unwrap_or_default();
    assert!(
        message.contains("app.md") && message.contains("web.md"),
        "{message}"
    );

    // app.md moves away: web.md's waiting version fits now and is admitted.
    scratch.write("app.md", &github_workflow(Some("acme/other"), "app-run"));
    assert!(source.refresh());
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("web-run-2"));
    assert_eq!(label_for(&source, "acme/other").as_deref(), Some("app-run"));
    assert!(source.statuses().iter().all(|s| s.last_error.is_none()));
}

#[test]
fn a_deleted_file_leaves_the_set_unless_it_was_the_last_one() {
    let scratch = Scratch::new();
    scratch.write("app.md", &github_workflow(Some("acme/app"), "app-run"));
    scratch.write("web.md", &github_workflow(Some("acme/web"), "web-run"));
    let mut source = WorkflowSource::open(&scratch.0, no_secrets()).expect("opens");

    scratch.remove("web.md");
    assert!(source.refresh());
    assert_eq!(label_for(&source, "acme/web"), None);
    assert_eq!(source.statuses().len(), 1);

    scratch.remove("app.md");
    assert!(!source.refresh());
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("app-run"));
    let status = &source.statuses()[0];
    assert_eq!(status.error_code.as_deref(), Some("missing_workflow_file"));
    assert!(status.active);

    scratch.write("app.md", &github_workflow(Some("acme/app"), "again"));
    assert!(source.refresh());
    assert_eq!(label_for(&source, "acme/app").as_deref(), Some("again"));
}

#[test]
fn opening_refuses_what_cannot_be_served_and_names_the_file() {
    let scratch = Scratch::new();
    let error = WorkflowSource::open(&scratch.0, no_secrets()).expect_err("empty directory");
    assert_eq!(error.code(), "missing_workflow_file");

    scratch.write("good.md", &github_workflow(None, "baton"));
    scratch.write("bad.md", INVALID);
    let error = WorkflowSource::open(&scratch.0, no_secrets()).expect_err("invalid file");
    assert_eq!(error.code(), "workflow_parse_error");
    assert!(error.to_string().contains("bad.md"), "{error}");

    scratch.write("bad.md", &github_workflow(None, "other"));
    let error = WorkflowSource::open(&scratch.0, no_secrets()).expect_err("conflict");
    assert_eq!(error.code(), "workflow_conflict");

    let error =
        WorkflowSource::open(&scratch.0.join("nope.md"), no_secrets()).expect_err("missing file");
    assert_eq!(error.code(), "missing_workflow_file");
}

#[test]
fn secrets_are_resolved_per_workflow() {
    let scratch = Scratch::new();
    scratch.write(
        "app.md",
        "---\ntracker: {kind: github, provider: {repository: acme/app}}\nwebhooks: {github: {secret: $APP_SECRET}}\n---\n",
    );
    scratch.write(
        "web.md",
        "---\ntracker: {kind: github, provider: {repository: acme/web}}\nwebhooks: {github: {secret: $WEB_SECRET}}\n---\n",
    );
    let lookup: SecretLookup = Arc::new(|name| Some(format!("value-of-{name}")));
    let source = WorkflowSource::open(&scratch.0, lookup).expect("opens");
    let set = source.set();
    let secrets: Vec<&str> = set
        .candidate_secrets(SourceKind::Github)
        .iter()
        .map(crate::secret::Secret::expose)
        .collect();
    assert_eq!(secrets, ["value-of-APP_SECRET", "value-of-WEB_SECRET"]);
}

#[tokio::test]
async fn the_reloader_publishes_a_changed_set_and_stops_with_its_readers() {
    let scratch = Scratch::new();
    let path = scratch.write("WORKFLOW.md", &github_workflow(None, "alpha"));
    let source = WorkflowSource::open(&path, no_secrets()).expect("opens");
    let (watch, reloader) = WorkflowWatch::new(source);
    let task = reloader.spawn(Duration::from_millis(20));
    let mut changes = watch.subscribe();

    scratch.write("WORKFLOW.md", &github_workflow(None, "beta"));
    tokio::time::timeout(Duration::from_secs(10), changes.changed())
        .await
        .expect("a new set within 10 s")
        .expect("reloader alive");
    let label = watch
        .current()
        .select_served(SourceKind::Github, &issue("acme/app"))
        .and_then(|served| served.rules().trigger_label.clone());
    assert_eq!(label.as_deref(), Some("beta"));

    scratch.write("WORKFLOW.md", INVALID);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while watch.statuses()[0].last_error.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no error status");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    drop((watch, changes));
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the reloader stops once nobody reads")
        .expect("no panic");
}

#[test]
fn the_reload_interval_comes_from_the_environment() {
    use crate::workflow::{reload_interval, DEFAULT_RELOAD_INTERVAL};
    assert_eq!(reload_interval(|_| None), Ok(Some(DEFAULT_RELOAD_INTERVAL)));
    assert_eq!(
        reload_interval(|_| Some("250".into())),
        Ok(Some(Duration::from_millis(250)))
    );
    assert_eq!(reload_interval(|_| Some("0".into())), Ok(None));
    assert!(reload_interval(|_| Some("soon".into())).is_err());
}
