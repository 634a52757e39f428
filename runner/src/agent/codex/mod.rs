//! The Codex provider: drives `codex app-server` (JSON-RPC over stdio, one JSON object per
//! line) and normalizes its notifications into [`AgentEvent`]s.
//!
//! One session is one process and one Codex thread. A reader task classifies stdout lines
//! ([`wire::Incoming`]); the session consumes them in order, matching responses to its requests
//! by id, answering the agent's requests (approvals by policy, dynamic tools through the
//! [`ToolHandler`]) and turning notifications into events. Every wait is bounded by the read,
//! turn or stall timeout, or by cancellation.

mod normalize;
pub mod wire;

use self::normalize::{notice, Normalizer};
use self::wire::{read_line_bounded, truncate, Incoming, Line, MAX_LINE};
use super::{
    AgentError, AgentEvent, AgentProvider, AgentSession, ApprovalPolicy, SessionConfig, Timeouts,
    ToolHandler, TurnOutcome, TurnStatus,
};
use async_trait::async_trait;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How long an interrupted (or timed-out, stalled) turn may take to end before the process is
/// killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(3);
/// How long a process may take to exit (after stdin closes, after a kill, after stdout EOF).
const EXIT_GRACE: Duration = Duration::from_secs(1);
/// stderr lines reported as notices per session; later ones are drained silently.
const MAX_STDERR_NOTICES: usize = 200;
/// The longest stderr line reported.
const MAX_STDERR_LINE: usize = 2048;
/// How long an event may wait for room in a full event channel before it is dropped.
const EMIT_PATIENCE: Duration = Duration::from_secs(5);
/// Classified stdout messages buffered between the reader task and the session.
const INCOMING_CAPACITY: usize = 256;

/// The Codex `app-server` provider (also used, with another program, by the mock provider).
#[derive(Debug, Clone)]
pub struct CodexProvider {
    kind: &'static str,
    /// Replaces `SessionConfig::command_argv` when set.
    argv: Option<Vec<String>>,
}

impl Default for CodexProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl CodexProvider {
    /// The provider for `codex app-server`; an empty `command_argv` means `codex app-server`.
    pub fn new() -> Self {
        Self {
            kind: "codex",
            argv: None,
        }
    }

    /// The same protocol spoken by another program, reported under another kind.
    pub fn with_command(kind: &'static str, argv: Vec<String>) -> Self {
        Self {
            kind,
            argv: Some(argv),
        }
    }
}

/// Codex-specific options from `SessionConfig::options`.
#[derive(Debug, Clone, PartialEq)]
pub struct CodexOptions {
    /// `approvalPolicy` of `thread/start`: `untrusted|on-failure|on-request|never`.
    pub approval_policy: String,
    /// `sandbox` of `thread/start`: `read-only|workspace-write|danger-full-access`.
    pub sandbox: String,
    pub model: Option<String>,
    /// `sandboxPolicy` of each `turn/start` (e.g. `{"type":"externalSandbox"}`), if set.
    pub sandbox_policy: Option<Value>,
}

impl CodexOptions {
    /// Reads `approval_policy` (or `approvalPolicy`), `sandbox`, `model` and `sandbox_policy`
    /// (or `sandboxPolicy`); any other key is refused. Unattended defaults: approval policy
    /// `never`, sandbox `workspace-write`.
    pub fn from_options(options: &Map<String, Value>) -> Result<Self, AgentError> {
        fn string(
            options: &Map<String, Value>,
            keys: &[&str],
        ) -> Result<Option<String>, AgentError> {
            for key in keys {
                match options.get(*key) {
                    None | Some(Value::Null) => continue,
                    Some(Value::String(s)) => return Ok(Some(s.clone())),
                    Some(other) => {
                        return Err(AgentError::InvalidOptions(format!(
                            "`{key}` must be a string, not {other}"
                        )))
                    }
                }
            }
            Ok(None)
        }
        let approval_policy = string(options, &["approval_policy", "approvalPolicy"])?
            .unwrap_or_else(|| "never".to_string());
        if !["untrusted", "on-failure", "on-request", "never"].contains(&approval_policy.as_str()) {
            return Err(AgentError::InvalidOptions(format!(
                "approval_policy `{approval_policy}`: expected untrusted, on-failure, on-request or never"
            )));
        }
        let sandbox =
            string(options, &["sandbox"])?.unwrap_or_else(|| "workspace-write".to_string());
        if !["read-only", "workspace-write", "danger-full-access"].contains(&sandbox.as_str()) {
            return Err(AgentError::InvalidOptions(format!(
                "sandbox `{sandbox}`: expected read-only, workspace-write or danger-full-access"
            )));
        }
        let model = string(options, &["model"])?;
        // A key Codex would never see is a mistake the run should name at its start.
        const KNOWN: &[&str] = &[
            "approval_policy",
            "approvalPolicy",
            "sandbox",
            "model",
            "sandbox_policy",
            "sandboxPolicy",
        ];
        if let Some(unknown) = options.keys().find(|key| !KNOWN.contains(&key.as_str())) {
            return Err(AgentError::InvalidOptions(format!(
                "unknown codex option `{unknown}` (known: {})",
                KNOWN.join(", ")
            )));
        }
        let sandbox_policy = match options
            .get("sandbox_policy")
            .or_else(|| options.get("sandboxPolicy"))
        {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(Value::String(kind)) => Some(json!({ "type": kind })),
            Some(other) => {
                return Err(AgentError::InvalidOptions(format!(
                    "sandbox_policy must be an object or a type name, not {other}"
                )))
            }
        };
        Ok(Self {
            approval_policy,
            sandbox,
            model,
            sandbox_policy,
        })
    }
}

#[async_trait]
impl AgentProvider for CodexProvider {
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn start(
        &self,
        config: SessionConfig,
        events: mpsc::Sender<AgentEvent>,
    ) -> Result<Box<dyn AgentSession>, AgentError> {
        let options = CodexOptions::from_options(&config.options)?;
        let argv = match &self.argv {
            Some(argv) => argv.clone(),
            None if config.command_argv.is_empty() => vec!["codex".into(), "app-server".into()],
            None => config.command_argv.clone(),
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(AgentError::InvalidOptions("empty command_argv".into()));
        };
        super::credentials::check(self.kind, &argv, &config.env)?;
        let spawn_error = |reason: String| AgentError::Spawn {
            program: program.clone(),
            reason,
        };
        let mut child = Command::new(program)
            .args(args)
            .env_clear()
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&config.workspace)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| spawn_error(e.to_string()))?;
        let pid = child.id();
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(spawn_error("stdio pipes unavailable".into()));
        };
        let (incoming_tx, incoming) = mpsc::channel(INCOMING_CAPACITY);
        let tasks = vec![
            tokio::spawn(read_stdout(stdout, incoming_tx).in_current_span()),
            tokio::spawn(forward_stderr(stderr, events.clone()).in_current_span()),
        ];
        let mut session = CodexSession {
            child: Some(child),
            stdin: Some(stdin),
            incoming,
            events,
            tasks,
            thread_id: String::new(),
            next_id: 0,
            turns: 0,
            state: Normalizer::default(),
            timeouts: config.timeouts,
            approval: config.approval_policy,
            tools: config.tools.clone(),
            options,
            workspace: config.workspace.clone(),
            eof: false,
            cancel: CancellationToken::new(),
            turn_deadline: None,
            input_required: None,
        };
        match session.handshake().await {
            Ok(()) => {
                session
                    .emit(AgentEvent::SessionStarted {
                        session_id: session.thread_id.clone(),
                        pid,
                    })
                    .await;
                Ok(Box::new(session))
            }
            Err(error) => {
                session.kill().await;
                Err(error)
            }
        }
    }
}

/// Reads stdout line by line and classifies each line; stops at end of output.
async fn read_stdout(stdout: ChildStdout, tx: mpsc::Sender<Incoming>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let message = match read_line_bounded(&mut reader, MAX_LINE).await {
            Ok(Some(Line::Text(line))) => match wire::parse_line(&line) {
                Some(message) => message,
                None => continue,
            },
            Ok(Some(Line::TooLong(len))) => {
                Incoming::Unexpected(format!("dropped a {len}-byte line (limit {MAX_LINE})"))
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx
                    .send(Incoming::Unexpected(format!("reading agent output: {e}")))
                    .await;
                return;
            }
        };
        if tx.send(message).await.is_err() {
            return;
        }
    }
}

/// Reports stderr lines as notices (bounded), then keeps draining it.
async fn forward_stderr(stderr: ChildStderr, events: mpsc::Sender<AgentEvent>) {
    let mut reader = BufReader::new(stderr);
    let mut reported = 0usize;
    loop {
        let text = match read_line_bounded(&mut reader, MAX_LINE).await {
            Ok(Some(Line::Text(line))) => {
                truncate(String::from_utf8_lossy(&line).trim_end(), MAX_STDERR_LINE)
            }
            Ok(Some(Line::TooLong(len))) => format!("[{len}-byte line dropped]"),
            Ok(None) | Err(_) => return,
        };
        if text.is_empty() {
            continue;
        }
        reported += 1;
        if reported <= MAX_STDERR_NOTICES {
            let _ = events
                .send(AgentEvent::Notice {
                    text: format!("stderr: {text}"),
                })
                .await;
        } else if reported == MAX_STDERR_NOTICES + 1 {
            let _ = events
                .send(AgentEvent::Notice {
                    text: "stderr: further output suppressed".into(),
                })
                .await;
        }
    }
}

/// Why a request got no result.
#[derive(Debug)]
enum RequestError {
    /// No answer within the read timeout.
    Timeout,
    /// The process is gone (stdout closed or stdin broken).
    Gone,
    Cancelled,
    /// The agent answered with an error.
    Rpc(String),
}

struct CodexSession {
    /// `None` once the process has been reaped.
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    incoming: mpsc::Receiver<Incoming>,
    events: mpsc::Sender<AgentEvent>,
    tasks: Vec<JoinHandle<()>>,
    thread_id: String,
    next_id: u64,
    turns: u32,
    state: Normalizer,
    timeouts: Timeouts,
    approval: ApprovalPolicy,
    tools: Arc<dyn ToolHandler>,
    options: CodexOptions,
    workspace: PathBuf,
    /// stdout reached its end.
    eof: bool,
    /// The cancellation of the running turn (tool calls are raced against it).
    cancel: CancellationToken,
    /// The deadline of the running turn (tool calls are raced against it).
    turn_deadline: Option<Instant>,
    /// Set when the agent asked for user input during the running turn.
    input_required: Option<String>,
}

impl Drop for CodexSession {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

impl CodexSession {
    /// Sends an event. A full channel applies back-pressure, but never for longer than
    /// [`EMIT_PATIENCE`]: a consumer that stopped reading must not keep a turn from ending.
    async fn emit(&self, event: AgentEvent) {
        match self.events.send_timeout(event, EMIT_PATIENCE).await {
            // A dropped receiver only means nobody listens any more.
            Ok(()) | Err(mpsc::error::SendTimeoutError::Closed(_)) => {}
            Err(mpsc::error::SendTimeoutError::Timeout(event)) => {
                // Only the kind: the event itself may carry secrets, and logs are not redacted.
                let kind = serde_json::to_value(&event)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_owned));
                tracing::warn!(
                    kind = kind.as_deref().unwrap_or("unknown"),
                    "agent event dropped: the event channel stayed full"
                );
            }
        }
    }

    async fn handshake(&mut self) -> Result<(), AgentError> {
        let init = json!({
            "clientInfo": {
                "name": "baton",
                "title": "baton",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "capabilities": { "experimentalApi": true },
        });
        self.request("initialize", init, None)
            .await
            .map_err(|e| self.handshake_error("initialize", e))?;
        self.send(&json!({ "method": "initialized" }))
            .await
            .map_err(|_| AgentError::Exited("the agent closed its input".into()))?;

        let mut params = json!({
            "cwd": self.workspace.to_string_lossy(),
            "approvalPolicy": self.options.approval_policy,
            "sandbox": self.options.sandbox,
        });
        if let Some(model) = &self.options.model {
            params["model"] = json!(model);
        }
        let tools: Vec<Value> = self
            .tools
            .specs()
            .into_iter()
            .map(|t| json!({"name": t.name, "description": t.description, "inputSchema": t.input_schema}))
            .collect();
        if !tools.is_empty() {
            params["dynamicTools"] = Value::Array(tools);
        }
        let result = self
            .request("thread/start", params, None)
            .await
            .map_err(|e| self.handshake_error("thread/start", e))?;
        match result.pointer("/thread/id").and_then(Value::as_str) {
            Some(id) => {
                self.thread_id = id.to_string();
                Ok(())
            }
            None => Err(AgentError::Protocol(format!(
                "thread/start answered without a thread id: {}",
                truncate(&result.to_string(), 512)
            ))),
        }
    }

    fn handshake_error(&self, method: &str, error: RequestError) -> AgentError {
        match error {
            RequestError::Timeout => AgentError::Protocol(format!(
                "no answer to `{method}` within {:?}",
                self.timeouts.read
            )),
            RequestError::Rpc(e) => AgentError::Protocol(format!("`{method}` failed: {e}")),
            RequestError::Gone | RequestError::Cancelled => {
                AgentError::Exited(format!("the agent exited during `{method}`"))
            }
        }
    }

    /// Writes one message; fails when the agent's stdin is gone or blocked past the read
    /// timeout.
    async fn send(&mut self, message: &Value) -> Result<(), ()> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(());
        };
        let mut line = message.to_string();
        line.push('\n');
        let write = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        };
        match timeout(self.timeouts.read, write).await {
            Ok(Ok(())) => Ok(()),
            _ => {
                self.stdin = None;
                Err(())
            }
        }
    }

    /// Sends a request and waits (read timeout) for its response, handling whatever else
    /// arrives meanwhile.
    async fn request(
        &mut self,
        method: &str,
        params: Value,
        cancel: Option<&CancellationToken>,
    ) -> Result<Value, RequestError> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({ "id": id, "method": method, "params": params }))
            .await
            .map_err(|_| RequestError::Gone)?;
        let deadline = deadline_after(self.timeouts.read);
        loop {
            if self.eof {
                return Err(RequestError::Gone);
            }
            tokio::select! {
                biased;
                _ = cancelled(cancel) => return Err(RequestError::Cancelled),
                message = self.incoming.recv() => match message {
                    None => self.eof = true,
                    Some(Incoming::Response { id: got, result }) if got == id => {
                        return result.map_err(RequestError::Rpc);
                    }
                    Some(message) => self.handle(message).await,
                },
                _ = sleep_until(deadline) => return Err(RequestError::Timeout),
            }
        }
    }

    /// Handles one message that is not the awaited response.
    async fn handle(&mut self, message: Incoming) {
        match message {
            Incoming::Response { id, result } => {
                if let Err(e) = result {
                    tracing::debug!(id, error = %e, "agent answered a request with an error");
                }
            }
            Incoming::Notification { method, params } => {
                for event in self.state.notification(&method, &params) {
                    self.emit(event).await;
                }
            }
            Incoming::Request { id, method, params } => self.answer(id, &method, params).await,
            Incoming::Unexpected(text) => {
                self.emit(notice(format!("unexpected output from the agent: {text}")))
                    .await
            }
        }
    }

    /// Answers a request of the agent.
    async fn answer(&mut self, id: Value, method: &str, params: Value) {
        let reply = match method {
            "item/commandExecution/requestApproval" | "execCommandApproval" => {
                let detail = match params.get("command") {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Array(parts)) => Some(
                        parts
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    _ => params
                        .get("reason")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                };
                self.approve("command", method == "execCommandApproval", detail)
                    .await
            }
            "item/fileChange/requestApproval" | "applyPatchApproval" => {
                let detail = params
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                self.approve("file_change", method == "applyPatchApproval", detail)
                    .await
            }
            "item/tool/call" => self.call_tool(params).await,
            "item/tool/requestUserInput" => {
                let question = params
                    .pointer("/questions/0/question")
                    .and_then(Value::as_str)
                    .map(|q| truncate(q, baton_core::domain::MAX_INPUT_TEXT))
                    .unwrap_or_else(|| "(no question text)".to_string());
                if self.state.completed.is_none() {
                    // The turn's error is the question itself: baton asks it on the issue.
                    self.input_required = Some(question);
                }
                Err(json!({
                    "code": -32000,
                    "message": "baton runs unattended: no user input is available",
                }))
            }
            other => {
                self.emit(notice(format!(
                    "unsupported request from the agent: {}",
                    truncate(other, 128)
                )))
                .await;
                Err(
                    json!({ "code": -32601, "message": format!("baton does not support `{}`", truncate(other, 128)) }),
                )
            }
        };
        let message = match reply {
            Ok(result) => json!({ "id": id, "result": result }),
            Err(error) => json!({ "id": id, "error": error }),
        };
        // A failed write means the process is going away; stdout EOF will tell.
        let _ = self.send(&message).await;
    }

    async fn approve(
        &mut self,
        kind: &str,
        legacy: bool,
        detail: Option<String>,
    ) -> Result<Value, Value> {
        let decision = match (self.approval, legacy) {
            (ApprovalPolicy::AcceptAll, false) => "accept",
            (ApprovalPolicy::DeclineAll, false) => "decline",
            (ApprovalPolicy::AcceptAll, true) => "approved",
            (ApprovalPolicy::DeclineAll, true) => "denied",
        };
        self.emit(AgentEvent::Approval {
            kind: kind.to_string(),
            decision: decision.to_string(),
            detail: detail.map(|d| truncate(&d, 4096)),
        })
        .await;
        Ok(json!({ "decision": decision }))
    }

    async fn call_tool(&mut self, params: Value) -> Result<Value, Value> {
        let name = params
            .get("tool")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
        if let Some(call_id) = params.get("callId").and_then(Value::as_str) {
            self.state.answered_call(call_id);
        }
        let tools = self.tools.clone();
        let deadline = self
            .turn_deadline
            .unwrap_or_else(|| deadline_after(self.timeouts.turn));
        let cancel = self.cancel.clone();
        let result = tokio::select! {
            result = tools.call(&name, arguments.clone()) => result,
            _ = cancel.cancelled() => super::ToolResult { text: "the turn was cancelled".into(), success: false },
            _ = sleep_until(deadline) => super::ToolResult { text: "the turn timed out".into(), success: false },
        };
        self.emit(AgentEvent::ToolCall {
            name,
            arguments,
            success: Some(result.success),
        })
        .await;
        Ok(json!({
            "contentItems": [{ "type": "inputText", "text": result.text }],
            "success": result.success,
        }))
    }
}

impl CodexSession {
    fn turn_params(&self, input: &str) -> Value {
        let mut params = json!({
            "threadId": self.thread_id,
            "input": [{ "type": "text", "text": input }],
        });
        if let Some(policy) = &self.options.sandbox_policy {
            params["sandboxPolicy"] = policy.clone();
        }
        params
    }

    async fn turn(
        &mut self,
        input: &str,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        if self.child.is_none() || self.eof {
            return Err(AgentError::Exited(
                "the agent process is not running".into(),
            ));
        }
        self.turns += 1;
        let turn = self.turns;
        self.state.begin_turn();
        self.input_required = None;
        self.cancel = cancel.clone();
        let turn_deadline = deadline_after(self.timeouts.turn);
        self.turn_deadline = Some(turn_deadline);

        let params = self.turn_params(input);
        match self.request("turn/start", params, Some(cancel)).await {
            Ok(result) => {
                if let Some(id) = result.pointer("/turn/id").and_then(Value::as_str) {
                    self.state.turn_id = Some(id.to_string());
                }
                self.emit(AgentEvent::TurnStarted {
                    turn,
                    turn_id: self.state.turn_id.clone(),
                })
                .await;
            }
            Err(RequestError::Timeout) => {
                return Err(AgentError::Protocol(format!(
                    "no answer to `turn/start` within {:?}",
                    self.timeouts.read
                )))
            }
            Err(RequestError::Rpc(e)) => {
                return Err(AgentError::Protocol(format!("`turn/start` failed: {e}")))
            }
            Err(RequestError::Gone) => {
                self.emit(AgentEvent::TurnStarted {
                    turn,
                    turn_id: None,
                })
                .await;
                return Ok(self.crashed(turn).await);
            }
            Err(RequestError::Cancelled) => {
                self.emit(AgentEvent::TurnStarted {
                    turn,
                    turn_id: None,
                })
                .await;
                return Ok(self
                    .abort(turn, TurnStatus::Interrupted, "cancelled".into())
                    .await);
            }
        }

        let mut last_activity = Instant::now();
        loop {
            if let Some((status, error)) = self.state.completed.take() {
                return Ok(self.finish(turn, status, error).await);
            }
            if let Some(reason) = self.input_required.take() {
                return Ok(self.abort(turn, TurnStatus::InputRequired, reason).await);
            }
            if self.eof {
                return Ok(self.crashed(turn).await);
            }
            let stall_at = self.timeouts.stall.map(|stall| {
                last_activity
                    .checked_add(stall)
                    .unwrap_or(turn_deadline)
                    .min(turn_deadline)
            });
            let wake = stall_at.unwrap_or(turn_deadline);
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    return Ok(self.abort(turn, TurnStatus::Interrupted, "cancelled".into()).await);
                }
                message = self.incoming.recv() => match message {
                    None => self.eof = true,
                    Some(message) => {
                        self.handle(message).await;
                        last_activity = Instant::now();
                    }
                },
                _ = sleep_until(wake) => {
                    let (status, reason) = if Instant::now() >= turn_deadline {
                        (TurnStatus::TimedOut, format!("the turn did not end within {:?}", self.timeouts.turn))
                    } else {
                        let stall = self.timeouts.stall.unwrap_or_default();
                        (TurnStatus::Stalled, format!("no event from the agent for {stall:?}"))
                    };
                    return Ok(self.abort(turn, status, reason).await);
                }
            }
        }
    }

    /// Ends the running turn early: asks the agent to interrupt it, waits a little for
    /// `turn/completed`, kills the process if it does not come.
    async fn abort(&mut self, turn: u32, status: TurnStatus, reason: String) -> TurnOutcome {
        let grace = deadline_after(INTERRUPT_GRACE);
        let mut ended = false;
        if let Some(turn_id) = self.state.turn_id.clone() {
            if !self.eof && self.state.completed.is_none() {
                self.next_id += 1;
                let message = json!({
                    "id": self.next_id,
                    "method": "turn/interrupt",
                    "params": { "threadId": self.thread_id, "turnId": turn_id },
                });
                // Writing is bounded too: never past the grace period.
                let _ = timeout(INTERRUPT_GRACE, self.send(&message)).await;
            }
            while self.state.completed.is_none() && !self.eof {
                tokio::select! {
                    message = self.incoming.recv() => match message {
                        None => self.eof = true,
                        Some(message) => self.handle(message).await,
                    },
                    _ = sleep_until(grace) => break,
                }
            }
            ended = self.state.completed.take().is_some();
        }
        if !ended {
            self.kill().await;
        }
        self.finish(turn, status, Some(reason)).await
    }

    /// The process died during a turn.
    async fn crashed(&mut self, turn: u32) -> TurnOutcome {
        let status = self.reap(EXIT_GRACE).await;
        let error = match status {
            Some(status) => match (status.code(), exit_signal(&status)) {
                (Some(code), _) => format!("the agent exited mid-turn with code {code}"),
                (None, Some(signal)) => format!("the agent was killed mid-turn by signal {signal}"),
                (None, None) => "the agent exited mid-turn".to_string(),
            },
            None => "the agent closed its output mid-turn".to_string(),
        };
        self.finish(turn, TurnStatus::Crashed, Some(error)).await
    }

    async fn finish(
        &mut self,
        turn: u32,
        status: TurnStatus,
        error: Option<String>,
    ) -> TurnOutcome {
        self.turn_deadline = None;
        self.emit(AgentEvent::TurnEnded {
            turn,
            status,
            error: error.clone(),
        })
        .await;
        TurnOutcome {
            status,
            error,
            usage: self.state.usage,
            last_message: self.state.last_message.take(),
        }
    }

    /// Waits up to `grace` for the process to exit, kills it otherwise, and reports its exit.
    /// Returns its exit status (`None` if it could not be reaped, or was reaped before).
    async fn reap(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let status = match timeout(grace, child.wait()).await {
            Ok(Ok(status)) => Some(status),
            _ => {
                let _ = child.start_kill();
                timeout(EXIT_GRACE, child.wait())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
        };
        self.stdin = None;
        self.emit(AgentEvent::ProcessExited {
            code: status.and_then(|s| s.code()),
            signal: status.as_ref().and_then(exit_signal),
        })
        .await;
        status
    }

    /// Kills the process now.
    async fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        self.reap(EXIT_GRACE).await;
    }
}

#[cfg(unix)]
fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
fn exit_signal(_: &ExitStatus) -> Option<i32> {
    None
}

#[async_trait]
impl AgentSession for CodexSession {
    async fn run_turn(
        &mut self,
        input: &str,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        self.turn(input, cancel).await
    }

    async fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        // Closing stdin asks app-server to exit; keep draining stdout so it is not blocked.
        self.stdin = None;
        let grace = deadline_after(EXIT_GRACE * 2);
        loop {
            let Some(child) = self.child.as_mut() else {
                return;
            };
            tokio::select! {
                _ = child.wait() => break,
                message = self.incoming.recv(), if !self.eof => {
                    if message.is_none() {
                        self.eof = true;
                    }
                }
                _ = sleep_until(grace) => break,
            }
        }
        self.reap(Duration::ZERO).await;
    }
}
