//! Signing webhooks the way GitHub, Linear, Jira and GitLab do.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn headers(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

pub fn github(secret: &str, event: &str, delivery: &str, body: &[u8]) -> Vec<(String, String)> {
    headers(&[
        ("content-type", "application/json".into()),
        ("x-github-event", event.into()),
        ("x-github-delivery", delivery.into()),
        (
            "x-hub-signature-256",
            format!("sha256={}", hmac_hex(secret, body)),
        ),
    ])
}

pub fn linear(secret: &str, event: &str, delivery: &str, body: &[u8]) -> Vec<(String, String)> {
    headers(&[
        ("content-type", "application/json".into()),
        ("linear-event", event.into()),
        ("linear-delivery", delivery.into()),
        ("linear-signature", hmac_hex(secret, body)),
    ])
}

pub fn jira(secret: &str, delivery: &str, body: &[u8]) -> Vec<(String, String)> {
    headers(&[
        ("content-type", "application/json".into()),
        ("x-atlassian-webhook-identifier", delivery.into()),
        (
            "x-hub-signature",
            format!("sha256={}", hmac_hex(secret, body)),
        ),
    ])
}

pub fn gitlab(token: &str, event: &str, delivery: &str) -> Vec<(String, String)> {
    headers(&[
        ("content-type", "application/json".into()),
        ("x-gitlab-event", event.into()),
        ("x-gitlab-event-uuid", delivery.into()),
        ("x-gitlab-token", token.into()),
    ])
}

/// A fresh `updated_at` per payload built.
fn next_updated_at() -> String {
    static EVENTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = EVENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("2026-01-01T00:00:00.{n:09}Z")
}

/// A GitHub `issues` payload for `acme/app#<number>`.
pub fn github_issue(
    action: &str,
    number: u64,
    labels: &[&str],
    extra: serde_json::Value,
) -> Vec<u8> {
    let labels: Vec<_> = labels
        .iter()
        .map(|name| serde_json::json!({ "id": 1, "name": name }))
        .collect();
    let mut payload = serde_json::json!({
        "action": action,
        "issue": {
            "id": 1000 + number,
            "number": number,
            "title": format!("Issue {number}"),
            "body": "Please fix the bug.",
            "state": if action == "closed" { "closed" } else { "open" },
            "labels": labels,
            "html_url": format!("https://github.com/acme/app/issues/{number}"),
            "user": { "login": "alice", "type": "User" },
            "author_association": "OWNER",
            // Each event GitHub sends carries the issue's state at that moment, so two events
            // never have the same body: the ingress treats a byte-identical body as a replay.
            "updated_at": next_updated_at()
        },
        "repository": { "full_name": "acme/app", "name": "app", "owner": { "login": "acme" } },
        "sender": { "login": "alice", "type": "User" }
    });
    if let (Some(target), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            target.insert(key.clone(), value.clone());
        }
    }
    serde_json::to_vec(&payload).expect("json")
}
