//! The reconciler: the safety net under the webhooks and the queue.
//!
//! - [`reconcile_once`] (every minute): a running item whose runner died and whose job
//!   message is gone, a retry whose delayed message never came back, a queued item nobody
//!   claimed: each gets a fresh job. A working runner's item is never touched, and two
//!   reconcilers at once requeue an item once (versioned writes).
//! - [`SafetyPoll`] (every `polling.interval_ms`): reads each tracker's active issues to
//!   catch webhooks that never arrived, and acts on them through the ingress's own path.
//! - [`Reconciler`] runs both in a loop; the `baton-reconciler` Lambda function runs the
//!   pass on an EventBridge schedule.

mod input_wait;
mod memory_poller;
pub mod poll;
mod report;
mod requeue;
mod rules;
mod schedule;
mod settings;

pub use memory_poller::MemoryPoller;
pub use poll::{IssuePoller, PollError, SafetyPoll, TrackerUnavailable};
pub use report::{Failed, PollReport, ReconcileReport, Requeued};
pub use requeue::{reconcile_once, ReconcileError};
pub use rules::{judge, RequeueCause, SkipReason, Verdict};
pub use schedule::Reconciler;
pub use settings::{
    poll_interval, ReconcilerSettings, Schedule, SettingsError, DEFAULT_POLL_INTERVAL,
};

#[cfg(test)]
mod set_tests;
#[cfg(test)]
mod tests;
