//! Progress on stderr while the CLI waits: a spinner on a terminal, nothing animated
//! elsewhere (logs and pipes get plain lines or nothing), and never anything on stdout,
//! which belongs to the tables and the JSON.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const FRAME_EVERY: Duration = Duration::from_millis(100);
/// A request answered faster than this shows no spinner at all, so quick commands do not
/// flicker.
const REQUEST_GRACE: Duration = Duration::from_millis(300);

/// Whether stderr is a terminal that can take a redrawn line.
pub fn interactive() -> bool {
    std::io::stderr().is_terminal()
}

/// A spinner drawn on stderr until stopped; inert when stderr is not a terminal.
pub struct Spinner {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Starts drawing `message` after `delay`, when stderr is a terminal.
    pub fn start(message: impl Into<String>, delay: Duration) -> Self {
        if !interactive() {
            return Self {
                stop: None,
                task: None,
            };
        }
        let message = message.into();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = &mut stopped => return,
                () = tokio::time::sleep(delay) => {}
            }
            let mut stderr = std::io::stderr();
            for frame in FRAMES.iter().cycle() {
                // Drawing is best effort: a closed stderr must not fail the command.
                let _ = write!(stderr, "\r{frame} {message}");
                let _ = stderr.flush();
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(FRAME_EVERY) => {}
                }
            }
            // Erase the line so the next output starts clean.
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        });
        Self {
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops and erases the spinner; returns once the line is clean.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Runs `future`, with a spinner saying `message` if it takes a while.
pub async fn during<F: Future>(message: impl Into<String>, future: F) -> F::Output {
    let spinner = Spinner::start(message, REQUEST_GRACE);
    let output = future.await;
    spinner.stop().await;
    output
}
