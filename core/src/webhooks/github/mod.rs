//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, the event name in
//! `X-GitHub-Event`, the delivery id in `X-GitHub-Delivery`.
//!
//! Bodies are `application/json`, or `application/x-www-form-urlencoded` with the JSON in
//! the `payload` field (the signature covers the form-encoded bytes). Handled events:
//! `issues`, `issue_comment`, `pull_request` (closed) and `pull_request_review` (submitted);
//! `ping` and everything else are ignored without reading the body.

use super::json::{self, Id, Str};
use super::media::{body_format, BodyFormat};
use super::signature::{required_header, verify_prefixed_hmac};
use super::{ParseError, Parsed, ParsedDelivery, VerifyError, WebhookRequest, WebhookSource};
use crate::domain::{
    Actor, Association, EventAction, IssueSnapshot, NormalizedEvent, ReviewState, SourceKind,
};
use crate::secret::Secret;
use crate::sources::Source;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::borrow::Cow;

const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
const EVENT_HEADER: &str = "X-GitHub-Event";
const DELIVERY_HEADER: &str = "X-GitHub-Delivery";

pub struct GithubSource;

/// GitHub issues are open or closed.
impl Source for GithubSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Github
    }

    #[cfg(test)]
    fn samples(&self) -> crate::sources::contract::Samples {
        tests::samples()
    }

    fn default_active_states(&self) -> &'static [&'static str] {
        &["open"]
    }

    fn default_terminal_states(&self) -> &'static [&'static str] {
        &["closed"]
    }

    fn scope_key(&self) -> Option<&'static str> {
        Some("repository")
    }

    fn check_scope(&self, value: &str) -> Result<(), &'static str> {
        crate::sources::check_path(value, 2, false, "`owner/repo`")
    }

    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool {
        crate::sources::in_repository(issue, value)
    }

    fn comment_url(&self, issue_url: &str, id: &str) -> Option<String> {
        crate::sources::anchored(issue_url, id, |base| format!("{base}#issuecomment-{id}"))
    }

    fn webhook(&self) -> Option<&'static dyn WebhookSource> {
        Some(&GithubSource)
    }
}

impl WebhookSource for GithubSource {
    fn secret_variable(&self) -> &'static str {
        "GITHUB_WEBHOOK_SECRET"
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
    }

    fn accepts_form(&self) -> bool {
        true
    }

    fn verify(
        &self,
        request: WebhookRequest<'_>,
        secret: &Secret,
        _now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        verify_prefixed_hmac(
            request.headers,
            SIGNATURE_HEADER,
            "sha256=",
            secret,
            request.body,
        )
    }

    fn parse(&self, request: WebhookRequest<'_>) -> Result<ParsedDelivery, ParseError> {
        let delivery_id = required_header(request.headers, DELIVERY_HEADER)?.to_owned();
        let event = required_header(request.headers, EVENT_HEADER)?;
        let format = body_format(request.headers, true)?;
        let parsed = match event {
            "ping" => ignored("`ping` (webhook created or tested)".to_owned()),
            "issues" | "issue_comment" | "pull_request" | "pull_request_review" => {
                let document = payload_json(format, request.body)?;
                let payload: Payload<'_> = json::from_slice(&document)?;
                normalize(event, payload)?
            }
            other => ignored(format!("event `{other}` is not handled")),
        };
        Ok(ParsedDelivery {
            delivery_id,
            parsed,
        })
    }
}

/// The JSON document: the body itself, or the form's `payload` field.
fn payload_json(format: BodyFormat, body: &[u8]) -> Result<Cow<'_, [u8]>, ParseError> {
    match format {
        BodyFormat::Json => Ok(Cow::Borrowed(body)),
        BodyFormat::Form => form_urlencoded::parse(body)
            .find(|(name, _)| name == "payload")
            .map(|(_, value)| Cow::Owned(value.into_owned().into_bytes()))
            .ok_or(ParseError::MissingField("payload")),
    }
}

fn ignored(reason: String) -> Parsed {
    Parsed::Ignored { reason }
}

// --- Payload -------------------------------------------------------------------------------
// Only the fields baton reads; serde skips the rest without allocating.

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    action: Option<Str<'a>>,
    #[serde(borrow)]
    issue: Option<Issue<'a>>,
    #[serde(borrow)]
    pull_request: Option<Issue<'a>>,
    #[serde(borrow)]
    comment: Option<Comment<'a>>,
    #[serde(borrow)]
    review: Option<Review<'a>>,
    #[serde(borrow)]
    label: Option<Label<'a>>,
    #[serde(borrow)]
    repository: Option<Repository<'a>>,
    #[serde(borrow)]
    sender: Option<User<'a>>,
}

/// An issue, or a pull request (which carries the same fields plus `merged` and `head`).
#[derive(Deserialize)]
struct Issue<'a> {
    id: Option<Id>,
    number: Option<u64>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    body: Option<Str<'a>>,
    #[serde(borrow)]
    state: Option<Str<'a>>,
    #[serde(borrow)]
    labels: Option<Vec<Label<'a>>>,
    #[serde(borrow)]
    html_url: Option<Str<'a>>,
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    author_association: Option<Str<'a>>,
    merged: Option<bool>,
    #[serde(borrow)]
    head: Option<Head<'a>>,
}

#[derive(Deserialize)]
struct Comment<'a> {
    #[serde(borrow)]
    body: Option<Str<'a>>,
    #[serde(borrow)]
    author_association: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Review<'a> {
    #[serde(borrow)]
    state: Option<Str<'a>>,
    #[serde(borrow)]
    author_association: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Label<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Repository<'a> {
    #[serde(borrow)]
    full_name: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    login: Option<Str<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, rename = "ref")]
    branch: Option<Str<'a>>,
}

// --- Normalization -------------------------------------------------------------------------

fn normalize(event: &str, mut payload: Payload<'_>) -> Result<Parsed, ParseError> {
    let action = payload
        .action
        .take()
        .ok_or(ParseError::MissingField("action"))?;
    let action = action.as_str();
    match event {
        "issues" => issues(event, action, payload),
        "issue_comment" => issue_comment(event, action, payload),
        "pull_request" => pull_request(event, action, payload),
        "pull_request_review" => pull_request_review(event, action, payload),
        other => Ok(ignored(format!("event `{other}` is not handled"))),
    }
}

fn issues(event: &str, action: &str, mut payload: Payload<'_>) -> Result<Parsed, ParseError> {
    let action = match action {
        "opened" => EventAction::Opened,
        "edited" => EventAction::Edited,
        "reopened" => EventAction::Reopened,
        "closed" => EventAction::Closed,
        "labeled" => EventAction::Labeled {
            label: label_name(payload.label.take())?,
        },
        "unlabeled" => EventAction::Unlabeled {
            label: label_name(payload.label.take())?,
        },
        other => {
            return Ok(ignored(format!(
                "`{event}` action `{other}` is not handled"
            )))
        }
    };
    let issue = payload
        .issue
        .take()
        .ok_or(ParseError::MissingField("issue"))?;
    let sender = payload.sender.take();
    // `issue.author_association` describes the issue's author, not whoever acted: it only
    // applies when the sender is that author.
    let association = if is_same_user(sender.as_ref(), issue.user.as_ref()) {
        github_association(issue.author_association.as_ref())
    } else {
        Association::Unknown
    };
    let actor = actor(sender, association)?;
    let snapshot = snapshot(issue, payload.repository.take(), "issue")?;
    Ok(event_of(event, action, snapshot, actor, None))
}

fn issue_comment(
    event: &str,
    action: &str,
    mut payload: Payload<'_>,
) -> Result<Parsed, ParseError> {
    if action != "created" {
        return Ok(ignored(format!(
            "`{event}` action `{action}` is not handled"
        )));
    }
    let comment = payload
        .comment
        .take()
        .ok_or(ParseError::MissingField("comment"))?;
    let issue = payload
        .issue
        .take()
        .ok_or(ParseError::MissingField("issue"))?;
    // Comments on pull requests arrive here too (`issue.pull_request` is set); they are
    // comments all the same.
    let actor = actor(
        payload.sender.take(),
        github_association(comment.author_association.as_ref()),
    )?;
    let snapshot = snapshot(issue, payload.repository.take(), "issue")?;
    Ok(event_of(
        event,
        EventAction::Commented,
        snapshot,
        actor,
        Some(json::text(comment.body)),
    ))
}

fn pull_request(event: &str, action: &str, mut payload: Payload<'_>) -> Result<Parsed, ParseError> {
    if action != "closed" {
        return Ok(ignored(format!(
            "`{event}` action `{action}` is not handled"
        )));
    }
    let mut pr = payload
        .pull_request
        .take()
        .ok_or(ParseError::MissingField("pull_request"))?;
    let action = EventAction::PullRequestClosed {
        merged: pr.merged.unwrap_or(false),
        branch: head_branch(pr.head.take())?,
    };
    let sender = payload.sender.take();
    let association = if is_same_user(sender.as_ref(), pr.user.as_ref()) {
        github_association(pr.author_association.as_ref())
    } else {
        Association::Unknown
    };
    let actor = actor(sender, association)?;
    let snapshot = snapshot(pr, payload.repository.take(), "pull_request")?;
    Ok(event_of(event, action, snapshot, actor, None))
}

fn pull_request_review(
    event: &str,
    action: &str,
    mut payload: Payload<'_>,
) -> Result<Parsed, ParseError> {
    if action != "submitted" {
        return Ok(ignored(format!(
            "`{event}` action `{action}` is not handled"
        )));
    }
    let review = payload
        .review
        .take()
        .ok_or(ParseError::MissingField("review"))?;
    let state = review
        .state
        .as_ref()
        .map(Str::as_str)
        .ok_or(ParseError::MissingField("review.state"))?;
    let state = if state.eq_ignore_ascii_case("approved") {
        ReviewState::Approved
    } else if state.eq_ignore_ascii_case("changes_requested") {
        ReviewState::ChangesRequested
    } else if state.eq_ignore_ascii_case("commented") {
        ReviewState::Commented
    } else {
        return Ok(ignored(format!("review state `{state}` is not handled")));
    };
    let mut pr = payload
        .pull_request
        .take()
        .ok_or(ParseError::MissingField("pull_request"))?;
    let action = EventAction::ReviewSubmitted {
        state,
        branch: head_branch(pr.head.take())?,
    };
    let actor = actor(
        payload.sender.take(),
        github_association(review.author_association.as_ref()),
    )?;
    let snapshot = snapshot(pr, payload.repository.take(), "pull_request")?;
    Ok(event_of(event, action, snapshot, actor, None))
}

fn event_of(
    event: &str,
    action: EventAction,
    issue: IssueSnapshot,
    actor: Actor,
    comment: Option<String>,
) -> Parsed {
    Parsed::Event(Box::new(NormalizedEvent {
        source: SourceKind::Github,
        event_name: event.to_owned(),
        action,
        issue,
        actor,
        comment,
    }))
}

/// `what` names the object in `MissingField` errors (`issue` or `pull_request`).
fn snapshot(
    issue: Issue<'_>,
    repository: Option<Repository<'_>>,
    what: &'static str,
) -> Result<IssueSnapshot, ParseError> {
    let repository = repository
        .and_then(|r| json::non_empty(r.full_name))
        .ok_or(ParseError::MissingField("repository.full_name"))?;
    let (id_field, number_field) = match what {
        "pull_request" => ("pull_request.id", "pull_request.number"),
        _ => ("issue.id", "issue.number"),
    };
    let id = json::id_text(issue.id).ok_or(ParseError::MissingField(id_field))?;
    let number = issue.number.ok_or(ParseError::MissingField(number_field))?;
    Ok(IssueSnapshot {
        id,
        identifier: format!("{repository}#{number}"),
        title: json::text(issue.title),
        body: json::text(issue.body),
        state: json::text(issue.state),
        labels: issue
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter_map(|l| l.name)
            .map(|name| name.as_str().to_lowercase())
            .collect(),
        url: json::non_empty(issue.html_url),
        repository: Some(repository),
        author: issue.user.and_then(|u| json::non_empty(u.login)),
    })
}

fn actor(sender: Option<User<'_>>, association: Association) -> Result<Actor, ParseError> {
    let sender = sender.ok_or(ParseError::MissingField("sender"))?;
    let is_bot = sender
        .kind
        .as_ref()
        .is_some_and(|k| k.as_str().eq_ignore_ascii_case("bot"));
    let login = json::non_empty(sender.login).ok_or(ParseError::MissingField("sender.login"))?;
    Ok(Actor {
        login,
        association,
        is_bot,
    })
}

fn is_same_user(sender: Option<&User<'_>>, author: Option<&User<'_>>) -> bool {
    match (login_of(sender), login_of(author)) {
        (Some(a), Some(b)) => !a.is_empty() && a.eq_ignore_ascii_case(b),
        _ => false,
    }
}

fn login_of<'u>(user: Option<&'u User<'_>>) -> Option<&'u str> {
    user.and_then(|u| u.login.as_ref()).map(Str::as_str)
}

fn github_association(value: Option<&Str<'_>>) -> Association {
    value.map_or(Association::Unknown, |v| {
        Association::from_github(v.as_str())
    })
}

fn label_name(label: Option<Label<'_>>) -> Result<String, ParseError> {
    label
        .and_then(|l| json::non_empty(l.name))
        .map(|name| name.to_lowercase())
        .ok_or(ParseError::MissingField("label.name"))
}

fn head_branch(head: Option<Head<'_>>) -> Result<String, ParseError> {
    head.and_then(|h| json::non_empty(h.branch))
        .ok_or(ParseError::MissingField("pull_request.head.ref"))
}

#[cfg(test)]
mod tests;
