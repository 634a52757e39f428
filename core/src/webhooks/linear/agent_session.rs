//! Linear's `AgentSessionEvent`: baton installed as a Linear agent (an OAuth app with
//! `actor=app`) was mentioned or delegated an issue (`created`), or a person wrote in the
//! session it opened (`prompted`). It arrives on the same endpoint and is signed the same way
//! as Linear's other webhooks (see `mod.rs`, which verifies it and hands its body here).
//!
//! The event names the session, the issue (id, identifier, title, url, team) and what was
//! said: for `created`, the comment that mentioned the agent (none when it was delegated the
//! issue) and Linear's `promptContext`; for `prompted`, the new message. A `prompted` event
//! whose activity carries the `stop` signal is the person pressing stop: it is typed as
//! [`AgentSessionAction::Stopped`], never as a message to act on. The issue is keyed
//! like Linear's issue webhooks (`linear:<identifier>`), so it is the same work item.

use crate::domain::{Actor, Association, EventAction, IssueSnapshot, NormalizedEvent, SourceKind};
use crate::webhooks::json::{self, Str};
use crate::webhooks::{ParseError, Parsed};
use serde::Deserialize;

/// The `type` Linear gives these deliveries.
pub(super) const EVENT_TYPE: &str = "AgentSessionEvent";
/// The signal a person's prompt carries when they press stop.
const STOP_SIGNAL: &str = "stop";

/// What an agent session event says, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSessionEvent {
    pub action: AgentSessionAction,
    pub session_id: String,
    pub issue: AgentIssue,
    /// What the person wrote: the mention (`created`, when there was one) or the follow-up
    /// message (`prompted`).
    pub message: Option<String>,
    /// Linear's description of the session's context (`created` only): the issue, the
    /// thread, the guidance, as Linear formats them.
    pub prompt_context: Option<String>,
    /// The Linear user id of the person who opened the session or wrote the message.
    pub actor: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentSessionAction {
    Created,
    Prompted,
    /// A prompt with the `stop` signal: halt the work and say so.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIssue {
    pub id: String,
    pub identifier: String,
    pub title: String,
    pub description: String,
    pub url: Option<String>,
    /// The team's key (`ENG`).
    pub team: Option<String>,
}

impl AgentSessionEvent {
    /// The event in baton's vocabulary: the issue's snapshot is partial (no state, no
    /// labels), as for a comment; the runner re-reads the issue before acting.
    pub fn normalized(self) -> NormalizedEvent {
        let action = match self.action {
            AgentSessionAction::Created => EventAction::AgentSessionCreated {
                session: self.session_id,
            },
            AgentSessionAction::Prompted => EventAction::AgentSessionPrompted {
                session: self.session_id,
            },
            AgentSessionAction::Stopped => EventAction::AgentSessionStopped {
                session: self.session_id,
            },
        };
        NormalizedEvent {
            source: SourceKind::Linear,
            event_name: EVENT_TYPE.to_owned(),
            action,
            issue: IssueSnapshot {
                id: self.issue.id,
                identifier: self.issue.identifier,
                title: self.issue.title,
                body: self.issue.description,
                state: String::new(),
                labels: Vec::new(),
                url: self.issue.url,
                repository: None,
                author: None,
            },
            // Only a workspace member can mention or delegate to an app user.
            actor: Actor {
                login: self.actor,
                association: Association::Member,
                is_bot: false,
            },
            comment: self.message,
        }
    }
}

/// Parses a verified `AgentSessionEvent` body.
pub(super) fn parse(body: &[u8]) -> Result<Parsed, ParseError> {
    let payload = json::from_slice::<Payload<'_>>(body)?;
    Ok(match typed(payload)? {
        Ok(event) => Parsed::Event(Box::new(event.normalized())),
        Err(reason) => Parsed::Ignored { reason },
    })
}

/// The typed event, or why baton does not act on it (an action it does not handle, a session
/// that is not on an issue).
pub fn typed_event(body: &[u8]) -> Result<Result<AgentSessionEvent, String>, ParseError> {
    typed(json::from_slice::<Payload<'_>>(body)?)
}

fn typed(payload: Payload<'_>) -> Result<Result<AgentSessionEvent, String>, ParseError> {
    let mut action = match payload.action.as_ref().map(Str::as_str) {
        Some("created") => AgentSessionAction::Created,
        Some("prompted") => AgentSessionAction::Prompted,
        Some(other) => {
            return Ok(Err(format!(
                "`{EVENT_TYPE}` action `{other}` is not handled"
            )))
        }
        None => return Err(ParseError::MissingField("action")),
    };
    let session = payload
        .agent_session
        .ok_or(ParseError::MissingField("agentSession"))?;
    let session_id =
        json::non_empty(session.id).ok_or(ParseError::MissingField("agentSession.id"))?;
    let Some(issue) = session.issue else {
        return Ok(Err(
            "the agent session is not on an issue (a project or document)".to_owned(),
        ));
    };
    let id = json::non_empty(issue.id).ok_or(ParseError::MissingField("agentSession.issue.id"))?;
    let identifier = json::non_empty(issue.identifier)
        .ok_or(ParseError::MissingField("agentSession.issue.identifier"))?;
    let issue = AgentIssue {
        id,
        identifier,
        title: json::text(issue.title),
        description: json::text(issue.description),
        url: json::non_empty(issue.url),
        team: issue.team.and_then(|team| json::non_empty(team.key)),
    };
    let activity = payload.agent_activity;
    let stop = activity
        .as_ref()
        .and_then(|activity| activity.signal.as_ref())
        .is_some_and(|signal| signal.as_str() == STOP_SIGNAL);
    if action == AgentSessionAction::Prompted && stop {
        action = AgentSessionAction::Stopped;
    }
    let (message, actor) = match action {
        AgentSessionAction::Created => (
            session.comment.and_then(|c| json::non_empty(c.body)),
            session
                .creator
                .and_then(|c| json::non_empty(c.id))
                .or_else(|| json::non_empty(session.creator_id)),
        ),
        AgentSessionAction::Prompted | AgentSessionAction::Stopped => {
            let activity = activity.ok_or(ParseError::MissingField("agentActivity"))?;
            let body = activity
                .content
                .and_then(|content| json::non_empty(content.body));
            // A stop may come without words; a message must have some.
            if body.is_none() && action == AgentSessionAction::Prompted {
                return Err(ParseError::MissingField("agentActivity.content.body"));
            }
            let actor = activity
                .user
                .and_then(|user| json::non_empty(user.id))
                .or_else(|| json::non_empty(activity.user_id));
            (body, actor)
        }
    };
    Ok(Ok(AgentSessionEvent {
        action,
        session_id,
        issue,
        message,
        prompt_context: json::non_empty(payload.prompt_context),
        actor: actor.unwrap_or_default(),
    }))
}

// --- Payload -------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(borrow)]
    action: Option<Str<'a>>,
    #[serde(borrow)]
    agent_session: Option<Session<'a>>,
    #[serde(borrow)]
    agent_activity: Option<Activity<'a>>,
    #[serde(borrow)]
    prompt_context: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    creator_id: Option<Str<'a>>,
    #[serde(borrow)]
    creator: Option<Person<'a>>,
    #[serde(borrow)]
    comment: Option<Comment<'a>>,
    #[serde(borrow)]
    issue: Option<Issue<'a>>,
}

#[derive(Deserialize)]
struct Person<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Comment<'a> {
    #[serde(borrow)]
    body: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Issue<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    identifier: Option<Str<'a>>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    description: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    team: Option<Team<'a>>,
}

#[derive(Deserialize)]
struct Team<'a> {
    #[serde(borrow)]
    key: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity<'a> {
    #[serde(borrow)]
    signal: Option<Str<'a>>,
    #[serde(borrow)]
    user_id: Option<Str<'a>>,
    #[serde(borrow)]
    user: Option<Person<'a>>,
    #[serde(borrow)]
    content: Option<Content<'a>>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow)]
    body: Option<Str<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::linear::LinearSource;
    use crate::webhooks::test_support::{event, headers, secret, sign_hex};
    use crate::webhooks::{VerifyError, WebhookRequest, WebhookSource};
    use chrono::{DateTime, TimeZone, Utc};
    use http::HeaderMap;

    const SECRET: &str = "lin_wh_agent_5fd0b1c2a3e4f5061728394a5b6c";
    const SENT_MS: i64 = 1_714_640_000_000;
    const CREATED: &str = include_str!("../fixtures/linear/agent_session_created.json");
    const PROMPTED: &str = include_str!("../fixtures/linear/agent_session_prompted.json");
    const STOPPED: &str = include_str!("../fixtures/linear/agent_session_stopped.json");
    const SESSION: &str = "a9e75e55-1010-4c2d-9e8f-000000000042";
    const ADA: &str = "6f9a7b1e-2f3c-4d5e-8a9b-0c1d2e3f4a5b";

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).single().expect("valid time")
    }

    fn signed_with(key: &str, body: &[u8]) -> HeaderMap {
        headers(&[
            ("Linear-Signature", &sign_hex(key, body)),
            ("Linear-Delivery", "0e7d1b6c-0000-4000-8000-000000000001"),
            ("Linear-Event", "AgentSessionEvent"),
            ("Content-Type", "application/json; charset=utf-8"),
        ])
    }

    fn verify(headers: &HeaderMap, body: &[u8], now_ms: i64) -> Result<(), VerifyError> {
        LinearSource.verify(
            WebhookRequest { headers, body },
            &secret(SECRET),
            at(now_ms),
        )
    }

    fn parse_event(body: &str) -> NormalizedEvent {
        let headers = signed_with(SECRET, body.as_bytes());
        assert_eq!(verify(&headers, body.as_bytes(), SENT_MS + 900), Ok(()));
        event(
            LinearSource
                .parse(WebhookRequest {
                    headers: &headers,
                    body: body.as_bytes(),
                })
                .expect("parses"),
        )
    }

    #[test]
    fn agent_session_events_are_verified_like_every_linear_webhook() {
        for body in [CREATED, PROMPTED] {
            let body = body.as_bytes();
            assert_eq!(verify(&signed_with(SECRET, body), body, SENT_MS), Ok(()));
            assert_eq!(
                verify(&signed_with("another secret", body), body, SENT_MS),
                Err(VerifyError::Mismatch)
            );
            let tampered = String::from_utf8_lossy(body).replace("ENG-42", "ENG-1");
            assert_eq!(
                verify(&signed_with(SECRET, body), tampered.as_bytes(), SENT_MS),
                Err(VerifyError::Mismatch)
            );
            assert_eq!(
                verify(&signed_with(SECRET, body), body, SENT_MS + 5 * 60_000),
                Err(VerifyError::StaleTimestamp {
                    age_seconds: 300,
                    window_seconds: 60
                })
            );
        }
    }

    #[test]
    fn created_names_the_session_the_issue_and_the_mention() {
        let typed = typed_event(CREATED.as_bytes())
            .expect("parses")
            .expect("on an issue");
        assert_eq!(typed.action, AgentSessionAction::Created);
        assert_eq!(typed.session_id, SESSION);
        assert_eq!(
            typed.issue,
            AgentIssue {
                id: "9cfb482a-81e3-4154-b5b9-2c805e70a02d".into(),
                identifier: "ENG-42".into(),
                title: "Export fails for large workspaces".into(),
                description: "Export stops at 10k rows.".into(),
                url: Some(
                    "https://linear.app/acme/issue/ENG-42/export-fails-for-large-workspaces".into()
                ),
                team: Some("ENG".into()),
            }
        );
        assert_eq!(
            typed.message.as_deref(),
            Some("@baton can you fix this? The export should stream rows.")
        );
        assert!(typed
            .prompt_context
            .as_deref()
            .is_some_and(|c| c.contains("<issue identifier=\"ENG-42\">")));
        assert_eq!(typed.actor, ADA);

        let event = parse_event(CREATED);
        assert_eq!(
            event.action,
            EventAction::AgentSessionCreated {
                session: SESSION.into()
            }
        );
        assert_eq!(event.event_name, "AgentSessionEvent");
        assert_eq!(event.issue.identifier, "ENG-42");
        assert!(event.issue.labels.is_empty() && event.issue.state.is_empty());
        assert_eq!(event.actor.login, ADA);
        assert!(!event.actor.is_bot);
    }

    #[test]
    fn a_delegation_has_no_mention() {
        let delegated = CREATED.replace(
            "\"body\": \"@baton can you fix this? The export should stream rows.\",",
            "",
        );
        let typed = typed_event(delegated.as_bytes())
            .expect("parses")
            .expect("on an issue");
        assert_eq!(typed.message, None);
        assert_eq!(parse_event(&delegated).comment, None);
    }

    #[test]
    fn prompted_carries_the_new_message_and_its_writer() {
        let event = parse_event(PROMPTED);
        assert_eq!(
            event.action,
            EventAction::AgentSessionPrompted {
                session: SESSION.into()
            }
        );
        assert_eq!(
            event.comment.as_deref(),
            Some("Use Postgres COPY for the export, please.")
        );
        assert_eq!(event.actor.login, ADA);
        assert_eq!(event.issue.identifier, "ENG-42");
    }

    #[test]
    fn a_prompt_with_the_stop_signal_is_a_stop_never_a_message() {
        let event = parse_event(STOPPED);
        assert_eq!(
            event.action,
            EventAction::AgentSessionStopped {
                session: SESSION.into()
            }
        );
        assert_eq!(event.actor.login, ADA);
        assert_eq!(event.issue.identifier, "ENG-42");
        // Pressing stop may send no words at all; it is still a stop.
        let silent = STOPPED.replace("\"body\": \"Stop\"", "\"body\": \"\"");
        assert_ne!(silent, STOPPED);
        let typed = typed_event(silent.as_bytes())
            .expect("parses")
            .expect("on an issue");
        assert_eq!(
            (typed.action, typed.message),
            (AgentSessionAction::Stopped, None)
        );
        // Another signal leaves a prompt a prompt.
        let other = STOPPED.replace("\"signal\": \"stop\"", "\"signal\": \"auth\"");
        assert!(matches!(
            parse_event(&other).action,
            EventAction::AgentSessionPrompted { .. }
        ));
    }

    #[test]
    fn malformed_and_unknown_agent_session_events() {
        let no_body = PROMPTED.replace("\"body\": \"Use Postgres", "\"text\": \"Use Postgres");
        assert_eq!(
            typed_event(no_body.as_bytes()),
            Err(ParseError::MissingField("agentActivity.content.body"))
        );
        let no_session = CREATED.replace("\"agentSession\":", "\"session\":");
        assert_eq!(
            typed_event(no_session.as_bytes()),
            Err(ParseError::MissingField("agentSession"))
        );
        let unknown = CREATED.replace("\"action\": \"created\"", "\"action\": \"archived\"");
        assert_eq!(
            typed_event(unknown.as_bytes()),
            Ok(Err(
                "`AgentSessionEvent` action `archived` is not handled".to_owned()
            ))
        );
        let no_issue = CREATED.replace("\"issue\": {", "\"document\": {");
        assert!(matches!(typed_event(no_issue.as_bytes()), Ok(Err(_))));
    }
}
