use crate::workflow::{Workflow, WorkflowError, WorkflowSource};
use std::path::{Path, PathBuf};

fn parse(front_matter: &str) -> Result<Workflow, WorkflowError> {
    Workflow::parse(&format!("---\n{front_matter}\n---\nprompt"))
}

fn refused(front_matter: &str) -> String {
    let error = parse(front_matter).expect_err(front_matter);
    assert_eq!(error.code(), "workflow_parse_error", "{error}");
    error.to_string()
}

#[test]
fn an_unknown_key_is_refused_with_its_dotted_path_and_the_closest_known_key() {
    for (front_matter, expected) in [
        (
            "trackr: {kind: github}",
            "unknown key `trackr`; did you mean `tracker`?",
        ),
        (
            "tracker: {kind: github}\nagent: {max_turn: 3}",
            "unknown key `agent.max_turn`; did you mean `agent.max_turns`?",
        ),
        (
            "tracker: {kind: github}\nrepo: {remote: {uri: x}}",
            "unknown key `repo.remote.uri`; did you mean `repo.remote.url`?",
        ),
        (
            "tracker: {kind: github}\nhooks: {after_creat: make}",
            "unknown key `hooks.after_creat`; did you mean `hooks.after_create`?",
        ),
        (
            "tracker: {kind: github}\nworkflow: {profile: {knd: triage}}",
            "unknown key `workflow.profile.knd`; did you mean `workflow.profile.kind`?",
        ),
        (
            "tracker: {kind: github, required_label: [a]}",
            "unknown key `tracker.required_label`; did you mean `tracker.required_labels`?",
        ),
    ] {
        let error = refused(front_matter);
        assert!(error.contains(expected), "{front_matter}: {error}");
    }
    // Far from every known key: the known keys are listed instead of a guess.
    let error = refused("tracker: {kind: github}\npolling: {colour: blue}");
    assert!(
        error.contains("unknown key `polling.colour` (known keys: interval_ms)"),
        "{error}"
    );
}

#[test]
fn a_mistyped_value_names_its_key() {
    let error = refused("tracker: {kind: github}\nagent: {max_turns: many}");
    assert!(error.contains("`agent.max_turns`: invalid type"), "{error}");
    let error = refused("tracker: {kind: github}\nserver: {port: http}");
    assert!(error.contains("`server.port`"), "{error}");
    let error = refused("tracker: {kind: github}\nworkflow: {profile: {routes: {planning: 3}}}");
    assert!(
        error.contains("`workflow.profile.routes.planning`"),
        "{error}"
    );
}

#[test]
fn adapter_owned_maps_stay_free_form() {
    let workflow = parse(
        "tracker: {kind: github, provider: {repository: acme/app, anything: [1, 2]}}\n\
         agent_provider: {kind: claude_code, options: {model: sonnet, permission_mode: plan}}\n\
         codex: {turn_sandbox_policy: {type: workspaceWrite, writableRoots: [/tmp]}}\n\
         repo: {provider: {kind: github, repository: acme/app, whatever: true}}\n\
         observability: {dashboard: {enabled: true}}\n\
         server: {port: 4000}",
    )
    .expect("free-form maps take any key");
    let config = &workflow.config;
    assert_eq!(config.tracker.provider_str("repository"), Some("acme/app"));
    assert_eq!(config.agent_provider.kind(), "claude_code");
    assert_eq!(
        config.agent_provider.options.provider["permission_mode"],
        "plan"
    );
    assert_eq!(config.repo.provider_kind(), Some("github"));
    assert_eq!(config.server.port, Some(4000));
    assert!(config.observability.contains_key("dashboard"));
}

#[test]
fn a_repo_provider_needs_its_kind() {
    let error = refused("tracker: {kind: github}\nrepo: {provider: {repository: acme/app}}");
    assert!(
        error.contains("`repo.provider.kind` is required"),
        "{error}"
    );
}

#[test]
fn an_empty_section_counts_as_absent() {
    let workflow =
        parse("tracker: {kind: github}\nagent:\nhooks:\ncodex:").expect("empty sections");
    assert_eq!(workflow.config.agent.max_turns, 20);
}

#[test]
fn unknown_keys_under_webhooks_are_refused_without_echoing_them() {
    for front_matter in [
        "webhooks: {ghp_s3cr3t: x}",
        "webhooks: {github: {secret: $X, s3cr3t: 1}}",
        "webhooks: {github: {s3cr3t}}",
    ] {
        let error = refused(&format!("tracker: {{kind: github}}\n{front_matter}"));
        assert!(!error.contains("s3cr3t"), "{error}");
        assert!(error.contains("`webhooks"), "{error}");
    }
    let error = refused("tracker: {kind: github}\nwebhooks: {githb: {secret: $X}}");
    assert!(error.contains("unknown key"), "{error}");
}

/// A file that does not exist yet, in a directory of its own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-schema-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("WORKFLOW.md")
}

#[test]
fn an_error_in_a_file_names_the_file_and_the_key() {
    let path = scratch("in-file");
    std::fs::write(
        &path,
        "---\ntracker: {kind: github}\nagent: {max_turn: 3}\n---\nhi\n",
    )
    .expect("write");
    let error = Workflow::load(&path).expect_err("unknown key");
    assert_eq!(error.code(), "workflow_parse_error");
    let text = error.to_string();
    assert!(text.starts_with(&format!("{}: ", path.display())), "{text}");
    assert!(text.contains("unknown key `agent.max_turn`"), "{text}");
    let error = WorkflowSource::open(&path, crate::workflow::env_lookup()).expect_err("same");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap_or(Path::new("/nonexistent")));
}

/// Every workflow file in the repository (docs, infra, fixtures) still loads.
#[test]
fn every_workflow_file_in_the_repository_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    collect_workflows(&root, &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("infra/layer/workflows/WORKFLOW.md")),
        "{files:?}"
    );
    let mut failed = Vec::new();
    for file in files {
        if let Err(error) = Workflow::load(&file) {
            failed.push(error.to_string());
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

fn collect_workflows(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            collect_workflows(&path, files);
        } else if name.ends_with(".md")
            && std::fs::read_to_string(&path).is_ok_and(|text| text.starts_with("---\n"))
        {
            files.push(path);
        }
    }
}
