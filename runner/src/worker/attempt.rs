//! One attempt at a work item, once claimed: prepare the workspace, render the prompt, drive
//! the agent session turn by turn, commit what the agent changed.

use super::budget::{RunBudget, BUDGET_EXCEEDED};
use super::delivery::{self, Finished};
use super::evidence::{Delivered, EvidenceHandle};
use super::recorder::Timeline;
use super::stop::{Stop, StopReason};
use super::{RunPlan, Runner};
use crate::agent::{AgentError, AgentEvent, SessionConfig, TurnStatus};
use crate::bridge::{BridgeContext, LivingComment, ToolBridge};
use crate::prompt::{PromptInput, RepoVars};
use baton_core::domain::input;
use baton_core::domain::{Job, JobReason, RunError, WorkItem};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;

/// What later turns of a session are sent (the first gets the rendered prompt).
pub const CONTINUATION_NOTE: &str = "Continue working on the issue. If the work is complete, \
     make sure the changes are saved in the workspace, then stop.";

/// How long the end of a session waits for its last events to be observed.
const EVIDENCE_DRAIN_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How an attempt ended.
#[derive(Debug)]
pub enum AttemptEnd {
    /// The agent finished cleanly; `issue_active`: the issue is still eligible after it.
    Succeeded {
        issue_active: bool,
        commit: Option<String>,
    },
    Failed(RunError),
    /// The agent asked a person a question: the item waits for the answer.
    AwaitingInput {
        question: String,
    },
    Cancelled,
    /// Stopped for a reason of the runner's (shutdown, lost lease): not the run's fault.
    Abandoned(StopReason),
}

fn failure(code: &str, message: impl Into<String>) -> AttemptEnd {
    AttemptEnd::Failed(RunError {
        code: code.to_owned(),
        message: message.into(),
    })
}

/// The end for a stop the session noticed.
fn stopped(reason: StopReason) -> AttemptEnd {
    match reason {
        StopReason::Cancelled => AttemptEnd::Cancelled,
        StopReason::TokenBudget => failure(
            "token_budget_exceeded",
            "the session used more tokens than `agent.max_tokens_per_run`",
        ),
        // The run's budget holds which limit; see `RunBudget::breach`.
        StopReason::Budget => failure(BUDGET_EXCEEDED, "a budget of the workflow was exceeded"),
        other => AttemptEnd::Abandoned(other),
    }
}

fn agent_failure(error: &AgentError) -> AttemptEnd {
    let code = match error {
        AgentError::Spawn { .. } => "agent_spawn_failed",
        AgentError::Protocol(_) => "agent_protocol_error",
        AgentError::Exited(_) => "agent_exited",
        AgentError::InvalidOptions(_) => "agent_invalid_options",
    };
    failure(code, error.to_string())
}

pub struct AttemptInput<'a> {
    pub job: &'a Job,
    pub item: &'a WorkItem,
    /// The plan of the item's own workflow.
    pub plan: &'a RunPlan,
    pub stop: &'a Stop,
    pub timeline: &'a Timeline,
    /// Where the agent's events go (the evidence tap, then the recorder).
    pub agent_events: mpsc::Sender<AgentEvent>,
    pub evidence: &'a EvidenceHandle,
    /// baton's status comment on the issue, for the agent's progress notes.
    pub living: Option<Arc<LivingComment>>,
    /// The workflow's budgets for this run.
    pub budget: &'a RunBudget,
    /// The agent account the run leased, if its workflow has a pool.
    pub account: Option<&'a crate::accounts::LeasedAccount>,
}

/// Runs the attempt; returns how it ended and what it delivered.
pub async fn run(runner: &Arc<Runner>, input: AttemptInput<'_>) -> (AttemptEnd, Delivered) {
    if input.job.reason.is_follow_up() {
        return follow_up(&input).await;
    }
    // A spent item or day budget: another session would only spend more.
    if let Some(error) = input.budget.check_before_start().await {
        return (AttemptEnd::Failed(error), Delivered::default());
    }
    let mut delivered = Delivered::default();
    let end = run_session(runner, input, &mut delivered).await;
    (end, delivered)
}

/// Jobs about a delivered pull request: no agent, only platform and tracker work.
async fn follow_up(input: &AttemptInput<'_>) -> (AttemptEnd, Delivered) {
    let plan = &input.plan.delivery;
    let done = AttemptEnd::Succeeded {
        issue_active: false,
        commit: None,
    };
    match input.job.reason {
        JobReason::PullRequestMerged => {
            let delivered = delivery::finish_merged(plan, input.item).await;
            input.timeline.step(
                "pull_request_merged",
                json!({ "moved_to": delivered.moved_to }),
            );
            (done, delivered)
        }
        _ => match delivery::merge_if_allowed(plan, input.item).await {
            Ok(delivered) => {
                input
                    .timeline
                    .step("merge_gates", json!({ "result": delivered.note }));
                (done, delivered)
            }
            Err(error) => (AttemptEnd::Failed(error), Delivered::default()),
        },
    }
}

async fn run_session(
    runner: &Arc<Runner>,
    input: AttemptInput<'_>,
    delivered: &mut Delivered,
) -> AttemptEnd {
    let AttemptInput {
        job,
        item,
        plan,
        stop,
        timeline,
        agent_events,
        evidence,
        living,
        budget,
        account,
    } = input;
    // Symphony: `attempt` is nil on the first run.
    let attempt = (job.attempt > 1).then_some(job.attempt);
    if let Some(moved) = delivery::transition_before_run(&plan.delivery, &item.issue).await {
        timeline.step("issue_moved", json!({ "to": moved }));
    }

    // A cancel or shutdown during a long clone or hook stops it (its processes are killed).
    let prepared = tokio::select! {
        prepared = plan.workspaces.prepare(&item.issue, attempt) => prepared,
        () = stop.token().cancelled() => return stopped(stop.reason().unwrap_or(StopReason::Shutdown)),
    };
    let workspace = match prepared {
        Ok(workspace) => workspace,
        Err(error) => return failure(error.code(), error.to_string()),
    };
    // Without it the workspace is only never swept: not worth failing the run for.
    if let Err(error) = plan.workspaces.record_owner(&workspace, &item.key).await {
        tracing::warn!(%error, "cannot note the workspace's work item");
    }
    timeline.step(
        "workspace_ready",
        json!({
            "path": workspace.path.display().to_string(),
            "created": workspace.created_now,
            "branch": workspace.work_branch,
            "hooks": workspace.hooks.iter().map(|h| h.hook.to_string()).collect::<Vec<_>>(),
        }),
    );
    if let Some(reason) = stop.reason() {
        return stopped(reason);
    }

    let repo = RepoVars::from_config(&plan.workspaces.config().repo, &item.issue.identifier);
    let input = PromptInput::new(&item.issue, attempt)
        .with_repo(repo)
        .with_profile(plan.delivery.profile.prompt_value());
    let mut prompt = match plan.prompt.render(&input) {
        Ok(prompt) => prompt,
        Err(error) => return failure(error.code(), error.to_string()),
    };
    if let Some(answered) = answered_question(item) {
        timeline.step("input_answered", json!({ "by": answered.1 }));
        prompt = format!("{prompt}\n\n{}", answered.0);
    } else if let Some((request, by)) = session_request(item, job.reason) {
        timeline.step("session_request", json!({ "by": by }));
        prompt = format!("{prompt}\n\n{request}");
    }
    if job.reason == JobReason::ReviewChangesRequested {
        if let Some(feedback) = delivery::rework_feedback(&plan.delivery, item).await {
            timeline.step(
                "rework_feedback",
                json!({ "chars": feedback.chars().count() }),
            );
            prompt = format!("{prompt}\n\n{feedback}");
        }
    }
    timeline.step(
        "prompt_rendered",
        json!({ "chars": prompt.chars().count() }),
    );

    let config = SessionConfig {
        workspace: workspace.path.clone(),
        command_argv: plan.agent.command_argv.clone(),
        env: super::accounts::agent_env(plan, account),
        timeouts: plan.agent.timeouts,
        approval_policy: plan.agent.approval_policy,
        options: plan.agent.options.clone(),
        tools: Arc::new(ToolBridge::new(BridgeContext {
            tracker: plan.delivery.tracker.clone(),
            issue: plan.delivery.issue_ref(&item.issue),
            platform: plan.delivery.platform.clone(),
            profile: plan.delivery.profile.clone(),
            workspace: workspace.path.clone(),
            work_branch: workspace.work_branch.clone(),
            status: living,
            log: Arc::new(timeline.clone()),
        })),
    };
    let mut session = match plan.agent.provider.start(config, agent_events).await {
        Ok(session) => session,
        Err(error) => return agent_failure(&error),
    };

    let end = drive_turns(
        runner,
        plan,
        (job, item),
        stop,
        session.as_mut(),
        budget,
        &prompt,
    )
    .await;
    session.stop().await;
    // The session's event senders go with it; then the tap has seen everything it said.
    drop(session);
    evidence.drained(EVIDENCE_DRAIN_LIMIT).await;
    if let Some(run) = plan.workspaces.finish(&workspace).await {
        timeline.step(
            "hook",
            json!({ "hook": run.hook.to_string(), "success": run.success, "exit_code": run.exit_code }),
        );
    }
    let AttemptEnd::Succeeded { issue_active, .. } = end else {
        return end;
    };
    let result_file = delivery::take_result_file(&workspace.path).await;
    let message = format!("{}: {}", item.issue.identifier, item.issue.title);
    let commit = match plan.workspaces.commit(&workspace, &message).await {
        Ok(commit) => commit,
        Err(error) => return failure("commit_failed", error.to_string()),
    };
    if let Some(sha) = &commit {
        timeline.step(
            "committed",
            json!({ "commit": sha, "branch": workspace.work_branch }),
        );
    }
    let remote = plan
        .workspaces
        .config()
        .repo
        .source
        .as_ref()
        .map(|s| s.clone_source());
    let evidence = evidence.snapshot();
    let finished = Finished {
        item,
        workspace: &workspace.path,
        branch: workspace.work_branch.as_deref(),
        commit: commit.as_deref(),
        evidence: &evidence,
        result_file,
        remote,
    };
    match delivery::deliver(&plan.delivery, finished).await {
        Ok(done) => {
            timeline.step(
                "delivered",
                json!({
                    "pull_request": done.pull_request.as_ref().map(|(number, url)| json!({"number": number, "url": url})),
                    "moved_to": done.moved_to,
                    "note": done.note,
                }),
            );
            // Delivered work is done until someone reacts to it (a review, a new request);
            // continuations are for sessions that stopped short.
            let moved_out = done
                .moved_to
                .as_deref()
                .is_some_and(|state| !plan.rules.is_active(item.source, state));
            let issue_active = issue_active && done.link.is_none() && !moved_out;
            *delivered = done;
            AttemptEnd::Succeeded {
                issue_active,
                commit,
            }
        }
        Err(error) => AttemptEnd::Failed(error),
    }
}

/// The agent's question, redacted: it is kept on the work item, posted on the issue and
/// announced in chat.
fn asked(runner: &Runner, question: &str) -> AttemptEnd {
    AttemptEnd::AwaitingInput {
        question: runner.redactor().redact(question),
    }
}

/// For a run that takes a person's answer (the one the answer queued, or a retry of it): the
/// prompt's addition (the agent's question and the answer) and who answered.
fn answered_question(item: &WorkItem) -> Option<(String, String)> {
    let request = item.input_request.as_ref()?;
    let answer = request.answer.as_ref()?;
    Some((
        format!(
            "## Your question and its answer\n\nIn the previous run you asked:\n\n> {}\n\n\
             {} answered:\n\n> {}\n\nGo on with the work using this answer.",
            request.question.replace('\n', "\n> "),
            answer.by,
            answer.text.replace('\n', "\n> ")
        ),
        answer.by.clone(),
    ))
}

/// For a run asked for in an agent session (a mention, a delegation or a follow-up): the
/// prompt's addition (what the person wrote there) and who wrote it.
fn session_request(item: &WorkItem, reason: JobReason) -> Option<(String, String)> {
    if !matches!(reason, JobReason::AgentSession | JobReason::AgentPrompted) {
        return None;
    }
    let session = item.agent_session.as_ref()?;
    let message = session
        .message
        .as_deref()
        .filter(|m| !m.trim().is_empty())?;
    let by = session.by.clone().unwrap_or_else(|| "A person".to_owned());
    Some((
        format!(
            "## What was asked in the agent session\n\n{by} wrote:\n\n> {}\n\n\
             Do what it asks, as part of this issue's work.",
            message.replace('\n', "\n> ")
        ),
        by,
    ))
}

/// Turns on one session up to `agent.max_turns`, re-reading the work item between turns.
async fn drive_turns(
    runner: &Arc<Runner>,
    plan: &RunPlan,
    (job, item): (&Job, &WorkItem),
    stop: &Stop,
    session: &mut dyn crate::agent::AgentSession,
    budget: &RunBudget,
    prompt: &str,
) -> AttemptEnd {
    let max_turns = plan.limits.max_turns;
    for turn in 1..=max_turns {
        if let Some(error) = budget.breach() {
            return AttemptEnd::Failed(error);
        }
        if let Some(reason) = stop.reason() {
            return stopped(reason);
        }
        let input = if turn == 1 { prompt } else { CONTINUATION_NOTE };
        let outcome = match session.run_turn(input, stop.token()).await {
            Ok(outcome) => outcome,
            Err(error) => return agent_failure(&error),
        };
        // Whatever the turn's status, a crossed budget is why it ends.
        if let Some(error) = budget.charge_to(outcome.usage).await {
            return AttemptEnd::Failed(error);
        }
        if let Some(limit) = plan.limits.max_tokens_per_run {
            if outcome.usage.total_tokens > limit {
                return stopped(StopReason::TokenBudget);
            }
        }
        let error = outcome.error.clone().unwrap_or_default();
        match outcome.status {
            TurnStatus::Completed => {}
            TurnStatus::Interrupted => {
                return match stop.reason() {
                    Some(reason) => stopped(reason),
                    None => failure("turn_interrupted", error),
                }
            }
            TurnStatus::Failed => return failure("turn_failed", error),
            TurnStatus::TimedOut => return failure("turn_timed_out", error),
            TurnStatus::Stalled => return failure("stalled", error),
            TurnStatus::InputRequired => {
                let question = outcome
                    .error
                    .as_deref()
                    .map(input::bounded)
                    .filter(|q| !q.is_empty())
                    .unwrap_or_else(|| "(the agent gave no question text)".to_owned());
                return asked(runner, &question);
            }
            TurnStatus::Crashed => return failure("agent_crashed", error),
        }
        // A final message that asks a person (the profile's contract says how).
        if let Some(question) = outcome.last_message.as_deref().and_then(input::question_in) {
            return asked(runner, &question);
        }
        // Between turns: is the issue still wanted?
        match runner.store.get_work_item(&job.work_item).await {
            Ok(Some(current)) => {
                if current.cancel_requested {
                    return AttemptEnd::Cancelled;
                }
                if !plan.rules.is_eligible(current.source, &current.issue) {
                    return AttemptEnd::Succeeded {
                        issue_active: false,
                        commit: None,
                    };
                }
            }
            Ok(None) => return AttemptEnd::Abandoned(StopReason::LeaseLost),
            Err(error) => {
                tracing::warn!(work_item = %item.key, %error, "cannot re-read the work item between turns; going on");
            }
        }
    }
    AttemptEnd::Succeeded {
        issue_active: true,
        commit: None,
    }
}
