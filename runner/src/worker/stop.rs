//! Why a running attempt must stop, set once by whoever notices first.

use std::sync::{Arc, OnceLock};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The work item's cancel flag was set (issue closed, unlabelled, `/baton stop`).
    Cancelled,
    /// The runner is shutting down and the grace period is over.
    Shutdown,
    /// Another runner holds the lease now (this one stalled past its lease).
    LeaseLost,
    /// The session reported more tokens than `agent.max_tokens_per_run`.
    TokenBudget,
}

/// A cancellation token that remembers its first reason.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// A stop that also fires when `parent` is cancelled (with `on_parent` as its reason).
    pub fn child_of(parent: &CancellationToken, on_parent: StopReason) -> Self {
        let stop = Self::new();
        let (watched, this) = (parent.clone(), stop.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = watched.cancelled() => this.stop(on_parent),
                () = this.token.cancelled() => {}
            }
        });
        stop
    }

    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Ends the stop's life without a reason: the run is over (frees what watches it).
    pub fn finish(&self) {
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}
