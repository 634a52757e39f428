//! Review and merge events on a pull request baton opened: a review asking for changes
//! queues the rework, an approval may merge, a merge moves the issue on.

use super::work_items::{queue_run, request_cancel, RunRequest};
use super::IngressError;
use crate::clock::Clock;
use crate::domain::{DeliveryKey, DeliveryOutcome, JobReason, WorkItemKey};
use crate::ports::{Queue, Store};
use crate::routing::FollowUp;

/// Review and merge events on a pull request baton opened.
pub(super) async fn pull_request_follow_up(
    store: &dyn Store,
    queue: &dyn Queue,
    clock: &dyn Clock,
    key: &WorkItemKey,
    branch: &str,
    follow_up: FollowUp,
    delivery: &DeliveryKey,
) -> Result<DeliveryOutcome, IngressError> {
    let Some(item) = store.get_work_item(key).await? else {
        return Ok(DeliveryOutcome::Ignored {
            reason: format!("pull request names work item {key}, which does not exist"),
        });
    };
    // The marker is text anyone with write access can edit: trust it only when the branch
    // is the one the item's own run delivered.
    if item.pull_request.as_ref().map(|pr| pr.branch.as_str()) != Some(branch) {
        return Ok(DeliveryOutcome::Ignored {
            reason: format!("branch `{branch}` is not the pull request baton delivered for {key}"),
        });
    }
    let reason = match follow_up {
        FollowUp::Rework => JobReason::ReviewChangesRequested,
        FollowUp::Merge => JobReason::ReviewApproved,
        FollowUp::Merged => JobReason::PullRequestMerged,
        FollowUp::Closed => return request_cancel(store, clock, None, key, Some(delivery)).await,
    };
    let request = RunRequest {
        key: key.clone(),
        source: item.source,
        workflow: None,
        snapshot: None,
        reason,
        approved_by: None,
        answer: None,
        only_when_idle: false,
        agent_session: None,
    };
    queue_run(store, queue, clock, request, Some(delivery)).await
}
