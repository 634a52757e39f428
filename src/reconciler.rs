//! The reconciler loops `baton dev` runs: one per served workflow (see
//! `baton_integrations::wiring::reconcilers`, which the reconciler Lambda function uses too).
//! The requeue pass is the same in each; versioned writes make concurrent passes act once.
//! When the workflow set reloads, the loops are rebuilt, so a new or changed workflow's
//! tracker is polled without a restart.

use baton_core::clock::Clock;
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::ReconcilerSettings;
use baton_core::workflow::WorkflowWatch;
use baton_integrations::wiring::{self, Backends, Wiring};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Runs the reconcilers of the current workflow set until `shutdown`, rebuilding them on
/// every reload. A workflow that cannot be wired is left out (logged); the others run.
pub struct ReconcilerLoops {
    pub workflows: WorkflowWatch,
    pub wiring: Wiring,
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub clock: Arc<dyn Clock>,
    pub every: Duration,
}

impl ReconcilerLoops {
    /// Checks that the current set's reconcilers can be built: at start-up, a bad workflow
    /// stops `baton dev` with its error, as it stops `baton runner`.
    pub fn check(&self) -> anyhow::Result<()> {
        let settings = ReconcilerSettings::from_lookup(|name| std::env::var(name).ok())?;
        if let Some(error) = self.build(&settings).failed.into_iter().next() {
            return Err(error.into());
        }
        Ok(())
    }

    /// The current set's reconcilers; a workflow that cannot be wired is logged and left
    /// out (the others run).
    fn build(&self, settings: &ReconcilerSettings) -> wiring::Reconcilers {
        let backends = Backends {
            store: Arc::clone(&self.store),
            queue: Arc::clone(&self.queue),
            clock: Arc::clone(&self.clock),
        };
        wiring::reconcilers(
            &self.workflows.current(),
            &self.wiring,
            &backends,
            settings,
            self.every,
        )
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let settings = ReconcilerSettings::from_lookup(|name| std::env::var(name).ok())?;
        let mut changes = self.workflows.subscribe();
        let mut generation = self.start(self.build(&settings).built, &shutdown);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = changes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let built = self.build(&settings).built;
                    generation.stop().await;
                    generation = self.start(built, &shutdown);
                    tracing::info!("workflows reloaded: reconcilers rebuilt");
                }
            }
        }
        generation.stop().await;
        Ok(())
    }

    fn start(
        &self,
        built: Vec<wiring::WorkflowReconciler>,
        shutdown: &CancellationToken,
    ) -> Generation {
        let stop = shutdown.child_token();
        let tasks = built
            .into_iter()
            .map(|built| {
                tokio::spawn(
                    built
                        .reconciler
                        .run(built.schedule, stop.clone().cancelled_owned()),
                )
            })
            .collect();
        Generation { stop, tasks }
    }
}

/// One set's loops.
struct Generation {
    stop: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Generation {
    /// Stops the loops; a pass under way finishes first.
    async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
