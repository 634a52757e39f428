use super::*;
use crate::sources::contract::{Recorded, Samples, ScopeSample, WebhookSamples};
use crate::webhooks::test_support::{event, headers, ignored as ignored_reason, secret, sign_hex};
use chrono::TimeZone;
use http::HeaderMap;

const SECRET: &str = "lin_wh_5fd0b1c2a3e4f5061728394a5b6c7d8e";
const DELIVERY: &str = "234d1a4e-b617-4388-90fe-adc3633d6b72";
/// `webhookTimestamp` of every fixture.
const SENT_MS: i64 = 1_714_640_000_000;

const ISSUE_CREATE: &str = include_str!("../fixtures/linear/issue_create.json");
const ISSUE_STATE: &str = include_str!("../fixtures/linear/issue_update_state.json");
const ISSUE_LABEL: &str = include_str!("../fixtures/linear/issue_update_labels.json");
const ISSUE_REMOVE: &str = include_str!("../fixtures/linear/issue_remove.json");
const COMMENT_CREATE: &str = include_str!("../fixtures/linear/comment_create.json");
const PROJECT_UPDATE: &str = include_str!("../fixtures/linear/project_update.json");

/// The contract's view of Linear: its bodies are fresh only near their `webhookTimestamp`.
pub(super) fn samples() -> Samples {
    let key = |identifier: &str| IssueSnapshot {
        identifier: identifier.to_owned(),
        ..IssueSnapshot::default()
    };
    Samples {
        scope: Some(ScopeSample {
            value: "ENG",
            inside: key("eng-42"),
            outside: key("ENGX-42"),
        }),
        webhook: Some(WebhookSamples {
            sign: |secret, body| vec![("Linear-Signature", sign_hex(secret, body))],
            published: None,
            event: Recorded {
                headers: &[
                    ("Linear-Delivery", DELIVERY),
                    ("Linear-Event", "Issue"),
                    ("Content-Type", "application/json; charset=utf-8"),
                ],
                body: ISSUE_CREATE,
            },
            identifier: "ENG-42",
            ignored: Recorded {
                headers: &[
                    ("Linear-Delivery", DELIVERY),
                    ("Linear-Event", "Project"),
                    ("Content-Type", "application/json; charset=utf-8"),
                ],
                body: PROJECT_UPDATE,
            },
            now: at(SENT_MS + 1_000),
            workflow: "tracker: {kind: linear}\ntriggers: {label: Agent}",
        }),
    }
}

pub(super) fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().expect("valid time")
}

fn signed(body: &[u8]) -> HeaderMap {
    headers(&[
        ("Linear-Signature", &sign_hex(SECRET, body)),
        ("Linear-Delivery", DELIVERY),
        ("Linear-Event", "Issue"),
        ("Content-Type", "application/json; charset=utf-8"),
    ])
}

fn verify_at(body: &[u8], now_ms: i64) -> Result<(), VerifyError> {
    let headers = signed(body);
    LinearSource.verify(
        WebhookRequest {
            headers: &headers,
            body,
        },
        &secret(SECRET),
        at(now_ms),
    )
}

fn parse(body: &str) -> Result<ParsedDelivery, ParseError> {
    let headers = signed(body.as_bytes());
    LinearSource.parse(WebhookRequest {
        headers: &headers,
        body: body.as_bytes(),
    })
}

fn parse_event(body: &str) -> NormalizedEvent {
    assert_eq!(verify_at(body.as_bytes(), SENT_MS + 1_500), Ok(()));
    let delivery = parse(body).expect("parses");
    assert_eq!(delivery.delivery_id, DELIVERY);
    event(delivery)
}

#[test]
fn signature_and_window() {
    let body = ISSUE_CREATE.as_bytes();
    assert_eq!(verify_at(body, SENT_MS), Ok(()));
    assert_eq!(verify_at(body, SENT_MS + 60_000), Ok(()));
    assert_eq!(verify_at(body, SENT_MS - 60_000), Ok(()));
    assert_eq!(
        verify_at(body, SENT_MS + 61_000),
        Err(VerifyError::StaleTimestamp {
            age_seconds: 61,
            window_seconds: 60
        })
    );
    // From the future (sender clock ahead, or a forged value): refused as well.
    assert_eq!(
        verify_at(body, SENT_MS - 3_600_000),
        Err(VerifyError::StaleTimestamp {
            age_seconds: -3600,
            window_seconds: 60
        })
    );
    assert!(matches!(
        verify_at(body, 0),
        Err(VerifyError::StaleTimestamp { .. })
    ));
    // Extreme values saturate instead of overflowing.
    for extreme in [
        i64::MIN.to_string(),
        i64::MAX.to_string(),
        "1e300".to_owned(),
    ] {
        let body = ISSUE_CREATE.replace("1714640000000", &extreme);
        assert!(verify_at(body.as_bytes(), SENT_MS).is_err(), "{extreme}");
    }
}

#[test]
fn missing_or_unreadable_timestamp() {
    for body in [
        ISSUE_CREATE.replace("\"webhookTimestamp\"", "\"webhookTime\""),
        ISSUE_CREATE.replace(
            "\"webhookTimestamp\": 1714640000000",
            "\"webhookTimestamp\": \"soon\"",
        ),
        ISSUE_CREATE.replace(
            "\"webhookTimestamp\": 1714640000000",
            "\"webhookTimestamp\": null",
        ),
        "not json".to_owned(),
    ] {
        assert_eq!(
            verify_at(body.as_bytes(), SENT_MS),
            Err(VerifyError::MissingTimestamp)
        );
    }
}

#[test]
fn timestamp_is_checked_only_after_the_signature() {
    let body = ISSUE_CREATE.as_bytes();
    let mut headers = signed(body);
    headers.insert(
        "linear-signature",
        sign_hex("wrong", body).parse().expect("hex"),
    );
    let result = LinearSource.verify(
        WebhookRequest {
            headers: &headers,
            body,
        },
        &secret(SECRET),
        at(SENT_MS + 3_600_000),
    );
    assert_eq!(result, Err(VerifyError::Mismatch));
}

#[test]
fn bad_signatures() {
    let body = ISSUE_CREATE.as_bytes();
    let tampered = ISSUE_CREATE.replace("ENG-42", "ENG-43");
    let headers = signed(body);
    let verify = |headers: &HeaderMap, body: &[u8]| {
        LinearSource.verify(
            WebhookRequest { headers, body },
            &secret(SECRET),
            at(SENT_MS),
        )
    };
    assert_eq!(
        verify(&headers, tampered.as_bytes()),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(&HeaderMap::new(), body),
        Err(VerifyError::MissingSignature("Linear-Signature"))
    );
    let malformed = headers_with_signature("sha256=abcdef");
    assert_eq!(
        verify(&malformed, body),
        Err(VerifyError::MalformedSignature("Linear-Signature"))
    );
    let wrong_secret = LinearSource.verify(
        WebhookRequest {
            headers: &headers,
            body,
        },
        &secret("another"),
        at(SENT_MS),
    );
    assert_eq!(wrong_secret, Err(VerifyError::Mismatch));
}

fn headers_with_signature(value: &str) -> HeaderMap {
    headers(&[("Linear-Signature", value), ("Linear-Delivery", DELIVERY)])
}

#[test]
fn issue_create() {
    let event = parse_event(ISSUE_CREATE);
    assert_eq!(event.source, SourceKind::Linear);
    assert_eq!(event.event_name, "Issue");
    assert_eq!(event.action, EventAction::Opened);
    assert_eq!(
        event.issue,
        IssueSnapshot {
            id: "9cfb482a-81e3-4154-b5b9-2c805e70a02d".into(),
            identifier: "ENG-42".into(),
            title: "Export fails for \"large\" workspaces".into(),
            body: "Export stops at 10k rows.\n\nSee logs.".into(),
            state: "Todo".into(),
            labels: vec!["bug".into(), "agent".into()],
            url: Some(
                "https://linear.app/acme/issue/ENG-42/export-fails-for-large-workspaces".into()
            ),
            repository: None,
            author: Some("6f9a7b1e-2f3c-4d5e-8a9b-0c1d2e3f4a5b".into()),
        }
    );
    assert_eq!(
        event.actor,
        Actor {
            login: "6f9a7b1e-2f3c-4d5e-8a9b-0c1d2e3f4a5b".into(),
            association: Association::Member,
            is_bot: false
        }
    );
}

#[test]
fn issue_state_change() {
    let event = parse_event(ISSUE_STATE);
    assert_eq!(
        event.action,
        EventAction::StateChanged {
            from: None,
            to: "In Progress".into()
        }
    );
    assert_eq!(event.issue.state, "In Progress");
}

#[test]
fn issue_label_added() {
    let event = parse_event(ISSUE_LABEL);
    assert_eq!(
        event.action,
        EventAction::Labeled {
            label: "agent".into()
        }
    );
    assert_eq!(event.issue.labels, vec!["bug", "agent"]);
}

#[test]
fn issue_label_removed_reports_the_id() {
    // Swap current and previous: the `agent` label was removed.
    let body = ISSUE_LABEL
            .replace(
                "\"labelIds\": [\"b1d5a3c0-1111-4a2b-9c3d-000000000001\", \"b1d5a3c0-2222-4a2b-9c3d-000000000002\"]",
                "\"labelIds\": [\"b1d5a3c0-1111-4a2b-9c3d-000000000001\"]",
            )
            .replace(
                "\"labelIds\": [\"b1d5a3c0-1111-4a2b-9c3d-000000000001\"], \"updatedAt\"",
                "\"labelIds\": [\"b1d5a3c0-1111-4a2b-9c3d-000000000001\", \"b1d5a3c0-2222-4a2b-9c3d-000000000002\"], \"updatedAt\"",
            )
            .replace(
                ",\n      {\"id\": \"b1d5a3c0-2222-4a2b-9c3d-000000000002\", \"name\": \"Agent\", \"color\": \"#5e6ad2\", \"parentId\": null}",
                "",
            );
    let event = parse_event(&body);
    assert_eq!(
        event.action,
        EventAction::Unlabeled {
            label: "b1d5a3c0-2222-4a2b-9c3d-000000000002".into()
        }
    );
    assert_eq!(event.issue.labels, vec!["bug"]);
    assert!(!event.issue.has_label("agent"));
}

#[test]
fn other_updates_are_edits() {
    let body = ISSUE_STATE.replace("\"stateId\"", "\"priority\"");
    assert_eq!(parse_event(&body).action, EventAction::Edited);
    let body = ISSUE_STATE.replace("\"updatedFrom\"", "\"updatedFromX\"");
    assert_eq!(parse_event(&body).action, EventAction::Edited);
}

#[test]
fn issue_remove() {
    let event = parse_event(ISSUE_REMOVE);
    assert_eq!(event.action, EventAction::Closed);
    assert_eq!(event.issue.identifier, "ENG-42");
}

#[test]
fn comment_create() {
    let event = parse_event(COMMENT_CREATE);
    assert_eq!(event.event_name, "Comment");
    assert_eq!(event.action, EventAction::Commented);
    assert_eq!(
        event.comment.as_deref(),
        Some("@baton please take this\n\nthanks")
    );
    assert_eq!(
        event.issue,
        IssueSnapshot {
            id: "9cfb482a-81e3-4154-b5b9-2c805e70a02d".into(),
            identifier: "ENG-42".into(),
            title: "Export fails for large workspaces".into(),
            body: String::new(),
            state: String::new(),
            labels: Vec::new(),
            url: Some(
                "https://linear.app/acme/issue/ENG-42/export-fails-for-large-workspaces".into()
            ),
            repository: None,
            author: None,
        }
    );
    assert_eq!(event.actor.login, "6f9a7b1e-2f3c-4d5e-8a9b-0c1d2e3f4a5b");
    assert!(!event.actor.is_bot);
}

#[test]
fn comment_updates_and_project_comments_are_ignored() {
    let update = COMMENT_CREATE.replace("\"action\": \"create\"", "\"action\": \"update\"");
    assert_eq!(
        ignored_reason(parse(&update).expect("parses")),
        "`Comment` action `update` is not handled"
    );
    let project_comment = COMMENT_CREATE.replace("\"issue\":", "\"projectUpdate\":");
    assert!(ignored_reason(parse(&project_comment).expect("parses")).contains("not on an issue"));
}

#[test]
fn app_actors_are_bots() {
    for (kind, bot, association) in [
        ("OauthClient", true, Association::Member),
        ("integration", true, Association::Member),
        ("ExternalUser", false, Association::None),
        ("user", false, Association::Member),
    ] {
        let body = ISSUE_CREATE.replace("\"type\": \"user\"", &format!("\"type\": \"{kind}\""));
        let actor = parse_event(&body).actor;
        assert_eq!(
            (actor.is_bot, actor.association),
            (bot, association),
            "{kind}"
        );
    }
    let no_actor = ISSUE_CREATE.replace("\"actor\":", "\"someone\":");
    assert!(parse_event(&no_actor).actor.is_bot);
}

#[test]
fn other_entity_types_are_ignored() {
    // A Project's `state` is a string, unlike an Issue's: still ignored, not an error.
    assert_eq!(
        ignored_reason(parse(PROJECT_UPDATE).expect("parses")),
        "event `Project` is not handled"
    );
    let cycle =
        r#"{"action":"create","type":"Cycle","data":{"id":"c1","number":3},"webhookTimestamp":1}"#;
    assert_eq!(
        ignored_reason(parse(cycle).expect("parses")),
        "event `Cycle` is not handled"
    );
}

#[test]
fn malformed_payloads() {
    let truncated = &ISSUE_CREATE[..ISSUE_CREATE.len() - 20];
    assert!(matches!(parse(truncated), Err(ParseError::InvalidJson(_))));
    let body = ISSUE_CREATE.replace("\"identifier\"", "\"ident\"");
    assert_eq!(
        parse(&body),
        Err(ParseError::MissingField("data.identifier"))
    );
    let body = ISSUE_CREATE.replace("\"type\": \"Issue\"", "\"kind\": \"Issue\"");
    assert_eq!(parse(&body), Err(ParseError::MissingField("type")));
    let body = ISSUE_STATE.replace("\"name\": \"In Progress\"", "\"label\": \"In Progress\"");
    assert_eq!(
        parse(&body),
        Err(ParseError::MissingField("data.state.name"))
    );

    let headers = HeaderMap::new();
    assert_eq!(
        LinearSource.parse(WebhookRequest {
            headers: &headers,
            body: ISSUE_CREATE.as_bytes()
        }),
        Err(ParseError::MissingHeader("Linear-Delivery"))
    );
}
