//! The end of unanswered questions: an item waiting for a person's answer past its deadline
//! (`agent.input_timeout_ms`) fails with `input_timeout`. A versioned write, so an answer
//! that lands at the same moment wins or loses cleanly, never half.

use super::requeue::ReconcileError;
use crate::clock::Clock;
use crate::domain::{WorkItemKey, WorkItemStatus};
use crate::ports::{Store, StoreError};

/// Conditional writes that lose to a concurrent writer are retried this many times.
const MAX_WRITE_ATTEMPTS: u32 = 8;

/// Fails every item whose question's deadline has passed; returns their keys.
pub async fn expire_waits(
    store: &dyn Store,
    clock: &dyn Clock,
) -> Result<Vec<WorkItemKey>, ReconcileError> {
    let status = WorkItemStatus::AwaitingInput;
    let waiting = store
        .list_work_items(status, usize::MAX)
        .await
        .map_err(|source| ReconcileError::List {
            status: status.as_str(),
            source,
        })?;
    let mut expired = Vec::new();
    for item in waiting {
        let due = item
            .input_request
            .as_ref()
            .is_some_and(|input| input.expired(clock.now()));
        if !due {
            continue;
        }
        match expire(store, clock, &item.key).await {
            Ok(true) => {
                tracing::info!(work_item = %item.key, "nobody answered the agent's question in time; the work item failed");
                expired.push(item.key);
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(work_item = %item.key, %error, "cannot end an unanswered question's wait; the next pass tries again");
            }
        }
    }
    Ok(expired)
}

/// `true` when this call ended the wait.
async fn expire(
    store: &dyn Store,
    clock: &dyn Clock,
    key: &WorkItemKey,
) -> Result<bool, StoreError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let Some(current) = store.get_work_item(key).await? else {
            return Ok(false);
        };
        let now = clock.now();
        let Some(input) = current.input_request.as_ref() else {
            return Ok(false);
        };
        if current.status != WorkItemStatus::AwaitingInput || !input.expired(now) {
            return Ok(false);
        }
        let mut item = current.clone();
        item.status = WorkItemStatus::Failed;
        item.last_error = Some(format!(
            "input_timeout: nobody answered the agent's question (asked {}) before {}",
            input.asked_at.to_rfc3339(),
            input.deadline.map(|d| d.to_rfc3339()).unwrap_or_default()
        ));
        item.input_request = None;
        item.pending_job = None;
        item.updated_at = now;
        item.version += 1;
        match store.put_work_item(&item, Some(current.version)).await {
            Ok(()) => return Ok(true),
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(false)
}
