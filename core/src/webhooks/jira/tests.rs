use super::*;
use crate::sources::contract::{Recorded, Samples, ScopeSample, WebhookSamples};
use crate::webhooks::test_support::{event, headers, ignored as ignored_reason, secret, sign_hex};
use http::HeaderMap;

const SECRET: &str = "jira-webhook-secret-7d1f";
const DELIVERY: &str = "9a1c2a0e-8d5b-4b9e-9d4f-3f1e2d3c4b5a";

const CREATED: &str = include_str!("../fixtures/jira/issue_created.json");
const UPDATED_STATUS: &str = include_str!("../fixtures/jira/issue_updated_status.json");
const UPDATED_LABELS: &str = include_str!("../fixtures/jira/issue_updated_labels.json");
const COMMENT_CREATED: &str = include_str!("../fixtures/jira/comment_created.json");
const SPRINT_STARTED: &str = include_str!("../fixtures/jira/sprint_started.json");

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
    let other_field = UPDATED_LABELS.replace("\"field\": \"labels\"", "\"field\": \"priority\"");
    assert_eq!(parse_event(&other_field).action, EventAction::Edited);
}

#[test]
fn app_users_are_bots() {
    let body = UPDATED_LABELS.replace("\"accountType\": \"atlassian\"", "\"accountType\": \"app\"");
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
