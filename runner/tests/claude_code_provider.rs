//! The Claude Code provider against recorded stream-json transcripts, replayed by a fake CLI
//! (`transcripts/replay.sh`) over real pipes.

use baton_runner::agent::claude_code::{user_message_line, ClaudeCodeProvider};
use baton_runner::agent::{
    AgentError, AgentEvent, AgentProvider, AgentSession, ApprovalPolicy, NoTools, SessionConfig,
    Timeouts, TokenUsage, TurnOutcome, TurnStatus,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const SESSION: &str = "8d3f6a2e-4c1b-4f7e-9b0a-2e5d7c1f3a90";

fn transcripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

/// A fresh scratch directory (the workspace, and where the fake writes what it saw).
fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "baton-claude-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn generous() -> Timeouts {
    Timeouts {
        read: Duration::from_secs(20),
        turn: Duration::from_secs(120),
        stall: Some(Duration::from_secs(60)),
    }
}

struct Fixture {
    dir: PathBuf,
    config: SessionConfig,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture(transcript: &str, timeouts: Timeouts) -> Fixture {
    let dir = scratch();
    let env = vec![
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("REPLAY_MODE".to_string(), "claude".to_string()),
        (
            "REPLAY_TRANSCRIPT".to_string(),
            transcripts().join(transcript).display().to_string(),
        ),
        (
            "REPLAY_INPUT_OUT".to_string(),
            dir.join("input.jsonl").display().to_string(),
        ),
    ];
    let config = SessionConfig {
        workspace: dir.clone(),
        command_argv: vec![
            "sh".into(),
            transcripts().join("replay.sh").display().to_string(),
        ],
        env,
        timeouts,
        approval_policy: ApprovalPolicy::AcceptAll,
        options: serde_json::Map::new(),
        tools: Arc::new(NoTools),
    };
    Fixture { dir, config }
}

async fn start(config: SessionConfig) -> (Box<dyn AgentSession>, mpsc::Receiver<AgentEvent>) {
    let (tx, rx) = mpsc::channel(1024);
    let session = ClaudeCodeProvider::new()
        .start(config, tx)
        .await
        .expect("the fake CLI starts");
    (session, rx)
}

/// The events received so far, without stderr notices (their timing is not ordered).
fn drain(rx: &mut mpsc::Receiver<AgentEvent>) -> Vec<AgentEvent> {
    let mut events = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if matches!(&event, AgentEvent::Notice { text } if text.starts_with("stderr:")) {
            continue;
        }
        events.push(event);
    }
    events
}

async fn turn(session: &mut Box<dyn AgentSession>, input: &str) -> TurnOutcome {
    session
        .run_turn(input, &CancellationToken::new())
        .await
        .expect("the turn runs")
}

fn ended(events: &[AgentEvent]) -> Vec<TurnStatus> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::TurnEnded { status, .. } => Some(*status),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn success_path_over_two_turns_in_one_process() {
    let fx = fixture("claude_success.jsonl", generous());
    let (mut session, mut rx) = start(fx.config.clone()).await;

    let outcome = turn(&mut session, "Fix ENG-42: add() is wrong.").await;
    assert_eq!(outcome.status, TurnStatus::Completed);
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.usage,
        TokenUsage {
            input_tokens: 24 + 40210 + 5120,
            output_tokens: 612,
            total_tokens: 24 + 40210 + 5120 + 612,
        }
    );
    let final_text = "Fixed ENG-42: `add` subtracted its operands. The calc tests pass now.";
    assert_eq!(outcome.last_message.as_deref(), Some(final_text));

    let events = drain(&mut rx);
    // Claude Code prints its init only once it has read the first message.
    let pid = match &events[1] {
        AgentEvent::SessionStarted { session_id, pid } => {
            assert_eq!(session_id, SESSION);
            *pid
        }
        other => panic!("first event {other:?}"),
    };
    assert!(pid.is_some());
    let failing = match &events[3] {
        AgentEvent::Command {
            command,
            exit_code,
            output,
        } => {
            assert_eq!(command, "cargo test -p calc");
            assert_eq!(*exit_code, Some(101));
            output.clone().unwrap()
        }
        other => panic!("expected the failing command, got {other:?}"),
    };
    assert!(failing.contains("test tests::adds ... FAILED"));
    let passing = match &events[6] {
        AgentEvent::Command { output, .. } => output.clone().unwrap(),
        other => panic!("expected the passing command, got {other:?}"),
    };
    let lib = "/tmp/baton-ws/ENG-42/calc/src/lib.rs";
    assert_eq!(
        events,
        vec![
            AgentEvent::TurnStarted {
                turn: 1,
                turn_id: None
            },
            AgentEvent::SessionStarted {
                session_id: SESSION.into(),
                pid,
            },
            AgentEvent::Message {
                text: "I'll run the calc tests to see the failure first.".into()
            },
            AgentEvent::Command {
                command: "cargo test -p calc".into(),
                exit_code: Some(101),
                output: Some(failing),
            },
            AgentEvent::ToolCall {
                name: "Edit".into(),
                arguments: serde_json::json!({
                    "file_path": lib, "old_string": "    a - b", "new_string": "    a + b"
                }),
                success: Some(true),
            },
            AgentEvent::FileChange {
                path: lib.into(),
                kind: "edit".into()
            },
            AgentEvent::Command {
                command: "cargo test -p calc".into(),
                exit_code: Some(0),
                output: Some(passing),
            },
            AgentEvent::Message {
                text: final_text.into()
            },
            AgentEvent::Usage(outcome.usage),
            AgentEvent::TurnEnded {
                turn: 1,
                status: TurnStatus::Completed,
                error: None
            },
        ]
    );

    // The second turn goes to the same process; init repeats but the session is reported once.
    let second = turn(&mut session, "Now commit it.").await;
    assert_eq!(second.status, TurnStatus::Completed);
    assert_eq!(
        second.usage,
        TokenUsage {
            input_tokens: 30 + 52000 + 5400,
            output_tokens: 700,
            total_tokens: 30 + 52000 + 5400 + 700,
        },
        "modelUsage is the process's running total"
    );
    let events = drain(&mut rx);
    assert!(!events
        .iter()
        .any(|e| matches!(e, AgentEvent::SessionStarted { .. })));
    assert_eq!(
        events.first(),
        Some(&AgentEvent::TurnStarted {
            turn: 2,
            turn_id: None
        })
    );
    assert_eq!(ended(&events), vec![TurnStatus::Completed]);

    // Each turn was one stream-json user message on stdin.
    let input = std::fs::read_to_string(fx.dir.join("input.jsonl")).unwrap();
    let lines: Vec<&str> = input.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        format!("{}\n", lines[0]),
        user_message_line("Fix ENG-42: add() is wrong.")
    );
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "text", "text": "Fix ENG-42: add() is wrong."}
        ]}})
    );

    // Stopping closes stdin; the fake exits 0 on its own. Stopping twice is harmless.
    session.stop().await;
    session.stop().await;
    let events = drain(&mut rx);
    assert_eq!(
        events,
        vec![AgentEvent::ProcessExited {
            code: Some(0),
            signal: None
        }]
    );
    assert!(matches!(
        session.run_turn("more", &CancellationToken::new()).await,
        Err(AgentError::Exited(_))
    ));
}

#[tokio::test]
async fn error_during_execution_fails_the_turn() {
    let fx = fixture("claude_error_during_execution.jsonl", generous());
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Build it.").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("error_during_execution"), "{error}");
    assert!(error.contains("Connection error."), "{error}");
    assert_eq!(outcome.usage.total_tokens, 4 + 57 + 11840 + 512);
    let events = drain(&mut rx);
    // The Bash call never got its result: reported without one.
    assert!(events.contains(&AgentEvent::Command {
        command: "cargo build".into(),
        exit_code: None,
        output: None,
    }));
    assert_eq!(ended(&events), vec![TurnStatus::Failed]);
    session.stop().await;
}

#[tokio::test]
async fn success_subtype_with_is_error_fails_the_turn() {
    let fx = fixture("claude_success_but_is_error.jsonl", generous());
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Fix it.").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    let error = outcome.error.unwrap();
    assert!(error.contains("API Error: 529"), "{error}");
    assert!(outcome.last_message.unwrap().starts_with("API Error: 529"));
    let events = drain(&mut rx);
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::TurnEnded {
            status: TurnStatus::Failed,
            error: Some(_),
            ..
        }
    )));
    session.stop().await;
}

#[tokio::test]
async fn max_turns_fails_the_turn_and_reports_denials() {
    let fx = fixture("claude_max_turns.jsonl", generous());
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Ship it.").await;
    assert_eq!(
        outcome.status,
        TurnStatus::Failed,
        "is_error was false: the subtype decides"
    );
    let error = outcome.error.unwrap();
    assert!(error.starts_with("error_max_turns"), "{error}");
    assert!(error.contains('3'), "{error}");
    let events = drain(&mut rx);
    assert!(events.contains(&AgentEvent::Approval {
        kind: "Bash".into(),
        decision: "decline".into(),
        detail: Some(
            r#"{"command":"git push origin eng-42","description":"Push the branch"}"#.into()
        ),
    }));
    assert!(events.contains(&AgentEvent::ToolCall {
        name: "Read".into(),
        arguments: serde_json::json!({"file_path": "/tmp/baton-ws/ENG-42/README.md"}),
        success: Some(true),
    }));
    // The last call was cut off by the limit.
    assert!(events.contains(&AgentEvent::ToolCall {
        name: "Grep".into(),
        arguments: serde_json::json!({"pattern": "fn add", "path": "/tmp/baton-ws/ENG-42"}),
        success: None,
    }));
    assert!(events.iter().any(|e| matches!(
        e,
        AgentEvent::Command { command, exit_code: None, output: Some(out) }
            if command == "git push origin eng-42" && out.contains("permissions")
    )));
    session.stop().await;
}

#[tokio::test]
async fn malformed_lines_become_notices() {
    let fx = fixture("claude_malformed.jsonl", generous());
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Go.").await;
    assert_eq!(outcome.status, TurnStatus::Completed);
    assert_eq!(
        outcome.last_message.as_deref(),
        Some("Still here: the change is done.")
    );
    let events = drain(&mut rx);
    let notices: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Notice { text } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 4, "{notices:?}");
    assert!(notices[0].contains("malformed") && notices[0].contains("Warning"));
    assert!(notices[1].contains("malformed"));
    assert!(notices[2].contains("non-object"));
    assert!(notices[3].contains("future_message_kind"));
    session.stop().await;
}

#[tokio::test]
async fn a_missing_binary_is_a_spawn_error() {
    let mut fx = fixture("claude_success.jsonl", generous());
    fx.config.command_argv = vec!["/nonexistent/bin/claude".into(), "-p".into()];
    let (tx, _rx) = mpsc::channel(16);
    match ClaudeCodeProvider::new().start(fx.config.clone(), tx).await {
        Err(AgentError::Spawn { program, .. }) => assert_eq!(program, "/nonexistent/bin/claude"),
        Err(other) => panic!("expected a spawn error, got {other}"),
        Ok(_) => panic!("expected a spawn error"),
    }
}

#[tokio::test]
async fn unknown_options_are_refused() {
    let mut fx = fixture("claude_success.jsonl", generous());
    fx.config
        .options
        .insert("sandbox".into(), serde_json::json!("workspace-write"));
    let (tx, _rx) = mpsc::channel(16);
    assert!(matches!(
        ClaudeCodeProvider::new().start(fx.config.clone(), tx).await,
        Err(AgentError::InvalidOptions(_))
    ));
}

#[tokio::test]
async fn silence_is_a_stall_and_kills_the_process() {
    let fx = fixture(
        "claude_stall.jsonl",
        Timeouts {
            read: Duration::from_secs(20),
            turn: Duration::from_secs(120),
            stall: Some(Duration::from_secs(1)),
        },
    );
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Run everything.").await;
    assert_eq!(outcome.status, TurnStatus::Stalled);
    let events = drain(&mut rx);
    assert!(events
        .iter()
        .any(|e| matches!(e, AgentEvent::ProcessExited { .. })));
    assert_eq!(ended(&events), vec![TurnStatus::Stalled]);
    // The process is gone: a later turn cannot run.
    assert!(matches!(
        session.run_turn("again", &CancellationToken::new()).await,
        Err(AgentError::Exited(_))
    ));
}

#[tokio::test]
async fn a_long_turn_times_out() {
    let fx = fixture(
        "claude_stall.jsonl",
        Timeouts {
            read: Duration::from_secs(20),
            turn: Duration::from_secs(2),
            stall: None,
        },
    );
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Run everything.").await;
    assert_eq!(outcome.status, TurnStatus::TimedOut);
    assert!(outcome.error.unwrap().contains("timed out"));
    assert_eq!(ended(&drain(&mut rx)), vec![TurnStatus::TimedOut]);
    assert!(matches!(
        session.run_turn("again", &CancellationToken::new()).await,
        Err(AgentError::Exited(_))
    ));
}

#[tokio::test]
async fn cancel_interrupts_within_five_seconds() {
    let fx = fixture(
        "claude_stall.jsonl",
        Timeouts {
            read: Duration::from_secs(20),
            turn: Duration::from_secs(600),
            stall: None,
        },
    );
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let cancel = CancellationToken::new();
    let (cancelled_tx, cancelled_rx) = tokio::sync::oneshot::channel();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = cancelled_tx.send(Instant::now());
        trigger.cancel();
    });
    let outcome = session.run_turn("Run everything.", &cancel).await.unwrap();
    let returned = Instant::now();
    let cancelled = cancelled_rx.await.unwrap();
    assert_eq!(outcome.status, TurnStatus::Interrupted);
    assert!(
        returned.duration_since(cancelled) < Duration::from_secs(5),
        "took {:?} after cancel",
        returned.duration_since(cancelled)
    );
    let events = drain(&mut rx);
    assert_eq!(ended(&events), vec![TurnStatus::Interrupted]);
    assert!(matches!(
        session.run_turn("again", &CancellationToken::new()).await,
        Err(AgentError::Exited(_))
    ));
}

#[tokio::test]
async fn exiting_mid_turn_is_a_crash() {
    let fx = fixture("claude_crash.jsonl", generous());
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Go.").await;
    assert_eq!(outcome.status, TurnStatus::Crashed);
    let error = outcome.error.unwrap();
    assert!(error.contains("exit code 3"), "{error}");
    let events = drain(&mut rx);
    assert!(events.contains(&AgentEvent::ProcessExited {
        code: Some(3),
        signal: None
    }));
    assert_eq!(ended(&events), vec![TurnStatus::Crashed]);
    assert!(matches!(
        session.run_turn("again", &CancellationToken::new()).await,
        Err(AgentError::Exited(_))
    ));
}

#[tokio::test]
async fn the_environment_is_exactly_the_configured_one() {
    let mut fx = fixture("claude_success.jsonl", generous());
    let env_out = fx.dir.join("env.txt");
    fx.config
        .env
        .push(("REPLAY_ENV_OUT".into(), env_out.display().to_string()));
    fx.config
        .env
        .push(("ANTHROPIC_BASE_URL".into(), "http://127.0.0.1:9".into()));
    // The configured variables plus baton's unattended defaults, nothing else: the test
    // process's own environment (HOME, CARGO_*, ...) must not leak into it.
    let expected = baton_runner::agent::claude_code::claude_env(&fx.config.env);
    assert!(expected.contains(&("DISABLE_AUTOUPDATER".into(), "1".into())));
    let (mut session, _rx) = start(fx.config.clone()).await;
    turn(&mut session, "Go.").await;
    session.stop().await;

    let seen = std::fs::read_to_string(&env_out).unwrap();
    let mut seen: Vec<(String, String)> = seen
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        // What the shell itself sets.
        .filter(|(k, _)| !matches!(k.as_str(), "PWD" | "OLDPWD" | "SHLVL" | "_"))
        .collect();
    seen.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(seen, expected);
}
