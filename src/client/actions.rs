//! `baton retry`, `baton cancel`, `baton replay`: the API's actions, and one sentence each
//! saying what was done.

use super::http::{segment, Answer, ApiClient, ClientError};
use super::table::clean;
use serde::Deserialize;

/// Every action answers `{status, work_item?, job_id?, reason?}` (replay answers exactly
/// what the ingress answers a webhook).
#[derive(Debug, Deserialize)]
pub struct Outcome {
    pub status: String,
    #[serde(default)]
    pub work_item: Option<String>,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

pub fn retry_path(key: &str) -> String {
    format!("/api/v1/issues/{}/retry", segment(key))
}

pub fn cancel_path(key: &str) -> String {
    format!("/api/v1/issues/{}/cancel", segment(key))
}

pub fn replay_path(delivery_id: &str) -> String {
    format!("/api/v1/deliveries/{}/replay", segment(delivery_id))
}

pub async fn retry(client: &ApiClient, key: &str) -> Result<Answer, ClientError> {
    client.post(&retry_path(key)).await
}

pub async fn cancel(client: &ApiClient, key: &str) -> Result<Answer, ClientError> {
    client.post(&cancel_path(key)).await
}

pub async fn replay(client: &ApiClient, delivery_id: &str) -> Result<Answer, ClientError> {
    client.post(&replay_path(delivery_id)).await
}

/// What the action did, and where to look next.
pub fn render(outcome: &Outcome, what: &str) -> String {
    let item = outcome.work_item.as_deref().map(clean);
    let job = outcome
        .job_id
        .as_deref()
        .map(|job| format!(" (job {})", clean(job)))
        .unwrap_or_default();
    let line = match (outcome.status.as_str(), item) {
        ("queued", Some(item)) => {
            format!("{what}: queued a run of {item}{job}\nfollow it with `baton runs {item}`")
        }
        ("cancel_requested", Some(item)) => format!(
            "{what}: cancel requested for {item}; a running session is stopped, a queued or \
             scheduled run is dropped"
        ),
        ("awaiting_approval", Some(item)) => {
            format!("{what}: {item} is held until someone approves it")
        }
        ("ignored", _) => format!(
            "{what}: ignored ({})",
            outcome.reason.as_deref().map(clean).unwrap_or_default()
        ),
        (status, Some(item)) => format!("{what}: {} {item}{job}", clean(status)),
        (status, None) => format!("{what}: {}", clean(status)),
    };
    format!("{line}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(json: &str) -> Outcome {
        serde_json::from_str(json).expect("recorded answer")
    }

    #[test]
    fn says_what_each_answer_means() {
        let queued =
            outcome(r#"{"work_item":"github:acme/app#1","job_id":"5f0c","status":"queued"}"#);
        assert_eq!(
            render(&queued, "retry"),
            "retry: queued a run of github:acme/app#1 (job 5f0c)\n\
             follow it with `baton runs github:acme/app#1`\n"
        );
        let cancel = outcome(r#"{"work_item":"linear:ENG-4","status":"cancel_requested"}"#);
        assert!(render(&cancel, "cancel").starts_with("cancel: cancel requested for linear:ENG-4;"));
        let ignored = outcome(r#"{"status":"ignored","reason":"no trigger label"}"#);
        assert_eq!(
            render(&ignored, "replay"),
            "replay: ignored (no trigger label)\n"
        );
        let held = outcome(r#"{"status":"awaiting_approval","work_item":"jira:OPS-1"}"#);
        assert_eq!(
            render(&held, "replay"),
            "replay: jira:OPS-1 is held until someone approves it\n"
        );
        let other = outcome(r#"{"status":"duplicate"}"#);
        assert_eq!(render(&other, "replay"), "replay: duplicate\n");
    }

    #[test]
    fn keys_and_delivery_ids_are_one_encoded_segment() {
        assert_eq!(
            retry_path("github:acme/app#1"),
            "/api/v1/issues/github%3Aacme%2Fapp%231/retry"
        );
        assert_eq!(
            cancel_path("linear:ENG-4"),
            "/api/v1/issues/linear%3AENG-4/cancel"
        );
        assert_eq!(
            replay_path("github:72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            "/api/v1/deliveries/github%3A72d3162e-cc78-11e3-81ab-4c9367dc0958/replay"
        );
    }
}
