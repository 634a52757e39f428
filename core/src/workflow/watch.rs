//! Publishing the current workflow set, and the background reloader that keeps it current.
//!
//! The set travels through a `tokio::sync::watch` channel rather than an
//! `RwLock<Arc<WorkflowSet>>`: reading it is as cheap (a brief read lock and an `Arc`
//! clone, no I/O, on every webhook), and consumers that care about changes — a runner
//! rebuilding its plan — can also await `changed()` instead of polling.

use super::{WorkflowSet, WorkflowSource, WorkflowStatus};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the reloader looks at the files, unless [`RELOAD_INTERVAL_ENV`] says otherwise.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_millis(2000);

/// Milliseconds between reloads; `0` turns reloading off.
pub const RELOAD_INTERVAL_ENV: &str = "BATON_WORKFLOW_RELOAD_MS";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{RELOAD_INTERVAL_ENV} must be a whole number of milliseconds (0: no reloading), not `{0}`"
)]
pub struct InvalidReloadInterval(pub String);

/// The reload interval from [`RELOAD_INTERVAL_ENV`] as read by `lookup`; `None`: off.
pub fn reload_interval(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<Duration>, InvalidReloadInterval> {
    let Some(value) = lookup(RELOAD_INTERVAL_ENV) else {
        return Ok(Some(DEFAULT_RELOAD_INTERVAL));
    };
    match value.trim().parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(millis) => Ok(Some(Duration::from_millis(millis))),
        Err(_) => Err(InvalidReloadInterval(value)),
    }
}

/// A reader's handle on the current workflow set and the files' statuses. Cheap to clone.
#[derive(Clone)]
pub struct WorkflowWatch {
    set: watch::Receiver<Arc<WorkflowSet>>,
    statuses: watch::Receiver<Arc<[WorkflowStatus]>>,
}

impl WorkflowWatch {
    /// A set that never changes (tests, or reloading turned off).
    pub fn fixed(set: WorkflowSet) -> Self {
        Self::fixed_shared(Arc::new(set))
    }

    /// [`WorkflowWatch::fixed`] over a set already shared (one generation of a reloaded set).
    pub fn fixed_shared(set: Arc<WorkflowSet>) -> Self {
        Self::with_statuses(set, Vec::new()).0
    }

    /// Serves `source`'s set and, when `every` is given, starts a [`Reloader`] on the
    /// current tokio runtime that re-reads the files that often.
    pub fn start(source: WorkflowSource, every: Option<Duration>) -> Self {
        let (watch, reloader) = Self::new(source);
        if let Some(every) = every {
            reloader.spawn(every);
        }
        watch
    }

    /// The handle and the reloader that feeds it, not yet started.
    pub fn new(source: WorkflowSource) -> (Self, Reloader) {
        let (watch, senders) = Self::with_statuses(source.set(), source.statuses());
        let reloader = Reloader {
            source,
            set: senders.0,
            statuses: senders.1,
        };
        (watch, reloader)
    }

    fn with_statuses(set: Arc<WorkflowSet>, statuses: Vec<WorkflowStatus>) -> (Self, Senders) {
        let (set_sender, set) = watch::channel(set);
        let (status_sender, statuses) = watch::channel(Arc::from(statuses));
        (Self { set, statuses }, (set_sender, status_sender))
    }

    /// The set to serve this request with. Hold it for the whole request, so one delivery
    /// sees one set even if a reload lands meanwhile.
    pub fn current(&self) -> Arc<WorkflowSet> {
        Arc::clone(&self.set.borrow())
    }

    /// A receiver that wakes on every new set (`changed().await`).
    pub fn subscribe(&self) -> watch::Receiver<Arc<WorkflowSet>> {
        self.set.clone()
    }

    /// Every workflow file's status; empty for a fixed set.
    pub fn statuses(&self) -> Arc<[WorkflowStatus]> {
        Arc::clone(&self.statuses.borrow())
    }
}

type Senders = (
    watch::Sender<Arc<WorkflowSet>>,
    watch::Sender<Arc<[WorkflowStatus]>>,
);

/// Re-reads a [`WorkflowSource`] and publishes what changed.
pub struct Reloader {
    source: WorkflowSource,
    set: watch::Sender<Arc<WorkflowSet>>,
    statuses: watch::Sender<Arc<[WorkflowStatus]>>,
}

impl Reloader {
    /// One pass: re-reads the files and publishes a changed set or status. Blocking file
    /// I/O; returns whether the set changed.
    pub fn reload_now(&mut self) -> bool {
        let changed = self.source.refresh();
        if changed {
            self.set.send_replace(self.source.set());
        }
        let statuses = self.source.statuses();
        self.statuses.send_if_modified(|current| {
            let modified = **current != *statuses;
            if modified {
                *current = Arc::from(statuses);
            }
            modified
        });
        changed
    }

    /// Runs [`Reloader::reload_now`] every `every` on the blocking pool until every
    /// [`WorkflowWatch`] is dropped.
    pub fn spawn(mut self, every: Duration) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // The first tick is immediate; the set was just loaded.
            loop {
                tokio::select! {
                    () = self.set.closed() => return,
                    _ = ticks.tick() => {}
                }
                let pass = tokio::task::spawn_blocking(move || {
                    self.reload_now();
                    self
                });
                match pass.await {
                    Ok(reloader) => self = reloader,
                    Err(error) => {
                        tracing::error!(%error, "the workflow reloader stopped");
                        return;
                    }
                }
            }
        })
    }
}
