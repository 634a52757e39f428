use super::*;
use crate::domain::{Association, IssueSnapshot};

#[test]
fn development_workflow_parses() {
    let workflow = Workflow::development();
    assert_eq!(workflow.config.tracker.kind, "memory");
    assert_eq!(workflow.config.triggers.label.as_deref(), Some("baton"));
    assert!(workflow.prompt_template.contains("{{ issue.identifier }}"));
}

#[test]
fn a_symphony_file_parses_unchanged() {
    let text = "---\ntracker:\n  kind: linear\n  project_slug: abc\n  active_states: [Todo, In Progress]\npolling:\n  interval_ms: 30000\ncodex:\n  command: codex app-server\n---\n\nWork on {{ issue.identifier }}.\n";
    let workflow = Workflow::parse(text).expect("symphony workflow");
    assert_eq!(workflow.config.tracker.kind, "linear");
    assert_eq!(workflow.prompt_template, "Work on {{ issue.identifier }}.");
    assert_eq!(
        workflow.config.codex.command.as_deref(),
        Some("codex app-server")
    );
}

#[test]
fn no_front_matter_means_defaults_and_all_body() {
    let workflow = Workflow::parse("Just a prompt.").expect("parses");
    assert_eq!(workflow.prompt_template, "Just a prompt.");
    assert_eq!(workflow.config.tracker.kind, "memory");
}

#[test]
fn empty_body_falls_back_to_default_prompt() {
    let workflow = Workflow::parse("---\ntracker:\n  kind: github\n---\n  \n").expect("parses");
    assert_eq!(workflow.prompt_template, DEFAULT_PROMPT);
}

#[test]
fn front_matter_must_be_a_map() {
    let error = Workflow::parse("---\n- a\n- b\n---\nbody").expect_err("a list is refused");
    assert_eq!(error.code(), "workflow_front_matter_not_a_map");
}

#[test]
fn invalid_yaml_is_a_parse_error() {
    let error = Workflow::parse("---\ntracker: [unclosed\n---\nbody").expect_err("bad yaml");
    assert_eq!(error.code(), "workflow_parse_error");
}

#[test]
fn tracker_kind_is_required_when_tracker_is_given() {
    let error =
        Workflow::parse("---\ntracker:\n  active_states: [Todo]\n---\n").expect_err("no kind");
    assert!(error.to_string().contains("tracker.kind"), "{error}");
}

#[test]
fn missing_file_names_the_error_class() {
    let error = Workflow::load(Path::new("/nonexistent/WORKFLOW.md")).expect_err("missing");
    assert_eq!(error.code(), "missing_workflow_file");
}

#[test]
fn webhook_secrets_come_from_named_variables_and_empty_counts_as_missing() {
    let workflow = Workflow::parse(
        "---\ntracker:\n  kind: github\nwebhooks:\n  github:\n    secret: $MY_GH_SECRET\n---\n",
    )
    .expect("parses");
    let secrets = workflow.webhook_secrets(|name| match name {
        "MY_GH_SECRET" => Some("gh".into()),
        "LINEAR_WEBHOOK_SECRET" => Some(String::new()),
        "JIRA_WEBHOOK_SECRET" => Some("jira".into()),
        _ => None,
    });
    assert_eq!(
        secrets.get(&SourceKind::Github).map(Secret::expose),
        Some("gh")
    );
    assert!(
        !secrets.contains_key(&SourceKind::Linear),
        "empty secret is missing"
    );
    assert_eq!(
        secrets.get(&SourceKind::Jira).map(Secret::expose),
        Some("jira")
    );
    assert!(!secrets.contains_key(&SourceKind::Gitlab));
}

#[test]
fn literal_secrets_in_the_file_are_refused() {
    let error = Workflow::parse(
        "---\ntracker:\n  kind: github\nwebhooks:\n  github:\n    secret: hunter2\n---\n",
    )
    .expect_err("literal secret");
    assert!(
        error.to_string().contains("environment variable"),
        "{error}"
    );
}

#[test]
fn a_malformed_webhooks_section_never_echoes_its_values() {
    for front_matter in [
        "webhooks:\n  github: s3cr3t-value",
        "webhooks:\n  github:\n    secret: [s3cr3t-value]",
        "webhooks: s3cr3t-value",
    ] {
        let text = format!("---\ntracker:\n  kind: github\n{front_matter}\n---\n");
        let error = Workflow::parse(&text).expect_err("malformed webhooks");
        assert_eq!(error.code(), "workflow_parse_error");
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }
}

#[test]
fn unknown_association_is_refused() {
    let error = Workflow::parse(
        "---\ntracker:\n  kind: github\ntriggers:\n  allowed_associations: [admins]\n---\n",
    )
    .expect_err("unknown association");
    assert!(error.to_string().contains("admins"), "{error}");
}

fn issue(state: &str, labels: &[&str]) -> IssueSnapshot {
    IssueSnapshot {
        state: state.into(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        ..IssueSnapshot::default()
    }
}

#[test]
fn eligibility_uses_the_tracker_states_for_its_own_source_only() {
    let workflow = Workflow::parse(
        "---\ntracker:\n  kind: linear\n  required_labels: [Backend]\n  active_states: [Ready]\n---\n",
    )
    .expect("parses");
    let rules = StateRules::new(&workflow.config);
    assert!(rules.is_eligible(SourceKind::Linear, &issue("ready", &["baton", "backend"])));
    assert!(!rules.is_eligible(SourceKind::Linear, &issue("Todo", &["baton", "backend"])));
    assert!(
        !rules.is_eligible(SourceKind::Linear, &issue("Ready", &["baton"])),
        "required label"
    );
    assert!(
        !rules.is_eligible(SourceKind::Linear, &issue("Ready", &["backend"])),
        "trigger label"
    );
    // GitHub keeps its own open/closed states.
    assert!(rules.is_eligible(SourceKind::Github, &issue("open", &["baton", "backend"])));
    assert!(rules.is_terminal(SourceKind::Github, "closed"));
}

#[test]
fn tapd_and_memory_have_default_states_of_their_own() {
    let rules = StateRules::new(
        &Workflow::parse("---\ntracker: {kind: tapd}\n---\n")
            .expect("parses")
            .config,
    );
    for (state, eligible) in [
        ("planning", true),
        ("developing", true),
        ("resolved", false),
        ("rejected", false),
    ] {
        assert_eq!(
            rules.is_eligible(SourceKind::Tapd, &issue(state, &["baton"])),
            eligible,
            "{state}"
        );
    }
    assert!(
        !rules.is_eligible(SourceKind::Tapd, &issue("planning", &["bug"])),
        "trigger label"
    );
    assert!(rules.is_terminal(SourceKind::Tapd, "resolved"));
    assert_eq!(
        rules.active_states(SourceKind::Tapd),
        ["planning", "developing"]
    );

    let rules = StateRules::new(&Workflow::development().config);
    assert!(rules.is_eligible(SourceKind::Memory, &issue("Todo", &["baton"])));
    assert!(rules.is_eligible(SourceKind::Memory, &issue("In Progress", &["baton"])));
    assert!(rules.is_terminal(SourceKind::Memory, "Done"));
    assert!(!rules.is_eligible(SourceKind::Memory, &issue("open", &["baton"])));
    // The development workflow's GitHub deliveries keep GitHub's states.
    assert!(rules.is_eligible(SourceKind::Github, &issue("open", &["baton"])));
}

#[test]
fn only_webhook_sources_have_secrets() {
    let workflow = Workflow::parse("---\ntracker: {kind: tapd}\n---\n").expect("parses");
    let secrets = workflow.webhook_secrets(|_| Some("set".into()));
    let sources: Vec<SourceKind> = secrets.into_keys().collect();
    assert_eq!(
        sources,
        crate::sources::webhook_sources().collect::<Vec<_>>()
    );
    assert_eq!(
        workflow.config.webhooks.secret_variable(SourceKind::Tapd),
        ""
    );
}

#[test]
fn command_permissions_follow_association_or_allowlist() {
    let workflow = Workflow::parse(
        "---\ntracker:\n  kind: gitlab\ntriggers:\n  allowed_authors: [Alice]\n---\n",
    )
    .expect("parses");
    let rules = StateRules::new(&workflow.config);
    assert!(rules.may_command("bob", Association::Member));
    assert!(!rules.may_command("bob", Association::Contributor));
    assert!(!rules.may_command("bob", Association::Unknown));
    assert!(rules.may_command("alice", Association::Unknown));
}
