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
        match crate::sources::path_segments(value) {
            Some(segments) if segments.len() == 2 => Ok(()),
            _ => Err("`owner/repo`"),
        }
    }

    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool {
        // Repository paths are case-insensitive.
        issue
            .repository
            .as_deref()
            .is_some_and(|repository| repository.eq_ignore_ascii_case(value))
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
mod tests {
    use super::*;
    use crate::sources::contract::{Published, Recorded, Samples, ScopeSample, WebhookSamples};
    use crate::webhooks::test_support::{
        event, headers, ignored as ignored_reason, secret, sign_hex,
    };
    use http::HeaderMap;

    const SECRET: &str = "It's a Secret to Everybody";
    const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

    const ISSUES_OPENED: &str = include_str!("fixtures/github/issues_opened.json");
    const ISSUES_LABELED: &str = include_str!("fixtures/github/issues_labeled.json");
    const ISSUE_COMMENT: &str = include_str!("fixtures/github/issue_comment_created.json");
    const PR_COMMENT: &str = include_str!("fixtures/github/issue_comment_on_pull_request.json");
    const PR_CLOSED: &str = include_str!("fixtures/github/pull_request_closed.json");
    const REVIEW: &str = include_str!("fixtures/github/pull_request_review_submitted.json");
    const PING: &str = include_str!("fixtures/github/ping.json");

    /// The contract's view of GitHub: GitHub's published signature vector among them.
    pub(super) fn samples() -> Samples {
        let repository = |name: &str| IssueSnapshot {
            repository: Some(name.to_owned()),
            ..IssueSnapshot::default()
        };
        Samples {
            scope: Some(ScopeSample {
                value: "octo-org/widgets",
                inside: repository("Octo-Org/Widgets"),
                outside: repository("octo-org/widgets-two"),
            }),
            webhook: Some(WebhookSamples {
                sign: |secret, body| {
                    vec![(
                        "X-Hub-Signature-256",
                        format!("sha256={}", sign_hex(secret, body)),
                    )]
                },
                published: Some(Published {
                    secret: "It's a Secret to Everybody",
                    body: "Hello, World!",
                    headers: &[(
                        "X-Hub-Signature-256",
                        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                    )],
                }),
                event: Recorded {
                    headers: &[
                        ("X-GitHub-Event", "issues"),
                        ("X-GitHub-Delivery", DELIVERY),
                        ("Content-Type", "application/json"),
                    ],
                    body: ISSUES_LABELED,
                },
                identifier: "octo-org/widgets#42",
                ignored: Recorded {
                    headers: &[
                        ("X-GitHub-Event", "ping"),
                        ("X-GitHub-Delivery", DELIVERY),
                        ("Content-Type", "application/json"),
                    ],
                    body: PING,
                },
                now: Utc::now(),
                workflow: "tracker: {kind: github}\ntriggers: {label: \"Agent:Run\"}",
            }),
        }
    }

    fn signed(event: &str, body: &[u8]) -> HeaderMap {
        let signature = format!("sha256={}", sign_hex(SECRET, body));
        headers(&[
            ("X-GitHub-Event", event),
            ("X-GitHub-Delivery", DELIVERY),
            ("X-Hub-Signature-256", &signature),
            ("Content-Type", "application/json"),
        ])
    }

    fn verify(headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        GithubSource.verify(
            WebhookRequest { headers, body },
            &secret(SECRET),
            Utc::now(),
        )
    }

    fn parse(headers: &HeaderMap, body: &[u8]) -> Result<ParsedDelivery, ParseError> {
        GithubSource.parse(WebhookRequest { headers, body })
    }

    fn parse_event(event_name: &str, body: &str) -> NormalizedEvent {
        let headers = signed(event_name, body.as_bytes());
        assert_eq!(verify(&headers, body.as_bytes()), Ok(()));
        let delivery = parse(&headers, body.as_bytes()).expect("parses");
        assert_eq!(delivery.delivery_id, DELIVERY);
        event(delivery)
    }

    #[test]
    fn published_vector_verifies() {
        let headers = headers(&[(
            "X-Hub-Signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        )]);
        assert_eq!(verify(&headers, b"Hello, World!"), Ok(()));
        assert_eq!(
            verify(&headers, b"Hello, World"),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn tampered_body_and_wrong_secret_are_refused() {
        let body = ISSUES_OPENED.as_bytes();
        let headers = signed("issues", body);
        let tampered = ISSUES_OPENED.replace("Crash", "Crush");
        assert_eq!(
            verify(&headers, tampered.as_bytes()),
            Err(VerifyError::Mismatch)
        );
        let wrong = GithubSource.verify(
            WebhookRequest {
                headers: &headers,
                body,
            },
            &secret("another secret"),
            Utc::now(),
        );
        assert_eq!(wrong, Err(VerifyError::Mismatch));
    }

    #[test]
    fn missing_or_malformed_signature() {
        let body = b"{}";
        assert_eq!(
            verify(&HeaderMap::new(), body),
            Err(VerifyError::MissingSignature("X-Hub-Signature-256"))
        );
        for value in [
            "sha256=xyz",
            "sha256=",
            "757107ea",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            let headers = headers(&[("X-Hub-Signature-256", value)]);
            assert_eq!(
                verify(&headers, body),
                Err(VerifyError::MalformedSignature("X-Hub-Signature-256")),
                "{value}"
            );
        }
    }

    #[test]
    fn issue_opened() {
        let event = parse_event("issues", ISSUES_OPENED);
        assert_eq!(event.source, SourceKind::Github);
        assert_eq!(event.event_name, "issues");
        assert_eq!(event.action, EventAction::Opened);
        assert_eq!(
            event.issue,
            IssueSnapshot {
                id: "1834500871".into(),
                identifier: "octo-org/widgets#42".into(),
                title: "Crash when saving a file with \"quotes\"".into(),
                body: "Steps:\n1. open\n2. save".into(),
                state: "open".into(),
                labels: vec!["bug".into(), "needs triage".into()],
                url: Some("https://github.com/octo-org/widgets/issues/42".into()),
                repository: Some("octo-org/widgets".into()),
                author: Some("mona".into()),
            }
        );
        // The sender opened the issue: the issue's association is theirs.
        assert_eq!(
            event.actor,
            Actor {
                login: "mona".into(),
                association: Association::Contributor,
                is_bot: false
            }
        );
        assert_eq!(event.comment, None);
    }

    #[test]
    fn issue_labeled_by_someone_else() {
        let event = parse_event("issues", ISSUES_LABELED);
        assert_eq!(
            event.action,
            EventAction::Labeled {
                label: "agent:run".into()
            }
        );
        assert_eq!(event.issue.labels, vec!["bug", "agent:run"]);
        // `issue.author_association` is the author's (NONE here), not the labeler's.
        assert_eq!(event.actor.login, "hubot-maintainer");
        assert_eq!(event.actor.association, Association::Unknown);
    }

    #[test]
    fn issue_actions_map() {
        for (action, expected) in [
            ("edited", EventAction::Edited),
            ("reopened", EventAction::Reopened),
            ("closed", EventAction::Closed),
            (
                "unlabeled",
                EventAction::Unlabeled {
                    label: "agent:run".into(),
                },
            ),
        ] {
            let body = ISSUES_LABELED.replace(
                "\"action\": \"labeled\"",
                &format!("\"action\": \"{action}\""),
            );
            assert_eq!(parse_event("issues", &body).action, expected, "{action}");
        }
    }

    #[test]
    fn unhandled_issue_actions_are_ignored() {
        let body = ISSUES_OPENED.replace("\"action\": \"opened\"", "\"action\": \"assigned\"");
        let headers = signed("issues", body.as_bytes());
        let reason = ignored_reason(parse(&headers, body.as_bytes()).expect("parses"));
        assert_eq!(reason, "`issues` action `assigned` is not handled");
    }

    #[test]
    fn labeled_without_label_is_missing_field() {
        let body = ISSUES_LABELED.replace("\"label\":", "\"not_label\":");
        let headers = signed("issues", body.as_bytes());
        assert_eq!(
            parse(&headers, body.as_bytes()),
            Err(ParseError::MissingField("label.name"))
        );
    }

    #[test]
    fn issue_comment() {
        let event = parse_event("issue_comment", ISSUE_COMMENT);
        assert_eq!(event.action, EventAction::Commented);
        assert_eq!(event.comment.as_deref(), Some("/agent run please"));
        assert_eq!(event.issue.identifier, "octo-org/widgets#42");
        assert_eq!(
            event.actor,
            Actor {
                login: "octocat".into(),
                association: Association::Member,
                is_bot: false
            }
        );
    }

    #[test]
    fn comment_on_a_pull_request_is_a_comment() {
        let event = parse_event("issue_comment", PR_COMMENT);
        assert_eq!(event.action, EventAction::Commented);
        assert_eq!(event.issue.identifier, "octo-org/widgets#57");
        assert_eq!(event.comment.as_deref(), Some("LGTM"));
        assert!(event.actor.is_bot);
        assert_eq!(event.actor.login, "dependabot[bot]");
        assert_eq!(event.actor.association, Association::None);
    }

    #[test]
    fn edited_comments_are_ignored() {
        let body = ISSUE_COMMENT.replace("\"action\": \"created\"", "\"action\": \"edited\"");
        let headers = signed("issue_comment", body.as_bytes());
        let reason = ignored_reason(parse(&headers, body.as_bytes()).expect("parses"));
        assert_eq!(reason, "`issue_comment` action `edited` is not handled");
    }

    #[test]
    fn pull_request_closed_merged() {
        let event = parse_event("pull_request", PR_CLOSED);
        assert_eq!(
            event.action,
            EventAction::PullRequestClosed {
                merged: true,
                branch: "baton/widgets-42".into()
            }
        );
        assert_eq!(event.issue.id, "1508302918");
        assert_eq!(event.issue.identifier, "octo-org/widgets#57");
        assert_eq!(event.issue.title, "Fix crash when saving quotes");
        assert_eq!(event.issue.body, "Closes #42");
        assert_eq!(event.issue.state, "closed");
        assert_eq!(event.issue.author.as_deref(), Some("baton-agent[bot]"));
        assert_eq!(
            event.issue.url.as_deref(),
            Some("https://github.com/octo-org/widgets/pull/57")
        );
        assert_eq!(event.actor.login, "octocat");
        assert_eq!(event.actor.association, Association::Unknown);

        let unmerged = PR_CLOSED.replace("\"merged\": true", "\"merged\": false");
        assert_eq!(
            parse_event("pull_request", &unmerged).action,
            EventAction::PullRequestClosed {
                merged: false,
                branch: "baton/widgets-42".into()
            }
        );
        let opened = PR_CLOSED.replace("\"action\": \"closed\"", "\"action\": \"opened\"");
        let headers = signed("pull_request", opened.as_bytes());
        assert_eq!(
            ignored_reason(parse(&headers, opened.as_bytes()).expect("parses")),
            "`pull_request` action `opened` is not handled"
        );
    }

    #[test]
    fn review_submitted() {
        let event = parse_event("pull_request_review", REVIEW);
        assert_eq!(
            event.action,
            EventAction::ReviewSubmitted {
                state: ReviewState::ChangesRequested,
                branch: "baton/widgets-42".into()
            }
        );
        assert_eq!(event.issue.identifier, "octo-org/widgets#57");
        assert_eq!(event.actor.login, "octocat");
        assert_eq!(event.actor.association, Association::Owner);
        for (state, expected) in [
            ("approved", ReviewState::Approved),
            ("commented", ReviewState::Commented),
            ("APPROVED", ReviewState::Approved),
        ] {
            let body = REVIEW.replace("\"changes_requested\"", &format!("\"{state}\""));
            let event = parse_event("pull_request_review", &body);
            assert!(
                matches!(event.action, EventAction::ReviewSubmitted { state, .. } if state == expected),
                "{state}"
            );
        }
    }

    #[test]
    fn ping_and_unknown_events_are_ignored_without_reading_the_body() {
        let headers = signed("ping", PING.as_bytes());
        let reason = ignored_reason(parse(&headers, PING.as_bytes()).expect("parses"));
        assert!(reason.contains("ping"), "{reason}");
        let headers = signed("push", b"not even json");
        assert_eq!(
            ignored_reason(parse(&headers, b"not even json").expect("parses")),
            "event `push` is not handled"
        );
    }

    #[test]
    fn form_encoded_payload() {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("payload", ISSUES_LABELED)
            .finish();
        let mut headers = signed("issues", body.as_bytes());
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().expect("value"),
        );
        assert_eq!(verify(&headers, body.as_bytes()), Ok(()));
        let event = event(parse(&headers, body.as_bytes()).expect("parses"));
        assert_eq!(
            event.action,
            EventAction::Labeled {
                label: "agent:run".into()
            }
        );

        let empty_form = b"other=1";
        assert_eq!(
            parse(&headers, empty_form),
            Err(ParseError::MissingField("payload"))
        );
    }

    #[test]
    fn content_types() {
        let body = ISSUES_OPENED.as_bytes();
        let mut headers = signed("issues", body);
        headers.insert("content-type", "text/plain".parse().expect("value"));
        assert_eq!(
            parse(&headers, body),
            Err(ParseError::UnsupportedContentType("text/plain".into()))
        );
        headers.insert(
            "content-type",
            "Application/JSON; charset=utf-8".parse().expect("value"),
        );
        assert!(parse(&headers, body).is_ok());
        headers.remove("content-type");
        assert!(
            parse(&headers, body).is_ok(),
            "no content type reads as JSON"
        );
    }

    #[test]
    fn missing_headers() {
        let body = ISSUES_OPENED.as_bytes();
        let mut headers = signed("issues", body);
        headers.remove("x-github-delivery");
        assert_eq!(
            parse(&headers, body),
            Err(ParseError::MissingHeader("X-GitHub-Delivery"))
        );
        let mut headers = signed("issues", body);
        headers.remove("x-github-event");
        assert_eq!(
            parse(&headers, body),
            Err(ParseError::MissingHeader("X-GitHub-Event"))
        );
    }

    #[test]
    fn truncated_and_wrongly_typed_json() {
        let truncated = &ISSUES_OPENED.as_bytes()[..ISSUES_OPENED.len() / 2];
        let headers = signed("issues", truncated);
        assert!(matches!(
            parse(&headers, truncated),
            Err(ParseError::InvalidJson(_))
        ));
        let wrong = ISSUES_OPENED.replace("\"number\": 42", "\"number\": \"42\"");
        let headers = signed("issues", wrong.as_bytes());
        assert!(matches!(
            parse(&headers, wrong.as_bytes()),
            Err(ParseError::InvalidJson(_))
        ));
        let headers = signed("issues", b"[]");
        assert!(matches!(
            parse(&headers, b"[]"),
            Err(ParseError::InvalidJson(_))
        ));
    }

    #[test]
    fn missing_required_fields() {
        let cases = [
            ("\"number\": 42", "\"numero\": 42", "issue.number"),
            ("\"full_name\"", "\"fullname\"", "repository.full_name"),
            ("\"sender\"", "\"sendr\"", "sender"),
            ("\"action\"", "\"actio\"", "action"),
            ("\"id\": 1834500871", "\"id\": \"\"", "issue.id"),
        ];
        for (from, to, field) in cases {
            let body = ISSUES_OPENED.replacen(from, to, 1);
            let headers = signed("issues", body.as_bytes());
            assert_eq!(
                parse(&headers, body.as_bytes()),
                Err(ParseError::MissingField(field)),
                "{field}"
            );
        }
    }

    #[test]
    fn nulls_default() {
        let body = r#"{"action":"opened","issue":{"id":1,"number":2,"title":null,"body":null,
            "labels":null,"user":null,"html_url":null,"state":null},
            "repository":{"full_name":"a/b"},"sender":{"login":"x","type":null}}"#;
        let event = parse_event("issues", body);
        assert_eq!(event.issue.identifier, "a/b#2");
        assert_eq!(event.issue.title, "");
        assert!(event.issue.labels.is_empty());
        assert_eq!(event.issue.url, None);
        assert!(!event.actor.is_bot);
    }
}
