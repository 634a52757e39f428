//! Process plumbing shared by the CLI-driven providers (Claude Code, OpenCode): spawning with a
//! cleared environment, bounded line reading, a stderr tail, turn clocks and killing.
//!
//! It lives under `claude_code` only because of file ownership while the providers were
//! written in parallel; nothing in it is specific to Claude Code.

use super::super::{AgentError, AgentEvent};
use std::collections::VecDeque;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Longest stdout line accepted; longer lines are dropped (and reported) whole.
pub(crate) const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;
/// Bound of an agent message's text in an event.
pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Bound of a command's output (or a tool's arguments) in an event.
pub(crate) const MAX_OUTPUT_BYTES: usize = 16 * 1024;
/// Bound of a notice's text.
pub(crate) const MAX_NOTICE_BYTES: usize = 2 * 1024;
/// Stderr lines forwarded as notices per process (the tail is always kept).
const MAX_STDERR_NOTICES: usize = 50;
/// Stderr lines kept for error messages.
const STDERR_TAIL_LINES: usize = 20;
/// How long a killed (or exiting) process gets to be reaped.
pub(crate) const REAP_WAIT: Duration = Duration::from_secs(3);

/// Cuts `text` to at most `max` bytes (on a char boundary), saying how much was cut.
pub(crate) fn bound(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [{} bytes truncated]", &text[..end], text.len() - end)
}

/// Bounds a JSON value: a value whose serialization exceeds `max` bytes becomes a truncated
/// string of that serialization.
pub(crate) fn bound_json(value: serde_json::Value, max: usize) -> serde_json::Value {
    let text = value.to_string();
    if text.len() <= max {
        value
    } else {
        serde_json::Value::String(bound(&text, max))
    }
}

/// One item read from the agent's stdout.
#[derive(Debug)]
pub(crate) enum StdoutItem {
    Line(String),
    /// A line longer than [`MAX_LINE_BYTES`], dropped.
    TooLong(usize),
    /// Reading failed (the pipe broke); the stream ends after this.
    Error(String),
}

/// Reads `reader` line by line into a channel, never holding more than `max` bytes of a line.
/// The channel closes at end of file.
pub(crate) fn read_lines<R>(reader: R, max: usize) -> mpsc::Receiver<StdoutItem>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        let mut line: Vec<u8> = Vec::new();
        let mut seen = 0usize;
        loop {
            let chunk = match reader.fill_buf().await {
                Ok(chunk) => chunk,
                Err(err) => {
                    let _ = tx.send(StdoutItem::Error(err.to_string())).await;
                    return;
                }
            };
            if chunk.is_empty() {
                if seen > 0 {
                    let _ = tx.send(finish_line(&mut line, seen, max)).await;
                }
                return;
            }
            let (take, newline) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if seen + take <= max {
                line.extend_from_slice(&chunk[..take]);
            } else {
                // Over the bound: stop keeping bytes, keep counting.
                line.clear();
            }
            seen += take;
            reader.consume(take + usize::from(newline));
            if newline {
                let item = finish_line(&mut line, seen, max);
                seen = 0;
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

fn finish_line(line: &mut Vec<u8>, seen: usize, max: usize) -> StdoutItem {
    if seen > max {
        line.clear();
        return StdoutItem::TooLong(seen);
    }
    let mut text = String::from_utf8_lossy(line).into_owned();
    line.clear();
    if text.ends_with('\r') {
        text.pop();
    }
    StdoutItem::Line(text)
}

/// The last lines the agent wrote to stderr.
#[derive(Clone, Default)]
pub(crate) struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    fn push(&self, line: String) {
        let mut tail = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == STDERR_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    /// The tail as one string (empty when stderr said nothing).
    pub(crate) fn text(&self) -> String {
        let tail = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// `" (stderr: …)"`, or nothing.
    pub(crate) fn suffix(&self) -> String {
        let text = self.text();
        if text.trim().is_empty() {
            String::new()
        } else {
            format!(" (stderr: {})", bound(text.trim(), MAX_NOTICE_BYTES))
        }
    }
}

/// A spawned agent process with its pipes wired.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) lines: mpsc::Receiver<StdoutItem>,
    pub(crate) stderr: StderrTail,
    pub(crate) pid: Option<u32>,
}

/// Spawns `argv` in `cwd` with exactly `env` as its environment, stdin/stdout/stderr piped and
/// the process killed when its handle drops. Stderr lines are kept in a tail and the first
/// few are forwarded as notices (without waiting: a slow event consumer never blocks the
/// agent's stderr).
pub(crate) fn spawn(
    argv: &[String],
    env: &[(String, String)],
    cwd: &Path,
    events: &mpsc::Sender<AgentEvent>,
) -> Result<Spawned, AgentError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(AgentError::InvalidOptions("empty command_argv".into()));
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|err| AgentError::Spawn {
        program: program.clone(),
        reason: err.to_string(),
    })?;
    let pid = child.id();
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or_else(|| AgentError::Spawn {
        program: program.clone(),
        reason: "no stdout pipe".into(),
    })?;
    let lines = read_lines(stdout, MAX_LINE_BYTES);
    let stderr = StderrTail::default();
    if let Some(pipe) = child.stderr.take() {
        let tail = stderr.clone();
        let events = events.clone();
        let mut err_lines = read_lines(pipe, MAX_OUTPUT_BYTES);
        tokio::spawn(async move {
            let mut forwarded = 0usize;
            while let Some(item) = err_lines.recv().await {
                let line = match item {
                    StdoutItem::Line(line) => line,
                    StdoutItem::TooLong(n) => format!("[stderr line of {n} bytes dropped]"),
                    StdoutItem::Error(_) => break,
                };
                if line.trim().is_empty() {
                    continue;
                }
                let line = bound(&line, MAX_NOTICE_BYTES);
                if forwarded < MAX_STDERR_NOTICES {
                    forwarded += 1;
                    let _ = events.try_send(AgentEvent::Notice {
                        text: format!("stderr: {line}"),
                    });
                }
                tail.push(line);
            }
        });
    }
    Ok(Spawned {
        child,
        stdin,
        lines,
        stderr,
        pid,
    })
}

/// Exit code and signal of a status.
pub(crate) fn exit_parts(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        (status.code(), status.signal())
    }
    #[cfg(not(unix))]
    {
        (status.code(), None)
    }
}

/// Describes how a process ended: `exit code 1`, `signal 9`, `unknown status`.
pub(crate) fn describe_exit(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "unknown status".into(),
    }
}

/// Kills the process (SIGKILL) and reaps it; returns its exit code and signal when known.
pub(crate) async fn kill(child: &mut Child) -> (Option<i32>, Option<i32>) {
    if let Ok(Some(status)) = child.try_wait() {
        return exit_parts(status);
    }
    let _ = child.start_kill();
    match tokio::time::timeout(REAP_WAIT, child.wait()).await {
        Ok(Ok(status)) => exit_parts(status),
        _ => (None, None),
    }
}

/// Waits up to `wait` for the process to exit on its own, then kills it.
pub(crate) async fn reap(child: &mut Child, wait: Duration) -> (Option<i32>, Option<i32>) {
    match tokio::time::timeout(wait, child.wait()).await {
        Ok(Ok(status)) => exit_parts(status),
        _ => kill(child).await,
    }
}

/// What woke a turn's loop.
#[derive(Debug)]
pub(crate) enum Wake {
    /// A stdout item, or `None` at end of file.
    Item(Option<StdoutItem>),
    Cancelled,
    TimedOut,
    Stalled,
}

/// A turn's deadlines: the whole turn and the silence between two stdout lines.
pub(crate) struct TurnClock {
    deadline: Instant,
    stall: Option<Duration>,
    last: Instant,
}

impl TurnClock {
    pub(crate) fn new(turn: Duration, stall: Option<Duration>) -> Self {
        let now = Instant::now();
        Self {
            deadline: now + turn,
            stall,
            last: now,
        }
    }

    /// Waits for the next stdout item, cancellation, the turn deadline or a stall. Cancellation
    /// wins over everything else when both are ready.
    pub(crate) async fn next(
        &mut self,
        lines: &mut mpsc::Receiver<StdoutItem>,
        cancel: &CancellationToken,
    ) -> Wake {
        let stall_at = self.stall.map(|stall| self.last + stall);
        let stalled = async move {
            match stall_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Wake::Cancelled,
            _ = tokio::time::sleep_until(self.deadline) => Wake::TimedOut,
            _ = stalled => Wake::Stalled,
            item = lines.recv() => {
                self.last = Instant::now();
                Wake::Item(item)
            }
        }
    }
}

/// Whether `program` can be found: a path must exist; a bare name is looked up on the `PATH`
/// of `env` (the agent's whole environment), or on `/usr/bin:/bin` without one.
pub(crate) fn program_exists(program: &str, env: &[(String, String)], cwd: &Path) -> bool {
    if program.contains('/') {
        let path = Path::new(program);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        };
        return path.is_file();
    }
    let path_var = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/bin:/bin");
    path_var
        .split(':')
        .filter(|dir| !dir.is_empty())
        .any(|dir| Path::new(dir).join(program).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_cuts_on_char_boundaries() {
        assert_eq!(bound("short", 10), "short");
        let cut = bound("ééééé", 3);
        assert!(cut.starts_with('é'));
        assert!(cut.contains("truncated"));
    }

    #[tokio::test]
    async fn long_lines_are_dropped_and_reported() {
        let data = format!("ok\n{}\nafter\npartial", "x".repeat(100));
        let mut rx = read_lines(std::io::Cursor::new(data.into_bytes()), 10);
        let mut items = Vec::new();
        while let Some(item) = rx.recv().await {
            items.push(format!("{item:?}"));
        }
        assert_eq!(
            items,
            vec![
                "Line(\"ok\")",
                "TooLong(100)",
                "Line(\"after\")",
                "Line(\"partial\")"
            ]
        );
    }
}
