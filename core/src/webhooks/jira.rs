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

use super::json::{self, Id, LenientStr, Str};
use super::signature::{required_header, verify_prefixed_hmac};
use super::{ParseError, Parsed, ParsedDelivery, VerifyError, WebhookRequest, WebhookSource};
use crate::domain::{Actor, Association, EventAction, IssueSnapshot, NormalizedEvent, SourceKind};
use crate::secret::Secret;
use crate::sources::Source;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

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
        match crate::sources::path_segments(value) {
            Some(segments) if segments.len() == 1 => Ok(()),
            _ => Err("a key, such as `ENG`"),
        }
    }

    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool {
        // Issue keys start with the project's: `PROJ-7`.
        crate::sources::key_prefix(&issue.identifier)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(value))
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

/// A text field that is either a plain string or an Atlassian Document Format tree.
struct RichText<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for RichText<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RichTextVisitor;

        impl<'de> Visitor<'de> for RichTextVisitor {
            type Value = RichText<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an Atlassian Document Format object")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(RichText(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RichText(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(RichText(Cow::Owned(v)))
            }

            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let doc = AdfNode::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let mut text = String::new();
                doc.flatten_into(&mut text);
                let trimmed = text.trim_end().len();
                text.truncate(trimmed);
                Ok(RichText(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_any(RichTextVisitor)
    }
}

/// One node of an ADF tree; only what plain text needs.
#[derive(Deserialize)]
struct AdfNode<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<LenientStr<'a>>,
    #[serde(borrow)]
    text: Option<LenientStr<'a>>,
    #[serde(borrow)]
    content: Option<Vec<AdfNode<'a>>>,
    #[serde(borrow)]
    attrs: Option<AdfAttrs<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdfAttrs<'a> {
    /// Mentions, emoji, status lozenges.
    #[serde(borrow)]
    text: Option<LenientStr<'a>>,
    /// Inline and block cards.
    #[serde(borrow)]
    url: Option<LenientStr<'a>>,
    #[serde(borrow)]
    short_name: Option<LenientStr<'a>>,
}

fn lenient<'v>(value: &'v Option<LenientStr<'_>>) -> Option<&'v str> {
    value.as_ref().and_then(|v| v.0.as_ref()).map(Str::as_str)
}

impl AdfNode<'_> {
    /// Appends this node's text. serde_json's recursion limit bounds the depth.
    fn flatten_into(&self, out: &mut String) {
        let kind = lenient(&self.kind).unwrap_or_default();
        let attrs = self.attrs.as_ref();
        let attr_text = attrs.and_then(|a| lenient(&a.text));
        match kind {
            "text" => out.push_str(lenient(&self.text).unwrap_or_default()),
            "hardBreak" => out.push('\n'),
            "mention" | "status" | "date" => out.push_str(attr_text.unwrap_or_default()),
            "emoji" => out.push_str(
                attr_text
                    .or_else(|| attrs.and_then(|a| lenient(&a.short_name)))
                    .unwrap_or_default(),
            ),
            "inlineCard" | "blockCard" | "embedCard" => {
                out.push_str(attrs.and_then(|a| lenient(&a.url)).unwrap_or_default());
            }
            _ => {}
        }
        for child in self.content.iter().flatten() {
            child.flatten_into(out);
        }
        let is_block = matches!(
            kind,
            "paragraph"
                | "heading"
                | "codeBlock"
                | "blockquote"
                | "listItem"
                | "rule"
                | "panel"
                | "tableRow"
                | "blockCard"
                | "mediaSingle"
        );
        if is_block && !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    }
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
mod tests {
    use super::*;
    use crate::sources::contract::{Recorded, Samples, ScopeSample, WebhookSamples};
    use crate::webhooks::test_support::{
        event, headers, ignored as ignored_reason, secret, sign_hex,
    };
    use http::HeaderMap;

    const SECRET: &str = "jira-webhook-secret-7d1f";
    const DELIVERY: &str = "9a1c2a0e-8d5b-4b9e-9d4f-3f1e2d3c4b5a";

    const CREATED: &str = include_str!("fixtures/jira/issue_created.json");
    const UPDATED_STATUS: &str = include_str!("fixtures/jira/issue_updated_status.json");
    const UPDATED_LABELS: &str = include_str!("fixtures/jira/issue_updated_labels.json");
    const COMMENT_CREATED: &str = include_str!("fixtures/jira/comment_created.json");
    const SPRINT_STARTED: &str = include_str!("fixtures/jira/sprint_started.json");

    /// The contract's view of Jira Cloud.
    pub(super) fn samples() -> Samples {
        let key = |identifier: &str| IssueSnapshot {
            identifier: identifier.to_owned(),
            ..IssueSnapshot::default()
        };
        Samples {
            scope: Some(ScopeSample {
                value: "PROJ",
                inside: key("proj-7"),
                outside: key("PROJECT-7"),
            }),
            webhook: Some(WebhookSamples {
                sign: |secret, body| {
                    vec![(
                        "X-Hub-Signature",
                        format!("sha256={}", sign_hex(secret, body)),
                    )]
                },
                published: None,
                event: Recorded {
                    headers: &[
                        ("X-Atlassian-Webhook-Identifier", DELIVERY),
                        ("Content-Type", "application/json"),
                    ],
                    body: CREATED,
                },
                identifier: "PROJ-7",
                ignored: Recorded {
                    headers: &[
                        ("X-Atlassian-Webhook-Identifier", DELIVERY),
                        ("Content-Type", "application/json"),
                    ],
                    body: SPRINT_STARTED,
                },
                now: Utc::now(),
                workflow: "tracker: {kind: jira}\ntriggers: {label: Agent}",
            }),
        }
    }

    fn signed(body: &[u8]) -> HeaderMap {
        let signature = format!("sha256={}", sign_hex(SECRET, body));
        headers(&[
            ("X-Hub-Signature", &signature),
            ("X-Atlassian-Webhook-Identifier", DELIVERY),
            ("Content-Type", "application/json"),
        ])
    }

    fn verify(headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        JiraSource.verify(
            WebhookRequest { headers, body },
            &secret(SECRET),
            Utc::now(),
        )
    }

    fn parse(body: &str) -> Result<ParsedDelivery, ParseError> {
        let headers = signed(body.as_bytes());
        JiraSource.parse(WebhookRequest {
            headers: &headers,
            body: body.as_bytes(),
        })
    }

    fn parse_event(body: &str) -> NormalizedEvent {
        assert_eq!(verify(&signed(body.as_bytes()), body.as_bytes()), Ok(()));
        let delivery = parse(body).expect("parses");
        assert_eq!(delivery.delivery_id, DELIVERY);
        event(delivery)
    }

    #[test]
    fn signatures() {
        let body = CREATED.as_bytes();
        let good = signed(body);
        assert_eq!(verify(&good, body), Ok(()));
        let tampered = CREATED.replace("PROJ-7", "PROJ-8");
        assert_eq!(
            verify(&good, tampered.as_bytes()),
            Err(VerifyError::Mismatch)
        );
        let wrong = JiraSource.verify(
            WebhookRequest {
                headers: &good,
                body,
            },
            &secret("other"),
            Utc::now(),
        );
        assert_eq!(wrong, Err(VerifyError::Mismatch));
        assert_eq!(
            verify(&HeaderMap::new(), body),
            Err(VerifyError::MissingSignature("X-Hub-Signature"))
        );
        let malformed = headers(&[("X-Hub-Signature", "sha256=nothex")]);
        assert_eq!(
            verify(&malformed, body),
            Err(VerifyError::MalformedSignature("X-Hub-Signature"))
        );
    }

    #[test]
    fn issue_created() {
        let event = parse_event(CREATED);
        assert_eq!(event.source, SourceKind::Jira);
        assert_eq!(event.event_name, "jira:issue_created");
        assert_eq!(event.action, EventAction::Opened);
        assert_eq!(
            event.issue,
            IssueSnapshot {
                id: "10002".into(),
                identifier: "PROJ-7".into(),
                title: "Checkout button does nothing on Safari".into(),
                body: "Clicking Pay does nothing.\nSafari 17 on macOS\nworks in Chrome\nLogs: see https://acme.atlassian.net/browse/PROJ-3 @Mia Krystof"
                    .into(),
                state: "To Do".into(),
                labels: vec!["frontend".into(), "agent".into()],
                url: Some("https://acme.atlassian.net/browse/PROJ-7".into()),
                repository: None,
                author: Some("5b10a2844c20165700ede21g".into()),
            }
        );
        assert_eq!(
            event.actor,
            Actor {
                login: "5b10a2844c20165700ede21g".into(),
                association: Association::Member,
                is_bot: false
            }
        );
    }

    #[test]
    fn status_change() {
        let event = parse_event(UPDATED_STATUS);
        assert_eq!(
            event.action,
            EventAction::StateChanged {
                from: Some("To Do".into()),
                to: "In Progress".into()
            }
        );
        assert_eq!(event.issue.state, "In Progress");
        // A plain-string (wiki markup) description is kept as is.
        assert_eq!(event.issue.body, "h2. Steps\n* click *Pay*");
        assert_eq!(event.actor.login, "5b10a2844c20165700ede21g");
    }

    #[test]
    fn label_changes() {
        let event = parse_event(UPDATED_LABELS);
        assert_eq!(
            event.action,
            EventAction::Labeled {
                label: "agent".into()
            }
        );
        let removed = UPDATED_LABELS
            .replace(
                "\"fromString\": \"frontend\"",
                "\"fromString\": \"frontend Agent\"",
            )
            .replace(
                "\"toString\": \"frontend Agent\"",
                "\"toString\": \"frontend\"",
            );
        assert_eq!(
            parse_event(&removed).action,
            EventAction::Unlabeled {
                label: "agent".into()
            }
        );
        let other_field =
            UPDATED_LABELS.replace("\"field\": \"labels\"", "\"field\": \"priority\"");
        assert_eq!(parse_event(&other_field).action, EventAction::Edited);
    }

    #[test]
    fn app_users_are_bots() {
        let body =
            UPDATED_LABELS.replace("\"accountType\": \"atlassian\"", "\"accountType\": \"app\"");
        let actor = parse_event(&body).actor;
        assert!(actor.is_bot);
        let body = UPDATED_LABELS.replace(
            "\"accountType\": \"atlassian\"",
            "\"accountType\": \"customer\"",
        );
        let actor = parse_event(&body).actor;
        assert!(!actor.is_bot);
        assert_eq!(actor.association, Association::None);
    }

    #[test]
    fn issue_deleted() {
        let body = CREATED
            .replace("jira:issue_created", "jira:issue_deleted")
            .replace("\"issue_created\"", "\"issue_deleted\"");
        assert_eq!(parse_event(&body).action, EventAction::Closed);
    }

    #[test]
    fn comment_created() {
        let event = parse_event(COMMENT_CREATED);
        assert_eq!(event.event_name, "comment_created");
        assert_eq!(event.action, EventAction::Commented);
        assert_eq!(
            event.comment.as_deref(),
            Some("@baton please pick this up\nthanks 👍")
        );
        assert_eq!(event.issue.identifier, "PROJ-7");
        assert_eq!(event.issue.state, "In Progress");
        assert_eq!(
            event.actor.login,
            "712020:0e5d7f6a-1b2c-4d3e-8f9a-0b1c2d3e4f5a"
        );
        assert_eq!(event.actor.association, Association::Member);
    }

    #[test]
    fn comment_notifications_on_issue_updated_are_ignored() {
        let body = UPDATED_LABELS
            .replace("\"issue_generic\"", "\"issue_commented\"")
            .replace("\"field\": \"labels\"", "\"field\": \"Comment\"");
        assert!(ignored_reason(parse(&body).expect("parses")).contains("comment_created"));
    }

    #[test]
    fn other_events_are_ignored() {
        assert_eq!(
            ignored_reason(parse(SPRINT_STARTED).expect("parses")),
            "event `sprint_started` is not handled"
        );
        let worklog = r#"{"webhookEvent":"worklog_created","worklog":{"id":"1"}}"#;
        assert_eq!(
            ignored_reason(parse(worklog).expect("parses")),
            "event `worklog_created` is not handled"
        );
        // An unhandled event is ignored even when its shape does not fit the issue structs.
        let odd = r#"{"issue":5,"changelog":[],"webhookEvent":"board_configuration_changed"}"#;
        assert_eq!(
            ignored_reason(parse(odd).expect("parses")),
            "event `board_configuration_changed` is not handled"
        );
    }

    #[test]
    fn malformed_payloads() {
        let truncated = &CREATED[..100];
        assert!(matches!(parse(truncated), Err(ParseError::InvalidJson(_))));
        let body = CREATED.replace("\"key\": \"PROJ-7\"", "\"kee\": \"PROJ-7\"");
        assert_eq!(parse(&body), Err(ParseError::MissingField("issue.key")));
        let body = CREATED.replace("\"id\": \"10002\"", "\"id\": \"\"");
        assert_eq!(parse(&body), Err(ParseError::MissingField("issue.id")));
        let body = CREATED.replace("\"webhookEvent\"", "\"event\"");
        assert_eq!(parse(&body), Err(ParseError::MissingField("webhookEvent")));
        // A handled event whose fields have the wrong type is still an error.
        let body = CREATED.replace("\"labels\": [\"frontend\", \"Agent\"]", "\"labels\": 3");
        assert!(matches!(parse(&body), Err(ParseError::InvalidJson(_))));
        let headers = HeaderMap::new();
        assert_eq!(
            JiraSource.parse(WebhookRequest {
                headers: &headers,
                body: CREATED.as_bytes()
            }),
            Err(ParseError::MissingHeader("X-Atlassian-Webhook-Identifier"))
        );
    }

    #[test]
    fn adf_flattening() {
        let doc = r#"{"type":"doc","version":1,"content":[
            {"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Title"}]},
            {"type":"paragraph","content":[{"type":"text","text":"a "},{"type":"text","text":"b","marks":[{"type":"strong"}]},{"type":"hardBreak"},{"type":"text","text":"c"}]},
            {"type":"codeBlock","attrs":{"language":"rust"},"content":[{"type":"text","text":"fn main() {}"}]},
            {"type":"mediaSingle","content":[{"type":"media","attrs":{"id":"x","type":"file","width":100}}]},
            {"type":"paragraph","content":[{"type":"emoji","attrs":{"shortName":":tada:"}},{"type":"status","attrs":{"text":42}}]}
        ]}"#;
        let text: RichText<'_> = json::from_slice(doc.as_bytes()).expect("adf");
        assert_eq!(text.0, "Title\na b\nc\nfn main() {}\n:tada:");
        let plain: RichText<'_> = json::from_slice(br#""just text""#).expect("string");
        assert_eq!(plain.0, "just text");
    }

    #[test]
    fn browse_urls() {
        assert_eq!(
            browse_url(
                "https://acme.atlassian.net/rest/api/2/issue/10002",
                "PROJ-7"
            ),
            "https://acme.atlassian.net/browse/PROJ-7"
        );
        assert_eq!(
            browse_url("/rest/api/2/issue/1", "P-1"),
            "/rest/api/2/issue/1"
        );
        assert_eq!(browse_url("weird", "P-1"), "weird");
    }
}
