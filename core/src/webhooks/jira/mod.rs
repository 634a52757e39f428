//! Jira Cloud: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>` (admin webhooks
//! with a secret), the delivery id in `X-Atlassian-Webhook-Identifier` (the same on
//! retries), the event in the body's `webhookEvent`.
//!
//! Mapping decisions worth knowing:
//! - The actor's `login` is the Atlassian `accountId` (stable; display names are not unique).
//!   `accountType: app` is a bot; `customer` (a Service Management portal customer) is not
//!   a member of the site and gets `Association::None`; everyone else is a `Member`.
//! - A changelog `status` item wins over a `labels` item when one update has both.
//! - `jira:issue_updated` deliveries that only report comment activity
//!   (`issue_event_type_name: issue_commented`, ...) are ignored: comments are taken from
//!   `comment_created`, so a webhook subscribed to both does not produce two events.
//! - The snapshot's `url` is the browse URL (`https://site/browse/KEY`) derived from the
//!   issue's REST `self`; `self` itself is kept when it has an unexpected shape.
//! - Descriptions and comment bodies may be strings (wiki markup) or Atlassian Document
//!   Format trees; ADF is flattened to plain text, one line per block.

use super::json::{self, Id, Str};
use super::signature::{required_header, verify_prefixed_hmac};
use super::{ParseError, Parsed, ParsedDelivery, VerifyError, WebhookRequest, WebhookSource};
use crate::domain::{Actor, Association, EventAction, IssueSnapshot, NormalizedEvent, SourceKind};
use crate::secret::Secret;
use crate::sources::Source;
use adf::RichText;
use chrono::{DateTime, Utc};
use serde::Deserialize;

mod adf;

const SIGNATURE_HEADER: &str = "X-Hub-Signature";
const DELIVERY_HEADER: &str = "X-Atlassian-Webhook-Identifier";

pub struct JiraSource;

/// Jira's default workflow.
impl Source for JiraSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Jira
    }

    #[cfg(test)]
    fn samples(&self) -> crate::sources::contract::Samples {
        tests::samples()
    }

    fn default_active_states(&self) -> &'static [&'static str] {
        &["to do", "in progress"]
    }

    fn default_terminal_states(&self) -> &'static [&'static str] {
        &["done", "closed", "resolved"]
    }

    fn scope_key(&self) -> Option<&'static str> {
        Some("project")
    }

    fn check_scope(&self, value: &str) -> Result<(), &'static str> {
        crate::sources::check_path(value, 1, false, "a key, such as `ENG`")
    }

    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool {
        // Issue keys start with the project's: `PROJ-7`.
        crate::sources::has_key_prefix(issue, value)
    }

    fn comment_url(&self, issue_url: &str, id: &str) -> Option<String> {
        crate::sources::anchored(issue_url, id, |base| {
            let separator = if base.contains('?') { '&' } else { '?' };
            format!("{base}{separator}focusedCommentId={id}")
        })
    }

    fn webhook(&self) -> Option<&'static dyn WebhookSource> {
        Some(&JiraSource)
    }
}

impl WebhookSource for JiraSource {
    fn secret_variable(&self) -> &'static str {
        "JIRA_WEBHOOK_SECRET"
    }

    fn signature_header(&self) -> &'static str {
        SIGNATURE_HEADER
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
        let parsed = match json::from_slice::<Payload<'_>>(request.body) {
            Ok(payload) => normalize(payload)?,
            // Events baton does not handle (sprints, versions, worklogs...) have their own
            // shapes; failing to read them as issues is not a reason to refuse them.
            Err(error) => match json::from_slice::<EventOnly<'_>>(request.body) {
                Ok(EventOnly {
                    webhook_event: Some(event),
                }) if !is_handled(event.as_str()) => unhandled(event.as_str()),
                _ => return Err(error),
            },
        };
        Ok(ParsedDelivery {
            delivery_id,
            parsed,
        })
    }
}

fn is_handled(event: &str) -> bool {
    matches!(
        event,
        "jira:issue_created" | "jira:issue_updated" | "jira:issue_deleted" | "comment_created"
    )
}

fn unhandled(event: &str) -> Parsed {
    Parsed::Ignored {
        reason: format!("event `{event}` is not handled"),
    }
}

// --- Payload -------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EventOnly<'a> {
    #[serde(borrow)]
    webhook_event: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(borrow)]
    webhook_event: Option<Str<'a>>,
    #[serde(borrow, rename = "issue_event_type_name")]
    issue_event_type_name: Option<Str<'a>>,
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    issue: Option<Issue<'a>>,
    #[serde(borrow)]
    changelog: Option<Changelog<'a>>,
    #[serde(borrow)]
    comment: Option<Comment<'a>>,
}

#[derive(Deserialize)]
struct Issue<'a> {
    id: Option<Id>,
    #[serde(borrow)]
    key: Option<Str<'a>>,
    #[serde(borrow, rename = "self")]
    self_url: Option<Str<'a>>,
    #[serde(borrow)]
    fields: Option<Fields<'a>>,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    summary: Option<Str<'a>>,
    #[serde(borrow)]
    description: Option<RichText<'a>>,
    #[serde(borrow)]
    status: Option<Status<'a>>,
    #[serde(borrow)]
    labels: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    creator: Option<User<'a>>,
    #[serde(borrow)]
    reporter: Option<User<'a>>,
}

#[derive(Deserialize)]
struct Status<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User<'a> {
    #[serde(borrow)]
    account_id: Option<Str<'a>>,
    /// Jira Server/Data Center's user name, where Cloud has `accountId`.
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    display_name: Option<Str<'a>>,
    #[serde(borrow)]
    account_type: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Changelog<'a> {
    #[serde(borrow)]
    items: Option<Vec<ChangeItem<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChangeItem<'a> {
    #[serde(borrow)]
    field: Option<Str<'a>>,
    #[serde(borrow)]
    from_string: Option<Str<'a>>,
    #[serde(borrow)]
    to_string: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct Comment<'a> {
    #[serde(borrow)]
    body: Option<RichText<'a>>,
    #[serde(borrow)]
    author: Option<User<'a>>,
}

// --- Normalization -------------------------------------------------------------------------

fn normalize(payload: Payload<'_>) -> Result<Parsed, ParseError> {
    let Payload {
        webhook_event,
        issue_event_type_name,
        user,
        issue,
        changelog,
        comment,
    } = payload;
    let event = webhook_event.ok_or(ParseError::MissingField("webhookEvent"))?;
    let event = event.as_str();
    let (action, actor_user, comment_text) = match event {
        "jira:issue_created" => (EventAction::Opened, user, None),
        "jira:issue_deleted" => (EventAction::Closed, user, None),
        "jira:issue_updated" => {
            let items = changelog.and_then(|c| c.items).unwrap_or_default();
            let action = update_action(items);
            let comment_only = issue_event_type_name
                .as_ref()
                .is_some_and(|name| name.as_str().starts_with("issue_comment"));
            if comment_only && action == EventAction::Edited {
                return Ok(Parsed::Ignored {
                    reason: "comment activity on `jira:issue_updated` is taken from \
                             `comment_created`"
                        .to_owned(),
                });
            }
            (action, user, None)
        }
        "comment_created" => {
            let comment = comment.ok_or(ParseError::MissingField("comment"))?;
            let text = comment.body.map(|b| b.0.into_owned()).unwrap_or_default();
            (EventAction::Commented, comment.author.or(user), Some(text))
        }
        other => return Ok(unhandled(other)),
    };
    let issue = snapshot(issue.ok_or(ParseError::MissingField("issue"))?)?;
    Ok(Parsed::Event(Box::new(NormalizedEvent {
        source: SourceKind::Jira,
        event_name: event.to_owned(),
        action,
        issue,
        actor: actor(actor_user),
        comment: comment_text,
    })))
}

/// The first status change, else the first label difference, else a plain edit.
fn update_action(items: Vec<ChangeItem<'_>>) -> EventAction {
    let field_is = |item: &ChangeItem<'_>, name: &str| {
        item.field
            .as_ref()
            .is_some_and(|f| f.as_str().eq_ignore_ascii_case(name))
    };
    if let Some(status) = items.iter().find(|item| field_is(item, "status")) {
        let to = status
            .to_string
            .as_ref()
            .map(Str::as_str)
            .unwrap_or_default();
        return EventAction::StateChanged {
            from: status
                .from_string
                .as_ref()
                .map(|s| s.as_str().to_owned())
                .filter(|s| !s.is_empty()),
            to: to.to_owned(),
        };
    }
    for item in items.iter().filter(|item| field_is(item, "labels")) {
        let words = |value: &Option<Str<'_>>| -> Vec<String> {
            value
                .as_ref()
                .map(|v| {
                    v.as_str()
                        .split_whitespace()
                        .map(str::to_lowercase)
                        .collect()
                })
                .unwrap_or_default()
        };
        let (before, after) = (words(&item.from_string), words(&item.to_string));
        if let Some(added) = after.iter().find(|l| !before.contains(l)) {
            return EventAction::Labeled {
                label: added.clone(),
            };
        }
        if let Some(removed) = before.iter().find(|l| !after.contains(l)) {
            return EventAction::Unlabeled {
                label: removed.clone(),
            };
        }
    }
    EventAction::Edited
}

fn snapshot(issue: Issue<'_>) -> Result<IssueSnapshot, ParseError> {
    let id = json::id_text(issue.id).ok_or(ParseError::MissingField("issue.id"))?;
    let key = json::non_empty(issue.key).ok_or(ParseError::MissingField("issue.key"))?;
    let url = json::non_empty(issue.self_url).map(|self_url| browse_url(&self_url, &key));
    let fields = issue.fields;
    let (title, body, state, labels, author) = match fields {
        None => Default::default(),
        Some(fields) => (
            json::text(fields.summary),
            fields
                .description
                .map(|d| d.0.into_owned())
                .unwrap_or_default(),
            json::text(fields.status.and_then(|s| s.name)),
            fields
                .labels
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.as_str().to_lowercase())
                .collect(),
            fields.creator.or(fields.reporter).and_then(login),
        ),
    };
    Ok(IssueSnapshot {
        id,
        identifier: key,
        title,
        body,
        state,
        labels,
        url,
        repository: None,
        author,
    })
}

/// `https://acme.atlassian.net/rest/api/2/issue/10002` → `https://acme.atlassian.net/browse/KEY`.
fn browse_url(self_url: &str, key: &str) -> String {
    match self_url.find("/rest/api/") {
        Some(at) if at > 0 => format!("{}/browse/{key}", &self_url[..at]),
        _ => self_url.to_owned(),
    }
}

fn login(user: User<'_>) -> Option<String> {
    json::non_empty(user.account_id)
        .or_else(|| json::non_empty(user.name))
        .or_else(|| json::non_empty(user.display_name))
}

/// Without a user, the change came from Jira itself (automation, post functions).
fn actor(user: Option<User<'_>>) -> Actor {
    let Some(user) = user else {
        return Actor {
            login: String::new(),
            association: Association::Unknown,
            is_bot: true,
        };
    };
    let account_type = user
        .account_type
        .as_ref()
        .map(Str::as_str)
        .unwrap_or_default();
    let is_bot = account_type.eq_ignore_ascii_case("app");
    let association = if account_type.eq_ignore_ascii_case("customer") {
        Association::None
    } else {
        Association::Member
    };
    Actor {
        login: login(user).unwrap_or_default(),
        association,
        is_bot,
    }
}

#[cfg(test)]
mod tests;
