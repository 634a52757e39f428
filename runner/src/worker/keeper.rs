//! While a run goes on: renew its lease, its slots and its job message's invisibility, and
//! watch the work item for a cancel request or another runner's takeover.

use super::item::{edit, Edit};
use super::slots::{self, HeldSlots};
use super::stop::{Stop, StopReason};
use super::{later, Runner};
use baton_core::domain::{RunId, WorkItemKey};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// The keeper of one run. Dropping it stops the keeping (even if the run panicked), so a
/// lease is never renewed for a run that is gone.
pub struct Keeper {
    done: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl Keeper {
    pub async fn finish(mut self) {
        self.done.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub struct Kept {
    pub key: WorkItemKey,
    pub run_id: RunId,
    pub receipt: String,
    pub slots: HeldSlots,
}

pub fn spawn(runner: Arc<Runner>, kept: Kept, stop: Stop) -> Keeper {
    let done = CancellationToken::new();
    let task = tokio::spawn(keep(runner, kept, stop, done.clone()).in_current_span());
    Keeper {
        done,
        task: Some(task),
    }
}

async fn keep(runner: Arc<Runner>, kept: Kept, stop: Stop, done: CancellationToken) {
    let settings = &runner.settings;
    let mut last_renewal = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval(settings.watch_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let now = runner.clock.now();
        match runner.store.get_work_item(&kept.key).await {
            Ok(Some(item)) => {
                let ours = item.lease.as_ref().is_some_and(|lease| {
                    lease.owner == settings.runner_id && lease.run_id == kept.run_id
                });
                if !ours {
                    tracing::warn!(work_item = %kept.key, run_id = %kept.run_id,
                        "another runner took the work item over; stopping this run");
                    stop.stop(StopReason::LeaseLost);
                    return;
                }
                if item.cancel_requested {
                    tracing::info!(work_item = %kept.key, run_id = %kept.run_id, "cancel requested");
                    stop.stop(StopReason::Cancelled);
                }
                if item.lease.as_ref().is_some_and(|lease| !lease.is_live(now)) {
                    // Renewals kept failing past the lease: another runner may start it now.
                    tracing::warn!(work_item = %kept.key, run_id = %kept.run_id,
                        "the lease ran out before it could be renewed; stopping this run");
                    stop.stop(StopReason::LeaseLost);
                    return;
                }
            }
            Ok(None) => {
                stop.stop(StopReason::LeaseLost);
                return;
            }
            Err(error) => {
                tracing::warn!(work_item = %kept.key, %error, "cannot read the work item to watch it");
            }
        }
        if last_renewal.elapsed() >= settings.lease {
            // Unrenewed for a whole lease (the store is out of reach): another runner may
            // take the item over now, so this one stops rather than run it twice.
            tracing::warn!(work_item = %kept.key, run_id = %kept.run_id,
                "the lease could not be renewed in time; stopping this run");
            stop.stop(StopReason::LeaseLost);
            return;
        }
        if last_renewal.elapsed() >= settings.heartbeat && renew(&runner, &kept).await {
            last_renewal = tokio::time::Instant::now();
        }
    }
}

/// Renews the lease, the slots and the message; `false` if the lease could not be renewed.
async fn renew(runner: &Runner, kept: &Kept) -> bool {
    let settings = &runner.settings;
    let now = runner.clock.now();
    let expires_at = later(now, settings.lease);
    let renewed = edit(
        &*runner.store,
        &kept.key,
        || runner.clock.now(),
        |item| match item.lease.as_mut() {
            Some(lease) if lease.owner == settings.runner_id && lease.run_id == kept.run_id => {
                lease.expires_at = expires_at;
                Edit::Write(true)
            }
            _ => Edit::Keep(false),
        },
    )
    .await;
    if let Err(error) = slots::renew(&*runner.store, &kept.slots, now, settings.lease).await {
        tracing::warn!(work_item = %kept.key, %error, "cannot renew the concurrency slots");
    }
    if let Err(error) = runner
        .queue
        .change_visibility(&kept.receipt, settings.lease)
        .await
    {
        tracing::warn!(work_item = %kept.key, %error, "cannot extend the job message's visibility");
    }
    match renewed {
        Ok(Some(true)) => true,
        Ok(_) => false,
        Err(error) => {
            tracing::warn!(work_item = %kept.key, %error, "cannot renew the lease");
            false
        }
    }
}
