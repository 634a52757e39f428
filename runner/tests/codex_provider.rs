//! The Codex provider against the real `baton-mock-agent` binary over real pipes: one test per
//! shipped scenario, plus spawn failures, cancellation, the agent's environment and tools.
//!
//! Timeouts are generous except where a test exercises one, and no test asserts a tight
//! timing: the suite must pass on a loaded machine.

use async_trait::async_trait;
use baton_runner::agent::codex::CodexProvider;
use baton_runner::agent::mock::MockAgent;
use baton_runner::agent::{
    AgentError, AgentEvent, AgentProvider, AgentSession, ApprovalPolicy, NoTools, SessionConfig,
    Timeouts, TokenUsage, ToolHandler, ToolResult, ToolSpec, TurnOutcome, TurnStatus,
};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const MOCK: &str = env!("CARGO_BIN_EXE_baton-mock-agent");

/// A temporary workspace, removed on drop.
struct Workspace(PathBuf);

impl Workspace {
    fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "baton-codex-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        // The workspace sits one level down so that escaping it is observable.
        let workspace = dir.join("ws");
        std::fs::create_dir_all(&workspace).unwrap();
        Self(workspace)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir_all(parent);
        }
    }
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

/// Generous limits: only the tests about a limit make it short.
fn timeouts() -> Timeouts {
    Timeouts {
        read: Duration::from_secs(20),
        turn: Duration::from_secs(30),
        stall: Some(Duration::from_secs(10)),
    }
}

fn config(workspace: &Workspace) -> SessionConfig {
    SessionConfig {
        workspace: workspace.path().to_path_buf(),
        command_argv: Vec::new(),
        env: Vec::new(),
        timeouts: timeouts(),
        approval_policy: ApprovalPolicy::AcceptAll,
        options: serde_json::Map::new(),
        tools: Arc::new(NoTools),
    }
}

struct Run {
    session: Box<dyn AgentSession>,
    events: mpsc::Receiver<AgentEvent>,
    workspace: Workspace,
}

impl Run {
    async fn start(name: &str) -> Self {
        Self::start_with(name, |_| {}).await
    }

    async fn start_with(name: &str, adjust: impl FnOnce(&mut SessionConfig)) -> Self {
        let workspace = Workspace::new();
        let mut config = config(&workspace);
        adjust(&mut config);
        let (tx, events) = mpsc::channel(10_000);
        let provider = MockAgent::provider(MOCK, scenario(name));
        assert_eq!(provider.kind(), "mock");
        let session = provider.start(config, tx).await.expect("session starts");
        Self {
            session,
            events,
            workspace,
        }
    }

    async fn turn(&mut self, input: &str) -> TurnOutcome {
        self.session
            .run_turn(input, &CancellationToken::new())
            .await
            .expect("turn runs")
    }

    /// Every event received so far.
    fn drain(&mut self) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            events.push(event);
        }
        events
    }

    /// Waits (up to 10 s) for an event matching `pred`, returning the events seen meanwhile.
    async fn wait_for(&mut self, pred: impl Fn(&AgentEvent) -> bool) -> Vec<AgentEvent> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    let done = pred(&event);
                    seen.push(event);
                    if done {
                        return seen;
                    }
                }
                _ => panic!("event not seen; got {seen:#?}"),
            }
        }
    }
}

/// The events without notices (stderr lines and the like), with the pid blanked.
fn normalized(events: Vec<AgentEvent>) -> Vec<AgentEvent> {
    events
        .into_iter()
        .filter(|e| !matches!(e, AgentEvent::Notice { .. }))
        .map(|e| match e {
            AgentEvent::SessionStarted { session_id, pid } => {
                assert!(pid.is_some());
                AgentEvent::SessionStarted {
                    session_id,
                    pid: None,
                }
            }
            other => other,
        })
        .collect()
}

fn notices(events: &[AgentEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Notice { text } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn started() -> AgentEvent {
    AgentEvent::SessionStarted {
        session_id: "thr_mock".into(),
        pid: None,
    }
}

fn turn_started(turn: u32) -> AgentEvent {
    AgentEvent::TurnStarted {
        turn,
        turn_id: Some(format!("turn_{turn}")),
    }
}

fn message(text: &str) -> AgentEvent {
    AgentEvent::Message { text: text.into() }
}

fn ended(turn: u32, status: TurnStatus, error: Option<&str>) -> AgentEvent {
    AgentEvent::TurnEnded {
        turn,
        status,
        error: error.map(str::to_string),
    }
}

fn exited_cleanly() -> AgentEvent {
    AgentEvent::ProcessExited {
        code: Some(0),
        signal: None,
    }
}

#[tokio::test]
async fn happy_path() {
    let mut run = Run::start("happy_path.jsonl").await;
    let outcome = run.turn("Fix the bug").await;
    let usage = TokenUsage {
        input_tokens: 1200,
        output_tokens: 300,
        total_tokens: 1500,
    };
    assert_eq!(
        outcome,
        TurnOutcome {
            status: TurnStatus::Completed,
            error: None,
            usage,
            last_message: Some("Done: the bug is fixed.".into()),
        }
    );
    run.session.stop().await;
    run.session.stop().await; // idempotent
    assert_eq!(
        normalized(run.drain()),
        vec![
            started(),
            turn_started(1),
            message("Looking at the issue."),
            AgentEvent::Command {
                command: "cargo test".into(),
                exit_code: Some(0),
                output: Some("test result: ok".into()),
            },
            AgentEvent::FileChange {
                path: "src/lib.rs".into(),
                kind: "update".into(),
            },
            AgentEvent::Usage(usage),
            AgentEvent::RateLimit {
                details: json!({"primary": {"usedPercent": 12, "windowDurationMins": 300}}),
            },
            message("Done: the bug is fixed."),
            ended(1, TurnStatus::Completed, None),
            exited_cleanly(),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(run.workspace.path().join("src/lib.rs")).unwrap(),
        "pub fn fixed() {}\n"
    );
    // After stop, no more turns.
    let err = run
        .session
        .run_turn("again", &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::Exited(_)), "{err:?}");
}

/// Host tools: `echo` answers, anything else is unknown.
struct TestTools;

#[async_trait]
impl ToolHandler for TestTools {
    fn specs(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "echo".into(),
            description: "Echoes its text".into(),
            input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
        }]
    }

    async fn call(&self, name: &str, arguments: Value) -> ToolResult {
        match name {
            "echo" => ToolResult {
                text: format!(
                    "echo: {}",
                    arguments.get("text").and_then(Value::as_str).unwrap_or("")
                ),
                success: true,
            },
            other => ToolResult {
                text: format!("unknown tool `{other}`"),
                success: false,
            },
        }
    }
}

#[tokio::test]
async fn tool_calls_are_answered_by_the_handler() {
    let mut run = Run::start_with("tool_call.jsonl", |c| c.tools = Arc::new(TestTools)).await;
    let outcome = run.turn("use tools").await;
    // The mock checks the answers: a wrong one fails the turn with an explanation.
    assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
    run.session.stop().await;
    assert_eq!(
        normalized(run.drain()),
        vec![
            started(),
            turn_started(1),
            AgentEvent::ToolCall {
                name: "echo".into(),
                arguments: json!({"text": "ping"}),
                success: Some(true),
            },
            AgentEvent::ToolCall {
                name: "no_such_tool".into(),
                arguments: json!({}),
                success: Some(false),
            },
            message("Tools done."),
            ended(1, TurnStatus::Completed, None),
            exited_cleanly(),
        ]
    );
}

#[tokio::test]
async fn approvals_follow_the_policy() {
    for (policy, decision) in [
        (ApprovalPolicy::AcceptAll, "accept"),
        (ApprovalPolicy::DeclineAll, "decline"),
    ] {
        let mut run = Run::start_with("approval.jsonl", |c| c.approval_policy = policy).await;
        let outcome = run.turn("go").await;
        assert_eq!(outcome.status, TurnStatus::Completed, "{outcome:?}");
        let events = normalized(run.drain());
        let approval = |kind: &str, detail: &str| AgentEvent::Approval {
            kind: kind.into(),
            decision: decision.into(),
            detail: Some(detail.into()),
        };
        let accepted = policy == ApprovalPolicy::AcceptAll;
        let mut expected = vec![
            started(),
            turn_started(1),
            approval("command", "rm -rf build"),
            AgentEvent::Command {
                command: "rm -rf build".into(),
                exit_code: accepted.then_some(0),
                output: accepted.then(String::new),
            },
            approval("file_change", "mock approval"),
        ];
        // A declined file change changed nothing.
        if accepted {
            expected.push(AgentEvent::FileChange {
                path: "README.md".into(),
                kind: "update".into(),
            });
        }
        expected.push(ended(1, TurnStatus::Completed, None));
        assert_eq!(events, expected, "{policy:?}");
        run.session.stop().await;
    }
}

#[tokio::test]
async fn failed_turn() {
    let mut run = Run::start("failed_turn.jsonl").await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("upstream model error"));
    assert_eq!(outcome.last_message.as_deref(), Some("Trying."));
    let events = run.drain();
    assert!(notices(&events)
        .iter()
        .any(|n| n.contains("upstream model error")));
    assert_eq!(
        normalized(events),
        vec![
            started(),
            turn_started(1),
            message("Trying."),
            ended(1, TurnStatus::Failed, Some("upstream model error")),
        ]
    );
    run.session.stop().await;
}

#[tokio::test]
async fn completed_with_an_error_is_a_failure() {
    let mut run = Run::start("completed_with_error.jsonl").await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("context window exceeded"));
    run.session.stop().await;
}

#[tokio::test]
async fn turn_timeout_interrupts_a_busy_agent() {
    // Heartbeats every 100 ms keep it from stalling (the stall limit is longer than the turn
    // limit anyway), so only the turn limit can end it.
    let mut run = Run::start_with("turn_timeout.jsonl", |c| {
        c.timeouts.turn = Duration::from_secs(2);
        c.timeouts.stall = Some(Duration::from_secs(10));
    })
    .await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::TimedOut, "{outcome:?}");
    assert_eq!(outcome.last_message.as_deref(), Some("Working on it."));
    let events = normalized(run.drain());
    // The mock honours turn/interrupt: the process lives on.
    assert!(!events
        .iter()
        .any(|e| matches!(e, AgentEvent::ProcessExited { .. })));
    assert!(matches!(
        events.last(),
        Some(AgentEvent::TurnEnded {
            status: TurnStatus::TimedOut,
            ..
        })
    ));
    run.session.stop().await;
}

#[tokio::test]
async fn silence_is_a_stall() {
    let mut run = Run::start_with("stall.jsonl", |c| {
        c.timeouts.stall = Some(Duration::from_millis(500));
    })
    .await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Stalled, "{outcome:?}");
    assert_eq!(
        normalized(run.drain()),
        vec![
            started(),
            turn_started(1),
            message("Thinking..."),
            ended(
                1,
                TurnStatus::Stalled,
                Some("no event from the agent for 500ms")
            ),
        ]
    );
    // Interrupted cleanly: the session is still usable (the scenario has no second turn).
    let outcome = run.turn("again").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    run.session.stop().await;
}

#[tokio::test]
async fn a_deaf_stalled_agent_is_killed() {
    let mut run = Run::start_with("stall_deaf.jsonl", |c| {
        c.timeouts.stall = Some(Duration::from_millis(500));
    })
    .await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Stalled, "{outcome:?}");
    let events = normalized(run.drain());
    assert!(
        events.iter().any(|e| matches!(
            e,
            AgentEvent::ProcessExited {
                signal: Some(9),
                ..
            }
        )),
        "{events:#?}"
    );
    let err = run
        .session
        .run_turn("again", &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::Exited(_)), "{err:?}");
    run.session.stop().await;
}

#[tokio::test]
async fn crash_mid_turn() {
    let mut run = Run::start("crash.jsonl").await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Crashed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("the agent exited mid-turn with code 17")
    );
    assert_eq!(outcome.last_message.as_deref(), Some("About to crash."));
    let mut events = run.drain();
    // stderr is read on its own; its notice may come a little later.
    if !notices(&events).iter().any(|n| n.contains("panic:")) {
        events.extend(
            run.wait_for(|e| matches!(e, AgentEvent::Notice { text } if text.contains("panic:")))
                .await,
        );
    }
    assert!(notices(&events).contains(&"stderr: panic: something went badly wrong".to_string()));
    assert_eq!(
        normalized(events),
        vec![
            started(),
            turn_started(1),
            message("About to crash."),
            AgentEvent::ProcessExited {
                code: Some(17),
                signal: None,
            },
            ended(
                1,
                TurnStatus::Crashed,
                Some("the agent exited mid-turn with code 17")
            ),
        ]
    );
    let err = run
        .session
        .run_turn("again", &CancellationToken::new())
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::Exited(_)), "{err:?}");
    run.session.stop().await;
}

#[tokio::test]
async fn malformed_lines_are_notices() {
    let mut run = Run::start("malformed_line.jsonl").await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Completed);
    let events = run.drain();
    let notices = notices(&events);
    assert!(
        notices.iter().any(|n| n.contains("this is not json {")),
        "{notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("an array, not a message")),
        "{notices:?}"
    );
    assert_eq!(
        normalized(events),
        vec![
            started(),
            turn_started(1),
            message("Still fine."),
            ended(1, TurnStatus::Completed, None),
        ]
    );
    run.session.stop().await;
}

#[tokio::test]
async fn a_question_ends_the_turn_as_input_required() {
    let mut run = Run::start("input_required.jsonl").await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::InputRequired);
    assert!(outcome
        .error
        .as_deref()
        .is_some_and(|e| e.contains("Which database should I use?")));
    let events = normalized(run.drain());
    assert!(!events
        .iter()
        .any(|e| matches!(e, AgentEvent::ProcessExited { .. })));
    run.session.stop().await;
}

#[tokio::test]
async fn two_turns_on_one_thread() {
    let mut run = Run::start("two_turns.jsonl").await;
    let first = run.turn("one").await;
    assert_eq!(first.status, TurnStatus::Completed);
    assert_eq!(first.usage.total_tokens, 110);
    assert_eq!(first.last_message.as_deref(), Some("First turn."));
    let second = run.turn("two").await;
    assert_eq!(second.status, TurnStatus::Completed);
    assert_eq!(
        second.usage,
        TokenUsage {
            input_tokens: 250,
            output_tokens: 40,
            total_tokens: 290,
        }
    );
    assert_eq!(
        second.last_message.as_deref(),
        Some("custom turn_2 on thr_mock")
    );
    let events = normalized(run.drain());
    assert!(events.contains(&turn_started(2)));
    assert!(events.contains(&message("Second turn for turn_2.")));
    assert_eq!(events.last(), Some(&ended(2, TurnStatus::Completed, None)));
    run.session.stop().await;
}

#[tokio::test]
async fn writes_outside_the_workspace_are_refused() {
    let mut run = Run::start("escape_workspace.jsonl").await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert!(outcome
        .error
        .as_deref()
        .is_some_and(|e| e.contains("outside the workspace")));
    let parent = run.workspace.path().parent().unwrap().to_path_buf();
    assert!(!parent.join("escaped.txt").exists());
    run.session.stop().await;
}

#[tokio::test]
async fn the_agent_sees_only_the_configured_environment() {
    std::env::set_var("BATON_SECRET_FOR_TEST", "must-not-leak");
    let mut run = Run::start_with("write_env.jsonl", |c| {
        c.env = vec![
            ("BATON_TEST_VAR".into(), "42".into()),
            ("HOME".into(), "/nonexistent-home".into()),
        ];
    })
    .await;
    let outcome = run.turn("go").await;
    assert_eq!(outcome.status, TurnStatus::Completed);
    let text = std::fs::read_to_string(run.workspace.path().join("env.json")).unwrap();
    let env: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        env,
        json!({"BATON_TEST_VAR": "42", "HOME": "/nonexistent-home"})
    );
    run.session.stop().await;
}

#[tokio::test]
async fn cancel_mid_turn_interrupts() {
    let mut run = Run::start_with("stall.jsonl", |c| c.timeouts.stall = None).await;
    let cancel = CancellationToken::new();
    let (outcome, cancelled_at) = {
        let Run {
            session, events, ..
        } = &mut run;
        let trigger = async {
            // Cancel once the turn is under way.
            while let Some(event) = events.recv().await {
                if matches!(event, AgentEvent::Message { .. }) {
                    break;
                }
            }
            let at = Instant::now();
            cancel.cancel();
            at
        };
        let (outcome, at) = tokio::join!(session.run_turn("go", &cancel), trigger);
        (outcome.unwrap(), at)
    };
    assert!(cancelled_at.elapsed() < Duration::from_secs(5));
    assert_eq!(outcome.status, TurnStatus::Interrupted);
    assert_eq!(outcome.error.as_deref(), Some("cancelled"));
    // The mock honoured turn/interrupt: no kill.
    let events = normalized(run.drain());
    assert_eq!(
        events,
        vec![ended(1, TurnStatus::Interrupted, Some("cancelled"))]
    );
    run.session.stop().await;
}

#[tokio::test]
async fn cancel_kills_an_agent_deaf_to_interrupts() {
    let mut run = Run::start_with("stall_deaf.jsonl", |c| c.timeouts.stall = None).await;
    let cancel = CancellationToken::new();
    let (outcome, cancelled_at) = {
        let Run {
            session, events, ..
        } = &mut run;
        let trigger = async {
            while let Some(event) = events.recv().await {
                if matches!(event, AgentEvent::Message { .. }) {
                    break;
                }
            }
            // `ignore_interrupts` ran before the message: the mock is deaf by now.
            let at = Instant::now();
            cancel.cancel();
            at
        };
        let (outcome, at) = tokio::join!(session.run_turn("go", &cancel), trigger);
        (outcome.unwrap(), at)
    };
    assert!(cancelled_at.elapsed() < Duration::from_secs(5));
    assert_eq!(outcome.status, TurnStatus::Interrupted);
    let events = normalized(run.drain());
    assert!(
        events.iter().any(|e| matches!(
            e,
            AgentEvent::ProcessExited {
                signal: Some(9),
                ..
            }
        )),
        "{events:#?}"
    );
    run.session.stop().await;
}

async fn start_error(provider: CodexProvider, config: SessionConfig) -> AgentError {
    let (tx, _rx) = mpsc::channel(16);
    match provider.start(config, tx).await {
        Ok(_) => panic!("the session started"),
        Err(err) => err,
    }
}

#[tokio::test]
async fn a_missing_binary_is_a_spawn_error() {
    let workspace = Workspace::new();
    let mut config = config(&workspace);
    config.command_argv = vec!["/nonexistent/codex".into(), "app-server".into()];
    let err = start_error(CodexProvider::new(), config).await;
    assert!(
        matches!(&err, AgentError::Spawn { program, .. } if program == "/nonexistent/codex"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_silent_agent_fails_the_handshake() {
    let workspace = Workspace::new();
    let mut config = config(&workspace);
    config.command_argv = vec!["/bin/sleep".into(), "30".into()];
    config.timeouts.read = Duration::from_millis(500);
    let err = start_error(CodexProvider::new(), config).await;
    assert!(matches!(err, AgentError::Protocol(_)), "{err:?}");
}

#[tokio::test]
async fn an_agent_exiting_at_once_fails_the_handshake() {
    let workspace = Workspace::new();
    let mut config = config(&workspace);
    config.command_argv = vec!["/bin/true".into()];
    let err = start_error(CodexProvider::new(), config).await;
    assert!(matches!(err, AgentError::Exited(_)), "{err:?}");
}

#[tokio::test]
async fn invalid_options_are_refused() {
    let workspace = Workspace::new();
    let mut config = config(&workspace);
    config.options.insert("sandbox".into(), json!("everything"));
    let err = start_error(
        MockAgent::provider(MOCK, scenario("happy_path.jsonl")),
        config,
    )
    .await;
    assert!(matches!(err, AgentError::InvalidOptions(_)), "{err:?}");
}
