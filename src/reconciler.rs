//! The reconciler loops `baton dev` runs: one per served workflow, each polling that
//! workflow's tracker when it names one (`tracker.provider`). The requeue pass is the same
//! in each; versioned writes make concurrent passes act once.

use anyhow::Context;
use baton_core::clock::Clock;
use baton_core::domain::SourceKind;
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{Reconciler, ReconcilerSettings, Schedule};
use baton_core::workflow::WorkflowSet;
use baton_runner::poller::TrackerPoller;
use baton_runner::worker::delivery::DeliveryPlan;
use std::sync::Arc;
use std::time::Duration;

pub fn build(
    set: &WorkflowSet,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> anyhow::Result<Vec<(Reconciler, Schedule)>> {
    let settings = ReconcilerSettings::from_lookup(|name| std::env::var(name).ok())?;
    let env = |name: &str| std::env::var(name).ok();
    let mut built = Vec::new();
    for served in set.iter() {
        let workflow = served.workflow();
        let schedule = Schedule::from_workflow(workflow, every)?;
        let mut reconciler = Reconciler::new(
            workflow,
            Arc::clone(&store),
            Arc::clone(&queue),
            Arc::clone(&clock),
            settings.clone(),
        );
        let source = workflow.config.tracker.kind.parse::<SourceKind>().ok();
        let delivery = DeliveryPlan::from_workflow(workflow, "main", &env)
            .with_context(|| format!("workflow {}", workflow.describe()))?;
        if let (Some(source), Some(tracker)) = (source, delivery.tracker) {
            let states = served.rules().active_states(source);
            reconciler =
                reconciler.with_poller(Arc::new(TrackerPoller::new(tracker, source, states)));
        }
        built.push((reconciler, schedule));
    }
    Ok(built)
}
