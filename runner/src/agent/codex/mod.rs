//! The Codex provider: drives `codex app-server` (JSON-RPC over stdio, one JSON object per
//! line) and normalizes its notifications into [`AgentEvent`]s.
//!
//! One session is one process and one Codex thread. A reader task classifies stdout lines
//! ([`wire::Incoming`]); the session consumes them in order, matching responses to its requests
//! by id, answering the agent's requests (approvals by policy, dynamic tools through the
//! [`ToolHandler`]) and turning notifications into events. Every wait is bounded by the read,
//! turn or stall timeout, or by cancellation.

mod normalize;
mod options;
mod process;
mod session;
mod turn;
pub mod wire;

pub use options::CodexOptions;

use self::normalize::Normalizer;
use self::process::{forward_stderr, read_stdout};
use self::session::CodexSession;
use super::credentials::codex_env_key;
use super::{
    AgentError, AgentEvent, AgentProvider, AgentSession, Capabilities, SessionConfig, ToolTransport,
};
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::mpsc;
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

/// Codex's own variables: its model credentials and its configuration directory.
const CODEX_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_HOME",
];

#[async_trait]
impl AgentProvider for CodexProvider {
    fn kind(&self) -> &'static str {
        self.kind
    }

    /// Dynamic tools, `item/tool/requestUserInput`, one thread per session, its sandbox.
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            tools: ToolTransport::Native,
            questions: true,
            resumes_within_session: true,
            sandbox: true,
        }
    }

    fn env_names(&self) -> Vec<String> {
        if self.argv.is_some() {
            // Another program speaking the protocol (the mock agent) reaches no model.
            return Vec::new();
        }
        let mut names: Vec<String> = CODEX_ENV.iter().map(|name| name.to_string()).collect();
        // A custom model provider in Codex's config.toml reads its key from `env_key`: pass
        // that variable too, without the workflow having to list it.
        names.extend(codex_env_key(|name| std::env::var(name).ok()));
        names
    }

    fn check_options(&self, options: &Map<String, Value>) -> Result<(), AgentError> {
        CodexOptions::from_options(options).map(|_| ())
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
