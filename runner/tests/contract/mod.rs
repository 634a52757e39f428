//! The provider contract's drivers: for each provider and case, a session to run (the real
//! CLI against the scripted model, or a recorded transcript) and what it must show.

use async_trait::async_trait;
use baton_integrations::test_support::agent_clis::{self, CODEX_KEY_ENV, DUMMY_KEY};
use baton_integrations::test_support::model::{Reply, ScriptedModel};
use baton_integrations::test_support::FakeApi;
use baton_runner::agent::claude_code::ClaudeCodeProvider;
use baton_runner::agent::codex::CodexProvider;
use baton_runner::agent::mock::MockAgent;
use baton_runner::agent::opencode::OpenCodeProvider;
use baton_runner::agent::{
    AgentEvent, AgentProvider, ApprovalPolicy, SessionConfig, Timeouts, TokenUsage, ToolHandler,
    ToolResult, ToolSpec, TurnOutcome,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Completes,
    EditsFile,
    Fails,
    CallsTool,
}

/// What a case must show.
#[derive(Debug, Default, Clone)]
pub struct Expect {
    pub usage: Option<TokenUsage>,
    /// A path suffix a `FileChange` names, and the content on disk when really written.
    pub file: Option<(String, Option<String>)>,
    pub tool: Option<String>,
}

pub struct Observed {
    pub outcome: TurnOutcome,
    pub events: Vec<AgentEvent>,
}

/// One session to run, with what it must show; owns its directory and model server.
pub struct Fixture {
    /// `real CLI` or `transcript`.
    pub mode: &'static str,
    pub expect: Expect,
    pub host_tools: Option<Arc<EchoTools>>,
    provider: Box<dyn AgentProvider>,
    config: SessionConfig,
    _dir: tempfile::TempDir,
    _model: Option<FakeApi>,
}

impl Fixture {
    pub fn workspace(&self) -> &Path {
        &self.config.workspace
    }

    pub async fn run(&self) -> Observed {
        let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
        let mut session = self
            .provider
            .start(self.config.clone(), tx)
            .await
            .expect("the session starts");
        let outcome = session
            .run_turn("Do the scripted task.", &CancellationToken::new())
            .await
            .expect("the turn runs");
        session.stop().await;
        let mut events = Vec::new();
        while let Ok(event) = rx.try_recv() {
            events.push(event);
        }
        Observed { outcome, events }
    }
}

/// A host-side tool, `echo`, that records its calls.
#[derive(Default)]
pub struct EchoTools(Mutex<Vec<String>>);

impl EchoTools {
    pub fn calls(&self) -> Vec<String> {
        self.0.lock().map(|calls| calls.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl ToolHandler for EchoTools {
    fn specs(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "echo".into(),
            description: "Echoes its text.".into(),
            input_schema: json!({
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            }),
        }]
    }

    async fn call(&self, name: &str, arguments: Value) -> ToolResult {
        if name != "echo" {
            return ToolResult {
                text: format!("unknown tool `{name}`"),
                success: false,
            };
        }
        let text = format!("{name}: {}", arguments["text"].as_str().unwrap_or(""));
        if let Ok(mut calls) = self.0.lock() {
            calls.push(text.clone());
        }
        ToolResult {
            text,
            success: true,
        }
    }
}

fn timeouts() -> Timeouts {
    Timeouts {
        read: Duration::from_secs(60),
        turn: Duration::from_secs(120),
        stall: Some(Duration::from_secs(60)),
    }
}

fn usage(input: u64, output: u64) -> TokenUsage {
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: input + output,
    }
}

fn base_config(workspace: PathBuf, tools: Arc<dyn ToolHandler>) -> SessionConfig {
    SessionConfig {
        workspace,
        command_argv: Vec::new(),
        env: Vec::new(),
        timeouts: timeouts(),
        approval_policy: ApprovalPolicy::AcceptAll,
        options: serde_json::Map::new(),
        tools,
    }
}

fn new_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let workspace = dir.path().join("ws");
    std::fs::create_dir_all(&workspace).expect("workspace");
    (dir, workspace)
}

/// The fixture of `case` for `provider`: the real CLI when installed, a transcript otherwise.
pub async fn driver(provider: &str, case: Case) -> Fixture {
    match provider {
        "codex" => match agent_clis::require("codex") {
            Some(program) => real_codex(&program, case).await,
            None => mock_codex(case),
        },
        "claude_code" => match agent_clis::require("claude") {
            Some(program) => real_claude(&program, case).await,
            None => replay_claude(case),
        },
        "opencode" => replay_opencode(case),
        other => panic!("no driver for {other}"),
    }
}

/// The script of `case` for a real CLI, its expectations, and the file it writes.
fn script(case: Case, edit: Reply, tool: Reply) -> (Vec<Reply>, Expect) {
    let replies = match case {
        Case::Completes => vec![Reply::text("All done.", 1200, 34)],
        Case::EditsFile => vec![edit, Reply::text("Wrote hello.txt.", 1500, 20)],
        Case::Fails => vec![Reply::error(400, "scripted failure: bad request")],
        Case::CallsTool => vec![tool, Reply::text("The tool answered.", 1400, 25)],
    };
    let (input, output) = ScriptedModel::totals(&replies);
    let expect = Expect {
        usage: Some(usage(input, output)),
        file: Some(("hello.txt".into(), Some("hello\n".into()))),
        tool: None,
    };
    (replies, expect)
}

async fn real_codex(program: &Path, case: Case) -> Fixture {
    let (dir, workspace) = new_dir();
    let patch = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\nEOF\n";
    let (replies, mut expect) = script(
        case,
        Reply::tool("exec_command", json!({ "cmd": patch }), 900, 40),
        Reply::tool("echo", json!({"text": "ping"}), 800, 15),
    );
    expect.tool = Some("echo".into());
    let model = FakeApi::spawn(ScriptedModel::new(replies).router()).await;
    let home =
        agent_clis::codex_home(&dir.path().join("codex-home"), &model.url()).expect("codex home");
    let tools = Arc::new(EchoTools::default());
    let mut config = base_config(workspace, tools.clone());
    config.command_argv = vec![program.display().to_string(), "app-server".into()];
    config.env = vec![
        ("PATH".into(), agent_clis::agent_path(program)),
        ("HOME".into(), dir.path().display().to_string()),
        ("CODEX_HOME".into(), home.display().to_string()),
        (CODEX_KEY_ENV.into(), DUMMY_KEY.into()),
    ];
    Fixture {
        mode: "real CLI",
        expect,
        host_tools: Some(tools),
        provider: Box::new(CodexProvider::new()),
        config,
        _dir: dir,
        _model: Some(model),
    }
}

async fn real_claude(program: &Path, case: Case) -> Fixture {
    let (dir, workspace) = new_dir();
    let file = workspace.join("hello.txt").display().to_string();
    let (replies, mut expect) = script(
        case,
        Reply::tool(
            "Write",
            json!({"file_path": file, "content": "hello\n"}),
            900,
            40,
        ),
        // The host-side tool, through baton's MCP endpoint.
        Reply::tool("mcp__baton__echo", json!({"text": "ping"}), 800, 15),
    );
    expect.tool = Some("mcp__baton__echo".into());
    let model = FakeApi::spawn(ScriptedModel::new(replies).router()).await;
    let tools = Arc::new(EchoTools::default());
    let mut config = base_config(workspace, tools.clone());
    let mut argv = vec![program.display().to_string()];
    argv.extend(
        baton_runner::agent::claude_code::DEFAULT_CLAUDE_ARGV[1..]
            .iter()
            .map(|s| s.to_string()),
    );
    config.command_argv = argv;
    config.env = vec![
        ("PATH".into(), agent_clis::agent_path(program)),
        ("HOME".into(), dir.path().display().to_string()),
    ];
    config.env.extend(agent_clis::claude_env(
        &model.url(),
        &dir.path().join("claude-config"),
    ));
    Fixture {
        mode: "real CLI",
        expect,
        host_tools: Some(tools),
        provider: Box::new(ClaudeCodeProvider::new()),
        config,
        _dir: dir,
        _model: Some(model),
    }
}

fn runner_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Codex's protocol from `baton-mock-agent` playing a shipped scenario.
fn mock_codex(case: Case) -> Fixture {
    let (dir, workspace) = new_dir();
    let (scenario, expect) = match case {
        Case::Completes | Case::EditsFile => (
            "happy_path.jsonl",
            Expect {
                usage: Some(usage(1200, 300)),
                file: Some(("src/lib.rs".into(), Some("pub fn fixed() {}\n".into()))),
                tool: None,
            },
        ),
        Case::Fails => ("failed_turn.jsonl", Expect::default()),
        Case::CallsTool => (
            "tool_call.jsonl",
            Expect {
                tool: Some("echo".into()),
                ..Expect::default()
            },
        ),
    };
    let tools = Arc::new(EchoTools::default());
    let provider = MockAgent::provider(
        env!("CARGO_BIN_EXE_baton-mock-agent"),
        runner_dir().join("scenarios").join(scenario),
    );
    Fixture {
        mode: "transcript",
        expect,
        // The scenario also calls an unknown tool, answered by the handler as unknown.
        host_tools: None,
        provider: Box::new(provider),
        config: base_config(workspace, tools),
        _dir: dir,
        _model: None,
    }
}

fn replay(mode: &str, transcript: &str, workspace: PathBuf) -> SessionConfig {
    let transcripts = runner_dir().join("tests/transcripts");
    let mut config = base_config(workspace, Arc::new(EchoTools::default()));
    config.command_argv = vec![
        "sh".into(),
        transcripts.join("replay.sh").display().to_string(),
    ];
    config.env = vec![
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("REPLAY_MODE".into(), mode.into()),
        (
            "REPLAY_TRANSCRIPT".into(),
            transcripts.join(transcript).display().to_string(),
        ),
    ];
    config
}

/// Claude Code's recorded stream-json (`claude_success.jsonl`'s first turn: Bash, Edit, Bash).
fn replay_claude(case: Case) -> Fixture {
    let (dir, workspace) = new_dir();
    let transcript = match case {
        Case::Fails => "claude_error_during_execution.jsonl",
        _ => "claude_success.jsonl",
    };
    let expect = Expect {
        // modelUsage: input 24 + cache reads 40210 + cache writes 5120, output 612.
        usage: Some(usage(24 + 40210 + 5120, 612)),
        file: Some(("calc/src/lib.rs".into(), None)),
        tool: Some("Edit".into()),
    };
    Fixture {
        mode: "transcript",
        expect,
        host_tools: None,
        provider: Box::new(ClaudeCodeProvider::new()),
        config: replay("claude", transcript, workspace),
        _dir: dir,
        _model: None,
    }
}

/// OpenCode's recorded `run --format json` (bash, edit, bash over three steps).
fn replay_opencode(case: Case) -> Fixture {
    let (dir, workspace) = new_dir();
    let transcript = match case {
        Case::Fails => "opencode_error.jsonl",
        _ => "opencode_success.jsonl",
    };
    let expect = Expect {
        // Each step's input + cache read + cache write; outputs summed.
        usage: Some(usage(
            (12 + 11000 + 1400) + (8 + 12400 + 300) + (4 + 12800),
            180 + 95 + 40,
        )),
        file: Some(("calc/src/lib.rs".into(), None)),
        tool: Some("edit".into()),
    };
    let mut config = replay("opencode", transcript, workspace);
    config
        .command_argv
        .extend(["run".into(), "--format".into(), "json".into()]);
    Fixture {
        mode: "transcript",
        expect,
        host_tools: None,
        provider: Box::new(OpenCodeProvider::new()),
        config,
        _dir: dir,
        _model: None,
    }
}
