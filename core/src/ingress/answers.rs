//! A person's answer to the question the agent asked: recorded on the waiting work item and
//! taken by a new run. The first answer counts; a later one, or one that arrives after the
//! wait ended, is ignored.

use super::work_items::{queue_run, RunRequest};
use super::IngressError;
use crate::clock::Clock;
use crate::domain::input::{bounded, InputAnswer};
use crate::domain::{DeliveryKey, DeliveryOutcome, JobReason, WorkItem, WorkItemStatus};
use crate::ports::{Queue, Store};

/// Why an answer was not taken though the item had been waiting when it was read.
pub(super) const NOT_WAITING: &str =
    "the agent's question was answered already, or its wait has ended";

/// A person's answer to the question the item waits on.
pub(super) struct Answer<'a> {
    pub(super) by: &'a str,
    pub(super) text: &'a str,
    /// `/baton answer …` rather than a plain reply.
    pub(super) explicit: bool,
}

/// Whether `item` waits for an answer nobody has given yet.
pub(super) fn awaits_answer(item: Option<&WorkItem>) -> bool {
    item.is_some_and(|item| {
        item.status == WorkItemStatus::AwaitingInput
            && item
                .input_request
                .as_ref()
                .is_some_and(|input| input.answer.is_none())
    })
}

/// Records `answer` on the item and queues a run to take it, if a question waits.
pub(super) async fn answer_question(
    store: &dyn Store,
    queue: &dyn Queue,
    clock: &dyn Clock,
    mut request: RunRequest<'_>,
    answer: Answer<'_>,
    delivery: &DeliveryKey,
) -> Result<DeliveryOutcome, IngressError> {
    // A cheap first look, for the clearer reason; the write checks again (see `request_run`).
    if !awaits_answer(store.get_work_item(&request.key).await?.as_ref()) {
        let reason = if answer.explicit {
            "no question of the agent is waiting for an answer".to_owned()
        } else {
            "comment holds no command".to_owned()
        };
        return Ok(DeliveryOutcome::Ignored { reason });
    }
    request.answer = Some(InputAnswer {
        by: answer.by.to_owned(),
        text: bounded(answer.text),
        at: clock.now(),
    });
    queue_run(store, queue, clock, request, Some(delivery)).await
}

/// A message in the item's agent session: the answer when the agent's question waits for
/// one, else a follow-up run whose prompt carries it (see `WorkItem::agent_session`).
pub(super) async fn prompt(
    store: &dyn Store,
    queue: &dyn Queue,
    clock: &dyn Clock,
    mut request: RunRequest<'_>,
    (by, text): (&str, &str),
    delivery: &DeliveryKey,
) -> Result<DeliveryOutcome, IngressError> {
    if awaits_answer(store.get_work_item(&request.key).await?.as_ref()) {
        request.reason = JobReason::InputAnswered;
        // The answer goes into the prompt with the question; not twice.
        if let Some(session) = request.agent_session.as_mut() {
            session.message = None;
            session.by = None;
        }
        request.answer = Some(InputAnswer {
            by: by.to_owned(),
            text: bounded(text),
            at: clock.now(),
        });
        return queue_run(store, queue, clock, request, Some(delivery)).await;
    }
    queue_run(store, queue, clock, request, Some(delivery)).await
}
