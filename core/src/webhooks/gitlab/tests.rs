use super::*;
use crate::sources::contract::{Recorded, Samples, ScopeSample, WebhookSamples};
use crate::webhooks::test_support::{event, headers, ignored as ignored_reason, secret};
use http::HeaderMap;

const TOKEN: &str = "glwt-9c1f2e3d4b5a";
const UUID: &str = "6a2a3c8b-7d2c-4f6e-9b1a-2f3e4d5c6b7a";

const ISSUE_OPEN: &str = include_str!("../fixtures/gitlab/issue_open.json");
const ISSUE_LABELS: &str = include_str!("../fixtures/gitlab/issue_update_labels.json");
const NOTE_ISSUE: &str = include_str!("../fixtures/gitlab/note_issue.json");
const MR_MERGE: &str = include_str!("../fixtures/gitlab/merge_request_merge.json");

/// The contract's view of GitLab: a token in plain text, so a changed body still passes.
pub(super) fn samples() -> Samples {
    let project = |path: &str| IssueSnapshot {
        repository: Some(path.to_owned()),
        ..IssueSnapshot::default()
    };
    Samples {
        scope: Some(ScopeSample {
            value: "acme/platform/api",
            inside: project("Acme/Platform/API"),
            outside: project("acme/platform"),
        }),
        webhook: Some(WebhookSamples {
            sign: |secret, _body| vec![("X-Gitlab-Token", secret.to_owned())],
            published: None,
            event: Recorded {
                headers: &[
                    ("X-Gitlab-Event", "Issue Hook"),
                    ("X-Gitlab-Event-UUID", UUID),
                    ("Content-Type", "application/json"),
                ],
                body: ISSUE_OPEN,
            },
            identifier: "acme/platform/api#23",
            ignored: Recorded {
                headers: &[
                    ("X-Gitlab-Event", "Push Hook"),
                    ("X-Gitlab-Event-UUID", UUID),
                    ("Content-Type", "application/json"),
                ],
                body: r#"{"object_kind": "push", "ref": "refs/heads/main"}"#,
            },
            now: Utc::now(),
            workflow: "tracker: {kind: gitlab}\ntriggers: {label: Bug}",
        }),
    }
}

fn hook(event: &str) -> HeaderMap {
    headers(&[
        ("X-Gitlab-Token", TOKEN),
        ("X-Gitlab-Event", event),
        ("X-Gitlab-Event-UUID", UUID),
        ("Content-Type", "application/json"),
    ])
}

fn verify(headers: &HeaderMap) -> Result<(), VerifyError> {
    GitlabSource.verify(
        WebhookRequest {
            headers,
            body: b"{}",
        },
        &secret(TOKEN),
        Utc::now(),
    )
}

fn parse(event_name: &str, body: &str) -> Result<ParsedDelivery, ParseError> {
    let headers = hook(event_name);
    GitlabSource.parse(WebhookRequest {
        headers: &headers,
        body: body.as_bytes(),
    })
}

fn parse_event(event_name: &str, body: &str) -> NormalizedEvent {
    assert_eq!(verify(&hook(event_name)), Ok(()));
    let delivery = parse(event_name, body).expect("parses");
    assert_eq!(delivery.delivery_id, UUID);
    event(delivery)
}

#[test]
fn token_checks() {
    assert_eq!(verify(&hook("Issue Hook")), Ok(()));
    let wrong = headers(&[("X-Gitlab-Token", "glwt-9c1f2e3d4b5b")]);
    assert_eq!(verify(&wrong), Err(VerifyError::Mismatch));
    let prefix = headers(&[("X-Gitlab-Token", "glwt-9c1f")]);
    assert_eq!(verify(&prefix), Err(VerifyError::Mismatch));
    assert_eq!(
        verify(&HeaderMap::new()),
        Err(VerifyError::MissingSignature("X-Gitlab-Token"))
    );
    let mut binary = HeaderMap::new();
    binary.insert(
        "x-gitlab-token",
        http::HeaderValue::from_bytes(b"\xfftoken").expect("obs-text"),
    );
    assert_eq!(
        verify(&binary),
        Err(VerifyError::MalformedSignature("X-Gitlab-Token"))
    );
}

#[test]
fn delivery_id_prefers_idempotency_key() {
    let mut headers = hook("Issue Hook");
    headers.insert("idempotency-key", "f1d2c3b4".parse().expect("value"));
    let delivery = GitlabSource
        .parse(WebhookRequest {
            headers: &headers,
            body: ISSUE_OPEN.as_bytes(),
        })
        .expect("parses");
    assert_eq!(delivery.delivery_id, "f1d2c3b4");

    let headers = headers_without_ids();
    assert_eq!(
        GitlabSource.parse(WebhookRequest {
            headers: &headers,
            body: ISSUE_OPEN.as_bytes()
        }),
        Err(ParseError::MissingHeader("X-Gitlab-Event-UUID"))
    );
}

fn headers_without_ids() -> HeaderMap {
    headers(&[("X-Gitlab-Token", TOKEN), ("X-Gitlab-Event", "Issue Hook")])
}

#[test]
fn issue_open() {
    let event = parse_event("Issue Hook", ISSUE_OPEN);
    assert_eq!(event.source, SourceKind::Gitlab);
    assert_eq!(event.event_name, "Issue Hook");
    assert_eq!(event.action, EventAction::Opened);
    assert_eq!(
        event.issue,
        IssueSnapshot {
            id: "301".into(),
            identifier: "acme/platform/api#23".into(),
            title: "Rate limiter drops \"burst\" requests".into(),
            body: "Seen in prod.\n\n```\n429 Too Many Requests\n```".into(),
            state: "opened".into(),
            labels: vec!["bug".into(), "agent".into()],
            url: Some("https://gitlab.example.com/acme/platform/api/-/issues/23".into()),
            repository: Some("acme/platform/api".into()),
            author: None,
        }
    );
    assert_eq!(
        event.actor,
        Actor {
            login: "jdoe".into(),
            association: Association::Unknown,
            is_bot: false
        }
    );
}

#[test]
fn issue_actions() {
    for (action, expected) in [
        ("close", EventAction::Closed),
        ("reopen", EventAction::Reopened),
        ("update", EventAction::Edited),
    ] {
        let body = ISSUE_OPEN.replace("\"action\": \"open\"", &format!("\"action\": \"{action}\""));
        assert_eq!(
            parse_event("Issue Hook", &body).action,
            expected,
            "{action}"
        );
    }
    let body = ISSUE_OPEN.replace("\"action\": \"open\"", "\"action\": \"migrated\"");
    assert!(ignored_reason(parse("Issue Hook", &body).expect("parses")).contains("migrated"));
    let confidential = parse_event("Confidential Issue Hook", ISSUE_OPEN);
    assert_eq!(confidential.event_name, "Confidential Issue Hook");
}

#[test]
fn label_changes() {
    let event = parse_event("Issue Hook", ISSUE_LABELS);
    assert_eq!(
        event.action,
        EventAction::Labeled {
            label: "agent".into()
        }
    );
    let removed = ISSUE_LABELS
            .replace("\"previous\": [{\"id\": 206, \"title\": \"Bug\"}]", "\"previous\": [{\"id\": 206, \"title\": \"Bug\"}, {\"id\": 207, \"title\": \"Agent\"}]")
            .replace("\"current\": [{\"id\": 206, \"title\": \"Bug\"}, {\"id\": 207, \"title\": \"Agent\"}]", "\"current\": [{\"id\": 206, \"title\": \"Bug\"}]");
    assert_eq!(
        parse_event("Issue Hook", &removed).action,
        EventAction::Unlabeled {
            label: "agent".into()
        }
    );
}

#[test]
fn note_on_issue() {
    let event = parse_event("Note Hook", NOTE_ISSUE);
    assert_eq!(event.action, EventAction::Commented);
    assert_eq!(event.comment.as_deref(), Some("/agent run\nplease"));
    assert_eq!(
        event.issue,
        IssueSnapshot {
            id: "92".into(),
            identifier: "acme/platform/api#17".into(),
            title: "Flaky integration test".into(),
            body: "Fails one run in ten.".into(),
            state: "opened".into(),
            labels: vec!["ci".into()],
            url: Some("https://gitlab.example.com/acme/platform/api/-/issues/17".into()),
            repository: Some("acme/platform/api".into()),
            author: None,
        }
    );
    assert_eq!(event.actor.login, "project_5_bot_3f9a1c");
    assert!(event.actor.is_bot);
}

#[test]
fn other_notes_are_ignored() {
    let on_mr = NOTE_ISSUE.replace(
        "\"noteable_type\": \"Issue\"",
        "\"noteable_type\": \"MergeRequest\"",
    );
    assert!(ignored_reason(parse("Note Hook", &on_mr).expect("parses")).contains("MergeRequest"));
    let system = NOTE_ISSUE.replace("\"system\": false", "\"system\": true");
    assert_eq!(
        ignored_reason(parse("Note Hook", &system).expect("parses")),
        "system note"
    );
    let edited = NOTE_ISSUE.replace("\"action\": \"create\"", "\"action\": \"update\"");
    assert!(ignored_reason(parse("Note Hook", &edited).expect("parses")).contains("update"));
}

#[test]
fn merge_request_merged_and_closed() {
    let event = parse_event("Merge Request Hook", MR_MERGE);
    assert_eq!(
        event.action,
        EventAction::PullRequestClosed {
            merged: true,
            branch: "baton/api-23".into()
        }
    );
    assert_eq!(event.issue.identifier, "acme/platform/api!41");
    assert_eq!(event.issue.state, "merged");
    let closed = MR_MERGE.replace("\"action\": \"merge\"", "\"action\": \"close\"");
    assert_eq!(
        parse_event("Merge Request Hook", &closed).action,
        EventAction::PullRequestClosed {
            merged: false,
            branch: "baton/api-23".into()
        }
    );
    let opened = MR_MERGE.replace("\"action\": \"merge\"", "\"action\": \"open\"");
    assert!(ignored_reason(parse("Merge Request Hook", &opened).expect("parses")).contains("open"));
}

#[test]
fn other_events_are_ignored_without_reading_the_body() {
    assert_eq!(
        ignored_reason(parse("Push Hook", "not json").expect("parses")),
        "event `Push Hook` is not handled"
    );
}

#[test]
fn malformed_payloads() {
    let truncated = &ISSUE_OPEN[..ISSUE_OPEN.len() / 3];
    assert!(matches!(
        parse("Issue Hook", truncated),
        Err(ParseError::InvalidJson(_))
    ));
    let body = ISSUE_OPEN.replace("\"iid\"", "\"idd\"");
    assert_eq!(
        parse("Issue Hook", &body),
        Err(ParseError::MissingField("object_attributes.iid"))
    );
    let body = ISSUE_OPEN.replace("\"id\": 301", "\"id\": \"\"");
    assert_eq!(
        parse("Issue Hook", &body),
        Err(ParseError::MissingField("object_attributes.id"))
    );
    let body = ISSUE_OPEN.replace("\"path_with_namespace\"", "\"path\"");
    assert_eq!(
        parse("Issue Hook", &body),
        Err(ParseError::MissingField("project.path_with_namespace"))
    );
    let headers = headers(&[("X-Gitlab-Event-UUID", UUID)]);
    assert_eq!(
        GitlabSource.parse(WebhookRequest {
            headers: &headers,
            body: ISSUE_OPEN.as_bytes()
        }),
        Err(ParseError::MissingHeader("X-Gitlab-Event"))
    );
}

#[test]
fn bot_usernames() {
    for bot in [
        "project_123_bot",
        "project_123_bot1",
        "project_5_bot_3f9a1c",
        "group_45_bot_a1b2",
    ] {
        assert!(is_access_token_bot(bot), "{bot}");
    }
    for human in [
        "jdoe",
        "robot_bot",
        "project_bot",
        "project_x_bot",
        "group__bot",
        "project_12",
        "projéct_1_bot",
    ] {
        assert!(!is_access_token_bot(human), "{human}");
    }
}
