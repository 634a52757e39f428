//! Symphony compatibility: a file shaped like Symphony's own `WORKFLOW.md` loads unchanged,
//! renders and plans; and `codex.command` runs through `bash -lc` as in Symphony, with the
//! caller's PATH still first after the login profile reset it.

use baton_core::domain::IssueSnapshot;
use baton_core::workflow::Workflow;
use baton_runner::agent::setup::AgentSetup;
use baton_runner::agent::{
    AgentEvent, ApprovalPolicy, NoTools, SessionConfig, Timeouts, TurnStatus,
};
use baton_runner::prompt::{PromptInput, PromptTemplate};
use baton_runner::worker::RunPlan;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const MOCK: &str = env!("CARGO_BIN_EXE_baton-mock-agent");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/symphony_workflow.md")
}

/// A directory of its own under the system temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("baton-symphony-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    fn dir(&self, name: &str) -> PathBuf {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn issue(description: &str) -> IssueSnapshot {
    IssueSnapshot {
        id: "lin_1".into(),
        identifier: "ROC-42".into(),
        title: "Launch window is off by one".into(),
        body: description.into(),
        state: "In Progress".into(),
        labels: vec!["bug".into(), "backend".into()],
        url: Some("https://linear.app/acme/issue/ROC-42".into()),
        ..IssueSnapshot::default()
    }
}

#[test]
fn symphonys_workflow_file_loads_unchanged_renders_and_plans() {
    let workflow = Workflow::load(&fixture()).expect("Symphony's shape loads");
    let config = &workflow.config;
    assert_eq!(config.tracker.kind, "linear");
    assert_eq!(
        config.tracker.provider_str("project_slug"),
        Some("acme-rocket-5f1e2d3c4b5a")
    );
    assert_eq!(config.polling.interval_ms, Some(5000));
    assert_eq!(config.agent.max_turns, 20);
    assert!(config
        .hooks
        .after_create
        .as_deref()
        .is_some_and(|s| s.lines().count() > 1));
    assert_eq!(
        config.codex.thread_sandbox.as_deref(),
        Some("workspace-write")
    );

    let prompt = PromptTemplate::from_workflow(&workflow).expect("template parses");
    let first = prompt
        .render(&PromptInput::new(&issue("Off by one in `window()`."), None))
        .expect("first attempt renders");
    assert!(first.contains("Linear ticket `ROC-42`"), "{first}");
    assert!(first.contains("Off by one in `window()`."), "{first}");
    assert!(!first.contains("This is attempt"), "{first}");
    assert!(!first.contains("no description"), "{first}");
    let retry = prompt
        .render(&PromptInput::new(&issue(""), Some(2)))
        .expect("a retry renders");
    assert!(
        retry.contains("This is attempt 2 on this ticket."),
        "{retry}"
    );
    assert!(retry.contains("The ticket has no description."), "{retry}");
    assert!(
        retry.contains("bug") && retry.contains("backend"),
        "labels: {retry}"
    );

    // The Linear adapter wants its key from the environment; the plan makes no request.
    if std::env::var_os("LINEAR_API_KEY").is_none() {
        std::env::set_var("LINEAR_API_KEY", "lin_api_test_only");
    }
    let plan = match RunPlan::from_workflow(&workflow, None) {
        Ok(plan) => plan,
        Err(error) => panic!("the plan builds: {error}"),
    };
    assert_eq!(plan.agent.kind, "codex");
    assert_eq!(plan.agent.command_argv[..2], ["bash", "-lc"]);
    assert!(
        plan.agent.command_argv[2].ends_with(
            "codex --config shell_environment_policy.inherit=all --config \
             'model_reasoning_effort=\"high\"' --model gpt-5-codex app-server"
        ),
        "{:?}",
        plan.agent.command_argv
    );
    assert_eq!(plan.agent.options["sandbox_policy"]["networkAccess"], true);
    assert_eq!(plan.agent.options["approval_policy"], "never");
    assert_eq!(plan.limits.max_concurrent_agents, 10);
}

/// A login profile that throws the caller's PATH away, as Debian's `/etc/profile` does.
const RESETTING_PROFILE: &str = "PATH=/usr/bin:/bin\nexport PATH\n";

#[tokio::test]
async fn codex_command_finds_codex_on_the_callers_path_after_the_login_profile() {
    let scratch = Scratch::new("login-path");
    let bin = scratch.dir("bin");
    let shim = bin.join("codex");
    // Symphony's `codex app-server`, played by the mock agent.
    std::fs::write(
        &shim,
        format!("#!/bin/sh\nexec '{MOCK}' --scenario happy_path\n"),
    )
    .expect("shim");
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = scratch.dir("home");
    for profile in [".bash_profile", ".profile"] {
        std::fs::write(home.join(profile), RESETTING_PROFILE).expect("profile");
    }
    let workspace = scratch.dir("ws");

    let workflow = Workflow::parse(
        "---\ntracker: {kind: linear}\ncodex: {command: codex app-server}\n---\nFix it.",
    )
    .expect("workflow");
    let setup = AgentSetup::from_workflow(&workflow, None).expect("agent setup");
    let caller_path = format!("{}:/usr/bin:/bin", bin.display());
    let home_text = home.display().to_string();
    let env = setup.environment(|name| match name {
        "PATH" => Some(caller_path.clone()),
        "HOME" => Some(home_text.clone()),
        _ => None,
    });
    let config = SessionConfig {
        workspace: workspace.clone(),
        command_argv: setup.command_argv.clone(),
        env,
        timeouts: Timeouts {
            read: Duration::from_secs(20),
            turn: Duration::from_secs(30),
            stall: Some(Duration::from_secs(10)),
        },
        approval_policy: ApprovalPolicy::AcceptAll,
        options: setup.options.clone(),
        tools: Arc::new(NoTools),
    };
    let (events, mut received) = mpsc::channel(10_000);
    let mut session = match setup.provider.start(config, events).await {
        Ok(session) => session,
        Err(error) => panic!("`codex app-server` starts through bash -lc: {error}"),
    };
    let outcome = session
        .run_turn("Fix it.", &CancellationToken::new())
        .await
        .expect("turn runs");
    session.stop().await;
    assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
    assert_eq!(
        outcome.last_message.as_deref(),
        Some("Done: the bug is fixed.")
    );
    let mut exited = None;
    while let Ok(event) = received.try_recv() {
        if let AgentEvent::ProcessExited { code, .. } = event {
            exited = Some(code);
        }
    }
    assert_ne!(exited, Some(Some(127)), "the shell did not find `codex`");
}
