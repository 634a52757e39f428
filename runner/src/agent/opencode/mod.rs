//! OpenCode (`opencode run --format json`).
//!
//! `opencode run` is one process per turn: [`AgentProvider::start`] only validates the
//! configuration; each [`AgentSession::run_turn`] spawns `command_argv` (plus the option
//! flags, plus `--session <id>` once OpenCode has reported its session id) and writes the
//! prompt to stdin, then closes it. (`opencode run` reads a piped stdin as the message; a
//! prompt given as an argument would be re-quoted when it contains spaces and is limited by
//! the OS's argument size.) Stdout is NDJSON, each event carrying `type`, `timestamp`,
//! `sessionID` and a `part`:
//!
//! | OpenCode event                  | event                                               |
//! |---------------------------------|-----------------------------------------------------|
//! | first event with a `sessionID`  | `SessionStarted` (again only if the id changes)     |
//! | `step_start` (first of a turn)  | `TurnStarted` (`turn_id` = the message id)          |
//! | `text`                          | `Message`                                           |
//! | `tool_use`, tool `bash`         | `Command` (exit code from `metadata.exit`)          |
//! | other `tool_use`                | `ToolCall` (+ `FileChange` for edit/write)          |
//! | `step_finish`                   | `Usage` (tokens summed over steps and turns)        |
//! | `error`                         | the turn fails with its message                     |
//! | `done` with `rejected` perms    | `Approval` (declined)                               |
//! | `reasoning`                     | nothing                                             |
//! | anything else or unparsable     | `Notice`                                            |
//!
//! The turn ends when the process exits: an `error` event fails it; otherwise exit code 0
//! completes it, another exit code fails it and a signal crashes it. Timeouts, stalls and
//! cancellation kill the process; the session stays usable (the next turn is a new process
//! continuing the same OpenCode session).
//!
//! [`Timeouts::read`] is not used (nothing is awaited before the output starts); the turn
//! and stall limits bound each run. When no event reports a `sessionID`, no `SessionStarted`
//! is sent and later turns start new OpenCode sessions.
//!
//! Usage: input counts `tokens.input` plus cache reads and writes, output counts
//! `tokens.output` plus `tokens.reasoning`; total = input + output.
//!
//! Options: `model` (`--model provider/model`), `agent` (`--agent`), `variant`
//! (`--variant`), `session` (continue this existing OpenCode session from the first turn),
//! `extra_args` (list of strings appended as is, e.g. `["--auto"]` on versions that reject
//! permission requests in `run` mode). Unknown options are refused.
//! [`SessionConfig::tools`] and [`SessionConfig::approval_policy`] are not mapped.

mod normalize;

use self::normalize::{Normalizer, TurnState};
use super::claude_code::process::{
    self, bound, describe_exit, kill, program_exists, reap, StdoutItem, TurnClock, Wake,
    MAX_NOTICE_BYTES,
};
use super::claude_code::string_list;
use super::mcp::McpEndpoint;
use super::{
    AgentError, AgentEvent, AgentProvider, AgentSession, Capabilities, SessionConfig, Timeouts,
    ToolTransport, TurnOutcome, TurnStatus,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The command used when `command_argv` is empty.
pub const DEFAULT_OPENCODE_ARGV: &[&str] = &["opencode", "run", "--format", "json"];

/// How long OpenCode gets to exit after closing its stdout.
const EXIT_WAIT: Duration = Duration::from_secs(10);

/// Starts OpenCode sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenCodeProvider;

impl OpenCodeProvider {
    pub fn new() -> Self {
        Self
    }
}

/// `command_argv` (or [`DEFAULT_OPENCODE_ARGV`]) plus the option flags, and the session to
/// continue, if the options name one.
fn opencode_argv(config: &SessionConfig) -> Result<(Vec<String>, Option<String>), AgentError> {
    let mut argv: Vec<String> = if config.command_argv.is_empty() {
        DEFAULT_OPENCODE_ARGV
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        config.command_argv.clone()
    };
    let (args, session) = option_args(&config.options)?;
    argv.extend(args);
    Ok((argv, session))
}

fn option_args(options: &Map<String, Value>) -> Result<(Vec<String>, Option<String>), AgentError> {
    let mut args = Vec::new();
    let mut session = None;
    for (key, value) in options {
        let string = || {
            value
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| AgentError::InvalidOptions(format!("`{key}` must be a string")))
        };
        match key.as_str() {
            "model" => args.extend(["--model".to_string(), string()?]),
            "agent" => args.extend(["--agent".to_string(), string()?]),
            "variant" => args.extend(["--variant".to_string(), string()?]),
            "session" => session = Some(string()?),
            "extra_args" => args.extend(string_list(key, value)?),
            other => {
                return Err(AgentError::InvalidOptions(format!(
                    "unknown opencode option `{other}`"
                )))
            }
        }
    }
    Ok((args, session))
}

#[async_trait]
impl AgentProvider for OpenCodeProvider {
    fn kind(&self) -> &'static str {
        "opencode"
    }

    /// baton's tools over MCP, no question tool (the `QUESTION:` convention only), later
    /// turns continue its session (`--session`), no sandbox of its own.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            tools: ToolTransport::Mcp,
            questions: false,
            resumes_within_session: true,
            sandbox: false,
        }
    }

    fn env_names(&self) -> Vec<String> {
        ["OPENCODE_CONFIG", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"]
            .map(String::from)
            .into()
    }

    fn check_options(&self, options: &Map<String, Value>) -> Result<(), AgentError> {
        option_args(options).map(|_| ())
    }

    async fn start(
        &self,
        config: SessionConfig,
        events: mpsc::Sender<AgentEvent>,
    ) -> Result<Box<dyn AgentSession>, AgentError> {
        let (argv, session) = opencode_argv(&config)?;
        if !config.workspace.is_dir() {
            return Err(AgentError::InvalidOptions(format!(
                "workspace {} is not a directory",
                config.workspace.display()
            )));
        }
        let program = &argv[0];
        if !program_exists(program, &config.env, &config.workspace) {
            return Err(AgentError::Spawn {
                program: program.clone(),
                reason: "not found (looked up on the agent environment's PATH)".into(),
            });
        }
        let mut norm = Normalizer::default();
        if let Some(id) = session {
            norm.session_id = Some(id.clone());
            let _ = events
                .send(AgentEvent::SessionStarted {
                    session_id: id,
                    pid: None,
                })
                .await;
        }
        // The session's host tools, over MCP, merged into OpenCode's own configuration.
        let bridge = McpEndpoint::for_session(&config.tools).await?;
        let mut env = config.env;
        if let Some(endpoint) = &bridge {
            env.retain(|(name, _)| name != "OPENCODE_CONFIG_CONTENT");
            env.push((
                "OPENCODE_CONFIG_CONTENT".to_owned(),
                endpoint.opencode_config().to_string(),
            ));
        }
        Ok(Box::new(OpenCodeSession {
            events,
            timeouts: config.timeouts,
            argv,
            env,
            _bridge: bridge,
            workspace: config.workspace,
            turn: 0,
            stopped: false,
            norm,
        }))
    }
}

/// An OpenCode session: a process per turn.
pub struct OpenCodeSession {
    events: mpsc::Sender<AgentEvent>,
    timeouts: Timeouts,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    /// The session's MCP tool endpoint, served while the session lives (across its turns'
    /// processes).
    _bridge: Option<McpEndpoint>,
    workspace: PathBuf,
    turn: u32,
    stopped: bool,
    norm: Normalizer,
}

async fn emit(events: &mpsc::Sender<AgentEvent>, event: AgentEvent) {
    let _ = events.send(event).await;
}

#[async_trait]
impl AgentSession for OpenCodeSession {
    async fn run_turn(
        &mut self,
        input: &str,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError> {
        if self.stopped {
            return Err(AgentError::Exited("session stopped".into()));
        }
        let mut argv = self.argv.clone();
        if let Some(id) = &self.norm.session_id {
            argv.extend(["--session".to_string(), id.clone()]);
        }
        let mut proc = process::spawn(&argv, &self.env, &self.workspace, &self.events)?;
        self.turn += 1;
        let mut state = TurnState {
            turn: self.turn,
            pid: proc.pid,
            ..TurnState::default()
        };

        // The prompt goes to stdin, written beside the reading (a large prompt must not wait
        // on a full pipe); closing stdin tells OpenCode the message is complete.
        if let Some(mut stdin) = proc.stdin.take() {
            let prompt = input.to_string();
            let events = self.events.clone();
            tokio::spawn(async move {
                let written = async {
                    stdin.write_all(prompt.as_bytes()).await?;
                    stdin.shutdown().await
                };
                if let Err(err) = written.await {
                    let _ = events.try_send(AgentEvent::Notice {
                        text: format!("writing the prompt to OpenCode failed: {err}"),
                    });
                }
            });
        }

        let mut clock = TurnClock::new(self.timeouts.turn, self.timeouts.stall);
        let (status, error, (code, signal)) = loop {
            match clock.next(&mut proc.lines, cancel).await {
                Wake::Item(Some(StdoutItem::Line(line))) => {
                    for event in self.norm.on_line(&mut state, &line) {
                        emit(&self.events, event).await;
                    }
                }
                Wake::Item(Some(StdoutItem::TooLong(bytes))) => {
                    let text = format!("dropped a stdout line of {bytes} bytes (too long)");
                    emit(&self.events, AgentEvent::Notice { text }).await;
                }
                Wake::Item(Some(StdoutItem::Error(err))) => {
                    let text = format!("reading OpenCode's stdout failed: {err}");
                    emit(&self.events, AgentEvent::Notice { text }).await;
                }
                Wake::Item(None) => {
                    let (code, signal) = reap(&mut proc.child, EXIT_WAIT).await;
                    let exit = describe_exit(code, signal);
                    let (status, error) = match (state.error.take(), code) {
                        (Some(error), _) => (TurnStatus::Failed, Some(error)),
                        (None, Some(0)) => (TurnStatus::Completed, None),
                        (None, Some(_)) => (
                            TurnStatus::Failed,
                            Some(format!("OpenCode failed ({exit}){}", proc.stderr.suffix())),
                        ),
                        (None, None) => (
                            TurnStatus::Crashed,
                            Some(format!("OpenCode died ({exit}){}", proc.stderr.suffix())),
                        ),
                    };
                    break (status, error, (code, signal));
                }
                Wake::Cancelled => {
                    let exited = kill(&mut proc.child).await;
                    let error = "turn cancelled; OpenCode was stopped".to_string();
                    break (TurnStatus::Interrupted, Some(error), exited);
                }
                Wake::TimedOut => {
                    let exited = kill(&mut proc.child).await;
                    let error = format!(
                        "turn timed out after {:?}; OpenCode was stopped",
                        self.timeouts.turn
                    );
                    break (TurnStatus::TimedOut, Some(error), exited);
                }
                Wake::Stalled => {
                    let exited = kill(&mut proc.child).await;
                    let error = format!(
                        "no output from OpenCode for {:?}; it was stopped",
                        self.timeouts.stall.unwrap_or_default()
                    );
                    break (TurnStatus::Stalled, Some(error), exited);
                }
            }
        };
        let error = error.map(|e| bound(&e, MAX_NOTICE_BYTES));

        if let Some(started) = state.ensure_started(None) {
            emit(&self.events, started).await;
        }
        emit(&self.events, AgentEvent::ProcessExited { code, signal }).await;
        emit(
            &self.events,
            AgentEvent::TurnEnded {
                turn: state.turn,
                status,
                error: error.clone(),
            },
        )
        .await;
        Ok(TurnOutcome {
            status,
            error,
            usage: self.norm.usage,
            last_message: state.last_message,
        })
    }

    async fn stop(&mut self) {
        // No process outlives a turn.
        self.stopped = true;
    }
}

#[cfg(test)]
mod tests;
