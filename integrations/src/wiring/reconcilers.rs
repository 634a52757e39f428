//! The reconcilers of a deployment, one per workflow: the requeue pass, and the safety poll
//! of the workflow's tracker every `polling.interval_ms` when it names one. `baton dev` runs
//! them as loops; the reconciler Lambda function runs them once per scheduled invocation.

use super::Wiring;
use baton_core::clock::Clock;
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{Reconciler, ReconcilerSettings, Schedule};
use baton_core::workflow::{ServedWorkflow, WorkflowSet};
use std::sync::Arc;
use std::time::Duration;

/// One workflow's reconciler.
pub struct WorkflowReconciler {
    /// The workflow's name in the set (its file name).
    pub workflow: String,
    pub reconciler: Reconciler,
    pub schedule: Schedule,
    /// Whether it polls a tracker (the workflow has `tracker.provider`, or the memory tracker).
    pub polls: bool,
}

/// A workflow whose reconciler cannot be built, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workflow {workflow}: {message}")]
pub struct WiringError {
    /// The workflow's name in the set (its file name).
    pub workflow: String,
    pub message: String,
}

/// Shared parts every reconciler uses.
pub struct Backends {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
}

/// The reconcilers of a set: those that could be built, and why the others could not.
pub struct Reconcilers {
    pub built: Vec<WorkflowReconciler>,
    /// One workflow's bad setting fails that workflow's poll only, never the others' or the
    /// requeue pass.
    pub failed: Vec<WiringError>,
}

/// Builds a reconciler for every workflow of `set`, with its tracker wired by `wiring`.
pub fn reconcilers(
    set: &Arc<WorkflowSet>,
    wiring: &Wiring,
    backends: &Backends,
    settings: &ReconcilerSettings,
    reconcile_every: Duration,
) -> Reconcilers {
    let mut built = Vec::with_capacity(set.len());
    let mut failed = Vec::new();
    for served in set.iter() {
        match reconciler(set, served, wiring, backends, settings, reconcile_every) {
            Ok(reconciler) => built.push(reconciler),
            Err(error) => {
                tracing::error!(%error, "this workflow's tracker is not polled until it is fixed");
                failed.push(error);
            }
        }
    }
    Reconcilers { built, failed }
}

fn reconciler(
    set: &Arc<WorkflowSet>,
    served: &ServedWorkflow,
    wiring: &Wiring,
    backends: &Backends,
    settings: &ReconcilerSettings,
    reconcile_every: Duration,
) -> Result<WorkflowReconciler, WiringError> {
    let workflow = served.workflow();
    let error = |message: String| WiringError {
        workflow: served.name().to_owned(),
        message,
    };
    let schedule =
        Schedule::from_workflow(workflow, reconcile_every).map_err(|e| error(e.to_string()))?;
    let connections = wiring
        .connections(served)
        .map_err(|e| error(e.to_string()))?;
    let mut reconciler = Reconciler::in_set(
        Arc::clone(set),
        served.name(),
        Arc::clone(&backends.store),
        Arc::clone(&backends.queue),
        Arc::clone(&backends.clock),
        settings.clone(),
    )
    .with_announcer(wiring.announcer());
    let poller = connections.poller(served);
    let polls = poller.is_some();
    if let Some(poller) = poller {
        reconciler = reconciler.with_poller(poller);
    }
    Ok(WorkflowReconciler {
        workflow: served.name().to_owned(),
        reconciler,
        schedule,
        polls,
    })
}
