//! The runner's part of the metrics series (see `baton_core::trends`): a run's start when
//! its record is created, its end when the end is recorded, in the same code paths.

use baton_core::domain::Run;
use baton_core::ports::Store;
use baton_core::trends::MetricsUpdate;
use chrono::{DateTime, Utc};

pub(super) async fn run_started(store: &dyn Store, run: &Run, workflow: Option<&str>) {
    record(store, MetricsUpdate::run_started(run.claimed_at, workflow)).await;
}

/// Only for a run that did end: an abandoned run whose lease was lost still counts, as
/// its takeover starts a new run.
pub(super) async fn run_ended(
    store: &dyn Store,
    run: &Run,
    workflow: Option<&str>,
    now: DateTime<Utc>,
) {
    record(store, MetricsUpdate::run_ended(run, workflow, now)).await;
}

/// A sample the store cannot take is logged: it must not fail the run.
async fn record(store: &dyn Store, update: MetricsUpdate) {
    if let Err(error) = store.record_metrics(&update).await {
        tracing::warn!(%error, "could not record a run in the metrics");
    }
}
