//! How an attempt's end reads: the run's status and error, the item's final status when
//! nothing follows, and the timeline's summary. Pure, so the rules read in one place.

use super::attempt::AttemptEnd;
use super::stop::StopReason;
use crate::redact::Redactor;
use baton_core::domain::{RunError, RunStatus, WorkItemStatus};
use serde_json::json;

/// Failures that another attempt cannot fix: the run ends `failed` without retries.
const NOT_RETRYABLE: &[&str] = &[
    "token_budget_exceeded",
    super::budget::BUDGET_EXCEEDED,
    "input_required",
    "agent_invalid_options",
    "template_parse_error",
    "template_render_error",
];

pub(super) fn is_retryable(code: &str) -> bool {
    !NOT_RETRYABLE.contains(&code)
}

/// The item's status when no follow-up job is scheduled: a retryable failure that ran out
/// of attempts goes to the dead-letter queue; one that cannot be fixed by retrying fails.
pub(super) fn final_status(end: &AttemptEnd) -> WorkItemStatus {
    match end {
        AttemptEnd::Succeeded { .. } => WorkItemStatus::Succeeded,
        AttemptEnd::AwaitingInput { .. } => WorkItemStatus::AwaitingInput,
        AttemptEnd::Cancelled => WorkItemStatus::Cancelled,
        AttemptEnd::Failed(error) if is_retryable(&error.code) => WorkItemStatus::DeadLettered,
        AttemptEnd::Failed(_) => WorkItemStatus::Failed,
        AttemptEnd::Abandoned(_) => WorkItemStatus::Queued,
    }
}

/// The run's status and error for how the attempt ended.
pub(super) fn run_outcome(end: &AttemptEnd, redactor: &Redactor) -> (RunStatus, Option<RunError>) {
    match end {
        AttemptEnd::Succeeded { .. } => (RunStatus::Succeeded, None),
        AttemptEnd::Failed(error) => (RunStatus::Failed, Some(redacted(error, redactor))),
        AttemptEnd::AwaitingInput { .. } => (RunStatus::AwaitingInput, None),
        AttemptEnd::Cancelled => (RunStatus::Cancelled, None),
        AttemptEnd::Abandoned(reason) => {
            let (code, message) = match reason {
                StopReason::LeaseLost => ("lease_lost", "another runner took the work item over"),
                _ => (
                    "runner_shutdown",
                    "the runner shut down before the run ended; another run takes over",
                ),
            };
            (
                RunStatus::Abandoned,
                Some(RunError {
                    code: code.into(),
                    message: message.into(),
                }),
            )
        }
    }
}

fn redacted(error: &RunError, redactor: &Redactor) -> RunError {
    RunError {
        code: error.code.clone(),
        message: redactor.redact(&error.message),
    }
}

pub(super) fn end_summary(end: &AttemptEnd, redactor: &Redactor) -> serde_json::Value {
    match end {
        AttemptEnd::Succeeded {
            issue_active,
            commit,
        } => {
            json!({ "status": "succeeded", "issue_active": issue_active, "commit": commit })
        }
        AttemptEnd::Failed(error) => {
            json!({ "status": "failed", "code": error.code, "message": redactor.redact(&error.message) })
        }
        AttemptEnd::AwaitingInput { question } => {
            json!({ "status": "awaiting_input", "question": redactor.redact(question) })
        }
        AttemptEnd::Cancelled => json!({ "status": "cancelled" }),
        AttemptEnd::Abandoned(reason) => {
            json!({ "status": "abandoned", "reason": format!("{reason:?}") })
        }
    }
}
