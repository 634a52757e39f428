use super::*;
use crate::sources::contract::{Published, Recorded, Samples, ScopeSample, WebhookSamples};
use crate::webhooks::test_support::{event, headers, ignored as ignored_reason, secret, sign_hex};
use http::HeaderMap;

const SECRET: &str = "It's a Secret to Everybody";
const DELIVERY: &str = "72d3162e-cc78-11e3-81ab-4c9367dc0958";

const ISSUES_OPENED: &str = include_str!("../fixtures/github/issues_opened.json");
const ISSUES_LABELED: &str = include_str!("../fixtures/github/issues_labeled.json");
const ISSUE_COMMENT: &str = include_str!("../fixtures/github/issue_comment_created.json");
const PR_COMMENT: &str = include_str!("../fixtures/github/issue_comment_on_pull_request.json");
const PR_CLOSED: &str = include_str!("../fixtures/github/pull_request_closed.json");
const REVIEW: &str = include_str!("../fixtures/github/pull_request_review_submitted.json");
const PING: &str = include_str!("../fixtures/github/ping.json");

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
