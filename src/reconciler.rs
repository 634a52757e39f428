//! The reconciler loops `baton dev` runs: one per served workflow (see
//! `baton_integrations::wiring::reconcilers`, which the reconciler Lambda function uses too).
//! The requeue pass is the same in each; versioned writes make concurrent passes act once.

use baton_core::clock::Clock;
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{Reconciler, ReconcilerSettings, Schedule};
use baton_core::workflow::WorkflowSet;
use baton_integrations::wiring::{self, Backends, Wiring};
use std::sync::Arc;
use std::time::Duration;

pub fn build(
    set: &WorkflowSet,
    wiring: &Wiring,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> anyhow::Result<Vec<(Reconciler, Schedule)>> {
    let settings = ReconcilerSettings::from_lookup(|name| std::env::var(name).ok())?;
    let backends = Backends {
        store,
        queue,
        clock,
    };
    Ok(
        wiring::reconcilers(set, wiring, &backends, &settings, every)?
            .into_iter()
            .map(|built| (built.reconciler, built.schedule))
            .collect(),
    )
}
