//! The approval gate: a run request held until a person approves it, and an approval given
//! before any request, remembered for the next one.

use super::work_items::{edit_item, merge_snapshot, Applied};
use super::IngressError;
use crate::clock::Clock;
use crate::domain::{DeliveryKey, DeliveryOutcome, NormalizedEvent, WorkItemKey, WorkItemStatus};
use crate::ports::Store;
use std::sync::atomic::{AtomicBool, Ordering};

/// Records the wanted run as held at the dispatch gate; nothing is queued.
pub(super) async fn hold_for_approval(
    store: &dyn Store,
    clock: &dyn Clock,
    event: &NormalizedEvent,
    key: &WorkItemKey,
    delivery: &DeliveryKey,
) -> Result<Applied, IngressError> {
    // Decided inside the versioned write, so of triggers racing only one sees the change.
    let newly_held = AtomicBool::new(false);
    edit_item(store, clock, event.source, key, |item| {
        merge_snapshot(&mut item.issue, &event.issue, &event.action);
        // A new item, or one with no run under way: it waits. A running one keeps running.
        let is_new = item.version == 0;
        let holds = is_new || !item.status.is_active();
        newly_held.store(
            holds && item.status != WorkItemStatus::AwaitingApproval,
            Ordering::Relaxed,
        );
        if holds {
            item.status = WorkItemStatus::AwaitingApproval;
            item.cancel_requested = false;
        }
        item.last_delivery = Some(delivery.id.clone());
    })
    .await?;
    tracing::info!(work_item = %key, delivery_id = %delivery.id, "run held for approval");
    Ok(Applied {
        outcome: DeliveryOutcome::AwaitingApproval {
            work_item: key.clone(),
        },
        newly_held: newly_held.into_inner(),
    })
}

/// Remembers an approval given before any run was requested.
pub(super) async fn record_approval(
    store: &dyn Store,
    clock: &dyn Clock,
    event: &NormalizedEvent,
    key: &WorkItemKey,
    by: &str,
    delivery: &DeliveryKey,
) -> Result<DeliveryOutcome, IngressError> {
    edit_item(store, clock, event.source, key, |item| {
        merge_snapshot(&mut item.issue, &event.issue, &event.action);
        item.approved_by = Some(by.to_owned());
        item.last_delivery = Some(delivery.id.clone());
    })
    .await?;
    Ok(DeliveryOutcome::Ignored {
        reason: format!("approval by {by} recorded; the next run request starts at once"),
    })
}
