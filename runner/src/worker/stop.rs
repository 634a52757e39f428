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
    /// A `budgets` limit was crossed (the run's budget says which).
    Budget,
}

/// A cancellation token that remembers its first reason.
#[derive(Debug, Clone)]
pub struct Stop {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl Stop {
    /// A stop that also fires when `parent` is cancelled, for the runner's shutdown.
    pub fn child_of(parent: &CancellationToken) -> Self {
        Self {
            token: parent.child_token(),
            reason: Arc::default(),
        }
    }

    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    /// Why it stopped: the first reason given, else [`StopReason::Shutdown`] when the
    /// parent was cancelled; `None` while it runs.
    pub fn reason(&self) -> Option<StopReason> {
        self.reason
            .get()
            .copied()
            .or_else(|| self.token.is_cancelled().then_some(StopReason::Shutdown))
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// The runner's two shutdown phases, as seen by a job.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// SIGTERM: claim nothing more.
    pub stop_claiming: CancellationToken,
    /// The grace period is over: stop running sessions and return their jobs.
    pub stop_sessions: CancellationToken,
}
