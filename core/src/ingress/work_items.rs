//! Applying a routing decision to the work item, with optimistic concurrency, and queuing
//! the job once the item says so.

use super::answers::{self, Answer};
use super::approvals::{hold_for_approval, record_approval};
use super::follow_ups::pull_request_follow_up;
use super::IngressError;
use crate::clock::Clock;
use crate::domain::input::InputAnswer;
use crate::domain::{
    AgentSessionLink, DeliveryKey, DeliveryOutcome, EventAction, IssueSnapshot, Job, JobId,
    JobReason, NormalizedEvent, SourceKind, WorkItem, WorkItemKey, WorkItemStatus,
    JOB_SCHEMA_VERSION,
};
use crate::ports::{Queue, Store, StoreError};
use crate::routing::Decision;

/// Conditional writes that lose to a concurrent writer are retried this many times.
const MAX_WRITE_ATTEMPTS: u32 = 8;

/// Records the decision on the work item and, for a run, sends the job. Returns what the
/// delivery did, to be remembered for redeliveries.
pub(super) async fn apply(
    store: &dyn Store,
    queue: &dyn Queue,
    clock: &dyn Clock,
    event: &NormalizedEvent,
    decision: Decision,
    delivery: &DeliveryKey,
    workflow: &str,
) -> Result<Applied, IngressError> {
    let key = WorkItemKey::new(event.source, &event.issue.identifier);
    let session = event.action.agent_session().map(|id| AgentSessionLink {
        id: id.to_owned(),
        message: event.comment.as_deref().map(crate::domain::input::bounded),
        by: event.comment.as_ref().map(|_| event.actor.login.clone()),
    });
    let request = |reason, approved_by: Option<String>| RunRequest {
        key: key.clone(),
        source: event.source,
        workflow: Some(workflow),
        snapshot: Some((&event.issue, &event.action)),
        reason,
        approved_by,
        answer: None,
        only_when_idle: false,
        agent_session: session.clone(),
    };
    // `/baton answer` says when nothing waits; a plain comment then is just a comment.
    let explicit = matches!(decision, Decision::Answer { .. });
    let outcome = match decision {
        Decision::Run { reason } => {
            queue_run(store, queue, clock, request(reason, None), Some(delivery)).await
        }
        Decision::AwaitApproval { reason } => {
            // An approval given earlier (`/baton approve` before the trigger) still counts.
            let approved = store
                .get_work_item(&key)
                .await?
                .is_some_and(|item| item.approved_by.is_some());
            if approved {
                queue_run(store, queue, clock, request(reason, None), Some(delivery)).await
            } else {
                return hold_for_approval(store, clock, event, &key, delivery).await;
            }
        }
        Decision::Approve { by } => {
            let held = store
                .get_work_item(&key)
                .await?
                .is_some_and(|item| item.status == WorkItemStatus::AwaitingApproval);
            if held {
                queue_run(
                    store,
                    queue,
                    clock,
                    request(JobReason::Approved, Some(by)),
                    Some(delivery),
                )
                .await
            } else {
                record_approval(store, clock, event, &key, &by, delivery).await
            }
        }
        Decision::Answer { by, text } | Decision::Reply { by, text } => {
            let given = Answer {
                by: &by,
                text: &text,
                explicit,
            };
            let request = request(JobReason::InputAnswered, None);
            answers::answer_question(store, queue, clock, request, given, delivery).await
        }
        Decision::Prompt { by, text } => {
            let request = request(JobReason::AgentPrompted, None);
            answers::prompt(store, queue, clock, request, (&by, &text), delivery).await
        }
        Decision::PullRequest {
            work_item,
            branch,
            follow_up,
        } => {
            pull_request_follow_up(
                store, queue, clock, &work_item, &branch, follow_up, delivery,
            )
            .await
        }
        Decision::Cancel { reason } => {
            let outcome = request_cancel(store, clock, Some(event), &key, Some(delivery)).await?;
            tracing::info!(work_item = %key, %reason, delivery_id = %delivery.id, ?outcome, "cancel");
            Ok(outcome)
        }
        Decision::Ignore { reason } => Ok(DeliveryOutcome::Ignored { reason }),
    };
    outcome.map(|outcome| Applied {
        outcome,
        newly_held: false,
    })
}

/// What a delivery did, and whether it is the one that put the item on hold.
pub(super) struct Applied {
    pub(super) outcome: DeliveryOutcome,
    /// This delivery moved the item into `awaiting_approval` (it was not held before): the
    /// hold is announced once, however many triggers arrive while it waits.
    pub(super) newly_held: bool,
}

/// What a run request writes on the work item.
pub(super) struct RunRequest<'a> {
    pub(super) key: WorkItemKey,
    /// The event's view of the issue, folded into the item; `None` for pull request events,
    /// whose payload describes the pull request, not the issue.
    pub(super) snapshot: Option<(&'a IssueSnapshot, &'a EventAction)>,
    pub(super) source: SourceKind,
    /// The workflow that accepted the request; `None` keeps the one the item has (API
    /// retries, pull request follow-ups).
    pub(super) workflow: Option<&'a str>,
    pub(super) reason: JobReason,
    pub(super) approved_by: Option<String>,
    /// A person's answer to the agent's open question, recorded with the request.
    pub(super) answer: Option<InputAnswer>,
    /// Refuse (with [`IngressError::Conflict`]) unless the item exists and has no run queued,
    /// under way or held for approval: a manual retry must not stack a run on a live one.
    pub(super) only_when_idle: bool,
    /// The agent session that asked (baton as a Linear agent), with what was said there.
    pub(super) agent_session: Option<AgentSessionLink>,
}

/// Marks the item queued and sends the job; undoes the mark if the job cannot be sent.
/// `delivery` is the webhook that asked, `None` for a request made through the API.
pub(super) async fn queue_run(
    store: &dyn Store,
    queue: &dyn Queue,
    clock: &dyn Clock,
    request: RunRequest<'_>,
    delivery: Option<&DeliveryKey>,
) -> Result<DeliveryOutcome, IngressError> {
    let job_id = JobId::generate();
    let written = match request_run(store, clock, &request, &job_id, delivery).await? {
        Requested::Written(written) => written,
        Requested::NoQuestionWaiting => {
            return Ok(DeliveryOutcome::Ignored {
                reason: answers::NOT_WAITING.to_owned(),
            })
        }
    };
    let key = request.key;
    let job = Job {
        v: JOB_SCHEMA_VERSION,
        job_id: job_id.clone(),
        work_item: key.clone(),
        reason: request.reason,
        attempt: 1,
        queued_at: clock.now(),
        delivery_id: delivery.map(|delivery| delivery.id.clone()),
        continuation: 0,
    };
    if let Err(error) = queue.send(&job).await {
        // Nothing half-done: the item goes back to what it was, so a sender that does
        // not retry leaves no item waiting for a job that was never queued.
        undo_request(store, &key, written).await;
        return Err(IngressError::Backend(error.to_string()));
    }
    tracing::info!(work_item = %key, job_id = %job_id, reason = request.reason.as_str(),
        delivery_id = delivery.map(|delivery| delivery.id.as_str()), "run queued");
    Ok(DeliveryOutcome::Queued {
        work_item: key,
        job_id,
    })
}

/// A versioned read-modify-write of an item that may not exist yet.
pub(super) async fn edit_item(
    store: &dyn Store,
    clock: &dyn Clock,
    source: SourceKind,
    key: &WorkItemKey,
    change: impl Fn(&mut WorkItem),
) -> Result<WorkItem, IngressError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let now = clock.now();
        let current = store.get_work_item(key).await?;
        let expected = current.as_ref().map(|item| item.version);
        let mut item = current.unwrap_or_else(|| new_item(key, source, now));
        change(&mut item);
        item.updated_at = now;
        item.version += 1;
        match store.put_work_item(&item, expected).await {
            Ok(()) => return Ok(item),
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(contention(key))
}

fn new_item(key: &WorkItemKey, source: SourceKind, now: chrono::DateTime<chrono::Utc>) -> WorkItem {
    WorkItem {
        key: key.clone(),
        source,
        issue: IssueSnapshot::default(),
        status: WorkItemStatus::Queued,
        attempt: 0,
        cancel_requested: false,
        pending_job: None,
        last_delivery: None,
        created_at: now,
        updated_at: now,
        requested_at: None,
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: Default::default(),
        approved_by: None,
        pull_request: None,
        status_comment: None,
        input_request: None,
        agent_session: None,
        workflow: None,
        version: 0,
    }
}

/// What [`request_run`] did.
enum Requested {
    Written(WrittenRequest),
    /// The request carries an answer, but the item no longer waits for one: another answer
    /// came first, or the wait ended (expired, stopped). Nothing was written.
    NoQuestionWaiting,
}

/// A run request as written: what the item was before, and the version written over it.
struct WrittenRequest {
    previous: Option<Box<WorkItem>>,
    version: u64,
}

/// Restores the item to its state before `written`, unless someone wrote it since (then the
/// newer writer's state stands).
async fn undo_request(store: &dyn Store, key: &WorkItemKey, written: WrittenRequest) {
    let undone = match written.previous {
        None => store.delete_work_item(key, written.version).await,
        Some(mut previous) => {
            previous.version = written.version + 1;
            store.put_work_item(&previous, Some(written.version)).await
        }
    };
    if let Err(error) = undone {
        tracing::warn!(work_item = %key, %error, "could not undo a run request whose job was not queued");
    }
}

/// Marks the item queued with `job_id` as its pending job. A running item stays running, with
/// the newer pending job recorded for its runner to pick up (see [`WorkItem::pending_job`]).
async fn request_run(
    store: &dyn Store,
    clock: &dyn Clock,
    request: &RunRequest<'_>,
    job_id: &JobId,
    delivery: Option<&DeliveryKey>,
) -> Result<Requested, IngressError> {
    let key = &request.key;
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let now = clock.now();
        let current = store.get_work_item(key).await?;
        // Checked against the version this write is conditional on, so of two replies
        // racing, or a reply racing the wait's end, only one outcome stands.
        if request.answer.is_some() && !answers::awaits_answer(current.as_ref()) {
            return Ok(Requested::NoQuestionWaiting);
        }
        if request.only_when_idle {
            if let Some(item) = &current {
                if matches!(
                    item.status,
                    WorkItemStatus::Queued
                        | WorkItemStatus::Running
                        | WorkItemStatus::AwaitingApproval
                ) {
                    return Err(IngressError::Conflict(format!(
                        "work item {key} is {}; a new run can be requested once it has ended",
                        item.status.as_str()
                    )));
                }
            } else {
                return Err(IngressError::Conflict(format!(
                    "work item {key} does not exist"
                )));
            }
        }
        let expected = current.as_ref().map(|item| item.version);
        let previous = current.clone().map(Box::new);
        let mut item = current.unwrap_or_else(|| new_item(key, request.source, now));
        if let Some((snapshot, action)) = request.snapshot {
            merge_snapshot(&mut item.issue, snapshot, action);
        }
        if request.approved_by.is_some() {
            item.approved_by.clone_from(&request.approved_by);
        }
        if let (Some(answer), Some(input)) = (&request.answer, item.input_request.as_mut()) {
            input.answer = Some(answer.clone());
        }
        if let Some(workflow) = request.workflow {
            item.workflow = Some(workflow.to_owned());
        }
        if let Some(session) = &request.agent_session {
            item.agent_session = Some(session.clone());
        }
        if item.status != WorkItemStatus::Running {
            item.status = WorkItemStatus::Queued;
            item.attempt = 1;
            // A new request starts afresh: the backoff of the failed attempt before it no
            // longer applies (the runner would otherwise hold the new job until it is due).
            item.next_retry_at = None;
        }
        item.cancel_requested = false;
        item.pending_job = Some(job_id.clone());
        if let Some(delivery) = delivery {
            item.last_delivery = Some(delivery.id.clone());
        }
        item.requested_at = Some(now);
        item.updated_at = now;
        item.version += 1;
        match store.put_work_item(&item, expected).await {
            Ok(()) => {
                return Ok(Requested::Written(WrittenRequest {
                    previous,
                    version: item.version,
                }))
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(contention(key))
}

/// Sets the cancel flag. A queued or retrying item is cancelled outright; a running one is
/// stopped by its runner, which watches the flag. `delivery` is `None` for an API request.
pub(super) async fn request_cancel(
    store: &dyn Store,
    clock: &dyn Clock,
    event: Option<&NormalizedEvent>,
    key: &WorkItemKey,
    delivery: Option<&DeliveryKey>,
) -> Result<DeliveryOutcome, IngressError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let Some(mut item) = store.get_work_item(key).await? else {
            return Ok(DeliveryOutcome::Ignored {
                reason: format!("no work item for {key}; nothing to cancel"),
            });
        };
        // A question waiting for its answer is work in progress: a cancel ends the wait.
        let waiting = item.status == WorkItemStatus::AwaitingInput;
        if !item.status.is_active() && !waiting {
            let ignored = DeliveryOutcome::Ignored {
                reason: format!(
                    "work item {key} is {}; nothing to cancel",
                    item.status.as_str()
                ),
            };
            // Nothing to stop, but the issue's new state is kept: a runner removes the
            // workspace of an item whose issue was closed after its last run.
            return match remember_snapshot(store, clock, item, event).await {
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => Err(error.into()),
                Ok(()) => Ok(ignored),
            };
        }
        let expected = Some(item.version);
        if let Some(event) = event {
            merge_snapshot(&mut item.issue, &event.issue, &event.action);
        }
        item.cancel_requested = true;
        // A run requested while this one was running is cancelled with it.
        item.pending_job = None;
        item.input_request = None;
        if item.status != WorkItemStatus::Running {
            item.status = WorkItemStatus::Cancelled;
        }
        if let Some(delivery) = delivery {
            item.last_delivery = Some(delivery.id.clone());
        }
        item.updated_at = clock.now();
        item.version += 1;
        match store.put_work_item(&item, expected).await {
            Ok(()) => {
                return Ok(DeliveryOutcome::CancelRequested {
                    work_item: key.clone(),
                })
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(contention(key))
}

/// Folds the event's issue into an item nothing is running for; writes only on a change.
async fn remember_snapshot(
    store: &dyn Store,
    clock: &dyn Clock,
    mut item: WorkItem,
    event: Option<&NormalizedEvent>,
) -> Result<(), StoreError> {
    let Some(event) = event else {
        return Ok(());
    };
    let before = item.issue.clone();
    merge_snapshot(&mut item.issue, &event.issue, &event.action);
    if item.issue == before {
        return Ok(());
    }
    let expected = Some(item.version);
    item.updated_at = clock.now();
    item.version += 1;
    store.put_work_item(&item, expected).await
}

fn contention(key: &WorkItemKey) -> IngressError {
    IngressError::Backend(format!(
        "work item {key} is being written by too many requests at once; retry"
    ))
}

/// Folds a webhook's issue snapshot into the stored one. Some payloads carry only part of
/// the issue (a Linear comment has no state or labels), so empty fields keep what was known.
pub fn merge_snapshot(stored: &mut IssueSnapshot, newer: &IssueSnapshot, action: &EventAction) {
    fn take(stored: &mut String, newer: &str) {
        if !newer.is_empty() {
            newer.clone_into(stored);
        }
    }
    take(&mut stored.id, &newer.id);
    take(&mut stored.identifier, &newer.identifier);
    take(&mut stored.title, &newer.title);
    take(&mut stored.body, &newer.body);
    take(&mut stored.state, &newer.state);
    let labels_are_partial = action.omits_labels() && newer.labels.is_empty();
    if !labels_are_partial {
        stored.labels.clone_from(&newer.labels);
    }
    for (field, value) in [
        (&mut stored.url, &newer.url),
        (&mut stored.repository, &newer.repository),
        (&mut stored.author, &newer.author),
    ] {
        if value.is_some() {
            field.clone_from(value);
        }
    }
}
