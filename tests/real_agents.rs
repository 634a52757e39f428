//! The real agent CLIs through a whole run, offline: a signed `issues.labeled` webhook, the
//! real `codex` or `claude` editing a file with its own tools (driven by the scripted model
//! server, dummy keys, no network), calling the host-side `tracker_comment` tool (Codex as a
//! dynamic tool, Claude Code over baton's MCP endpoint), then baton's
//! commit, push, pull request on the fake GitHub API, evidence comment with the exact token
//! figures of the script, and the issue moved to `In Review`.
//!
//! The CLIs come from `scripts/agents.sh` (run by `scripts/test`, which also sets
//! `BATON_REQUIRE_AGENT_CLIS=1` so that a missing one fails instead of skipping).

#[macro_use]
mod common;

use baton_core::domain::{WorkItemKey, WorkItemStatus};
use baton_integrations::test_support::agent_clis::{self, CODEX_KEY_ENV, DUMMY_KEY};
use baton_integrations::test_support::fakes::github::{GithubFake, NewIssue};
use baton_integrations::test_support::model::{Reply, ScriptedModel};
use baton_integrations::test_support::FakeApi;
use baton_runner::workspace::{workspace_key, RepoConfig};
use common::control_plane::{
    github_delivery_workflow_with_agent, spawn_control_plane_with, wait_for_item, GithubDelivery,
    Scratch,
};
use common::remote::{bare_remote, git};
use common::signing::{self, github_issue};
use common::{Backend, GITHUB_SECRET};
use serde_json::json;
use std::path::Path;

const TRACKER_TOKEN: &str = "tracker-token-real-agents";
const REPO_TOKEN: &str = "repo-token-real-agents";
const ISSUE: &str = "acme/app#1";

/// The agent's PATH: the installed CLIs first. One value for every test of this binary.
fn put_clis_on_path(program: &Path) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var("PATH", agent_clis::agent_path(program)));
}

/// Everything one agent's run needs: its `agent_provider`, its script, the variables that
/// point it at the scripted model (set in this process: the in-process runner passes the
/// agent only the names its provider lists), and the tool call its script makes, if any.
struct Agent {
    kind: &'static str,
    agent_provider: String,
    replies: Vec<Reply>,
    env: Vec<(String, String)>,
    /// The comment the agent posts through the host-side `tracker_comment` tool.
    tool_comment: Option<&'static str>,
}

async fn whole_run(agent: Agent, model: &FakeApi, scratch: Scratch) {
    let remote = bare_remote(&scratch.0);
    // One GitHub: the tracker and the repo platform, each with its own token, see the same
    // issues, pull requests, comments and labels.
    let github = GithubFake::new("acme/app")
        .require_token(TRACKER_TOKEN)
        .require_token(REPO_TOKEN);
    let mut issue = NewIssue::new("Say hello");
    issue.labels = vec!["baton".into()];
    assert_eq!(github.add_issue(issue), 1);
    let branch = RepoConfig::default().work_branch(ISSUE);
    github.push(&branch);
    let api = FakeApi::spawn(github.router()).await;

    for (name, value) in &agent.env {
        std::env::set_var(name, value);
    }
    let env_prefix = format!("REAL_AGENTS_{}", agent.kind.to_uppercase());
    std::env::set_var(format!("{env_prefix}_TRACKER"), TRACKER_TOKEN);
    std::env::set_var(format!("{env_prefix}_REPO"), REPO_TOKEN);
    let text = github_delivery_workflow_with_agent(
        &GithubDelivery {
            scratch: &scratch.0,
            remote: &remote,
            issues_url: &api.url(),
            repo_url: &api.url(),
            env_prefix: &env_prefix,
            scenario: "",
        },
        &agent.agent_provider,
    );
    let plane = spawn_control_plane_with(Backend::Memory, &text, scratch).await;
    let store = &*plane.app.store;

    let body = github_issue(
        "labeled",
        1,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let delivery = uuid::Uuid::new_v4().to_string();
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery, &body);
    let (status, answer) = plane.app.post("github", &headers, body).await;
    assert_eq!(status, 202, "{answer}");
    let key = WorkItemKey::parse(&format!("github:{ISSUE}")).expect("key");
    let item = wait_for_item(store, &key, "the run to end", |i| !i.status.is_active()).await;
    assert_eq!(
        item.status,
        WorkItemStatus::Succeeded,
        "{}: {item:#?}\nmodel requests: {:#?}",
        agent.kind,
        model.requests().iter().map(|r| &r.uri).collect::<Vec<_>>()
    );

    // The CLI's own edit is on the pushed branch.
    let hello = git(&remote, &["show", &format!("{branch}:hello.txt")]);
    assert_eq!(hello, format!("hello from {}", agent.kind));
    let pulls = github.pulls();
    assert_eq!(pulls.len(), 1, "one pull request: {pulls:#?}");
    assert_eq!(pulls[0].head, branch);

    // The evidence carries the script's exact token totals.
    let (input, output) = ScriptedModel::totals(&agent.replies);
    let tokens = format!("{} (in {input} / out {output})", input + output);
    let comments = github.comments(1);
    let evidence = comments
        .iter()
        .find(|c| c.body.contains("✅"))
        .unwrap_or_else(|| panic!("an evidence comment: {comments:#?}"));
    for expected in [
        tokens.as_str(),
        "`In Review`",
        &format!("[#{}]", pulls[0].number),
    ] {
        assert!(
            evidence.body.contains(expected),
            "evidence lacks {expected:?}:\n{}",
            evidence.body
        );
    }
    match agent.tool_comment {
        Some(said) => assert!(
            comments
                .iter()
                .any(|c| c.body == format!("<!-- baton:agent -->\n{said}")),
            "the agent's tool call commented: {comments:#?}"
        ),
        None => assert_eq!(comments.len(), 1, "{comments:#?}"),
    }
    let labels = github.issue(1).expect("issue").labels;
    assert!(
        labels.iter().any(|l| l == "status:in-review"),
        "moved to In Review: {labels:?}"
    );
    // Every agent request went to the scripted model with the dummy key, never a real one.
    for request in model.requests() {
        let key = request
            .header("authorization")
            .or_else(|| request.header("x-api-key"))
            .unwrap_or_default();
        assert!(key.contains(DUMMY_KEY), "{} sent {key:?}", request.uri);
    }
    plane.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_edits_comments_and_delivers() {
    let Some(program) = agent_clis::require("codex") else {
        return;
    };
    put_clis_on_path(&program);
    let patch = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: hello.txt\n+hello from codex\n*** End Patch\nEOF\n";
    let said = "Working on it (from Codex).";
    let replies = vec![
        Reply::tool("exec_command", json!({ "cmd": patch }), 1500, 60),
        Reply::tool("tracker_comment", json!({ "body": said }), 1700, 25),
        Reply::text("Added hello.txt.", 1900, 15),
    ];
    let model = FakeApi::spawn(ScriptedModel::new(replies.clone()).router()).await;
    let scratch = Scratch::new("baton-real-codex");
    let home =
        agent_clis::codex_home(&scratch.0.join("codex-home"), &model.url()).expect("codex home");
    let agent = Agent {
        kind: "codex",
        // The model key's variable is not listed: baton reads it from Codex's config.toml.
        agent_provider: "{kind: codex}\ncodex: {read_timeout_ms: 60000}".into(),
        replies,
        env: vec![
            ("CODEX_HOME".into(), home.display().to_string()),
            (CODEX_KEY_ENV.into(), DUMMY_KEY.into()),
        ],
        tool_comment: Some(said),
    };
    whole_run(agent, &model, scratch).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_edits_and_delivers() {
    let Some(program) = agent_clis::require("claude") else {
        return;
    };
    put_clis_on_path(&program);
    let scratch = Scratch::new("baton-real-claude");
    let said = "Working on it (from Claude Code).";
    // Claude Code's Write takes an absolute path: the issue's workspace.
    let file = scratch
        .0
        .join("workspaces")
        .join(workspace_key(ISSUE))
        .join("hello.txt");
    let replies = vec![
        Reply::tool(
            "Write",
            json!({"file_path": file.display().to_string(), "content": "hello from claude_code\n"}),
            2100,
            70,
        ),
        // baton's host-side tool, through the session's MCP endpoint.
        Reply::tool(
            "mcp__baton__tracker_comment",
            json!({ "body": said }),
            2200,
            30,
        ),
        Reply::text("Added hello.txt.", 2300, 20),
    ];
    let model = FakeApi::spawn(ScriptedModel::new(replies.clone()).router()).await;
    let agent = Agent {
        kind: "claude_code",
        agent_provider: "{kind: claude_code}\ncodex: {read_timeout_ms: 60000}".into(),
        replies,
        env: agent_clis::claude_env(&model.url(), &scratch.0.join("claude-config")),
        tool_comment: Some(said),
    };
    whole_run(agent, &model, scratch).await;
}

/// `baton demo --agent codex`: the demo loop with the real CLI and "the user's" model
/// endpoint (the scripted model, configured as a Codex model provider).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_with_the_real_codex() {
    let Some(program) = agent_clis::require("codex") else {
        return;
    };
    let patch = "apply_patch <<'EOF'\n*** Begin Patch\n*** Update File: src/lib.rs\n@@\n-pub fn broken() {}\n+pub fn broken() -> u32 {\n+    1\n+}\n*** End Patch\nEOF\n";
    let replies = vec![
        Reply::tool("exec_command", json!({ "cmd": patch }), 1000, 50),
        Reply::text("Fixed `broken()`.", 1200, 10),
    ];
    let model = FakeApi::spawn(ScriptedModel::new(replies.clone()).router()).await;
    let scratch = Scratch::new("baton-real-demo");
    let home =
        agent_clis::codex_home(&scratch.0.join("codex-home"), &model.url()).expect("codex home");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["demo", "--agent", "codex"])
        .env("PATH", agent_clis::agent_path(&program))
        .env("CODEX_HOME", &home)
        .env(CODEX_KEY_ENV, DUMMY_KEY)
        .env_remove("OPENAI_API_KEY")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run baton demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "baton demo --agent codex failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (input, output_tokens) = ScriptedModel::totals(&replies);
    for line in [
        "with the real `codex` agent",
        "file_change",
        &format!("{} tokens", input + output_tokens),
        "✓ committed on baton/",
        "src/lib.rs | 4 +++-",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    assert_eq!(model.requests().len(), 2, "two model requests");
}
