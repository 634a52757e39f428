//! `baton-mock-agent`: a stand-in for `codex app-server` that plays a scenario file.
//!
//! It answers `initialize`, `thread/start` and `turn/interrupt` by itself; each `turn/start`
//! runs the next turn of the scenario (see [`scenario`] and `runner/scenarios/README.md`).
//! A turn whose steps run out without `complete` or `exit` completes successfully; a
//! `turn/start` past the last turn completes as failed.

pub mod scenario;
mod steps;

pub use steps::substitute;

use self::scenario::Step;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// The thread id the mock reports.
pub const THREAD_ID: &str = "thr_mock";

/// How long a `request` step waits for its answer unless told otherwise.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The scenarios shipped in `runner/scenarios`, built in by name.
const BUILTIN_SCENARIOS: &[(&str, &str)] = &[
    (
        "happy_path",
        include_str!("../../scenarios/happy_path.jsonl"),
    ),
    (
        "slow_happy_path",
        include_str!("../../scenarios/slow_happy_path.jsonl"),
    ),
    ("iterate", include_str!("../../scenarios/iterate.jsonl")),
    ("two_turns", include_str!("../../scenarios/two_turns.jsonl")),
    ("tool_call", include_str!("../../scenarios/tool_call.jsonl")),
    ("approval", include_str!("../../scenarios/approval.jsonl")),
    (
        "failed_turn",
        include_str!("../../scenarios/failed_turn.jsonl"),
    ),
    (
        "completed_with_error",
        include_str!("../../scenarios/completed_with_error.jsonl"),
    ),
    (
        "turn_timeout",
        include_str!("../../scenarios/turn_timeout.jsonl"),
    ),
    ("stall", include_str!("../../scenarios/stall.jsonl")),
    (
        "stall_deaf",
        include_str!("../../scenarios/stall_deaf.jsonl"),
    ),
    ("crash", include_str!("../../scenarios/crash.jsonl")),
    (
        "malformed_line",
        include_str!("../../scenarios/malformed_line.jsonl"),
    ),
    (
        "input_required",
        include_str!("../../scenarios/input_required.jsonl"),
    ),
];

/// A built-in scenario's text by name (`happy_path`, `stall`, ...).
pub fn builtin_scenario(name: &str) -> Option<&'static str> {
    BUILTIN_SCENARIOS
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, text)| *text)
}

/// Runs the mock agent on stdin/stdout with a scenario (a file, or a built-in name when no
/// such file exists); returns the exit code.
pub async fn run(scenario_path: &Path) -> i32 {
    let builtin = (!scenario_path.exists())
        .then(|| scenario_path.to_str().and_then(builtin_scenario))
        .flatten();
    let text = match builtin.map_or_else(
        || std::fs::read_to_string(scenario_path),
        |t| Ok(t.to_owned()),
    ) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "baton-mock-agent: cannot read {}: {e}",
                scenario_path.display()
            );
            return 2;
        }
    };
    let turns = match scenario::parse(&text) {
        Ok(turns) => turns,
        Err(e) => {
            eprintln!(
                "baton-mock-agent: invalid scenario {}: {e}",
                scenario_path.display()
            );
            return 2;
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let agent = Arc::new(Agent {
        out: tokio::sync::Mutex::new(tokio::io::stdout()),
        pending: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1000),
        cwd,
        current: Mutex::new(None),
        deaf: AtomicBool::new(false),
    });
    agent.serve(turns).await
}

struct Agent {
    out: tokio::sync::Mutex<tokio::io::Stdout>,
    /// Requests sent to the client, waiting for their answers.
    pending: Mutex<HashMap<u64, oneshot::Sender<Value>>>,
    next_id: AtomicU64,
    cwd: PathBuf,
    /// The running turn's interruption token.
    current: Mutex<Option<CancellationToken>>,
    /// The running turn ignores `turn/interrupt`.
    deaf: AtomicBool,
}

/// How a turn's steps ended.
enum End {
    Complete(String, Option<String>),
    Exit(i32),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Agent {
    async fn write(&self, message: &Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.write_raw(&line).await;
    }

    async fn write_raw(&self, line: &str) {
        let mut out = self.out.lock().await;
        // A closed stdout means the client is gone; stdin EOF will end the mock.
        let _ = out.write_all(line.as_bytes()).await;
        let _ = out.flush().await;
    }

    async fn notify(&self, method: &str, params: Value) {
        self.write(&json!({ "method": method, "params": params }))
            .await;
    }

    async fn serve(self: Arc<Self>, turns: Vec<Vec<Step>>) -> i32 {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut turn_number = 0usize;
        loop {
            let line = match lines.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) | Err(_) => return 0,
            };
            let Ok(Value::Object(message)) = serde_json::from_str::<Value>(&line) else {
                eprintln!("baton-mock-agent: ignoring a line that is not a JSON object");
                continue;
            };
            let id = message.get("id").cloned().filter(|v| !v.is_null());
            let method = message.get("method").and_then(Value::as_str);
            match (method, id) {
                (Some(method), Some(id)) => {
                    match method {
                        "initialize" => {
                            self.write(&json!({"id": id, "result": {"userAgent": "baton-mock-agent"}}))
                                .await
                        }
                        "thread/start" => {
                            self.write(&json!({"id": id, "result": {"thread": {"id": THREAD_ID}}}))
                                .await
                        }
                        "turn/start" => {
                            if lock(&self.current).is_some() {
                                self.write(&json!({"id": id, "error": {"code": -32600, "message": "a turn is already running"}}))
                                    .await;
                                continue;
                            }
                            turn_number += 1;
                            let turn_id = format!("turn_{turn_number}");
                            let token = CancellationToken::new();
                            *lock(&self.current) = Some(token.clone());
                            self.deaf.store(false, Ordering::SeqCst);
                            self.write(&json!({"id": id, "result": {"turn": {"id": turn_id, "status": "inProgress", "items": [], "error": null}}}))
                                .await;
                            self.notify(
                                "turn/started",
                                json!({"threadId": THREAD_ID, "turn": {"id": turn_id, "status": "inProgress", "items": []}}),
                            )
                            .await;
                            let steps = turns.get(turn_number - 1).cloned();
                            tokio::spawn(self.clone().run_turn(turn_id, steps, token));
                        }
                        "turn/interrupt" => {
                            if !self.deaf.load(Ordering::SeqCst) {
                                if let Some(token) = lock(&self.current).as_ref() {
                                    token.cancel();
                                }
                            }
                            self.write(&json!({"id": id, "result": {}})).await;
                        }
                        other => {
                            self.write(&json!({"id": id, "error": {"code": -32601, "message": format!("mock: unknown method {other}")}}))
                                .await
                        }
                    }
                }
                (Some(_), None) => {} // `initialized` and other notifications
                (None, Some(id)) => {
                    let waiter = id.as_u64().and_then(|id| lock(&self.pending).remove(&id));
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(Value::Object(message));
                    }
                }
                (None, None) => eprintln!("baton-mock-agent: ignoring a message without id or method"),
            }
        }
    }

    async fn run_turn(
        self: Arc<Self>,
        turn_id: String,
        steps: Option<Vec<Step>>,
        token: CancellationToken,
    ) {
        let end = match steps {
            None => End::Complete(
                "failed".into(),
                Some("mock: the scenario has no more turns".into()),
            ),
            Some(steps) => tokio::select! {
                _ = token.cancelled() => End::Complete("interrupted".into(), None),
                end = self.run_steps(&turn_id, steps, &token) => end,
            },
        };
        match end {
            End::Exit(code) => {
                let _ = self.out.lock().await.flush().await;
                std::process::exit(code);
            }
            End::Complete(status, error) => {
                *lock(&self.current) = None;
                let error = error.map(|message| json!({ "message": message }));
                self.notify(
                    "turn/completed",
                    json!({"threadId": THREAD_ID, "turn": {"id": turn_id, "status": status, "items": [], "error": error}}),
                )
                .await;
            }
        }
    }

    async fn run_steps(&self, turn_id: &str, steps: Vec<Step>, token: &CancellationToken) -> End {
        let mut items = 0u32;
        for step in steps {
            items += 1;
            let item_id = format!("{turn_id}_item_{items}");
            if let Some(end) = self.step(turn_id, &item_id, step, token).await {
                return end;
            }
        }
        End::Complete("completed".into(), None)
    }
}
