//! Removing the workspaces of work items that have ended for good: right after the run that
//! ended them, and by a sweep at start and then every `workspace_sweep` for items that ended
//! while no runner was up (see [`crate::workspace::sweep`]).

use super::{RunPlan, Runner};
use crate::workspace::sweep::{self, Removal};
use baton_core::domain::WorkItemKey;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

impl Runner {
    /// After a run: removes the item's workspace if the item has ended for good. Failures are
    /// logged; the next sweep tries again.
    pub(super) async fn remove_workspace_if_ended(&self, plan: &RunPlan, key: &WorkItemKey) {
        // The plan is the item's own: it judges the item.
        let removal = sweep::remove_if_ended(
            &*self.store,
            &plan.workspaces,
            (&plan.rules, &|_| true),
            &*self.clock,
            key,
        )
        .await;
        match removal {
            Ok(Removal::Removed) => {
                tracing::info!(work_item = %key, "the work item has ended; its workspace was removed")
            }
            Ok(Removal::Kept(reason)) => {
                tracing::debug!(work_item = %key, %reason, "workspace kept")
            }
            Err(error) => {
                tracing::warn!(work_item = %key, %error, "cannot remove the workspace of an ended work item")
            }
        }
    }

    /// One sweep of every workflow's workspace root; each workflow judges its own items.
    async fn sweep_workspaces(&self) {
        for plan in self.plans().all() {
            let owns = |item: &baton_core::domain::WorkItem| {
                self.plans()
                    .for_item(item)
                    .is_ok_and(|own| Arc::ptr_eq(&own, &plan))
            };
            self.sweep_root(&plan, &owns).await;
        }
    }

    async fn sweep_root(&self, plan: &RunPlan, owns: sweep::Owns<'_>) {
        let report = sweep::sweep(
            &*self.store,
            &plan.workspaces,
            (&plan.rules, owns),
            &*self.clock,
        )
        .await;
        if !report.removed.is_empty() || report.failed > 0 {
            tracing::info!(
                removed = report.removed.len(),
                kept = report.kept,
                failed = report.failed,
                "workspace sweep"
            );
        }
    }
}

/// Sweeps now and then every `settings.workspace_sweep` until `shutdown`; `None` when the
/// sweep is turned off.
pub(super) fn spawn_sweeps(
    runner: Arc<Runner>,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    let every = runner.settings.workspace_sweep;
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            runner.sweep_workspaces().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }))
}
