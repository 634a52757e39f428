//! Workflow hooks: `sh -lc <script>` in the workspace, time-limited, with a scrubbed
//! environment.

use super::process;
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tokio::process::Command;

/// The variables of baton's own environment a hook may see; everything else (tokens, cloud
/// keys, webhook secrets) is withheld.
pub const INHERITED_ENV: [&str; 3] = ["PATH", "HOME", "LANG"];

const FALLBACK_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HookKind {
    AfterCreate,
    BeforeRun,
    AfterRun,
    BeforeRemove,
}

impl HookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AfterCreate => "after_create",
            Self::BeforeRun => "before_run",
            Self::AfterRun => "after_run",
            Self::BeforeRemove => "before_remove",
        }
    }

    /// Whether a failure aborts the attempt (`after_create`, `before_run`) or is only logged.
    pub fn is_fatal(self) -> bool {
        matches!(self, Self::AfterCreate | Self::BeforeRun)
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one hook run did, for the run record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookRun {
    pub hook: HookKind,
    /// `None` when the hook was killed (timeout, signal) or could not start.
    pub exit_code: Option<i32>,
    pub success: bool,
    pub timed_out: bool,
    /// The last 16 KiB of its combined stdout and stderr.
    pub output: String,
    pub duration_ms: u64,
}

/// The identity of the run a hook belongs to, passed as `BATON_*` variables.
#[derive(Debug, Clone)]
pub struct HookContext<'a> {
    pub identifier: &'a str,
    pub workspace: &'a Path,
    /// `None` on the first run; `BATON_ATTEMPT` is then empty.
    pub attempt: Option<u32>,
}

/// Runs `script` with `sh -lc` in `ctx.workspace` for at most `timeout`. Never fails: a hook
/// that cannot start is reported as unsuccessful with the reason as its output.
pub async fn run_hook(
    hook: HookKind,
    script: &str,
    ctx: &HookContext<'_>,
    timeout: Duration,
) -> HookRun {
    let mut command = Command::new("sh");
    command
        .arg("-lc")
        .arg(script)
        .current_dir(ctx.workspace)
        .env_clear();
    for name in INHERITED_ENV {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    if std::env::var_os("PATH").is_none() {
        command.env("PATH", FALLBACK_PATH);
    }
    command
        .env("BATON_ISSUE_IDENTIFIER", ctx.identifier)
        .env("BATON_WORKSPACE", ctx.workspace)
        .env(
            "BATON_ATTEMPT",
            ctx.attempt.map(|a| a.to_string()).unwrap_or_default(),
        );

    let run = match process::run(command, timeout).await {
        Ok(outcome) => HookRun {
            hook,
            exit_code: outcome.exit_code(),
            success: outcome.success(),
            timed_out: outcome.timed_out,
            output: outcome.output,
            duration_ms: outcome.duration.as_millis() as u64,
        },
        Err(e) => HookRun {
            hook,
            exit_code: None,
            success: false,
            timed_out: false,
            output: format!("could not start `sh`: {e}"),
            duration_ms: 0,
        },
    };
    if run.success {
        tracing::debug!(hook = %hook, identifier = ctx.identifier, duration_ms = run.duration_ms, "hook succeeded");
    } else {
        tracing::warn!(
            hook = %hook,
            identifier = ctx.identifier,
            exit_code = ?run.exit_code,
            timed_out = run.timed_out,
            fatal = hook.is_fatal(),
            "hook failed"
        );
    }
    run
}
