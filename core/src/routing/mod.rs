//! Trigger rules: what a normalized event asks baton to do.
//!
//! Labels and states are guarded by the tracker's own permissions (only people allowed to
//! label or move an issue can), so they trigger as they are. Comment commands can be written
//! by anyone who can comment, so they are checked against the workflow's allowed
//! associations and authors before anything is queued.

use crate::domain::input::BATON_COMMENT_MARKER;
use crate::domain::{
    EventAction, IssueSnapshot, JobReason, NormalizedEvent, ReviewState, SourceKind, WorkItemKey,
};
use crate::workflow::profile::RouteAction;
use crate::workflow::StateRules;

/// The answer to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Queue a run of the issue's work item.
    Run { reason: JobReason },
    /// Ask the running or queued work to stop.
    Cancel { reason: String },
    /// Nothing to do; the reason is returned to the sender.
    Ignore { reason: String },
    /// A run is wanted but `gates.approval_required` holds it until a person approves.
    AwaitApproval { reason: JobReason },
    /// `/baton approve` by an allowed approver: release the run.
    Approve { by: String },
    /// `/baton answer <text>` by someone allowed to run commands: the answer to the agent's
    /// open question.
    Answer { by: String, text: String },
    /// A plain comment by someone allowed to run commands: the answer to the agent's open
    /// question if one waits, else nothing.
    Reply { by: String, text: String },
    /// A message in the item's agent session (baton as a Linear agent): the answer to the
    /// agent's open question if one waits, else a follow-up run that carries it.
    Prompt { by: String, text: String },
    /// An event on the pull request a run delivered for `work_item`.
    PullRequest {
        work_item: WorkItemKey,
        branch: String,
        follow_up: FollowUp,
    },
}

/// What an event on a delivered pull request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// A reviewer requested changes: a rework run on the same branch.
    Rework,
    /// A reviewer approved and `gates.merge.auto` is on: check the merge gates, merge.
    Merge,
    /// Merged: move the issue to its done state.
    Merged,
    /// Closed without merging: stop the work.
    Closed,
}

fn ignore(reason: impl Into<String>) -> Decision {
    Decision::Ignore {
        reason: reason.into(),
    }
}

fn cancel(reason: impl Into<String>) -> Decision {
    Decision::Cancel {
        reason: reason.into(),
    }
}

/// A comment command, parsed from the comment's first non-empty line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    Stop,
    Retry,
    Approve,
    Answer,
}

/// `/baton run` → `Run`. The command must be the whole first line (extra words after it are
/// allowed, e.g. `/baton run please`), so quoting it mid-sentence does not trigger anything.
pub fn parse_command(prefix: &str, comment: &str) -> Option<Result<Command, String>> {
    let line = comment.lines().map(str::trim).find(|l| !l.is_empty())?;
    let rest = line.strip_prefix(prefix)?;
    if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
        return None; // `/batonic` is not ours.
    }
    let verb = rest.split_whitespace().next().unwrap_or("");
    Some(match verb.to_ascii_lowercase().as_str() {
        "run" => Ok(Command::Run),
        "stop" => Ok(Command::Stop),
        "retry" => Ok(Command::Retry),
        "approve" => Ok(Command::Approve),
        "answer" => Ok(Command::Answer),
        other => Err(format!(
            "unknown command `{prefix} {other}` (use `{prefix} run`, `{prefix} stop`, `{prefix} retry`, `{prefix} approve` or `{prefix} answer`)"
        )),
    })
}

pub fn route(event: &NormalizedEvent, rules: &StateRules) -> Decision {
    let decision = route_ungated(event, rules);
    match decision {
        Decision::Run { reason }
            if rules.gates.approval_required
                && !rules.gates.is_approved_by_label(&event.issue.labels) =>
        {
            Decision::AwaitApproval { reason }
        }
        other => other,
    }
}

fn route_ungated(event: &NormalizedEvent, rules: &StateRules) -> Decision {
    if event.actor.is_bot {
        return ignore(format!(
            "events from bots ({}) do not trigger runs",
            event.actor.login
        ));
    }
    let source = event.source;
    let issue = &event.issue;
    let eligible = || rules.is_eligible(source, issue);
    match &event.action {
        EventAction::Opened | EventAction::Reopened => {
            if eligible() {
                Decision::Run {
                    reason: JobReason::Opened,
                }
            } else {
                ignore("issue is not eligible (trigger label, required labels or state)")
            }
        }
        EventAction::Labeled { label }
            if rules.gates.approval_required
                && rules
                    .gates
                    .is_approved_by_label(std::slice::from_ref(label)) =>
        {
            if eligible() {
                Decision::Run {
                    reason: JobReason::Approved,
                }
            } else {
                ignore("approved, but the issue is not eligible (trigger label, required labels or state)")
            }
        }
        EventAction::Labeled { label } => {
            if !rules.is_gating_label(label) {
                ignore(format!("label `{label}` does not trigger runs"))
            } else if eligible() {
                Decision::Run {
                    reason: JobReason::Labeled,
                }
            } else {
                ignore("issue is not eligible yet (labels or state)")
            }
        }
        // Judged on the labels the issue has now: some sources (Linear) name a removed
        // label only by its id.
        EventAction::Unlabeled { label } => {
            if eligible() {
                ignore(format!("label `{label}` does not affect runs"))
            } else {
                cancel(format!(
                    "label `{label}` was removed; the issue is no longer eligible"
                ))
            }
        }
        EventAction::Closed => cancel("issue was closed"),
        EventAction::StateChanged { to, .. } => match rules.profile.route_of(to) {
            Some((route, RouteAction::Wait)) => ignore(format!(
                "state `{to}` is the `{route}` route of the {} profile: it waits",
                rules.profile.kind().as_str()
            )),
            _ => route_state_change(rules, source, to, eligible()),
        },
        EventAction::Edited => ignore("edits do not trigger runs"),
        EventAction::Commented => route_comment(event, rules),
        EventAction::PullRequestClosed { branch, merged } => {
            let follow_up = if *merged {
                FollowUp::Merged
            } else {
                FollowUp::Closed
            };
            route_pull_request(event, branch, follow_up)
        }
        EventAction::ReviewSubmitted { branch, state } => match state {
            ReviewState::ChangesRequested => {
                if rules.may_command(&event.actor.login, event.actor.association) {
                    route_pull_request(event, branch, FollowUp::Rework)
                } else {
                    ignore(format!(
                        "`{}` may not request rework; see triggers.allowed_associations and triggers.allowed_authors",
                        event.actor.login
                    ))
                }
            }
            ReviewState::Approved if rules.gates.merge.auto => {
                route_pull_request(event, branch, FollowUp::Merge)
            }
            ReviewState::Approved => {
                ignore("review approved; `gates.merge.auto` is off, so a person merges")
            }
            ReviewState::Commented => ignore("review comments alone do not start rework"),
        },
        EventAction::Polled { previous } => route_polled(source, issue, previous.as_deref(), rules),
        EventAction::AgentSessionCreated { .. } | EventAction::AgentSessionPrompted { .. } => {
            route_agent_session(event, rules)
        }
        EventAction::AgentSessionStopped { .. } => route_agent_stop(event, rules),
    }
}

/// Pressing stop in the agent session is `/baton stop`, by the same people.
fn route_agent_stop(event: &NormalizedEvent, rules: &StateRules) -> Decision {
    let actor = &event.actor;
    if rules.may_command(&actor.login, actor.association) {
        cancel(format!("`{}` stopped the agent session", actor.login))
    } else {
        ignore(format!(
            "`{}` may not stop the agent; see triggers.allowed_associations and triggers.allowed_authors",
            actor.login
        ))
    }
}

/// Mentioning or delegating to baton is an explicit request, like `/baton run`: it needs no
/// trigger label, only a person allowed to run commands and an issue not in a terminal
/// state (agent session payloads carry no state; the runner re-reads it).
fn route_agent_session(event: &NormalizedEvent, rules: &StateRules) -> Decision {
    let actor = &event.actor;
    if !rules.may_command(&actor.login, actor.association) {
        return ignore(format!(
            "`{}` may not ask the agent; see triggers.allowed_associations and triggers.allowed_authors",
            actor.login
        ));
    }
    let state = &event.issue.state;
    if !state.is_empty() && rules.is_terminal(event.source, state) {
        return ignore(format!("issue is in terminal state `{state}`"));
    }
    match (&event.action, event.comment.as_deref().map(str::trim)) {
        (EventAction::AgentSessionPrompted { .. }, Some(text)) if !text.is_empty() => {
            Decision::Prompt {
                by: actor.login.clone(),
                text: text.to_owned(),
            }
        }
        (EventAction::AgentSessionPrompted { .. }, _) => {
            ignore("the agent session message is empty")
        }
        _ => Decision::Run {
            reason: JobReason::AgentSession,
        },
    }
}

fn route_state_change(
    rules: &StateRules,
    source: SourceKind,
    to: &str,
    eligible: bool,
) -> Decision {
    if rules.is_terminal(source, to) {
        cancel(format!("issue moved to terminal state `{to}`"))
    } else if !rules.is_active(source, to) {
        cancel(format!("issue moved out of the active states, to `{to}`"))
    } else if rules.on_active_state && eligible {
        Decision::Run {
            reason: JobReason::StateChanged,
        }
    } else {
        ignore(format!("state `{to}` does not trigger runs"))
    }
}

/// Links a pull request event to its work item through the marker baton wrote in the body;
/// the ingress then checks the branch against the item's recorded pull request.
fn route_pull_request(event: &NormalizedEvent, branch: &str, follow_up: FollowUp) -> Decision {
    match WorkItemKey::from_marker(&event.issue.body) {
        Some(work_item) => Decision::PullRequest {
            work_item,
            branch: branch.to_owned(),
            follow_up,
        },
        None => ignore(format!(
            "pull request on branch `{branch}` was not opened by baton (no work item marker)"
        )),
    }
}

/// The safety poll's reading of an issue: what a missed webhook would have asked for,
/// inferred from how the issue differs from the snapshot baton stored. An issue that has not
/// changed asks for nothing, so polling it again and again never queues its work twice.
fn route_polled(
    source: SourceKind,
    issue: &IssueSnapshot,
    previous: Option<&IssueSnapshot>,
    rules: &StateRules,
) -> Decision {
    let eligible = rules.is_eligible(source, issue);
    let Some(previous) = previous else {
        return if eligible {
            Decision::Run {
                reason: JobReason::Polled,
            }
        } else {
            ignore("issue is not eligible and baton has no work item for it")
        };
    };
    let state = &issue.state;
    if rules.is_terminal(source, state) {
        return cancel(format!(
            "the safety poll found the issue in terminal state `{state}`"
        ));
    }
    if !rules.is_active(source, state) {
        return cancel(format!(
            "the safety poll found the issue out of the active states, in `{state}`"
        ));
    }
    let was_eligible = rules.is_eligible(source, previous);
    let moved = previous.state.trim().to_lowercase() != state.trim().to_lowercase();
    if eligible && (!was_eligible || (moved && rules.on_active_state)) {
        Decision::Run {
            reason: JobReason::Polled,
        }
    } else if !eligible
        && previous
            .labels
            .iter()
            .any(|label| rules.is_gating_label(label) && !issue.has_label(label))
    {
        cancel("the safety poll found a trigger or required label removed")
    } else {
        ignore("nothing changed that a webhook would have acted on")
    }
}

fn route_comment(event: &NormalizedEvent, rules: &StateRules) -> Decision {
    let Some(text) = event.comment.as_deref() else {
        return ignore("comment has no text");
    };
    let actor = &event.actor;
    let may_command = rules.may_command(&actor.login, actor.association);
    let command = match parse_command(&rules.command_prefix, text) {
        // baton's own comments (posted with a person's token, they are not from a bot).
        None if text.contains(BATON_COMMENT_MARKER) => return ignore("comment is baton's own"),
        None if may_command && !text.trim().is_empty() => {
            return Decision::Reply {
                by: actor.login.clone(),
                text: text.trim().to_owned(),
            }
        }
        None => return ignore("comment holds no command"),
        Some(Err(message)) => return ignore(message),
        Some(Ok(command)) => command,
    };
    if command == Command::Approve {
        // `gates.approvers`, when set, decides alone who approves.
        return if !rules.gates.approval_required {
            ignore("no approval is required (`gates.approval_required` is off)")
        } else if rules.gates.may_approve(&actor.login, may_command) {
            Decision::Approve {
                by: actor.login.clone(),
            }
        } else {
            ignore(format!(
                "`{}` may not approve; see gates.approvers",
                actor.login
            ))
        };
    }
    if !may_command {
        return ignore(format!(
            "`{}` ({:?}) may not run commands; see triggers.allowed_associations and triggers.allowed_authors",
            actor.login, actor.association
        ));
    }
    let source = event.source;
    let state = &event.issue.state;
    match command {
        Command::Stop => cancel(format!(
            "`{} stop` by {}",
            rules.command_prefix, actor.login
        )),
        Command::Run | Command::Retry if rules.is_terminal(source, state) => {
            ignore(format!("issue is in terminal state `{state}`"))
        }
        // Linear comments do not carry the issue's state; the runner re-reads it.
        Command::Run | Command::Retry if !state.is_empty() && !rules.is_active(source, state) => {
            ignore(format!("issue is not in an active state (`{state}`)"))
        }
        Command::Run => Decision::Run {
            reason: JobReason::CommentRun,
        },
        Command::Approve => ignore("approvals are handled above"),
        Command::Answer => match answer_text(&rules.command_prefix, text) {
            Some(answer) => Decision::Answer {
                by: actor.login.clone(),
                text: answer,
            },
            None => ignore(format!(
                "`{} answer` needs the answer after it",
                rules.command_prefix
            )),
        },
        Command::Retry => Decision::Run {
            reason: JobReason::CommentRetry,
        },
    }
}

/// What follows `/baton answer` on its line, and the lines after it.
fn answer_text(prefix: &str, comment: &str) -> Option<String> {
    let trimmed = comment.trim_start();
    let rest = trimmed.strip_prefix(prefix)?.trim_start();
    let rest = rest.get("answer".len()..)?;
    let answer = rest.trim();
    (!answer.is_empty()).then(|| answer.to_owned())
}

#[cfg(test)]
mod tests;
