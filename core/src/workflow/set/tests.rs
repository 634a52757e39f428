use super::*;
use crate::domain::{WorkItemKey, WorkItemStatus};
use std::path::PathBuf;

fn workflow(name: &str, front_matter: &str) -> NamedWorkflow {
    let mut workflow =
        Workflow::parse(&format!("---\n{front_matter}\n---\nprompt")).expect("valid workflow");
    workflow.path = Some(PathBuf::from(format!("/workflows/{name}")));
    NamedWorkflow {
        name: name.to_owned(),
        workflow: Arc::new(workflow),
        version: None,
        secrets: BTreeMap::new(),
    }
}

fn with_secret(mut named: NamedWorkflow, source: SourceKind, value: &str) -> NamedWorkflow {
    named
        .secrets
        .insert(source, Secret::new(value).expect("non-empty"));
    named
}

fn github(repository: &str) -> IssueSnapshot {
    IssueSnapshot {
        identifier: format!("{repository}#1"),
        repository: Some(repository.to_owned()),
        ..IssueSnapshot::default()
    }
}

fn keyed(identifier: &str) -> IssueSnapshot {
    IssueSnapshot {
        identifier: identifier.to_owned(),
        ..IssueSnapshot::default()
    }
}

fn selected(set: &WorkflowSet, source: SourceKind, issue: &IssueSnapshot) -> Option<String> {
    set.select_served(source, issue)
        .map(|served| served.name().to_owned())
}

#[test]
fn a_single_workflow_serves_every_source_as_before() {
    let set =
        WorkflowSet::new(vec![workflow("WORKFLOW.md", "tracker: {kind: github}")]).expect("set");
    for (source, issue) in [
        (SourceKind::Github, github("acme/app")),
        (SourceKind::Gitlab, github("group/project")),
        (SourceKind::Linear, keyed("ENG-1")),
        (SourceKind::Jira, keyed("PROJ-1")),
    ] {
        assert_eq!(
            selected(&set, source, &issue).as_deref(),
            Some("WORKFLOW.md"),
            "{source}"
        );
    }
    let single = WorkflowSet::single(Arc::new(Workflow::development()), BTreeMap::new());
    assert_eq!(
        selected(&single, SourceKind::Github, &github("x/y")).as_deref(),
        Some("development")
    );
}

#[test]
fn a_scope_match_beats_a_kind_only_workflow() {
    let set = WorkflowSet::new(vec![
        workflow("any.md", "tracker: {kind: github}"),
        workflow(
            "app.md",
            "tracker: {kind: github, provider: {repository: acme/app}}",
        ),
    ])
    .expect("set");
    assert_eq!(
        selected(&set, SourceKind::Github, &github("acme/app")).as_deref(),
        Some("app.md")
    );
    assert_eq!(
        selected(&set, SourceKind::Github, &github("ACME/App")).as_deref(),
        Some("app.md"),
        "repository names are case-insensitive"
    );
    assert_eq!(
        selected(&set, SourceKind::Github, &github("acme/web")).as_deref(),
        Some("any.md")
    );
}

#[test]
fn nothing_serves_a_repository_outside_every_scope() {
    let set = WorkflowSet::new(vec![
        workflow(
            "app.md",
            "tracker: {kind: github, provider: {repository: acme/app}}",
        ),
        workflow(
            "web.md",
            "tracker: {kind: github, provider: {repository: acme/web}}",
        ),
    ])
    .expect("set");
    assert_eq!(
        selected(&set, SourceKind::Github, &github("acme/web")).as_deref(),
        Some("web.md")
    );
    assert_eq!(
        selected(&set, SourceKind::Github, &github("acme/api")),
        None
    );
    // No workflow is unscoped, so none falls back to serving other sources.
    assert_eq!(selected(&set, SourceKind::Linear, &keyed("ENG-1")), None);
}

#[test]
fn jira_projects_and_linear_teams_match_the_identifier_key() {
    let set = WorkflowSet::new(vec![
        workflow(
            "jira.md",
            "tracker: {kind: jira, provider: {project: PROJ}}",
        ),
        workflow("eng.md", "tracker: {kind: linear, provider: {team: eng}}"),
        workflow("ops.md", "tracker: {kind: linear, provider: {team: OPS}}"),
    ])
    .expect("set");
    assert_eq!(
        selected(&set, SourceKind::Jira, &keyed("PROJ-7")).as_deref(),
        Some("jira.md")
    );
    assert_eq!(selected(&set, SourceKind::Jira, &keyed("OTHER-7")), None);
    assert_eq!(
        selected(&set, SourceKind::Linear, &keyed("ENG-42")).as_deref(),
        Some("eng.md")
    );
    assert_eq!(
        selected(&set, SourceKind::Linear, &keyed("ops-3")).as_deref(),
        Some("ops.md")
    );
    assert_eq!(
        selected(&set, SourceKind::Linear, &keyed("ENGX-42")),
        None,
        "a prefix is the whole key"
    );
}

#[test]
fn the_lone_unscoped_workflow_serves_sources_no_workflow_names() {
    let set = WorkflowSet::new(vec![
        workflow(
            "app.md",
            "tracker: {kind: github, provider: {repository: acme/app}}",
        ),
        workflow("linear.md", "tracker: {kind: linear}"),
    ])
    .expect("set");
    assert_eq!(
        selected(&set, SourceKind::Jira, &keyed("PROJ-1")).as_deref(),
        Some("linear.md")
    );
    // GitHub is named by app.md, so the Linear workflow does not take other repositories.
    assert_eq!(
        selected(&set, SourceKind::Github, &github("acme/web")),
        None
    );

    let ambiguous = WorkflowSet::new(vec![
        workflow("github.md", "tracker: {kind: github}"),
        workflow("gitlab.md", "tracker: {kind: gitlab}"),
    ])
    .expect("set");
    assert_eq!(
        selected(&ambiguous, SourceKind::Jira, &keyed("PROJ-1")),
        None
    );
}

#[test]
fn two_workflows_claiming_one_scope_are_refused_naming_both_files() {
    let error = WorkflowSet::new(vec![
        workflow(
            "a.md",
            "tracker: {kind: github, provider: {repository: acme/app}}",
        ),
        workflow(
            "b.md",
            "tracker: {kind: github, provider: {repository: Acme/App}}",
        ),
    ])
    .expect_err("conflict");
    assert_eq!(error.code(), "workflow_conflict");
    let message = error.to_string();
    assert!(
        message.contains("/workflows/a.md") && message.contains("/workflows/b.md"),
        "{message}"
    );
    assert!(message.contains("github repository"), "{message}");

    let error = WorkflowSet::new(vec![
        workflow("a.md", "tracker: {kind: linear}"),
        workflow("b.md", "tracker: {kind: linear}"),
    ])
    .expect_err("two unscoped workflows of one kind");
    assert!(error.to_string().contains("every linear team"), "{error}");
}

#[test]
fn candidate_secrets_are_distinct_and_each_workflow_knows_its_own() {
    let set = WorkflowSet::new(vec![
        with_secret(
            workflow(
                "app.md",
                "tracker: {kind: github, provider: {repository: acme/app}}",
            ),
            SourceKind::Github,
            "app-secret",
        ),
        with_secret(
            workflow(
                "web.md",
                "tracker: {kind: github, provider: {repository: acme/web}}",
            ),
            SourceKind::Github,
            "web-secret",
        ),
        with_secret(
            workflow(
                "api.md",
                "tracker: {kind: github, provider: {repository: acme/api}}",
            ),
            SourceKind::Github,
            "app-secret",
        ),
        workflow("jira.md", "tracker: {kind: jira}"),
    ])
    .expect("set");
    let secrets: Vec<&str> = set
        .candidate_secrets(SourceKind::Github)
        .iter()
        .map(Secret::expose)
        .collect();
    assert_eq!(secrets, ["app-secret", "web-secret"]);
    let slot = |name: &str| {
        set.get(name)
            .and_then(|s| s.secret_slot(SourceKind::Github))
    };
    assert_eq!(
        (
            slot("app.md"),
            slot("web.md"),
            slot("api.md"),
            slot("jira.md")
        ),
        (Some(0), Some(1), Some(0), None)
    );
    assert!(set.candidate_secrets(SourceKind::Jira).is_empty());
    assert_eq!(
        set.configured_sources().collect::<Vec<_>>(),
        [SourceKind::Github]
    );
}

#[test]
fn a_work_item_follows_the_workflow_of_its_snapshot() {
    let set = WorkflowSet::new(vec![
        workflow(
            "app.md",
            "tracker: {kind: github, provider: {repository: acme/app}}",
        ),
        workflow(
            "web.md",
            "tracker: {kind: github, provider: {repository: acme/web}}",
        ),
    ])
    .expect("set");
    let now = chrono::Utc::now();
    let item = WorkItem {
        key: WorkItemKey::new(SourceKind::Github, "acme/web#3"),
        source: SourceKind::Github,
        issue: github("acme/web"),
        status: WorkItemStatus::Queued,
        attempt: 1,
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        created_at: now,
        updated_at: now,
        requested_at: None,
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
    let chosen = set.select_for_item(&item).expect("served");
    assert_eq!(
        chosen.path.as_deref(),
        Some(std::path::Path::new("/workflows/web.md"))
    );
}

#[test]
fn scopes_that_could_never_match_fail_the_file() {
    for (front_matter, expected) in [
        (
            "tracker: {kind: github, provider: {repository: acme}}",
            "owner/repo",
        ),
        (
            "tracker: {kind: github, provider: {repository: [a/b]}}",
            "a string",
        ),
        (
            "tracker: {kind: gitlab, provider: {project: api}}",
            "group/project",
        ),
        ("tracker: {kind: linear, provider: {team: 'E NG'}}", "a key"),
        ("tracker: {kind: jira, provider: {project: a/b}}", "a key"),
    ] {
        let error =
            Workflow::parse(&format!("---\n{front_matter}\n---\n")).expect_err(front_matter);
        assert_eq!(error.code(), "workflow_parse_error", "{front_matter}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    let error = Workflow::parse("---\ntracker: {kind: github, provider: 3}\n---\n")
        .expect_err("provider must be a map");
    assert_eq!(error.code(), "workflow_parse_error");
}

#[test]
fn tracker_keys_baton_does_not_read_are_kept() {
    let workflow = Workflow::parse(
        "---\ntracker:\n  kind: linear\n  project_slug: abc\n  provider:\n    team: ENG\n    api_base_url: https://api.linear.app\n---\n",
    )
    .expect("valid");
    let tracker = &workflow.config.tracker;
    assert_eq!(tracker.project_slug.as_deref(), Some("abc"));
    assert_eq!(tracker.provider_str("team"), Some("ENG"));
    assert_eq!(
        tracker.provider_str("api_base_url"),
        Some("https://api.linear.app")
    );
    assert_eq!(WorkflowScope::of(tracker).to_string(), "linear team ENG");
}
