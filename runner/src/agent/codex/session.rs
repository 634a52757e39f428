//! One Codex session: the process, its JSON-RPC requests and answers, the handshake, and the
//! agent's own requests (approvals by policy, dynamic tools through the tool handler).

use super::normalize::{notice, Normalizer};
use super::options::CodexOptions;
use super::wire::{truncate, Incoming};
use super::EMIT_PATIENCE;
use crate::agent::{AgentError, AgentEvent, ApprovalPolicy, Timeouts, ToolHandler};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;

/// Why a request got no result.
#[derive(Debug)]
pub(super) enum RequestError {
    /// No answer within the read timeout.
    Timeout,
    /// The process is gone (stdout closed or stdin broken).
    Gone,
    Cancelled,
    /// The agent answered with an error.
    Rpc(String),
}

pub(super) struct CodexSession {
    /// `None` once the process has been reaped.
    pub(super) child: Option<Child>,
    pub(super) stdin: Option<ChildStdin>,
    pub(super) incoming: mpsc::Receiver<Incoming>,
    pub(super) events: mpsc::Sender<AgentEvent>,
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) thread_id: String,
    pub(super) next_id: u64,
    pub(super) turns: u32,
    pub(super) state: Normalizer,
    pub(super) timeouts: Timeouts,
    pub(super) approval: ApprovalPolicy,
    pub(super) tools: Arc<dyn ToolHandler>,
    pub(super) options: CodexOptions,
    pub(super) workspace: PathBuf,
    /// stdout reached its end.
    pub(super) eof: bool,
    /// The cancellation of the running turn (tool calls are raced against it).
    pub(super) cancel: CancellationToken,
    /// The deadline of the running turn (tool calls are raced against it).
    pub(super) turn_deadline: Option<Instant>,
    /// Set when the agent asked for user input during the running turn.
    pub(super) input_required: Option<String>,
}

impl Drop for CodexSession {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub(super) fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600))
}

pub(super) async fn cancelled(token: Option<&CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

impl CodexSession {
    /// Sends an event. A full channel applies back-pressure, but never for longer than
    /// [`EMIT_PATIENCE`]: a consumer that stopped reading must not keep a turn from ending.
    pub(super) async fn emit(&self, event: AgentEvent) {
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

    pub(super) async fn handshake(&mut self) -> Result<(), AgentError> {
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

    pub(super) fn handshake_error(&self, method: &str, error: RequestError) -> AgentError {
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
    pub(super) async fn send(&mut self, message: &Value) -> Result<(), ()> {
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
    pub(super) async fn request(
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
    pub(super) async fn handle(&mut self, message: Incoming) {
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
    pub(super) async fn answer(&mut self, id: Value, method: &str, params: Value) {
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

    pub(super) async fn approve(
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

    pub(super) async fn call_tool(&mut self, params: Value) -> Result<Value, Value> {
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
            _ = cancel.cancelled() => crate::agent::ToolResult { text: "the turn was cancelled".into(), success: false },
            _ = sleep_until(deadline) => crate::agent::ToolResult { text: "the turn timed out".into(), success: false },
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
