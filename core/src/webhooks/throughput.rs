//! A rough throughput check of verify + parse on ~4 KB signed deliveries (the target is
//! 20k/s on 2 cores, i.e. 10k/s per core). Ignored by default; run it optimized:
//! `cargo test -p baton-core --release throughput -- --ignored --nocapture`.

use super::test_support::{headers, secret, sign_hex};
use super::{source, WebhookRequest};
use crate::domain::SourceKind;
use chrono::{TimeZone, Utc};
use http::HeaderMap;
use std::time::Instant;

/// Pads a fixture's text field to make the body about 4 KB, with escapes to unescape.
fn padded(fixture: &str, field_value: &str) -> String {
    let filler = "Steps to reproduce:\\n1. open the \\\"export\\\" page\\n2. wait\\n".repeat(52);
    let body = fixture.replacen(field_value, &format!("{field_value}{filler}"), 1);
    assert!(body.len() >= 4_096, "{} bytes", body.len());
    body
}

fn run(kind: SourceKind, headers: &HeaderMap, body: &[u8], secret_value: &str, now_ms: i64) -> f64 {
    let now = Utc.timestamp_millis_opt(now_ms).single().expect("time");
    let secret = secret(secret_value);
    let source = source(kind);
    let request = WebhookRequest { headers, body };
    let rounds = 20_000;
    let started = Instant::now();
    for _ in 0..rounds {
        source.verify(request, &secret, now).expect("verifies");
        let parsed = source.parse(request).expect("parses");
        std::hint::black_box(parsed);
    }
    f64::from(rounds) / started.elapsed().as_secs_f64()
}

#[test]
#[ignore = "timing; run with --release"]
fn throughput() {
    let github = padded(
        include_str!("fixtures/github/issue_comment_created.json"),
        "/agent run please",
    );
    let signature = format!("sha256={}", sign_hex("s3cret", github.as_bytes()));
    let gh_headers = headers(&[
        ("X-GitHub-Event", "issue_comment"),
        ("X-GitHub-Delivery", "d-1"),
        ("X-Hub-Signature-256", &signature),
        ("Content-Type", "application/json"),
    ]);
    let rate = run(
        SourceKind::Github,
        &gh_headers,
        github.as_bytes(),
        "s3cret",
        0,
    );
    println!("github  {} B: {rate:>8.0}/s", github.len());

    let linear = padded(
        include_str!("fixtures/linear/issue_update_labels.json"),
        "Export stops at 10k rows.",
    );
    let lin_headers = headers(&[
        ("Linear-Signature", &sign_hex("s3cret", linear.as_bytes())),
        ("Linear-Delivery", "d-1"),
    ]);
    let rate = run(
        SourceKind::Linear,
        &lin_headers,
        linear.as_bytes(),
        "s3cret",
        1_714_640_000_000,
    );
    println!("linear  {} B: {rate:>8.0}/s", linear.len());

    let jira = padded(
        include_str!("fixtures/jira/issue_updated_status.json"),
        "h2. Steps",
    );
    let signature = format!("sha256={}", sign_hex("s3cret", jira.as_bytes()));
    let jira_headers = headers(&[
        ("X-Hub-Signature", &signature),
        ("X-Atlassian-Webhook-Identifier", "d-1"),
    ]);
    let rate = run(
        SourceKind::Jira,
        &jira_headers,
        jira.as_bytes(),
        "s3cret",
        0,
    );
    println!("jira    {} B: {rate:>8.0}/s", jira.len());

    let gitlab = padded(
        include_str!("fixtures/gitlab/note_issue.json"),
        "Fails one run in ten.",
    );
    let gl_headers = headers(&[
        ("X-Gitlab-Token", "s3cret"),
        ("X-Gitlab-Event", "Note Hook"),
        ("X-Gitlab-Event-UUID", "d-1"),
    ]);
    let rate = run(
        SourceKind::Gitlab,
        &gl_headers,
        gitlab.as_bytes(),
        "s3cret",
        0,
    );
    println!("gitlab  {} B: {rate:>8.0}/s", gitlab.len());
}
