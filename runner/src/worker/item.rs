//! Versioned edits of a work item: read the freshest copy, change it, write it only if no
//! one wrote in between; on a conflict, read again and decide again.

use baton_core::domain::{WorkItem, WorkItemKey};
use baton_core::ports::{Store, StoreError};
use chrono::{DateTime, Utc};

/// Conflicting writers are outlasted this many times before the edit gives up.
const MAX_EDIT_ATTEMPTS: u32 = 16;

/// What an edit decided after looking at the item.
pub enum Edit<T> {
    /// Write the changed item; the edit returns `T`.
    Write(T),
    /// Leave the item as it is; the edit returns `T`.
    Keep(T),
}

/// Applies `decide` to the stored item until its write wins. `Ok(None)`: there is no item.
/// The version and `updated_at` are set here, so `decide` only says what changes.
pub async fn edit<T>(
    store: &dyn Store,
    key: &WorkItemKey,
    now: impl Fn() -> DateTime<Utc>,
    mut decide: impl FnMut(&mut WorkItem) -> Edit<T>,
) -> Result<Option<T>, StoreError> {
    for _ in 0..MAX_EDIT_ATTEMPTS {
        let Some(mut item) = store.get_work_item(key).await? else {
            return Ok(None);
        };
        let expected = item.version;
        match decide(&mut item) {
            Edit::Keep(value) => return Ok(Some(value)),
            Edit::Write(value) => {
                item.version = expected + 1;
                item.updated_at = now();
                match store.put_work_item(&item, Some(expected)).await {
                    Ok(()) => return Ok(Some(value)),
                    Err(StoreError::Conflict(_)) => continue,
                    Err(error) => return Err(error),
                }
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "work item {key} kept changing under {MAX_EDIT_ATTEMPTS} attempts to edit it"
    )))
}
