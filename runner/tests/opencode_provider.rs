//! The OpenCode provider against recorded `opencode run --format json` transcripts, replayed
//! by a fake CLI (`transcripts/replay.sh`) over real pipes, one process per turn.

use baton_runner::agent::opencode::OpenCodeProvider;
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

const SESSION: &str = "ses_4a17b0e2cffeYq7dKp2Vn9Rx3L";

fn transcripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "baton-opencode-test-{}-{}",
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
    let out = |name: &str| dir.join(name).display().to_string();
    let env = vec![
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("REPLAY_MODE".to_string(), "opencode".to_string()),
        (
            "REPLAY_TRANSCRIPT".to_string(),
            transcripts().join(transcript).display().to_string(),
        ),
        ("REPLAY_ARGS_OUT".to_string(), out("args.txt")),
    ];
    let config = SessionConfig {
        workspace: dir.clone(),
        command_argv: vec![
            "sh".into(),
            transcripts().join("replay.sh").display().to_string(),
            "run".into(),
            "--format".into(),
            "json".into(),
        ],
        env,
        timeouts,
        approval_policy: ApprovalPolicy::AcceptAll,
        options: serde_json::Map::new(),
        tools: Arc::new(NoTools),
    };
    Fixture { dir, config }
}

impl Fixture {
    fn env(&mut self, key: &str, value: &str) {
        self.config.env.push((key.into(), value.into()));
    }
}

async fn start(config: SessionConfig) -> (Box<dyn AgentSession>, mpsc::Receiver<AgentEvent>) {
    let (tx, rx) = mpsc::channel(1024);
    let session = OpenCodeProvider::new()
        .start(config, tx)
        .await
        .expect("the session starts");
    (session, rx)
}

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

fn usage(input_tokens: u64, output_tokens: u64) -> TokenUsage {
    TokenUsage {
        input_tokens,
        output_tokens,
        total_tokens: input_tokens + output_tokens,
    }
}

#[tokio::test]
async fn success_path_and_session_continuation() {
    let mut fx = fixture("opencode_success.jsonl", generous());
    let prompt_out = fx.dir.join("prompt.txt");
    fx.env("REPLAY_INPUT_OUT", &prompt_out.display().to_string());
    let (mut session, mut rx) = start(fx.config.clone()).await;
    assert!(drain(&mut rx).is_empty(), "start only validates");

    let prompt = "--not-a-flag\nFix ENG-42: \"add\" is wrong.\n  Keep the indentation.";
    let outcome = turn(&mut session, prompt).await;
    assert_eq!(outcome.status, TurnStatus::Completed);
    assert_eq!(outcome.error, None);
    // Three steps: input + cache read + cache write, output + reasoning.
    let step1 = usage(12 + 11000 + 1400, 180);
    let step2 = usage(8 + 12400 + 300, 95);
    let step3 = usage(4 + 12800, 40);
    let total = |steps: &[TokenUsage]| {
        usage(
            steps.iter().map(|u| u.input_tokens).sum(),
            steps.iter().map(|u| u.output_tokens).sum(),
        )
    };
    assert_eq!(outcome.usage, total(&[step1, step2, step3]));
    let final_text = "Fixed ENG-42: `add` subtracted its operands. The calc tests pass now.";
    assert_eq!(outcome.last_message.as_deref(), Some(final_text));

    // The prompt went through stdin, byte for byte.
    assert_eq!(std::fs::read_to_string(&prompt_out).unwrap(), prompt);

    let events = drain(&mut rx);
    let pid = match &events[0] {
        AgentEvent::SessionStarted { session_id, pid } => {
            assert_eq!(session_id, SESSION);
            *pid
        }
        other => panic!("first event {other:?}"),
    };
    assert!(pid.is_some());
    let output_of = |i: usize| match &events[i] {
        AgentEvent::Command { output, .. } => output.clone(),
        other => panic!("expected a command at {i}, got {other:?}"),
    };
    let lib = "/tmp/baton-ws/ENG-42/calc/src/lib.rs";
    assert_eq!(
        events,
        vec![
            AgentEvent::SessionStarted {
                session_id: SESSION.into(),
                pid
            },
            AgentEvent::TurnStarted {
                turn: 1,
                turn_id: Some("msg_b6b8e1f0a001Qw3Ez".into())
            },
            AgentEvent::Message {
                text: "I'll run the calc tests to see the failure first.".into()
            },
            AgentEvent::Command {
                command: "cargo test -p calc".into(),
                exit_code: Some(101),
                output: output_of(3),
            },
            AgentEvent::Usage(step1),
            AgentEvent::ToolCall {
                name: "edit".into(),
                arguments: serde_json::json!({
                    "filePath": lib, "oldString": "    a - b", "newString": "    a + b"
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
                output: output_of(7),
            },
            AgentEvent::Usage(total(&[step1, step2])),
            AgentEvent::Message {
                text: final_text.into()
            },
            AgentEvent::Usage(total(&[step1, step2, step3])),
            AgentEvent::ProcessExited {
                code: Some(0),
                signal: None
            },
            AgentEvent::TurnEnded {
                turn: 1,
                status: TurnStatus::Completed,
                error: None
            },
        ]
    );
    assert!(output_of(3).unwrap().contains("FAILED"));

    // The second turn is a new process continuing the reported session; usage accumulates.
    let second = turn(&mut session, "Now commit it.").await;
    assert_eq!(second.status, TurnStatus::Completed);
    assert_eq!(
        second.usage,
        total(&[step1, step2, step3, step1, step2, step3])
    );
    let events = drain(&mut rx);
    assert!(!events
        .iter()
        .any(|e| matches!(e, AgentEvent::SessionStarted { .. })));
    assert_eq!(ended(&events), vec![TurnStatus::Completed]);
    let args = std::fs::read_to_string(fx.dir.join("args.txt")).unwrap();
    let runs: Vec<&str> = args.lines().collect();
    assert_eq!(
        runs,
        vec![
            "run --format json".to_string(),
            format!("run --format json --session {SESSION}")
        ]
    );

    session.stop().await;
    session.stop().await;
    assert!(matches!(
        session.run_turn("more", &CancellationToken::new()).await,
        Err(AgentError::Exited(_))
    ));
}

#[tokio::test]
async fn an_error_event_fails_the_turn() {
    let mut fx = fixture("opencode_error.jsonl", generous());
    fx.env("REPLAY_EXIT", "1");
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Fix it.").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert_eq!(
        outcome.error.as_deref(),
        Some("APIError: Unauthorized: invalid x-api-key")
    );
    let events = drain(&mut rx);
    assert!(events.contains(&AgentEvent::ToolCall {
        name: "read".into(),
        arguments: serde_json::json!({"filePath": "/tmp/baton-ws/ENG-42/calc/src/lib.rs"}),
        success: Some(false),
    }));
    assert!(events.contains(&AgentEvent::ProcessExited {
        code: Some(1),
        signal: None
    }));
    assert_eq!(ended(&events), vec![TurnStatus::Failed]);
}

#[tokio::test]
async fn a_nonzero_exit_without_an_error_event_fails_the_turn() {
    let mut fx = fixture("opencode_success.jsonl", generous());
    fx.env("REPLAY_EXIT", "2");
    let (mut session, _rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Fix it.").await;
    assert_eq!(outcome.status, TurnStatus::Failed);
    assert!(outcome.error.unwrap().contains("exit code 2"));
}

#[tokio::test]
async fn malformed_lines_become_notices() {
    let fx = fixture("opencode_malformed.jsonl", generous());
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Go.").await;
    assert_eq!(outcome.status, TurnStatus::Completed);
    assert_eq!(
        outcome.last_message.as_deref(),
        Some("Done despite the noise.")
    );
    let events = drain(&mut rx);
    let notices: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Notice { text } => Some(text),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 3, "{notices:?}");
    assert!(notices[0].contains("malformed") && notices[0].contains("INFO"));
    assert!(notices[1].contains("malformed"));
    assert!(notices[2].contains("session.compacted"));
}

#[tokio::test]
async fn a_missing_binary_is_a_spawn_error() {
    for program in ["/nonexistent/bin/opencode", "opencode-not-installed-here"] {
        let mut fx = fixture("opencode_success.jsonl", generous());
        fx.config.command_argv = vec![program.into(), "run".into()];
        let (tx, _rx) = mpsc::channel(16);
        match OpenCodeProvider::new().start(fx.config.clone(), tx).await {
            Err(AgentError::Spawn { program: p, .. }) => assert_eq!(p, program),
            Err(other) => panic!("expected a spawn error, got {other}"),
            Ok(_) => panic!("expected a spawn error for {program}"),
        }
    }
}

#[tokio::test]
async fn silence_is_a_stall() {
    let fx = fixture(
        "opencode_stall.jsonl",
        Timeouts {
            read: Duration::from_secs(20),
            turn: Duration::from_secs(120),
            stall: Some(Duration::from_secs(1)),
        },
    );
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Think.").await;
    assert_eq!(outcome.status, TurnStatus::Stalled);
    let events = drain(&mut rx);
    assert!(events
        .iter()
        .any(|e| matches!(e, AgentEvent::ProcessExited { .. })));
    assert_eq!(ended(&events), vec![TurnStatus::Stalled]);
}

#[tokio::test]
async fn a_long_turn_times_out_and_the_session_goes_on() {
    let fx = fixture(
        "opencode_stall.jsonl",
        Timeouts {
            read: Duration::from_secs(20),
            turn: Duration::from_secs(2),
            stall: None,
        },
    );
    let (mut session, mut rx) = start(fx.config.clone()).await;
    let outcome = turn(&mut session, "Think.").await;
    assert_eq!(outcome.status, TurnStatus::TimedOut);
    assert_eq!(ended(&drain(&mut rx)), vec![TurnStatus::TimedOut]);
    // One process per turn: the next turn starts a new one (and times out the same way).
    let again = turn(&mut session, "Think again.").await;
    assert_eq!(again.status, TurnStatus::TimedOut);
    let args = std::fs::read_to_string(fx.dir.join("args.txt")).unwrap();
    assert_eq!(args.lines().count(), 2);
}

#[tokio::test]
async fn cancel_interrupts_within_five_seconds() {
    let fx = fixture(
        "opencode_stall.jsonl",
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
    let outcome = session.run_turn("Think.", &cancel).await.unwrap();
    let returned = Instant::now();
    let cancelled = cancelled_rx.await.unwrap();
    assert_eq!(outcome.status, TurnStatus::Interrupted);
    assert!(
        returned.duration_since(cancelled) < Duration::from_secs(5),
        "took {:?} after cancel",
        returned.duration_since(cancelled)
    );
    assert_eq!(ended(&drain(&mut rx)), vec![TurnStatus::Interrupted]);
}

#[tokio::test]
async fn the_environment_is_exactly_the_configured_one() {
    let mut fx = fixture("opencode_success.jsonl", generous());
    let env_out = fx.dir.join("env.txt");
    fx.env("REPLAY_ENV_OUT", &env_out.display().to_string());
    fx.env("OPENCODE_CONFIG_CONTENT", "{}");
    let expected = fx.config.env.clone();
    let (mut session, _rx) = start(fx.config.clone()).await;
    turn(&mut session, "Go.").await;

    let seen = std::fs::read_to_string(&env_out).unwrap();
    let mut seen: Vec<(String, String)> = seen
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .filter(|(k, _)| !matches!(k.as_str(), "PWD" | "OLDPWD" | "SHLVL" | "_"))
        .collect();
    seen.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(seen, expected);
}
