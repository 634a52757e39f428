//! Agent providers: one trait, one normalized event stream, whatever the agent's protocol.
//!
//! A provider starts a session (an agent process in a workspace) and runs turns on it. While
//! a turn runs, every protocol message becomes an [`AgentEvent`] sent on the session's event
//! channel; the turn's result is a [`TurnOutcome`]. Time limits (read, turn, stall) and
//! cancellation are enforced by the provider, so a hung or crashed agent always ends in an
//! outcome, never a hang.

mod capabilities;
pub mod codex;
pub mod mcp;
pub mod mock;
pub mod registry;

pub use capabilities::{Capabilities, ToolTransport};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub mod claude_code;
pub mod credentials;
pub mod opencode;
pub mod setup;

/// Everything an agent reports, normalized across providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The agent process is up and its session (Codex thread, Claude session) exists.
    SessionStarted {
        session_id: String,
        pid: Option<u32>,
    },
    TurnStarted {
        /// 1-based turn number within the session.
        turn: u32,
        turn_id: Option<String>,
    },
    /// A complete message from the agent (streamed deltas are folded into it).
    Message { text: String },
    /// The agent ran a shell command.
    Command {
        command: String,
        exit_code: Option<i32>,
        /// Output, truncated by the provider to a bounded size.
        output: Option<String>,
    },
    /// The agent changed a file in the workspace.
    FileChange { path: String, kind: String },
    /// The agent called a tool (host-side dynamic tools, MCP tools, built-in tools).
    ToolCall {
        name: String,
        arguments: serde_json::Value,
        success: Option<bool>,
    },
    /// The agent asked for permission and was answered by policy.
    Approval {
        /// What was asked: `command`, `file_change`, ...
        kind: String,
        /// `accept`, `decline`, ...
        decision: String,
        detail: Option<String>,
    },
    /// Cumulative token counts for the session so far.
    Usage(TokenUsage),
    /// The provider's rate-limit snapshot, as reported.
    RateLimit { details: serde_json::Value },
    TurnEnded {
        turn: u32,
        status: TurnStatus,
        error: Option<String>,
    },
    /// Something the provider could not understand or that is worth recording (a malformed
    /// line, stderr output, a protocol error). Never fatal by itself.
    Notice { text: String },
    /// The agent process exited.
    ProcessExited {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// Cumulative token usage of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    /// The agent finished the turn successfully.
    Completed,
    /// The agent reported failure (or a "completed" turn carried an error).
    Failed,
    /// Interrupted on request (cancel).
    Interrupted,
    /// `turn_timeout` passed.
    TimedOut,
    /// No event for `stall_timeout`.
    Stalled,
    /// The agent asked a person a question (the outcome's `error` is the question); the run
    /// ends and the work item waits for the answer.
    InputRequired,
    /// The agent process died or broke the protocol mid-turn.
    Crashed,
}

impl TurnStatus {
    pub fn is_success(self) -> bool {
        self == Self::Completed
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TurnOutcome {
    pub status: TurnStatus,
    pub error: Option<String>,
    /// Cumulative usage after the turn.
    pub usage: TokenUsage,
    /// The last agent message of the turn, if any (used for evidence and summaries).
    pub last_message: Option<String>,
}

/// Time limits of a session; `None` disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Waiting for the answer to one request (handshake, start of a turn).
    pub read: Duration,
    /// A whole turn.
    pub turn: Duration,
    /// Silence (no event at all) within a turn.
    pub stall: Option<Duration>,
}

impl Default for Timeouts {
    /// Symphony's defaults: read 5 s, turn 1 h, stall 5 min.
    fn default() -> Self {
        Self {
            read: Duration::from_secs(5),
            turn: Duration::from_secs(3600),
            stall: Some(Duration::from_secs(300)),
        }
    }
}

/// How the agent's approval requests are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// Accept every command and file change (the workspace is the sandbox).
    #[default]
    AcceptAll,
    /// Decline everything that asks.
    DeclineAll,
}

/// A tool the host offers the agent (run host-side, with credentials the agent never sees).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub input_schema: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub text: String,
    pub success: bool,
}

/// Runs the host-side tools an agent calls. An unknown tool answers `success: false` and the
/// session goes on.
#[async_trait]
pub trait ToolHandler: Send + Sync {
    fn specs(&self) -> Vec<ToolSpec>;
    async fn call(&self, name: &str, arguments: serde_json::Value) -> ToolResult;
}

/// A handler with no tools.
pub struct NoTools;

#[async_trait]
impl ToolHandler for NoTools {
    fn specs(&self) -> Vec<ToolSpec> {
        Vec::new()
    }

    async fn call(&self, name: &str, _: serde_json::Value) -> ToolResult {
        ToolResult {
            text: format!("unknown tool `{name}`"),
            success: false,
        }
    }
}

/// What a session needs to start.
#[derive(Clone)]
pub struct SessionConfig {
    /// The agent's working directory: the prepared workspace.
    pub workspace: PathBuf,
    /// The program and its arguments (Maestro's `command_argv`).
    pub command_argv: Vec<String>,
    /// The agent's whole environment. The process starts with a cleared environment plus
    /// exactly these variables: platform secrets never reach it.
    pub env: Vec<(String, String)>,
    pub timeouts: Timeouts,
    pub approval_policy: ApprovalPolicy,
    /// Provider-specific options passed through (Codex `sandbox`, `model`, ...).
    pub options: serde_json::Map<String, serde_json::Value>,
    pub tools: Arc<dyn ToolHandler>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The agent program could not be started (missing binary, bad permissions).
    #[error("cannot start agent `{program}`: {reason}")]
    Spawn { program: String, reason: String },
    /// The agent broke its protocol or did not answer within the read timeout.
    #[error("agent protocol error: {0}")]
    Protocol(String),
    /// The agent process is gone.
    #[error("agent process exited: {0}")]
    Exited(String),
    /// Provider options are invalid.
    #[error("invalid agent options: {0}")]
    InvalidOptions(String),
}

/// Starts sessions of one kind of agent.
#[async_trait]
pub trait AgentProvider: Send + Sync {
    /// `codex`, `claude_code`, `opencode`, `mock`.
    fn kind(&self) -> &'static str;

    /// What this provider can do.
    fn capabilities(&self) -> Capabilities;

    /// The variables its agent gets from the runner's environment by default: its model
    /// credentials and configuration directories (a workflow's `options.env` adds more;
    /// platform secrets are never passed).
    fn env_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// Checks the provider's own options (`agent_provider.options` beyond baton's keys) when
    /// the workflow is loaded, so a bad option fails the start-up check, not a run.
    fn check_options(
        &self,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), AgentError> {
        let _ = options;
        Ok(())
    }

    /// Starts the agent process and its session; events of the whole session go to `events`.
    async fn start(
        &self,
        config: SessionConfig,
        events: mpsc::Sender<AgentEvent>,
    ) -> Result<Box<dyn AgentSession>, AgentError>;
}

/// A running agent session.
#[async_trait]
pub trait AgentSession: Send {
    /// Runs one turn with `input` (the rendered prompt, or a continuation note) and returns
    /// when it ends: completed, failed, timed out, stalled, crashed, or interrupted because
    /// `cancel` fired (the provider asks the agent to stop, then kills it within 5 s).
    async fn run_turn(
        &mut self,
        input: &str,
        cancel: &CancellationToken,
    ) -> Result<TurnOutcome, AgentError>;

    /// Ends the session and the process (gracefully, then by force). Idempotent.
    async fn stop(&mut self);
}
