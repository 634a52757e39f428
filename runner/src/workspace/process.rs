//! Running a child process with a time limit and a bounded record of its output.
//!
//! The child leads its own process group; on timeout the whole group is killed, so a hook
//! that forked `sleep 100` cannot keep baton waiting.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

/// How much of a process's combined stdout and stderr is kept: the last 16 KiB.
pub const OUTPUT_TAIL_BYTES: usize = 16 * 1024;

/// How long to wait for output pipes to close once the process itself has exited (a
/// background child may still hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct ProcessOutcome {
    /// `None` when the process could not be waited for or was killed on timeout.
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    /// The last [`OUTPUT_TAIL_BYTES`] of stdout and stderr, interleaved as read.
    pub output: String,
    pub duration: Duration,
}

impl ProcessOutcome {
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    pub fn exit_code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    dropped: bool,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        if self.bytes.len() > OUTPUT_TAIL_BYTES {
            let excess = self.bytes.len() - OUTPUT_TAIL_BYTES;
            self.bytes.drain(..excess);
            self.dropped = true;
        }
    }

    fn render(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        if self.dropped {
            format!("[...earlier output truncated...]\n{text}")
        } else {
            text.into_owned()
        }
    }
}

fn drain<R: AsyncRead + Unpin + Send + 'static>(
    mut reader: R,
    tail: Arc<Mutex<Tail>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => tail
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(&buf[..n]),
            }
        }
    })
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        if pid > 0 {
            // SAFETY: kill(2) with a negative pid signals the process group the child leads
            // (it was started with process_group(0)); it touches no memory of ours.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Kills the child's process group if the run is abandoned (its future dropped, e.g. the
/// attempt was cancelled mid-hook), so nothing the command started outlives it.
struct GroupGuard(Option<u32>);

impl GroupGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

/// Runs `command` (stdin closed, stdout and stderr captured) for at most `timeout`.
/// A spawn failure is returned as `Err`; everything else is an outcome.
pub(crate) async fn run(
    mut command: Command,
    timeout: Duration,
) -> std::io::Result<ProcessOutcome> {
    let started = Instant::now();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    let pid = child.id();
    let guard = GroupGuard(pid);
    let tail = Arc::new(Mutex::new(Tail::default()));
    let mut readers = Vec::with_capacity(2);
    if let Some(stdout) = child.stdout.take() {
        readers.push(drain(stdout, tail.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(drain(stderr, tail.clone()));
    }

    let (status, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => (status.ok(), false),
        Err(_) => {
            kill_group(pid);
            // SIGKILL cannot be ignored; reap the shell so it does not linger as a zombie.
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            (None, true)
        }
    };

    // Wait for the pipes to close; a leftover background process still holding them is
    // killed with its group so the readers end.
    let aborts: Vec<_> = readers.iter().map(JoinHandle::abort_handle).collect();
    let mut readers_done = Box::pin(async move {
        for reader in readers {
            let _ = reader.await;
        }
    });
    if tokio::time::timeout(PIPE_GRACE, &mut readers_done)
        .await
        .is_err()
    {
        kill_group(pid);
        if tokio::time::timeout(PIPE_GRACE, &mut readers_done)
            .await
            .is_err()
        {
            aborts.iter().for_each(|a| a.abort());
        }
    }

    guard.disarm();
    let output = tail.lock().unwrap_or_else(|e| e.into_inner()).render();
    Ok(ProcessOutcome {
        status,
        timed_out,
        output,
        duration: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_end() {
        let mut tail = Tail::default();
        tail.push(&vec![b'a'; OUTPUT_TAIL_BYTES]);
        tail.push(b"end");
        let text = tail.render();
        assert!(text.ends_with("aend"));
        assert!(text.starts_with("[...earlier output truncated...]"));
    }
}
