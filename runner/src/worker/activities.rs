//! A run's progress in its work item's agent session (baton installed as a Linear agent):
//! every command and tool call as an `action`, then one ending: a `response` (what came of
//! it, with the pull request; or that it stopped, when it was cancelled), an `elicitation`
//! (the agent's question, which the session now waits on) or an `error`. The run never
//! waits on any of it: activities go through a bounded queue to one posting task, in order;
//! when the queue is full an action is dropped, and the ending is posted once the actions
//! before it are.

use crate::agent::AgentEvent;
use crate::redact::Redactor;
use baton_core::domain::{Run, WorkItem, WorkItemStatus};
use baton_core::ports::{Activity, AgentSessions};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Actions waiting to be posted; more are dropped rather than slow the run.
const QUEUE: usize = 64;
/// The longest parameter or result an action carries.
const MAX_TEXT: usize = 1000;

/// The posting side of one run's session; cheap to clone (the recorder holds one).
#[derive(Clone)]
pub struct SessionReporter {
    actions: mpsc::Sender<Activity>,
    redactor: Redactor,
}

/// What the run keeps to post its ending after the actions.
pub struct SessionEnding {
    session: String,
    sessions: Arc<dyn AgentSessions>,
    posted: JoinHandle<()>,
    redactor: Redactor,
}

/// Starts reporting to `item`'s session, when it has one and baton has a session API.
pub fn start(
    sessions: Option<&Arc<dyn AgentSessions>>,
    item: &WorkItem,
    redactor: Redactor,
) -> Option<(SessionReporter, SessionEnding)> {
    let sessions = Arc::clone(sessions?);
    let session = item.agent_session.as_ref()?.id.clone();
    let (actions, mut queued) = mpsc::channel::<Activity>(QUEUE);
    let (api, id) = (Arc::clone(&sessions), session.clone());
    let posted = tokio::spawn(async move {
        while let Some(activity) = queued.recv().await {
            post(&*api, &id, &activity).await;
        }
    });
    let reporter = SessionReporter {
        actions,
        redactor: redactor.clone(),
    };
    let ending = SessionEnding {
        session,
        sessions,
        posted,
        redactor,
    };
    Some((reporter, ending))
}

impl SessionReporter {
    /// Queues an `action` for a finished command or tool call; other events say nothing.
    pub fn observe(&self, event: &AgentEvent) {
        let activity = match event {
            AgentEvent::Command {
                command, exit_code, ..
            } => Activity::Action {
                action: "Ran".into(),
                parameter: self.text(command),
                result: exit_code.map(|code| format!("exit code {code}")),
            },
            AgentEvent::ToolCall {
                name,
                arguments,
                success,
                ..
            } => Activity::Action {
                action: format!("Called {name}"),
                parameter: self.text(&arguments.to_string()),
                result: success.map(|ok| if ok { "succeeded" } else { "failed" }.to_owned()),
            },
            _ => return,
        };
        if self.actions.try_send(activity).is_err() {
            tracing::debug!("agent session: the action queue is full; an action is not posted");
        }
    }

    fn text(&self, text: &str) -> String {
        bounded(&self.redactor.redact(text))
    }
}

impl SessionEnding {
    /// Posts how the run ended (`status` is what the work item now says), after the actions
    /// queued before it; in the background. A run a retry follows, or one abandoned (another
    /// run takes over), posts no ending.
    pub fn run_ended(
        self,
        run: &Run,
        status: WorkItemStatus,
        question: Option<&str>,
        pull_request: Option<&str>,
    ) {
        let ending = ending(run, status, question, pull_request)
            .map(|activity| redacted(activity, &self.redactor));
        tokio::spawn(async move {
            // The recorder has let go of its reporter: the queue drains, then closes.
            let _ = self.posted.await;
            if let Some(activity) = ending {
                post(&*self.sessions, &self.session, &activity).await;
            }
        });
    }
}

fn ending(
    run: &Run,
    status: WorkItemStatus,
    question: Option<&str>,
    pull_request: Option<&str>,
) -> Option<Activity> {
    Some(match status {
        WorkItemStatus::Succeeded => Activity::Response {
            body: match pull_request {
                Some(url) => format!("Done: the pull request is {url}"),
                None => "Done: the run finished; no pull request was opened.".to_owned(),
            },
        },
        // Stopped from the session, by `/baton stop`, or by the issue closing: the last word
        // says so, after every action of the run.
        WorkItemStatus::Cancelled => Activity::Response {
            body: match pull_request {
                // Stopped after it had delivered: the work is there to see.
                Some(url) => format!("Stopped: the run was cancelled; its pull request is {url}"),
                None => "Stopped: the run was cancelled before it finished.".to_owned(),
            },
        },
        WorkItemStatus::AwaitingInput => Activity::Elicitation {
            body: question?.to_owned(),
        },
        WorkItemStatus::Failed | WorkItemStatus::DeadLettered => Activity::Error {
            body: run.error.as_ref().map_or_else(
                || "The run failed.".to_owned(),
                |error| format!("The run failed ({}): {}", error.code, error.message),
            ),
        },
        _ => return None,
    })
}

fn redacted(activity: Activity, redactor: &Redactor) -> Activity {
    let clean = |body: String| redactor.redact(&body);
    match activity {
        Activity::Response { body } => Activity::Response { body: clean(body) },
        Activity::Elicitation { body } => Activity::Elicitation { body: clean(body) },
        Activity::Error { body } => Activity::Error { body: clean(body) },
        other => other,
    }
}

async fn post(sessions: &dyn AgentSessions, session: &str, activity: &Activity) {
    if let Err(error) = sessions.post_activity(session, activity).await {
        tracing::warn!(%error, kind = activity.kind(), "agent session: activity not posted");
    }
}

fn bounded(text: &str) -> String {
    if text.chars().count() <= MAX_TEXT {
        return text.to_owned();
    }
    let cut: String = text.chars().take(MAX_TEXT - 1).collect();
    format!("{cut}…")
}
