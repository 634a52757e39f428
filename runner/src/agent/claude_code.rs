//! Claude Code (`claude -p --output-format stream-json --input-format stream-json --verbose`).
//!
//! One process serves the whole session: each turn writes one `user` message line to stdin
//! and reads stdout until the `result` message that ends it. Stdout lines map to events:
//!
//! | Claude Code line                          | event                                        |
//! |-------------------------------------------|----------------------------------------------|
//! | `system` / `init` (first, or new id)      | `SessionStarted`                             |
//! | other `system` subtypes                   | `Notice`                                     |
//! | `assistant` text block                    | `Message`                                    |
//! | `assistant` `tool_use` + `user` `tool_result` | `Command` (Bash) or `ToolCall` (+ `FileChange` for Write/Edit) |
//! | `rate_limit_event`                        | `RateLimit`                                  |
//! | `result`                                  | `Approval` (permission denials), `Usage`, `TurnEnded` |
//! | anything unparsable or unknown            | `Notice`                                     |
//!
//! Claude Code prints its `init` only once it has read the first message, so a session's
//! `SessionStarted` follows turn 1's `TurnStarted` (which is sent when the message is written).
//! [`Timeouts::read`] bounds writing a message to stdin; the turn and stall limits bound the
//! rest.
//!
//! A tool call is reported once, when its result arrives (so it carries success, exit code
//! and output); calls still open when the turn ends are reported without a result.
//!
//! The result is judged by both `subtype` and `is_error`: only `success` with `is_error`
//! false completes; `success` with `is_error: true`, any `error_*` subtype (max turns, error
//! during execution, budget) and unknown subtypes fail.
//!
//! Usage: `result.modelUsage` is the running total of the process (all models, subagents
//! included) and is used when present; otherwise the per-turn `result.usage` is summed over
//! turns. Input tokens include cache reads and cache writes; total = input + output.
//!
//! Claude Code has no interrupt over stdin in `-p` mode: a cancelled, timed-out or stalled
//! turn kills the process, and later turns fail with [`AgentError::Exited`].
//!
//! Host-side tools ([`SessionConfig::tools`]) are not offered (that needs an MCP server, see
//! the `mcp_config` option); [`SessionConfig::approval_policy`] is not mapped to flags: Claude
//! Code cannot ask in `-p` mode, so what it may do is set by the `permission_mode` and
//! `allowed_tools` options, and what it was refused is reported as `Approval` events.
//!
//! Options (`SessionConfig::options`) become flags, and baton's unattended defaults
//! (`--permission-mode acceptEdits`, no auto-update or non-essential traffic) are added, in
//! [`command`]: `permission_mode`, `max_turns`, `model`, `allowed_tools` / `disallowed_tools`,
//! `mcp_config`, `append_system_prompt`, `extra_args`. Unknown options are refused, and so is
//! a real `claude` with no model credential (see [`super::credentials`]).

pub mod command;
pub(crate) mod process;

pub(crate) use self::command::string_list;
pub use self::command::{claude_argv, claude_env, DEFAULT_CLAUDE_ARGV};

use self::process::{
    bound, bound_json, describe_exit, kill, reap, Spawned, StdoutItem, TurnClock, Wake,
    MAX_MESSAGE_BYTES, MAX_NOTICE_BYTES, MAX_OUTPUT_BYTES,
};
use super::mcp::McpEndpoint;
use super::{
    AgentError, AgentEvent, AgentProvider, AgentSession, SessionConfig, Timeouts, TokenUsage,
    TurnOutcome, TurnStatus,
};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long [`AgentSession::stop`] waits for Claude Code to exit after stdin closes.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts Claude Code sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaudeCodeProvider;

impl ClaudeCodeProvider {
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl AgentProvider for ClaudeCodeProvider {
    fn kind(&self) -> &'static str {
        "claude_code"
    }

    async fn start(
        &self,
        config: SessionConfig,
        events: mpsc::Sender<AgentEvent>,
    ) -> Result<Box<dyn AgentSession>, AgentError> {
        let mut argv = claude_argv(&config)?;
        if !config.workspace.is_dir() {
            return Err(AgentError::InvalidOptions(format!(
                "workspace {} is not a directory",
                config.workspace.display()
            )));
        }
        let env = claude_env(&config.env);
        super::credentials::check("claude_code", &argv, &env)?;
        // The session's host tools, over MCP; Claude Code may call every tool of that server.
        let mut bridge = McpEndpoint::for_session(&config.tools).await?;
        if let Some(endpoint) = bridge.as_mut() {
            let file = endpoint.write_claude_config()?;
            argv.extend([
                "--mcp-config".to_owned(),
                file.display().to_string(),
                "--allowedTools".to_owned(),
                format!("mcp__{}", super::mcp::SERVER_NAME),
            ]);
        }
        let spawned = process::spawn(&argv, &env, &config.workspace, &events)?;
        let pid = spawned.pid;
        Ok(Box::new(ClaudeCodeSession {
            events,
            timeouts: config.timeouts,
            proc: Some(spawned),
            _bridge: bridge,
            gone: None,
            turn: 0,
            norm: Normalizer {
                pid,
                ..Normalizer::default()
            },
        }))
    }
}

/// A running Claude Code process.
pub struct ClaudeCodeSession {
    events: mpsc::Sender<AgentEvent>,
    timeouts: Timeouts,
    /// `None` once the process is gone (killed, crashed or stopped).
    proc: Option<Spawned>,
    /// The session's MCP tool endpoint, served while the session lives.
    _bridge: Option<McpEndpoint>,
    /// Why the process is gone.
    gone: Option<String>,
    turn: u32,
    norm: Normalizer,
}

async fn emit(events: &mpsc::Sender<AgentEvent>, event: AgentEvent) {
    // A dropped receiver only means nobody listens any more.
    let _ = events.send(event).await;
}

/// The stdin line of one user message.
pub fn user_message_line(text: &str) -> String {
    let mut line = json!({
        "type": "user",
        "message": {"role": "user", "content": [{"type": "text", "text": text}]},
    })
    .to_string();
    line.push('\n');
    line
}

/// How the turn loop ended, before the turn's events are closed.
struct Ending {
    status: TurnStatus,
    error: Option<String>,
    /// Set when the process is gone: its exit code and signal.
    exited: Option<(Option<i32>, Option<i32>)>,
}

impl ClaudeCodeSession {
    async fn process_gone(&mut self, reason: String, code: Option<i32>, signal: Option<i32>) {
        self.proc = None;
        self.gone = Some(reason);
        emit(&self.events, AgentEvent::ProcessExited { code, signal }).await;
    }
}

#[async_trait]
impl AgentSession for ClaudeCodeSession {
    async fn run_turn(
        &mut self,
        input: &str,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        let Some(proc) = self.proc.as_mut() else {
            return Err(AgentError::Exited(
                self.gone
                    .clone()
                    .unwrap_or_else(|| "session stopped".into()),
            ));
        };
        if let Ok(Some(status)) = proc.child.try_wait() {
            let (code, signal) = process::exit_parts(status);
            let reason = format!(
                "Claude Code exited between turns ({}){}",
                describe_exit(code, signal),
                proc.stderr.suffix()
            );
            self.process_gone(reason.clone(), code, signal).await;
            return Err(AgentError::Exited(reason));
        }

        // Send the user message.
        let line = user_message_line(input);
        let write = async {
            let stdin = proc
                .stdin
                .as_mut()
                .ok_or_else(|| std::io::Error::other("stdin is closed"))?;
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        };
        match tokio::time::timeout(self.timeouts.read, write).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                let (code, signal) = kill(&mut proc.child).await;
                let reason = format!(
                    "cannot write to Claude Code's stdin: {err} ({}){}",
                    describe_exit(code, signal),
                    proc.stderr.suffix()
                );
                self.process_gone(reason.clone(), code, signal).await;
                return Err(AgentError::Exited(reason));
            }
            Err(_) => {
                let (code, signal) = kill(&mut proc.child).await;
                let reason = format!(
                    "Claude Code did not take its input within {:?}",
                    self.timeouts.read
                );
                self.process_gone(reason.clone(), code, signal).await;
                return Err(AgentError::Protocol(reason));
            }
        }

        self.turn += 1;
        let turn = self.turn;
        emit(
            &self.events,
            AgentEvent::TurnStarted {
                turn,
                turn_id: None,
            },
        )
        .await;

        let mut state = TurnState::default();
        let mut clock = TurnClock::new(self.timeouts.turn, self.timeouts.stall);
        let ending = loop {
            match clock.next(&mut proc.lines, cancel).await {
                Wake::Item(Some(StdoutItem::Line(line))) => {
                    for event in self.norm.on_line(&mut state, &line) {
                        emit(&self.events, event).await;
                    }
                    if let Some((status, error)) = state.result.take() {
                        break Ending {
                            status,
                            error,
                            exited: None,
                        };
                    }
                }
                Wake::Item(Some(StdoutItem::TooLong(bytes))) => {
                    let text = format!("dropped a stdout line of {bytes} bytes (too long)");
                    emit(&self.events, AgentEvent::Notice { text }).await;
                }
                Wake::Item(Some(StdoutItem::Error(err))) => {
                    let text = format!("reading Claude Code's stdout failed: {err}");
                    emit(&self.events, AgentEvent::Notice { text }).await;
                }
                Wake::Item(None) => {
                    let (code, signal) = reap(&mut proc.child, process::REAP_WAIT).await;
                    break Ending {
                        status: TurnStatus::Crashed,
                        error: Some(format!(
                            "Claude Code exited mid-turn ({}){}",
                            describe_exit(code, signal),
                            proc.stderr.suffix()
                        )),
                        exited: Some((code, signal)),
                    };
                }
                Wake::Cancelled => {
                    let exited = kill(&mut proc.child).await;
                    break Ending {
                        status: TurnStatus::Interrupted,
                        error: Some(
                            "turn cancelled; Claude Code was stopped (it cannot be \
                             interrupted in -p mode)"
                                .into(),
                        ),
                        exited: Some(exited),
                    };
                }
                Wake::TimedOut => {
                    let exited = kill(&mut proc.child).await;
                    break Ending {
                        status: TurnStatus::TimedOut,
                        error: Some(format!(
                            "turn timed out after {:?}; Claude Code was stopped",
                            self.timeouts.turn
                        )),
                        exited: Some(exited),
                    };
                }
                Wake::Stalled => {
                    let exited = kill(&mut proc.child).await;
                    break Ending {
                        status: TurnStatus::Stalled,
                        error: Some(format!(
                            "no output from Claude Code for {:?}; it was stopped",
                            self.timeouts.stall.unwrap_or_default()
                        )),
                        exited: Some(exited),
                    };
                }
            }
        };

        for event in state.flush_tools() {
            emit(&self.events, event).await;
        }
        if let Some((code, signal)) = ending.exited {
            let reason = ending
                .error
                .clone()
                .unwrap_or_else(|| "Claude Code is gone".into());
            self.process_gone(reason, code, signal).await;
        }
        emit(
            &self.events,
            AgentEvent::TurnEnded {
                turn,
                status: ending.status,
                error: ending.error.clone(),
            },
        )
        .await;
        Ok(TurnOutcome {
            status: ending.status,
            error: ending.error,
            usage: self.norm.usage,
            last_message: state.last_message.or(state.result_text),
        })
    }

    async fn stop(&mut self) {
        let Some(mut proc) = self.proc.take() else {
            return;
        };
        // Closing stdin ends a stream-json session; force it if it does not end in time.
        drop(proc.stdin.take());
        let (code, signal) = reap(&mut proc.child, STOP_GRACE).await;
        self.gone = Some("session stopped".into());
        emit(&self.events, AgentEvent::ProcessExited { code, signal }).await;
    }
}

/// Session-wide normalization state.
#[derive(Debug, Default)]
struct Normalizer {
    pid: Option<u32>,
    session_id: Option<String>,
    /// The session's cumulative usage, as last reported.
    usage: TokenUsage,
    /// Per-turn `result.usage` summed over turns (used without `modelUsage`).
    summed: TokenUsage,
}

/// One turn's normalization state.
#[derive(Debug, Default)]
struct TurnState {
    /// Tool calls waiting for their result, in call order.
    pending: Vec<PendingTool>,
    last_message: Option<String>,
    /// The `result` text (the final answer), a fallback for `last_message`.
    result_text: Option<String>,
    /// Set by the `result` line.
    result: Option<(TurnStatus, Option<String>)>,
    /// What the agent asked a person with its question tool (`AskUserQuestion`) this turn.
    question: Option<String>,
}

#[derive(Debug)]
struct PendingTool {
    id: String,
    name: String,
    input: Value,
}

impl TurnState {
    /// Reports the tool calls that never got a result.
    fn flush_tools(&mut self) -> Vec<AgentEvent> {
        self.pending
            .drain(..)
            .flat_map(|tool| tool_events(tool, None))
            .collect()
    }
}

fn notice(text: impl AsRef<str>) -> AgentEvent {
    AgentEvent::Notice {
        text: bound(text.as_ref(), MAX_NOTICE_BYTES),
    }
}

impl Normalizer {
    /// Normalizes one stdout line.
    fn on_line(&mut self, turn: &mut TurnState, line: &str) -> Vec<AgentEvent> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) => return vec![notice(format!("non-object line from Claude Code: {line}"))],
            Err(err) => {
                return vec![notice(format!(
                    "malformed line from Claude Code ({err}): {line}"
                ))]
            }
        };
        let Some(kind) = value.get("type").and_then(Value::as_str) else {
            return vec![notice(format!(
                "line without a type from Claude Code: {line}"
            ))];
        };
        match kind {
            "system" => self.on_system(&value),
            "assistant" => on_assistant(turn, &value),
            "user" => on_user(turn, &value),
            "result" => self.on_result(turn, &value),
            "rate_limit_event" => {
                let details = value.get("rate_limit_info").cloned().unwrap_or(value);
                vec![AgentEvent::RateLimit {
                    details: bound_json(details, MAX_OUTPUT_BYTES),
                }]
            }
            // Partial-message deltas (only with --include-partial-messages) and keep-alives.
            "stream_event" | "keep_alive" => Vec::new(),
            other => vec![notice(format!("unhandled Claude Code message `{other}`"))],
        }
    }

    fn on_system(&mut self, value: &Value) -> Vec<AgentEvent> {
        let subtype = value.get("subtype").and_then(Value::as_str).unwrap_or("");
        if subtype != "init" {
            return vec![notice(format!("Claude Code system message `{subtype}`"))];
        }
        let Some(id) = value.get("session_id").and_then(Value::as_str) else {
            return vec![notice("Claude Code init without a session_id")];
        };
        // Init comes again with every turn in stream-json input mode: report it once.
        if self.session_id.as_deref() == Some(id) {
            return Vec::new();
        }
        self.session_id = Some(id.to_string());
        vec![AgentEvent::SessionStarted {
            session_id: id.to_string(),
            pid: self.pid,
        }]
    }

    fn on_result(&mut self, turn: &mut TurnState, value: &Value) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        let subtype = value.get("subtype").and_then(Value::as_str);
        let is_error = value.get("is_error").and_then(Value::as_bool);
        let text = value
            .get("result")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .map(|t| bound(t, MAX_MESSAGE_BYTES));
        let errors: Vec<String> = match value.get("errors") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|e| {
                    e.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string())
                })
                .collect(),
            _ => Vec::new(),
        };
        let details = if !errors.is_empty() {
            Some(errors.join("; "))
        } else {
            text.clone()
        };
        let num_turns = value.get("num_turns").and_then(Value::as_u64);

        let (status, error) = match (subtype, is_error) {
            (Some("success"), Some(true)) => (
                TurnStatus::Failed,
                Some(format!(
                    "Claude Code reported an error: {}",
                    details.as_deref().unwrap_or("no details")
                )),
            ),
            (Some("success"), _) => (TurnStatus::Completed, None),
            (Some("error_max_turns"), _) => (
                TurnStatus::Failed,
                Some(match num_turns {
                    Some(n) => format!("error_max_turns: stopped after {n} turns"),
                    None => "error_max_turns: the turn limit was reached".into(),
                }),
            ),
            (Some(other), _) => (
                TurnStatus::Failed,
                Some(match details.as_deref() {
                    Some(details) => format!("{other}: {details}"),
                    None => other.to_string(),
                }),
            ),
            (None, Some(false)) => (TurnStatus::Completed, None),
            (None, _) => (
                TurnStatus::Failed,
                Some(format!(
                    "Claude Code result without a subtype: {}",
                    details.as_deref().unwrap_or("no details")
                )),
            ),
        };
        let error = error.map(|e| bound(&e, MAX_NOTICE_BYTES));
        // A question for a person outranks how the turn went on without its answer.
        let (status, error) = match turn.question.take() {
            Some(question) => (TurnStatus::InputRequired, Some(question)),
            None => (status, error),
        };

        if let Some(Value::Array(denials)) = value.get("permission_denials") {
            for denial in denials {
                let kind = denial
                    .get("tool_name")
                    .and_then(Value::as_str)
                    .unwrap_or("tool")
                    .to_string();
                let detail = denial
                    .get("tool_input")
                    .map(|input| bound(&input.to_string(), MAX_NOTICE_BYTES));
                events.push(AgentEvent::Approval {
                    kind,
                    decision: "decline".into(),
                    detail,
                });
            }
        }

        if let Some(usage) = self.update_usage(value) {
            events.push(AgentEvent::Usage(usage));
        }
        turn.result_text = text;
        turn.result = Some((status, error));
        events
    }

    /// Updates the cumulative usage from a `result`; returns it when the result had any.
    fn update_usage(&mut self, value: &Value) -> Option<TokenUsage> {
        let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        let per_turn = value.get("usage").filter(|u| u.is_object()).map(|u| {
            (
                count(u, "input_tokens")
                    + count(u, "cache_read_input_tokens")
                    + count(u, "cache_creation_input_tokens"),
                count(u, "output_tokens"),
            )
        });
        if let Some((input, output)) = per_turn {
            self.summed.input_tokens += input;
            self.summed.output_tokens += output;
            self.summed.total_tokens = self.summed.input_tokens + self.summed.output_tokens;
        }
        let cumulative = value
            .get("modelUsage")
            .and_then(Value::as_object)
            .filter(|models| !models.is_empty())
            .map(|models| {
                models.values().fold((0, 0), |(input, output), m| {
                    (
                        input
                            + count(m, "inputTokens")
                            + count(m, "cacheReadInputTokens")
                            + count(m, "cacheCreationInputTokens"),
                        output + count(m, "outputTokens"),
                    )
                })
            });
        let usage = match cumulative {
            Some((input_tokens, output_tokens)) => TokenUsage {
                input_tokens,
                output_tokens,
                total_tokens: input_tokens + output_tokens,
            },
            None if per_turn.is_some() => self.summed,
            None => return None,
        };
        self.usage = usage;
        Some(usage)
    }
}

fn on_assistant(turn: &mut TurnState, value: &Value) -> Vec<AgentEvent> {
    let mut events = Vec::new();
    let Some(blocks) = value.pointer("/message/content").and_then(Value::as_array) else {
        return vec![notice("Claude Code assistant message without content")];
    };
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                if text.trim().is_empty() {
                    continue;
                }
                let text = bound(text, MAX_MESSAGE_BYTES);
                turn.last_message = Some(text.clone());
                events.push(AgentEvent::Message { text });
            }
            Some("tool_use") | Some("server_tool_use") => {
                if block.get("name").and_then(Value::as_str) == Some(QUESTION_TOOL) {
                    turn.question = questions(block.get("input"));
                }
                turn.pending.push(PendingTool {
                    id: block
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    name: block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                        .to_string(),
                    input: block.get("input").cloned().unwrap_or(Value::Null),
                });
            }
            // Reasoning stays private.
            Some("thinking") | Some("redacted_thinking") => {}
            Some(other) => events.push(notice(format!(
                "unhandled Claude Code content block `{other}`"
            ))),
            None => events.push(notice("Claude Code content block without a type")),
        }
    }
    events
}

/// Claude Code's tool for asking the user: unattended, baton asks on the issue instead.
const QUESTION_TOOL: &str = "AskUserQuestion";

/// The questions of an `AskUserQuestion` call (`{"questions": [{"question": ...}]}`), one
/// per line.
fn questions(input: Option<&Value>) -> Option<String> {
    let asked: Vec<&str> = input?
        .get("questions")?
        .as_array()?
        .iter()
        .filter_map(|q| q.get("question").and_then(Value::as_str))
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .collect();
    (!asked.is_empty()).then(|| bound(&asked.join("\n"), MAX_MESSAGE_BYTES))
}

fn on_user(turn: &mut TurnState, value: &Value) -> Vec<AgentEvent> {
    let mut events = Vec::new();
    // A plain string is an echo of our own input.
    let Some(blocks) = value.pointer("/message/content").and_then(Value::as_array) else {
        return events;
    };
    for block in blocks {
        if block.get("type").and_then(Value::as_str) != Some("tool_result") {
            continue;
        }
        let id = block
            .get("tool_use_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let result = ToolResultInfo {
            is_error: block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            text: tool_result_text(block.get("content")),
        };
        match turn.pending.iter().position(|tool| tool.id == id) {
            Some(index) => {
                let tool = turn.pending.remove(index);
                events.extend(tool_events(tool, Some(result)));
            }
            None => events.push(notice(format!(
                "tool result for an unknown call `{id}`: {}",
                result.text
            ))),
        }
    }
    events
}

#[derive(Debug)]
struct ToolResultInfo {
    is_error: bool,
    text: String,
}

/// The text of a `tool_result`'s content: a string, or text blocks.
fn tool_result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `Exit code 2` (optionally after `Error: `) at the start of a failed Bash result.
fn parse_exit_code(text: &str) -> Option<i32> {
    let text = text.trim_start();
    let text = text.strip_prefix("Error: ").unwrap_or(text);
    let rest = text.strip_prefix("Exit code ")?;
    let end = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && *c == '-')))
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].parse().ok()
}

fn tool_events(tool: PendingTool, result: Option<ToolResultInfo>) -> Vec<AgentEvent> {
    let output = result
        .as_ref()
        .map(|r| bound(&r.text, MAX_OUTPUT_BYTES))
        .filter(|t| !t.is_empty());
    if tool.name == "Bash" {
        let command = match tool.input.get("command").and_then(Value::as_str) {
            Some(command) => bound(command, MAX_OUTPUT_BYTES),
            None => bound(&tool.input.to_string(), MAX_OUTPUT_BYTES),
        };
        let exit_code = result.as_ref().and_then(|r| {
            if r.is_error {
                parse_exit_code(&r.text)
            } else {
                Some(0)
            }
        });
        return vec![AgentEvent::Command {
            command,
            exit_code,
            output,
        }];
    }
    let success = result.as_ref().map(|r| !r.is_error);
    let file_change = match tool.name.as_str() {
        "Write" => Some("write"),
        "Edit" | "MultiEdit" | "NotebookEdit" => Some("edit"),
        _ => None,
    }
    .filter(|_| success == Some(true))
    .and_then(|kind| {
        let path = tool
            .input
            .get("file_path")
            .or_else(|| tool.input.get("notebook_path"))
            .and_then(Value::as_str)?;
        Some(AgentEvent::FileChange {
            path: path.to_string(),
            kind: kind.to_string(),
        })
    });
    let mut events = vec![AgentEvent::ToolCall {
        name: tool.name,
        arguments: bound_json(tool.input, MAX_OUTPUT_BYTES),
        success,
    }];
    events.extend(file_change);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> (Vec<AgentEvent>, TurnState, Normalizer) {
        let mut norm = Normalizer::default();
        let mut turn = TurnState::default();
        let mut events = Vec::new();
        for line in lines {
            events.extend(norm.on_line(&mut turn, line));
        }
        events.extend(turn.flush_tools());
        (events, turn, norm)
    }

    #[test]
    fn the_question_tool_ends_the_turn_waiting_for_a_person() {
        let (_, turn, _) = run(&[
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"q1","name":"AskUserQuestion","input":{"questions":[{"question":"Postgres or SQLite?","header":"DB","options":[]},{"question":"Keep the old API?"}]}}]}}"#,
            r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"q1","is_error":true,"content":"not available"}]}}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"result":"I went on guessing."}"#,
        ]);
        assert_eq!(
            turn.result,
            Some((
                TurnStatus::InputRequired,
                Some("Postgres or SQLite?\nKeep the old API?".into())
            ))
        );
    }

    #[test]
    fn exit_codes_are_parsed_from_failed_bash_results() {
        assert_eq!(parse_exit_code("Exit code 2\nls: cannot access"), Some(2));
        assert_eq!(parse_exit_code("Error: Exit code 127"), Some(127));
        assert_eq!(parse_exit_code("permission denied"), None);
    }

    #[test]
    fn tool_calls_wait_for_their_results() {
        let (events, _, _) = run(&[
            r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"false"}},{"type":"tool_use","id":"t2","name":"Read","input":{"file_path":"a"}}]}}"#,
            r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"Exit code 1","is_error":true}]}}"#,
        ]);
        assert_eq!(
            events,
            vec![
                AgentEvent::Command {
                    command: "false".into(),
                    exit_code: Some(1),
                    output: Some("Exit code 1".into()),
                },
                AgentEvent::ToolCall {
                    name: "Read".into(),
                    arguments: json!({"file_path": "a"}),
                    success: None,
                },
            ]
        );
    }

    #[test]
    fn usage_prefers_the_cumulative_model_usage() {
        let (_, _, norm) = run(&[
            r#"{"type":"result","subtype":"success","is_error":false,"usage":{"input_tokens":5,"cache_read_input_tokens":10,"output_tokens":7},"modelUsage":{"a":{"inputTokens":50,"cacheReadInputTokens":100,"cacheCreationInputTokens":1,"outputTokens":70},"b":{"inputTokens":1,"outputTokens":2}}}"#,
        ]);
        assert_eq!(
            norm.usage,
            TokenUsage {
                input_tokens: 152,
                output_tokens: 72,
                total_tokens: 224
            }
        );
        let (_, _, norm) = run(&[
            r#"{"type":"result","subtype":"success","is_error":false,"usage":{"input_tokens":5,"cache_read_input_tokens":10,"output_tokens":7}}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"usage":{"input_tokens":1,"output_tokens":1}}"#,
        ]);
        assert_eq!(norm.usage.total_tokens, 24);
    }

    #[test]
    fn results_are_judged_by_subtype_and_is_error() {
        let judge = |line: &str| run(&[line]).1.result.map(|(status, _)| status);
        assert_eq!(
            judge(r#"{"type":"result","subtype":"success","is_error":false}"#),
            Some(TurnStatus::Completed)
        );
        assert_eq!(
            judge(r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error"}"#),
            Some(TurnStatus::Failed)
        );
        assert_eq!(
            judge(r#"{"type":"result","subtype":"error_max_turns","is_error":false}"#),
            Some(TurnStatus::Failed)
        );
        assert_eq!(
            judge(r#"{"type":"result","subtype":"something_new","is_error":false}"#),
            Some(TurnStatus::Failed)
        );
    }
}
