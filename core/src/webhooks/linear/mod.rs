//! Linear: `Linear-Signature: <hex HMAC-SHA256(secret, body)>`, the delivery id in
//! `Linear-Delivery`, and a replay window: the body's `webhookTimestamp` (ms since the epoch)
//! must be within 60 s of now, either way.
//!
//! The entity type is read from the signed body's `type` (`Issue`, `Comment`, ...), not from
//! the unsigned `Linear-Event` header, which carries the same value.
//!
//! Mapping decisions worth knowing:
//! - The actor's `login` is the Linear user id (stable, unlike display names).
//! - `updatedFrom.stateId` wins over `updatedFrom.labelIds` when one update changes both.
//! - A removed label is reported as `Unlabeled { label: <label id> }`: the payload only
//!   lists the labels the issue still has, so the removed label's name is not in it. The
//!   snapshot's `labels` are the current names, so "is the trigger label still there" is
//!   answered by `issue.labels`, not by the removed id. An added label is reported by name
//!   (lowercased); an update whose label change cannot be named either way is `Edited`.
//! - Comment payloads describe the issue only by id, identifier, title and url: the
//!   snapshot's `state` is `""` and its `labels` are empty; re-read the issue before acting.

pub(super) mod agent_session;

use super::json::{self, Str};
use super::signature::{required_header, signature_header, verify_hmac_sha256_hex};
use super::{ParseError, Parsed, ParsedDelivery, VerifyError, WebhookRequest, WebhookSource};
use crate::domain::{Actor, Association, EventAction, IssueSnapshot, NormalizedEvent, SourceKind};
use crate::secret::Secret;
use crate::sources::Source;
use chrono::{DateTime, Utc};
use serde::Deserialize;

const SIGNATURE_HEADER: &str = "Linear-Signature";
const DELIVERY_HEADER: &str = "Linear-Delivery";
/// How far `webhookTimestamp` may be from now, in either direction.
const WINDOW_MS: i64 = 60_000;

pub struct LinearSource;

/// Symphony's defaults. Linear's comment links are not derivable from the id.
impl Source for LinearSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Linear
    }

    #[cfg(test)]
    fn samples(&self) -> crate::sources::contract::Samples {
        tests::samples()
    }

    fn default_active_states(&self) -> &'static [&'static str] {
        &["todo", "in progress"]
    }

    fn default_terminal_states(&self) -> &'static [&'static str] {
        &["closed", "cancelled", "canceled", "duplicate", "done"]
    }

    fn scope_key(&self) -> Option<&'static str> {
        Some("team")
    }

    fn check_scope(&self, value: &str) -> Result<(), &'static str> {
        crate::sources::check_path(value, 1, false, "a key, such as `ENG`")
    }

    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool {
        // Identifiers start with the team's key: `ENG-42`. Linear webhooks do not name the
        // project, so Symphony's `project_slug` cannot select a workflow.
        crate::sources::has_key_prefix(issue, value)
    }

    fn webhook(&self) -> Option<&'static dyn WebhookSource> {
        Some(&LinearSource)
    }
}

impl WebhookSource for LinearSource {
    fn secret_variable(&self) -> &'static str {
        "LINEAR_WEBHOOK_SECRET"
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
    }

    fn signs_timestamp(&self) -> bool {
        true
    }

    fn verify(
        &self,
        request: WebhookRequest<'_>,
        secret: &Secret,
        now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let signature = signature_header(request.headers, SIGNATURE_HEADER)?;
        verify_hmac_sha256_hex(secret, request.body, signature, SIGNATURE_HEADER)?;
        // Only a body that Linear signed gets this far, so its timestamp can be trusted.
        let sent_ms = webhook_timestamp(request.body).ok_or(VerifyError::MissingTimestamp)?;
        let age_ms = now.timestamp_millis().saturating_sub(sent_ms);
        if age_ms.unsigned_abs() > WINDOW_MS.unsigned_abs() {
            return Err(VerifyError::StaleTimestamp {
                age_seconds: age_ms / 1000,
                window_seconds: WINDOW_MS / 1000,
            });
        }
        Ok(())
    }

    fn parse(&self, request: WebhookRequest<'_>) -> Result<ParsedDelivery, ParseError> {
        let delivery_id = required_header(request.headers, DELIVERY_HEADER)?.to_owned();
        // baton as a Linear agent: the same endpoint and signature, another payload shape.
        if matches!(json::from_slice::<TypeOnly<'_>>(request.body),
            Ok(TypeOnly { kind: Some(kind) }) if kind.as_str() == agent_session::EVENT_TYPE)
        {
            return Ok(ParsedDelivery {
                delivery_id,
                parsed: agent_session::parse(request.body)?,
            });
        }
        let parsed = match json::from_slice::<Payload<'_>>(request.body) {
            Ok(payload) => normalize(payload)?,
            // Entity types baton does not handle have their own `data` shapes (a Project's
            // `state` is a string); a failure there is an ignored event, not a bad request.
            Err(error) => match json::from_slice::<TypeOnly<'_>>(request.body) {
                Ok(TypeOnly { kind: Some(kind) }) if !is_handled(kind.as_str()) => {
                    unhandled(kind.as_str())
                }
                _ => return Err(error),
            },
        };
        Ok(ParsedDelivery {
            delivery_id,
            parsed,
        })
    }
}

/// `webhookTimestamp` as integer milliseconds; `None` when absent or unreadable.
fn webhook_timestamp(body: &[u8]) -> Option<i64> {
    #[derive(Deserialize)]
    struct Timestamp {
        #[serde(rename = "webhookTimestamp")]
        webhook_timestamp: Option<serde_json::Number>,
    }
    let number = serde_json::from_slice::<Timestamp>(body)
        .ok()?
        .webhook_timestamp?;
    number.as_i64().or_else(|| {
        // A float of whole milliseconds is tolerated; anything beyond i64 is not.
        number
            .as_f64()
            .filter(|ms| ms.is_finite() && ms.abs() < 9.0e15)
            .map(|ms| ms as i64)
    })
}

fn is_handled(kind: &str) -> bool {
    matches!(kind, "Issue" | "Comment")
}

fn unhandled(kind: &str) -> Parsed {
    Parsed::Ignored {
        reason: format!("event `{kind}` is not handled"),
    }
}

fn ignored(reason: String) -> Parsed {
    Parsed::Ignored { reason }
}

// --- Payload -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct TypeOnly<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(borrow)]
    action: Option<Str<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
    #[serde(borrow)]
    updated_from: Option<UpdatedFrom<'a>>,
    #[serde(borrow)]
    actor: Option<LinearActor<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
}

/// The fields of an `Issue` and of a `Comment` entity; they do not overlap.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    // Issue
    #[serde(borrow)]
    identifier: Option<Str<'a>>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    description: Option<Str<'a>>,
    #[serde(borrow)]
    state: Option<State<'a>>,
    #[serde(borrow)]
    labels: Option<Vec<Label<'a>>>,
    #[serde(borrow)]
    label_ids: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    creator_id: Option<Str<'a>>,
    #[serde(borrow)]
    creator: Option<Person<'a>>,
    // Comment
    #[serde(borrow)]
    body: Option<Str<'a>>,
    #[serde(borrow)]
    issue: Option<IssueRef<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdatedFrom<'a> {
    #[serde(borrow)]
    state_id: Option<Str<'a>>,
    #[serde(borrow)]
    label_ids: Option<Vec<Str<'a>>>,
}

#[derive(Deserialize)]
struct State<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Label<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Person<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct IssueRef<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow)]
    identifier: Option<Str<'a>>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct LinearActor<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
}

// --- Normalization -------------------------------------------------------------------------

fn normalize(payload: Payload<'_>) -> Result<Parsed, ParseError> {
    let Payload {
        action,
        kind,
        data,
        updated_from,
        actor: linear_actor,
        url,
    } = payload;
    let kind = kind.ok_or(ParseError::MissingField("type"))?;
    let action = action.ok_or(ParseError::MissingField("action"))?;
    let (kind, action) = (kind.as_str(), action.as_str());
    if !is_handled(kind) {
        return Ok(unhandled(kind));
    }
    let data = data.ok_or(ParseError::MissingField("data"))?;
    let (event_action, issue, comment) = match (kind, action) {
        ("Issue", "create") => (EventAction::Opened, issue_snapshot(data, url)?, None),
        ("Issue", "remove") => (EventAction::Closed, issue_snapshot(data, url)?, None),
        ("Issue", "update") => {
            let event_action = update_action(&data, updated_from)?;
            (event_action, issue_snapshot(data, url)?, None)
        }
        ("Comment", "create") => {
            let Data { body, issue, .. } = data;
            let Some(issue) = issue else {
                return Ok(ignored(
                    "`Comment` is not on an issue (project update or document)".to_owned(),
                ));
            };
            (
                EventAction::Commented,
                comment_issue(issue)?,
                Some(json::text(body)),
            )
        }
        (kind, action) => {
            return Ok(ignored(format!(
                "`{kind}` action `{action}` is not handled"
            )));
        }
    };
    Ok(Parsed::Event(Box::new(NormalizedEvent {
        source: SourceKind::Linear,
        event_name: kind.to_owned(),
        action: event_action,
        issue,
        actor: actor(linear_actor),
        comment,
    })))
}

/// What an `update` changed: the state, a label, or something else.
fn update_action(
    data: &Data<'_>,
    updated_from: Option<UpdatedFrom<'_>>,
) -> Result<EventAction, ParseError> {
    let Some(previous) = updated_from else {
        return Ok(EventAction::Edited);
    };
    if previous.state_id.is_some() {
        // Linear sends only the previous state's id, so `from` stays unknown.
        let to = data
            .state
            .as_ref()
            .and_then(|s| s.name.as_ref())
            .map(|name| name.as_str().to_owned())
            .ok_or(ParseError::MissingField("data.state.name"))?;
        return Ok(EventAction::StateChanged { from: None, to });
    }
    let Some(previous_ids) = previous.label_ids else {
        return Ok(EventAction::Edited);
    };
    let labels = data.labels.as_deref().unwrap_or_default();
    let current_ids: Vec<&str> = match &data.label_ids {
        Some(ids) => ids.iter().map(Str::as_str).collect(),
        None => labels
            .iter()
            .filter_map(|l| l.id.as_ref().map(Str::as_str))
            .collect(),
    };
    let was = |id: &str| previous_ids.iter().any(|p| p.as_str() == id);
    let name_of = |id: &str| {
        labels
            .iter()
            .find(|l| l.id.as_ref().is_some_and(|l| l.as_str() == id))
            .and_then(|l| l.name.as_ref())
    };
    if let Some(name) = current_ids
        .iter()
        .filter(|id| !was(id))
        .find_map(|id| name_of(id))
    {
        return Ok(EventAction::Labeled {
            label: name.as_str().to_lowercase(),
        });
    }
    if let Some(removed) = previous_ids
        .iter()
        .find(|p| !current_ids.contains(&p.as_str()))
    {
        return Ok(EventAction::Unlabeled {
            label: removed.as_str().to_owned(),
        });
    }
    Ok(EventAction::Edited)
}

fn issue_snapshot(
    data: Data<'_>,
    payload_url: Option<Str<'_>>,
) -> Result<IssueSnapshot, ParseError> {
    let id = json::non_empty(data.id).ok_or(ParseError::MissingField("data.id"))?;
    let identifier =
        json::non_empty(data.identifier).ok_or(ParseError::MissingField("data.identifier"))?;
    Ok(IssueSnapshot {
        id,
        identifier,
        title: json::text(data.title),
        body: json::text(data.description),
        state: json::text(data.state.and_then(|s| s.name)),
        labels: data
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| l.name)
            .map(|name| name.as_str().to_lowercase())
            .collect(),
        url: json::non_empty(data.url).or_else(|| json::non_empty(payload_url)),
        repository: None,
        author: data
            .creator
            .and_then(|c| json::non_empty(c.id))
            .or_else(|| json::non_empty(data.creator_id)),
    })
}

fn comment_issue(issue: IssueRef<'_>) -> Result<IssueSnapshot, ParseError> {
    let id = json::non_empty(issue.id).ok_or(ParseError::MissingField("data.issue.id"))?;
    let identifier = json::non_empty(issue.identifier)
        .ok_or(ParseError::MissingField("data.issue.identifier"))?;
    Ok(IssueSnapshot {
        id,
        identifier,
        title: json::text(issue.title),
        body: String::new(),
        // Not in comment payloads.
        state: String::new(),
        labels: Vec::new(),
        url: json::non_empty(issue.url),
        repository: None,
        author: None,
    })
}

/// Linear delivers only workspace events: a user actor is a member. Apps (OAuth clients,
/// integrations) are bots; external users (e.g. from a support integration) are people
/// outside the workspace. An event without an actor is Linear's own automation.
fn actor(actor: Option<LinearActor<'_>>) -> Actor {
    let Some(actor) = actor else {
        return Actor {
            login: String::new(),
            association: Association::Unknown,
            is_bot: true,
        };
    };
    let kind = actor.kind.as_ref().map(Str::as_str).unwrap_or("user");
    let (association, is_bot) = if kind.eq_ignore_ascii_case("user") {
        (Association::Member, false)
    } else if kind.to_ascii_lowercase().contains("external") {
        (Association::None, false)
    } else {
        (Association::Member, true)
    };
    Actor {
        login: json::text(actor.id),
        association,
        is_bot,
    }
}

#[cfg(test)]
mod tests;
