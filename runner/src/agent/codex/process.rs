//! The app-server process's output: stdout classified line by line for the session, stderr
//! reported as bounded notices, and how the process ended.

use super::wire::{read_line_bounded, truncate, Incoming, Line, MAX_LINE};
use super::{MAX_STDERR_LINE, MAX_STDERR_NOTICES};
use crate::agent::AgentEvent;
use std::process::ExitStatus;
use tokio::io::BufReader;
use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::mpsc;

/// Reads stdout line by line and classifies each line; stops at end of output.
pub(super) async fn read_stdout(stdout: ChildStdout, tx: mpsc::Sender<Incoming>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let message = match read_line_bounded(&mut reader, MAX_LINE).await {
            Ok(Some(Line::Text(line))) => match super::wire::parse_line(&line) {
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
pub(super) async fn forward_stderr(stderr: ChildStderr, events: mpsc::Sender<AgentEvent>) {
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

#[cfg(unix)]
pub(super) fn exit_signal(status: &ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

#[cfg(not(unix))]
pub(super) fn exit_signal(_: &ExitStatus) -> Option<i32> {
    None
}
