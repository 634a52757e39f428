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
//! Host-side tools ([`SessionConfig::tools`]) are offered over the session's own MCP endpoint
//! ([`super::mcp`]); Claude's question tool ends the turn as `InputRequired`.
//! [`SessionConfig::approval_policy`] is not mapped to flags: Claude
//! Code cannot ask in `-p` mode, so what it may do is set by the `permission_mode` and
//! `allowed_tools` options, and what it was refused is reported as `Approval` events.
//!
//! Options (`SessionConfig::options`) become flags, and baton's unattended defaults
//! (`--permission-mode acceptEdits`, no auto-update or non-essential traffic) are added, in
//! [`command`]: `permission_mode`, `max_turns`, `model`, `allowed_tools` / `disallowed_tools`,
//! `mcp_config`, `append_system_prompt`, `extra_args`. Unknown options are refused, and so is
//! a real `claude` with no model credential (see [`super::credentials`]).

pub mod command;
mod normalize;
pub(crate) mod process;

pub(crate) use self::command::string_list;
pub use self::command::{claude_argv, claude_env, DEFAULT_CLAUDE_ARGV};

use self::normalize::{Normalizer, TurnState};
use self::process::{describe_exit, kill, reap, Spawned, StdoutItem, TurnClock, Wake};
use super::mcp::McpEndpoint;
use super::{
    AgentError, AgentEvent, AgentProvider, AgentSession, Capabilities, SessionConfig, Timeouts,
    ToolTransport, TurnOutcome, TurnStatus,
};
use async_trait::async_trait;
use serde_json::json;
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

    /// baton's tools over MCP, `AskUserQuestion`, one process per session; its permission
    /// modes are no sandbox.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            tools: ToolTransport::Mcp,
            questions: true,
            resumes_within_session: true,
            sandbox: false,
        }
    }

    fn env_names(&self) -> Vec<String> {
        [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "ANTHROPIC_BASE_URL",
            "CLAUDE_CONFIG_DIR",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
        ]
        .map(String::from)
        .into()
    }

    fn check_options(
        &self,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AgentError> {
        command::option_args(options).map(|_| ())
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
            norm: Normalizer::for_process(pid),
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
