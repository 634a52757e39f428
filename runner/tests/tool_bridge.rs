//! The tool bridge: the host tools an agent session gets, whatever its provider. The tools
//! act on the memory tracker and platform; the MCP endpoint is driven over real HTTP, and
//! Claude Code's side by a fake CLI (a Python script) that calls a tool through it.

use baton_core::workflow::host_tools::HOST_TOOLS;
use baton_core::workflow::Workflow;
use baton_integrations::repo::memory::MemoryPlatform;
use baton_integrations::repo::{PullRequestSpec, RepoPlatform, ReviewComment, ReviewVerdict};
use baton_integrations::tracker::memory::MemoryTracker;
use baton_integrations::tracker::{IssueRef, TrackerIssue};
use baton_runner::agent::mcp::McpEndpoint;
use baton_runner::agent::ToolHandler;
use baton_runner::bridge::{BridgeContext, LivingComment, ToolBridge, ToolLog};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Calls(Mutex<Vec<(String, Value, bool)>>);

impl ToolLog for Calls {
    fn record(&self, name: &str, arguments: &Value, success: bool, _result: &str) {
        self.0
            .lock()
            .unwrap()
            .push((name.to_owned(), arguments.clone(), success));
    }
}

struct Setup {
    bridge: Arc<ToolBridge>,
    living: Arc<LivingComment>,
    tracker: MemoryTracker,
    platform: MemoryPlatform,
    calls: Arc<Calls>,
    _workspace: tempfile::TempDir,
}

fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

/// A workspace with one commit, then an edited file and a new one.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(dir.path().join("README.md"), "one\ntwo\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "init"]);
    std::fs::write(dir.path().join("README.md"), "one\n2\nthree\n").unwrap();
    std::fs::write(dir.path().join("NEW.md"), "new\n").unwrap();
    dir
}

fn setup(front_matter: &str) -> Setup {
    let workflow = Workflow::parse(&format!(
        "---\ntracker:\n  kind: memory\n{front_matter}---\n"
    ))
    .expect("workflow");
    let tracker = MemoryTracker::new();
    tracker.upsert(TrackerIssue {
        id: "1".into(),
        identifier: "MEM-1".into(),
        title: "Bridge me".into(),
        state: "In Progress".into(),
        ..TrackerIssue::default()
    });
    let platform = MemoryPlatform::new();
    let issue = IssueRef {
        id: "1".into(),
        identifier: "MEM-1".into(),
    };
    let calls = Arc::new(Calls::default());
    let workspace = workspace();
    let living = Arc::new(LivingComment::new(
        Arc::new(tracker.clone()),
        issue.clone(),
        None,
        "**baton** · run running".into(),
    ));
    let bridge = ToolBridge::new(BridgeContext {
        tracker: Some(Arc::new(tracker.clone())),
        issue,
        platform: Some(Arc::new(platform.clone())),
        profile: workflow.config.profile.clone(),
        workspace: workspace.path().to_owned(),
        work_branch: Some("baton/mem-1".into()),
        status: Some(living.clone()),
        log: calls.clone(),
    });
    Setup {
        bridge: Arc::new(bridge),
        living,
        tracker,
        platform,
        calls,
        _workspace: workspace,
    }
}

const ROUTES: &str = "workflow:\n  profile:\n    routes:\n      developing: [In Progress]\n      review: [In Review]\n";

fn names(bridge: &ToolBridge) -> Vec<String> {
    bridge.specs().into_iter().map(|s| s.name).collect()
}

async fn call(bridge: &ToolBridge, name: &str, arguments: Value) -> Value {
    let result = bridge.call(name, arguments).await;
    assert!(result.success, "{name}: {}", result.text);
    serde_json::from_str(&result.text).unwrap_or_else(|_| panic!("{name}: {}", result.text))
}

#[tokio::test]
async fn a_coding_session_gets_the_whole_bridge_in_order() {
    let s = setup(ROUTES);
    assert_eq!(names(&s.bridge), HOST_TOOLS);
    // Without mapped routes there is nothing to move to: the tool is not offered.
    let plain = setup("");
    assert!(!names(&plain.bridge).contains(&"tracker_move_state".to_owned()));
}

#[tokio::test]
async fn the_workflow_list_filters_the_tools_and_refusals_say_why() {
    let s = setup("workflow:\n  profile:\n    tools: [tracker_get_issue, pr_checks]\n");
    assert_eq!(names(&s.bridge), ["tracker_get_issue", "pr_checks"]);
    let refused = s
        .bridge
        .call("tracker_comment", json!({"body": "hi"}))
        .await;
    assert!(!refused.success);
    assert!(refused.text.contains("not offered"), "{}", refused.text);
    assert!(s.tracker.comments("1").is_empty(), "nothing written");
    let calls = s.calls.0.lock().unwrap().clone();
    assert_eq!(
        calls,
        [("tracker_comment".to_owned(), json!({"body": "hi"}), false)]
    );
}

#[tokio::test]
async fn tracker_tools_read_comment_note_and_move_within_the_routes() {
    let s = setup(ROUTES);
    let issue = call(&s.bridge, "tracker_get_issue", json!({})).await;
    assert_eq!(issue["title"], "Bridge me");

    call(
        &s.bridge,
        "tracker_comment",
        json!({"body": "Working on it"}),
    )
    .await;
    call(
        &s.bridge,
        "tracker_update_status",
        json!({"note": "tests pass"}),
    )
    .await;
    call(
        &s.bridge,
        "tracker_update_status",
        json!({"note": "pushed the fix"}),
    )
    .await;
    let comments = s.tracker.comments("1");
    assert_eq!(comments.len(), 2, "{comments:?}");
    // The run's start had posted none: the first note made the living comment.
    assert_eq!(s.living.comment_id().await, Some(comments[1].id.clone()));
    // The agent's comment is marked as baton's own: never read as a person's reply.
    assert_eq!(comments[0].body, "<!-- baton:agent -->\nWorking on it");
    // One living comment, edited in place: the newest note replaces the previous one.
    assert!(comments[1].body.starts_with("**baton** · run running"));
    assert!(
        comments[1].body.ends_with("pushed the fix"),
        "{}",
        comments[1].body
    );
    assert_eq!(comments[1].edits, 1);

    let moved = call(&s.bridge, "tracker_move_state", json!({"route": "review"})).await;
    assert_eq!(
        moved,
        json!({"moved": true, "from": "In Progress", "to": "In Review"})
    );
    assert_eq!(s.tracker.issue("1").unwrap().state, "In Review");
    let outside = s
        .bridge
        .call("tracker_move_state", json!({"route": "resolved"}))
        .await;
    assert!(!outside.success);
    assert!(
        outside.text.contains("developing, review"),
        "{}",
        outside.text
    );
    assert_eq!(s.tracker.issue("1").unwrap().state, "In Review");
}

#[tokio::test]
async fn pull_request_tools_act_on_the_work_branch_pull_request() {
    let s = setup("");
    let none = call(&s.bridge, "pr_status", json!({})).await;
    assert_eq!(none["pull_request"], Value::Null);
    let early = s.bridge.call("pr_checks", json!({})).await;
    assert!(
        !early.success && early.text.contains("no pull request"),
        "{}",
        early.text
    );

    let pull = s
        .platform
        .ensure_pull_request(&PullRequestSpec {
            head: "baton/mem-1".into(),
            base: "main".into(),
            title: "MEM-1".into(),
            body: String::new(),
            labels: vec![],
        })
        .await
        .unwrap();
    s.platform
        .submit_review(
            pull.number,
            ReviewVerdict::ChangesRequested,
            "Please rename",
            vec![ReviewComment {
                path: Some("src/lib.rs".into()),
                line: Some(3),
                body: "`x` → `count`".into(),
            }],
        )
        .unwrap();

    let status = call(&s.bridge, "pr_status", json!({})).await;
    assert_eq!(status["pull_request"]["number"], pull.number);
    assert_eq!(status["pull_request"]["state"], "open");
    let reviews = call(&s.bridge, "pr_review_comments", json!({})).await;
    assert_eq!(reviews["reviews"][0]["verdict"], "changes_requested");
    assert_eq!(reviews["reviews"][0]["comments"][0]["path"], "src/lib.rs");
    assert_eq!(
        call(&s.bridge, "pr_checks", json!({})).await["checks"],
        "none"
    );

    call(
        &s.bridge,
        "pr_request_reviewers",
        json!({"reviewers": ["alice", "bob"]}),
    )
    .await;
    call(
        &s.bridge,
        "pr_add_labels",
        json!({"labels": ["needs-review"]}),
    )
    .await;
    let held = s.platform.pull(pull.number).unwrap();
    assert_eq!(held.requested_reviewers, ["alice", "bob"]);
    assert_eq!(held.labels, ["needs-review"]);
    let bad = s.bridge.call("pr_add_labels", json!({"labels": "x"})).await;
    assert!(
        !bad.success && bad.text.contains("`labels`"),
        "{}",
        bad.text
    );
}

#[tokio::test]
async fn the_diff_summary_lists_changed_and_new_files() {
    let s = setup("");
    // The agent set a filesystem monitor in the repository's config: git must not run it.
    let ran = s._workspace.path().join("..").join(format!(
        "fsmonitor-ran-{}",
        s._workspace.path().file_name().unwrap().to_string_lossy()
    ));
    let hook = s._workspace.path().join(".git/evil.sh");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch '{}'\n", ran.display())).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    git(
        s._workspace.path(),
        &["config", "core.fsmonitor", &hook.display().to_string()],
    );
    let summary = call(&s.bridge, "workspace_diff_summary", json!({})).await;
    assert!(!ran.exists(), "git ran the agent's fsmonitor");
    assert_eq!(summary["changed_files"], 2);
    assert_eq!(
        summary["files"][0],
        json!({"path": "README.md", "added": 2, "removed": 1, "status": "modified"})
    );
    assert_eq!(
        summary["files"][1],
        json!({"path": "NEW.md", "status": "new"})
    );
}

/// Posts one JSON-RPC message; returns the answer's JSON (plain or in an SSE event) and the
/// session id header, if any.
async fn rpc(
    client: &reqwest::Client,
    endpoint: &McpEndpoint,
    session: Option<&str>,
    body: Value,
) -> (reqwest::StatusCode, Option<Value>, Option<String>) {
    let mut request = client
        .post(endpoint.url())
        .header("Authorization", endpoint.authorization())
        .header("Accept", "application/json, text/event-stream")
        .json(&body);
    if let Some(id) = session {
        request = request.header("Mcp-Session-Id", id);
    }
    let response = request.send().await.expect("MCP request");
    let status = response.status();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    let message = text
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .chain(std::iter::once(text.as_str()))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|value| value.get("id").is_some());
    (status, message, session)
}

#[tokio::test]
async fn the_mcp_endpoint_serves_the_tools_to_its_token_only() {
    let s = setup("");
    let endpoint = McpEndpoint::serve(s.bridge.clone()).await.expect("serve");
    let client = reqwest::Client::new();
    for authorization in [None, Some("Bearer wrong")] {
        let mut request = client.post(endpoint.url()).json(&json!({}));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let status = request.send().await.unwrap().status();
        assert_eq!(status, reqwest::StatusCode::UNAUTHORIZED);
    }

    let (status, init, session) = rpc(
        &client,
        &endpoint,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
    )
    .await;
    assert!(status.is_success(), "{status}");
    let init = init.expect("initialize answer");
    assert_eq!(init["result"]["serverInfo"]["name"], "baton");
    let session = session.as_deref();
    rpc(
        &client,
        &endpoint,
        session,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    let (_, listed, _) = rpc(
        &client,
        &endpoint,
        session,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await;
    let listed = listed.expect("tools/list answer");
    let tools: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tools, names(&s.bridge));

    let (_, called, _) = rpc(
        &client,
        &endpoint,
        session,
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "tracker_comment", "arguments": {"body": "via MCP"}}}),
    )
    .await;
    let called = called.expect("tools/call answer");
    assert_eq!(called["result"]["isError"], false, "{called}");
    assert_eq!(
        s.tracker.comments("1")[0].body,
        "<!-- baton:agent -->\nvia MCP"
    );

    let (_, refused, _) = rpc(
        &client,
        &endpoint,
        session,
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
               "params": {"name": "tracker_comment", "arguments": {}}}),
    )
    .await;
    assert_eq!(refused.expect("answer")["result"]["isError"], true);

    let url = endpoint.url().to_owned();
    drop(endpoint);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        client.post(&url).json(&json!({})).send().await.is_err(),
        "the endpoint stops with its session"
    );
}

fn fake_claude() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/claude_mcp.py")
}

#[tokio::test]
async fn claude_code_calls_a_bridge_tool_through_its_mcp_config() {
    use baton_runner::agent::claude_code::ClaudeCodeProvider;
    use baton_runner::agent::{AgentProvider, ApprovalPolicy, SessionConfig, Timeouts, TurnStatus};
    let s = setup("");
    let scratch = tempfile::tempdir().unwrap();
    let seen = scratch.path().join("argv.json");
    let config = SessionConfig {
        workspace: scratch.path().to_owned(),
        command_argv: vec!["python3".into(), fake_claude().display().to_string()],
        env: vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("FAKE_CLAUDE_SEEN".into(), seen.display().to_string()),
        ],
        timeouts: Timeouts::default(),
        approval_policy: ApprovalPolicy::AcceptAll,
        options: serde_json::Map::new(),
        tools: s.bridge.clone(),
    };
    let (events, _rx) = tokio::sync::mpsc::channel(256);
    let mut session = ClaudeCodeProvider::new()
        .start(config, events)
        .await
        .expect("start");
    let outcome = session
        .run_turn(
            "Comment on the issue",
            &tokio_util::sync::CancellationToken::new(),
        )
        .await
        .expect("turn");
    assert_eq!(outcome.status, TurnStatus::Completed, "{:?}", outcome.error);
    let argv: Vec<String> = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    let allowed = argv.iter().position(|a| a == "--allowedTools").unwrap();
    assert_eq!(argv[allowed + 1], "mcp__baton");
    let config_file = &argv[argv.iter().position(|a| a == "--mcp-config").unwrap() + 1];
    assert!(
        !config_file.starts_with(&scratch.path().display().to_string()),
        "the MCP config (with its token) stays out of the workspace"
    );
    assert_eq!(
        s.tracker.comments("1")[0].body,
        "<!-- baton:agent -->\nhello from claude over MCP"
    );
    session.stop().await;
    drop(session);
    assert!(
        !Path::new(config_file).exists(),
        "the config file goes with the session"
    );
}
