//! baton as a Linear agent: the ingress acknowledges a session at once, before it answers
//! the webhook, so that Linear (which wants a first activity within 10 s) never shows the
//! agent as unresponsive, whether a runner is up or not. A failed post is logged; the
//! delivery stands.
//!
//! A stop gets the final word Linear asks for: a `response` at once when no runner holds the
//! item, else a `thought` here and the `response` from the runner once its run has wound
//! down, after the run's last activity. (A run that ends in the instant between the stop
//! and this read may see its own ending posted before the thought.)

use super::{Accepted, Ingress};
use crate::domain::{EventAction, NormalizedEvent, WorkItemKey, WorkItemStatus};
use crate::ports::{Activity, AgentSessions};
use std::sync::Arc;
use std::time::Duration;

/// The most the acknowledgement may add to the webhook's answer: Linear gives up on a
/// webhook after 5 s.
const ACKNOWLEDGE_WITHIN: Duration = Duration::from_secs(3);

/// Where agent sessions are told what baton does with them.
#[derive(Clone)]
pub(super) struct SessionDesk {
    sessions: Arc<dyn AgentSessions>,
    /// The deployment's public address (`BATON_PUBLIC_URL`): the session links to the work
    /// item's dashboard page there.
    public_url: Option<String>,
}

impl Ingress {
    /// Acknowledges agent sessions through `sessions`; `public_url` is where the dashboard
    /// is served, without a trailing slash needed.
    pub fn with_agent_sessions(
        mut self,
        sessions: Arc<dyn AgentSessions>,
        public_url: Option<String>,
    ) -> Self {
        self.sessions = Some(SessionDesk {
            sessions,
            public_url: public_url
                .map(|url| url.trim().trim_end_matches('/').to_owned())
                .filter(|url| !url.is_empty()),
        });
        self
    }

    /// Tells the event's agent session, if it has one, what became of it.
    pub(super) async fn acknowledge(&self, event: &NormalizedEvent, accepted: &Accepted) {
        let (Some(desk), Some(session)) = (&self.sessions, event.action.agent_session()) else {
            return;
        };
        let key = WorkItemKey::new(event.source, &event.issue.identifier);
        let activity = match (&event.action, accepted) {
            (EventAction::AgentSessionStopped { .. }, Accepted::CancelRequested { .. }) => {
                self.stopping(&key, &event.issue.identifier, session).await
            }
            _ => acknowledgement(event, accepted),
        };
        let Some(activity) = activity else {
            return;
        };
        let url = desk
            .public_url
            .as_ref()
            .map(|base| format!("{base}{}", crate::links::issue_path(&key)));
        let posts = async {
            if let Err(error) = desk.sessions.post_activity(session, &activity).await {
                tracing::warn!(%error, kind = activity.kind(), "could not acknowledge the agent session");
            }
            if let Some(url) = &url {
                if let Err(error) = desk.sessions.set_external_url(session, url).await {
                    tracing::warn!(%error, "could not link the agent session to the dashboard");
                }
            }
        };
        if tokio::time::timeout(ACKNOWLEDGE_WITHIN, posts)
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_ms = ACKNOWLEDGE_WITHIN.as_millis() as u64,
                "acknowledging the agent session took too long; answering the webhook"
            );
        }
    }

    /// What a stop that cancelled the item is told: the runner still holding it posts the
    /// final `response` to its run's session when the run has ended; otherwise (no live
    /// runner, or a stop from another session of the issue) this is the final word.
    async fn stopping(
        &self,
        key: &WorkItemKey,
        identifier: &str,
        session: &str,
    ) -> Option<Activity> {
        let now = self.clock.now();
        // A runner whose lease has run out is gone: the item is settled without it, and
        // nobody else would give the final word.
        let running = match self.store.get_work_item(key).await {
            Ok(item) => item.is_some_and(|item| {
                item.status == WorkItemStatus::Running
                    && item.lease.as_ref().is_some_and(|lease| lease.is_live(now))
                    && item.agent_session.is_some_and(|link| link.id == session)
            }),
            // Saying it stopped is true either way once the runner sees the cancel.
            Err(error) => {
                tracing::warn!(%error, "could not read the stopped work item");
                false
            }
        };
        Some(if running {
            Activity::Thought {
                body: format!("Stopping the run on {identifier}."),
            }
        } else {
            Activity::Response {
                body: format!("Stopped: no more work on {identifier} until someone asks again."),
            }
        })
    }
}

/// What the session is told: a `thought` for work that goes on, a `response` saying why
/// nothing will; nothing for a redelivery (it was told the first time).
fn acknowledgement(event: &NormalizedEvent, accepted: &Accepted) -> Option<Activity> {
    let identifier = &event.issue.identifier;
    let prompted = matches!(event.action, EventAction::AgentSessionPrompted { .. });
    let stopped = matches!(event.action, EventAction::AgentSessionStopped { .. });
    let body = match accepted {
        Accepted::Duplicate => return None,
        Accepted::Ignored { reason } if stopped => {
            return Some(Activity::Response {
                body: format!("Not stopping anything on {identifier}: {reason}."),
            })
        }
        Accepted::Queued { .. } if prompted => {
            format!("Got it. A run on {identifier} is queued with your message.")
        }
        Accepted::Queued { .. } => {
            format!("On it. A run on {identifier} is queued; progress shows here.")
        }
        Accepted::AwaitingApproval { .. } => {
            format!("A run on {identifier} waits for approval before it starts (`/baton approve`).")
        }
        Accepted::CancelRequested { .. } => format!("Stopping the work on {identifier}."),
        Accepted::Ignored { reason } => {
            return Some(Activity::Response {
                body: format!("Not starting work on {identifier}: {reason}."),
            })
        }
    };
    Some(Activity::Thought { body })
}
