//! GitLab: the secret token itself in `X-Gitlab-Token` (compared in constant time), the
//! event in `X-Gitlab-Event`, the delivery id in `Idempotency-Key` (GitLab 17.4+) or else
//! `X-Gitlab-Event-UUID`.
//!
//! Mapping decisions worth knowing:
//! - GitLab reports no association: every actor is `Association::Unknown`, so command
//!   permissions for GitLab rely on the workflow's `allowed_authors`.
//! - `is_bot` is set for the bot users GitLab creates for project and group access tokens,
//!   whose usernames follow `project_<id>_bot…` / `group_<id>_bot…`. GitLab's payloads carry
//!   no bot flag, and a username merely ending in `_bot` is a human's choice, so nothing
//!   else is treated as a bot.
//! - Merge requests are identified as `group/project!<iid>` (GitLab's own notation), so they
//!   never collide with issue `group/project#<iid>`.
//! - `Confidential Issue Hook` / `Confidential Note Hook` are handled like their public
//!   counterparts (enabling them is an explicit choice in GitLab); `event_name` keeps the
//!   header so routing can tell them apart.
//! - System notes (`system: true`, GitLab's own "added ~bug label" notes) and edited notes
//!   are ignored; only notes on issues become `Commented`.

use super::json::{self, Id, Str};
use super::signature::{optional_header, required_header, signature_header, token_matches};
use super::{ParseError, Parsed, ParsedDelivery, VerifyError, WebhookRequest, WebhookSource};
use crate::domain::{Actor, Association, EventAction, IssueSnapshot, NormalizedEvent, SourceKind};
use crate::secret::Secret;
use crate::sources::Source;
use chrono::{DateTime, Utc};
use serde::Deserialize;

const TOKEN_HEADER: &str = "X-Gitlab-Token";
const EVENT_HEADER: &str = "X-Gitlab-Event";
const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
const UUID_HEADER: &str = "X-Gitlab-Event-UUID";

pub struct GitlabSource;

/// GitLab issues are opened or closed.
impl Source for GitlabSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Gitlab
    }

    #[cfg(test)]
    fn samples(&self) -> crate::sources::contract::Samples {
        tests::samples()
    }

    fn default_active_states(&self) -> &'static [&'static str] {
        &["opened"]
    }

    fn default_terminal_states(&self) -> &'static [&'static str] {
        &["closed"]
    }

    fn scope_key(&self) -> Option<&'static str> {
        Some("project")
    }

    fn check_scope(&self, value: &str) -> Result<(), &'static str> {
        crate::sources::check_path(value, 2, true, "the project's path, `group/project`")
    }

    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool {
        crate::sources::in_repository(issue, value)
    }

    fn comment_url(&self, issue_url: &str, id: &str) -> Option<String> {
        crate::sources::anchored(issue_url, id, |base| format!("{base}#note_{id}"))
    }

    fn webhook(&self) -> Option<&'static dyn WebhookSource> {
        Some(&GitlabSource)
    }
}

impl WebhookSource for GitlabSource {
    fn secret_variable(&self) -> &'static str {
        "GITLAB_WEBHOOK_TOKEN"
    }

    fn signature_header(&self) -> &'static str {
        TOKEN_HEADER
    }

    fn verify(
        &self,
        request: WebhookRequest<'_>,
        secret: &Secret,
        _now: DateTime<Utc>,
    ) -> Result<(), VerifyError> {
        let token = signature_header(request.headers, TOKEN_HEADER)?;
        if token_matches(token.as_bytes(), secret.expose().as_bytes()) {
            Ok(())
        } else {
            Err(VerifyError::Mismatch)
        }
    }

    fn parse(&self, request: WebhookRequest<'_>) -> Result<ParsedDelivery, ParseError> {
        let delivery_id = match optional_header(request.headers, IDEMPOTENCY_HEADER)? {
            Some(key) => key,
            None => required_header(request.headers, UUID_HEADER)?,
        }
        .to_owned();
        let event = required_header(request.headers, EVENT_HEADER)?;
        let kind = match event {
            "Issue Hook" | "Confidential Issue Hook" => Kind::Issue,
            "Note Hook" | "Confidential Note Hook" => Kind::Note,
            "Merge Request Hook" => Kind::MergeRequest,
            other => {
                return Ok(ParsedDelivery {
                    delivery_id,
                    parsed: ignored(format!("event `{other}` is not handled")),
                })
            }
        };
        let payload: Payload<'_> = json::from_slice(request.body)?;
        let parsed = normalize(event, kind, payload)?;
        Ok(ParsedDelivery {
            delivery_id,
            parsed,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Issue,
    Note,
    MergeRequest,
}

fn ignored(reason: String) -> Parsed {
    Parsed::Ignored { reason }
}

// --- Payload -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    project: Option<Project<'a>>,
    #[serde(borrow)]
    object_attributes: Option<Attributes<'a>>,
    #[serde(borrow)]
    labels: Option<Vec<Label<'a>>>,
    #[serde(borrow)]
    changes: Option<Changes<'a>>,
    /// The commented issue, on note events.
    #[serde(borrow)]
    issue: Option<NotedIssue<'a>>,
}

#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    username: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Project<'a> {
    #[serde(borrow)]
    path_with_namespace: Option<Str<'a>>,
}

/// `object_attributes` of an issue, a merge request or a note.
#[derive(Deserialize)]
struct Attributes<'a> {
    id: Option<Id>,
    iid: Option<u64>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    description: Option<Str<'a>>,
    #[serde(borrow)]
    state: Option<Str<'a>>,
    #[serde(borrow)]
    action: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    labels: Option<Vec<Label<'a>>>,
    // Merge requests
    #[serde(borrow)]
    source_branch: Option<Str<'a>>,
    // Notes
    #[serde(borrow)]
    note: Option<Str<'a>>,
    #[serde(borrow)]
    noteable_type: Option<Str<'a>>,
    system: Option<bool>,
}

#[derive(Deserialize)]
struct NotedIssue<'a> {
    id: Option<Id>,
    iid: Option<u64>,
    #[serde(borrow)]
    title: Option<Str<'a>>,
    #[serde(borrow)]
    description: Option<Str<'a>>,
    #[serde(borrow)]
    state: Option<Str<'a>>,
    #[serde(borrow)]
    url: Option<Str<'a>>,
    #[serde(borrow)]
    labels: Option<Vec<Label<'a>>>,
}

#[derive(Deserialize)]
struct Label<'a> {
    #[serde(borrow)]
    title: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Changes<'a> {
    #[serde(borrow)]
    labels: Option<LabelChange<'a>>,
}

#[derive(Deserialize)]
struct LabelChange<'a> {
    #[serde(borrow)]
    previous: Option<Vec<Label<'a>>>,
    #[serde(borrow)]
    current: Option<Vec<Label<'a>>>,
}

// --- Normalization -------------------------------------------------------------------------

fn normalize(event: &str, kind: Kind, payload: Payload<'_>) -> Result<Parsed, ParseError> {
    let Payload {
        user,
        project,
        object_attributes,
        labels,
        changes,
        issue,
    } = payload;
    let attributes = object_attributes.ok_or(ParseError::MissingField("object_attributes"))?;
    let action = attributes
        .action
        .as_ref()
        .map(Str::as_str)
        .unwrap_or_default();
    let (event_action, snapshot, comment) = match kind {
        Kind::Issue => {
            let event_action = match action {
                "open" => EventAction::Opened,
                "reopen" => EventAction::Reopened,
                "close" => EventAction::Closed,
                "update" => update_action(changes),
                other => {
                    return Ok(ignored(format!(
                        "`{event}` action `{other}` is not handled"
                    )))
                }
            };
            let path = project_path(project)?;
            (
                event_action,
                issue_snapshot(attributes, labels, &path, '#')?,
                None,
            )
        }
        Kind::MergeRequest => {
            let merged = match action {
                "merge" => true,
                "close" => false,
                other => {
                    return Ok(ignored(format!(
                        "`{event}` action `{other}` is not handled"
                    )))
                }
            };
            let branch = json::non_empty(attributes.source_branch.clone())
                .ok_or(ParseError::MissingField("object_attributes.source_branch"))?;
            let path = project_path(project)?;
            (
                EventAction::PullRequestClosed { merged, branch },
                issue_snapshot(attributes, labels, &path, '!')?,
                None,
            )
        }
        Kind::Note => {
            let noteable = attributes
                .noteable_type
                .as_ref()
                .map(Str::as_str)
                .unwrap_or_default();
            if noteable != "Issue" {
                return Ok(ignored(format!("note on `{noteable}` is not handled")));
            }
            if attributes.system.unwrap_or(false) {
                return Ok(ignored("system note".to_owned()));
            }
            if !matches!(action, "" | "create") {
                return Ok(ignored(format!("note action `{action}` is not handled")));
            }
            let path = project_path(project)?;
            let issue = issue.ok_or(ParseError::MissingField("issue"))?;
            let note_url = attributes.url.as_ref().map(Str::as_str);
            let snapshot = noted_issue_snapshot(issue, &path, note_url)?;
            (
                EventAction::Commented,
                snapshot,
                Some(json::text(attributes.note)),
            )
        }
    };
    Ok(Parsed::Event(Box::new(NormalizedEvent {
        source: SourceKind::Gitlab,
        event_name: event.to_owned(),
        action: event_action,
        issue: snapshot,
        actor: actor(user),
        comment,
    })))
}

/// An `update`: a label added or removed, else a plain edit.
fn update_action(changes: Option<Changes<'_>>) -> EventAction {
    let Some(change) = changes.and_then(|c| c.labels) else {
        return EventAction::Edited;
    };
    let previous = label_names(change.previous);
    let current = label_names(change.current);
    if let Some(added) = current.iter().find(|l| !previous.contains(l)) {
        return EventAction::Labeled {
            label: added.clone(),
        };
    }
    if let Some(removed) = previous.iter().find(|l| !current.contains(l)) {
        return EventAction::Unlabeled {
            label: removed.clone(),
        };
    }
    EventAction::Edited
}

fn label_names(labels: Option<Vec<Label<'_>>>) -> Vec<String> {
    labels
        .unwrap_or_default()
        .into_iter()
        .filter_map(|l| l.title)
        .map(|title| title.as_str().to_lowercase())
        .collect()
}

fn project_path(project: Option<Project<'_>>) -> Result<String, ParseError> {
    project
        .and_then(|p| json::non_empty(p.path_with_namespace))
        .ok_or(ParseError::MissingField("project.path_with_namespace"))
}

/// An issue (`#`) or merge request (`!`) from `object_attributes`.
fn issue_snapshot(
    attributes: Attributes<'_>,
    labels: Option<Vec<Label<'_>>>,
    path: &str,
    sigil: char,
) -> Result<IssueSnapshot, ParseError> {
    let id =
        json::id_text(attributes.id).ok_or(ParseError::MissingField("object_attributes.id"))?;
    let iid = attributes
        .iid
        .ok_or(ParseError::MissingField("object_attributes.iid"))?;
    Ok(IssueSnapshot {
        id,
        identifier: format!("{path}{sigil}{iid}"),
        title: json::text(attributes.title),
        body: json::text(attributes.description),
        state: json::text(attributes.state),
        labels: label_names(labels.or(attributes.labels)),
        url: json::non_empty(attributes.url),
        repository: Some(path.to_owned()),
        author: None,
    })
}

fn noted_issue_snapshot(
    issue: NotedIssue<'_>,
    path: &str,
    note_url: Option<&str>,
) -> Result<IssueSnapshot, ParseError> {
    let id = json::id_text(issue.id).ok_or(ParseError::MissingField("issue.id"))?;
    let iid = issue.iid.ok_or(ParseError::MissingField("issue.iid"))?;
    // The issue object has no url; the note's is the issue's plus `#note_<id>`.
    let url = json::non_empty(issue.url).or_else(|| {
        note_url
            .map(|url| url.split_once("#note_").map_or(url, |(issue, _)| issue))
            .filter(|url| !url.is_empty())
            .map(str::to_owned)
    });
    Ok(IssueSnapshot {
        id,
        identifier: format!("{path}#{iid}"),
        title: json::text(issue.title),
        body: json::text(issue.description),
        state: json::text(issue.state),
        labels: label_names(issue.labels),
        url,
        repository: Some(path.to_owned()),
        author: None,
    })
}

fn actor(user: Option<User<'_>>) -> Actor {
    let login = user
        .and_then(|u| json::non_empty(u.username))
        .unwrap_or_default();
    Actor {
        is_bot: is_access_token_bot(&login),
        login,
        association: Association::Unknown,
    }
}

/// The users behind project and group access tokens: `project_123_bot`,
/// `project_123_bot1`, `project_123_bot_<hash>`, `group_45_bot_<hash>`.
fn is_access_token_bot(username: &str) -> bool {
    ["project_", "group_"].iter().any(|prefix| {
        username.strip_prefix(prefix).is_some_and(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0
                && rest
                    .get(digits..)
                    .is_some_and(|tail| tail.starts_with("_bot"))
        })
    })
}

#[cfg(test)]
mod tests;
