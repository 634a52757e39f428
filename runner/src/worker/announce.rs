//! A run's end, announced in chat: the bridge from what `conclude` knows to a
//! [`Notice`]. Called once the end is recorded on the work item; the post is spawned, so
//! the run's end never waits on Slack.

use super::attempt::AttemptEnd;
use super::evidence::Delivered;
use super::RunPlan;
use crate::notify::{Notice, Notifier};
use baton_core::domain::{Run, WorkItem, WorkItemStatus};
use std::sync::Arc;

/// The agent's question, when the run ended on one.
pub(super) fn question(end: &AttemptEnd) -> Option<&str> {
    match end {
        AttemptEnd::AwaitingInput { question } => Some(question),
        _ => None,
    }
}

/// Spawns the post of `run`'s outcome (`status` is what the work item now says), if the
/// workflow announces it. `question` is redacted already (see `attempt::asked`).
pub(super) fn run_ended(
    notifier: &Arc<Notifier>,
    (item, plan): (&WorkItem, &RunPlan),
    run: &Run,
    status: WorkItemStatus,
    question: Option<String>,
    delivered: &Delivered,
) {
    let pull_request = delivered.pull_request.as_ref().map(|(_, url)| url.as_str());
    let link = plan.delivery.run_link(&item.key);
    if let Some(notice) = Notice::of_run(item, run, status, question.as_deref(), pull_request, link)
    {
        notifier.spawn(notice);
    }
}
