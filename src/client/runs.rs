//! `baton runs <issue-key>`: `GET /api/v1/issues/{key}` as the issue's line and a table of
//! its runs.

use super::http::{segment, Answer, ApiClient, ClientError};
use super::table::{self, Table};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// The issue's fields and runs the table shows.
#[derive(Debug, Deserialize)]
pub struct Issue {
    pub work_item: WorkItem,
    #[serde(default)]
    pub runs: Vec<Run>,
}

#[derive(Debug, Deserialize)]
pub struct WorkItem {
    pub key: String,
    pub status: String,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub issue: IssueSnapshot,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub cancel_requested: bool,
    #[serde(default)]
    pub pull_request: Option<PullRequest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IssueSnapshot {
    pub title: String,
    pub url: Option<String>,
    pub state: String,
}

#[derive(Debug, Deserialize)]
pub struct PullRequest {
    pub url: String,
}

/// One run, as `GET /api/v1/issues/{key}` and `GET /api/v1/runs/{id}` give it.
#[derive(Debug, Clone, Deserialize)]
pub struct Run {
    pub run_id: String,
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub attempt: u32,
    pub claimed_at: DateTime<Utc>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub tokens: super::status::Tokens,
    #[serde(default)]
    pub error: Option<RunError>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunError {
    pub code: String,
    pub message: String,
}

impl Run {
    /// A run is over once it is no longer `running` (succeeded, failed, cancelled, abandoned).
    pub fn has_ended(&self) -> bool {
        self.status != "running"
    }
}

pub fn issue_path(key: &str) -> String {
    format!("/api/v1/issues/{}", segment(key))
}

pub async fn fetch(client: &ApiClient, key: &str) -> Result<Answer, ClientError> {
    client.get(&issue_path(key)).await
}

/// The issue's key, title and status, its links, then one row per run (oldest first, as the
/// API lists them). `now` measures the runs still going.
pub fn render(issue: &Issue, now: DateTime<Utc>) -> String {
    let item = &issue.work_item;
    let mut out = format!(
        "{}  {}\nstatus {} · attempt {} · tracker state {}{}\n",
        table::clean(&item.key),
        table::truncate(&table::clean(&item.issue.title), 80),
        item.status,
        item.attempt,
        table::clean(&item.issue.state),
        if item.cancel_requested {
            " · cancel requested"
        } else {
            ""
        },
    );
    if let Some(url) = &item.issue.url {
        out.push_str(&format!("issue: {}\n", table::clean(url)));
    }
    if let Some(pull_request) = &item.pull_request {
        out.push_str(&format!(
            "pull request: {}\n",
            table::clean(&pull_request.url)
        ));
    }
    if let Some(error) = &item.last_error {
        out.push_str(&format!("last error: {}\n", table::clean(error)));
    }
    out.push('\n');
    if issue.runs.is_empty() {
        out.push_str("No runs yet.\n");
        return out;
    }
    let mut runs = Table::new(&[
        "RUN", "STATUS", "REASON", "ATTEMPT", "STARTED", "DURATION", "TOKENS", "ERROR",
    ]);
    for run in &issue.runs {
        runs.row(vec![
            run.run_id.clone(),
            run.status.clone(),
            run.reason.clone(),
            run.attempt.to_string(),
            table::timestamp(run.claimed_at),
            run_duration(run, now),
            table::count(run.tokens.total_tokens),
            run.error
                .as_ref()
                .map(|e| table::truncate(&format!("{}: {}", e.code, table::clean(&e.message)), 80))
                .unwrap_or_default(),
        ]);
    }
    out.push_str(&runs.render());
    out
}

/// From the claim to the end, or `… so far` while it runs.
fn run_duration(run: &Run, now: DateTime<Utc>) -> String {
    match run.ended_at {
        Some(ended) => table::duration(ended - run.claimed_at),
        None if run.has_ended() => String::new(),
        None => format!("{} so far", table::duration(now - run.claimed_at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `GET /api/v1/issues/{key}` answer from `baton dev` after a failed first attempt
    /// and a running retry (events trimmed: this view does not show them).
    const RECORDED: &str = r#"{
      "work_item": {
        "key": "github:acme/app#7", "source": "github",
        "issue": {"id": "1007", "identifier": "acme/app#7", "title": "Fix the parser",
                  "body": "…", "state": "open", "labels": ["baton"],
                  "url": "https://github.com/acme/app/issues/7"},
        "status": "running", "attempt": 2, "cancel_requested": false,
        "pending_job": null, "last_delivery": "github:d1",
        "created_at": "2026-11-24T04:00:00Z", "updated_at": "2026-11-24T04:10:00Z",
        "requested_at": "2026-11-24T04:00:00Z", "last_error": "turn_failed: the agent gave up",
        "tokens": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
        "version": 9
      },
      "runs": [
        {"run_id": "0196a0b4-0000-7000-8000-000000000001", "job_id": "j1", "reason": "labeled",
         "attempt": 1, "runner": "r1", "status": "failed",
         "received_at": "2026-11-24T04:00:00Z", "queued_at": "2026-11-24T04:00:00Z",
         "claimed_at": "2026-11-24T04:00:01Z", "agent_started_at": "2026-11-24T04:00:02Z",
         "ended_at": "2026-11-24T04:04:06.500Z",
         "error": {"code": "turn_failed", "message": "the agent\ngave up"},
         "tokens": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
         "turns": 1, "session_id": null, "workspace": null, "branch": null, "commit": null,
         "event_count": 12, "events": [], "events_truncated": false},
        {"run_id": "0196a0b4-0000-7000-8000-000000000002", "job_id": "j2", "reason": "retry",
         "attempt": 2, "runner": "r1", "status": "running",
         "received_at": null, "queued_at": "2026-11-24T04:09:59Z",
         "claimed_at": "2026-11-24T04:10:00Z", "agent_started_at": null, "ended_at": null,
         "error": null, "tokens": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
         "turns": 0, "session_id": null, "workspace": null, "branch": null, "commit": null,
         "event_count": 2, "events": [], "events_truncated": false}
      ]
    }"#;

    #[test]
    fn one_row_per_run_with_status_reason_attempt_times_tokens_and_error() {
        let issue: Issue = serde_json::from_str(RECORDED).expect("recorded issue");
        let now = "2026-11-24T04:10:42Z".parse().expect("time");
        let expected = "\
github:acme/app#7  Fix the parser
status running · attempt 2 · tracker state open
issue: https://github.com/acme/app/issues/7
last error: turn_failed: the agent gave up

RUN                                   STATUS   REASON   ATTEMPT  STARTED              DURATION      TOKENS  ERROR
0196a0b4-0000-7000-8000-000000000001  failed   labeled  1        2026-11-24 04:00:01  4m05s         15      turn_failed: the agent gave up
0196a0b4-0000-7000-8000-000000000002  running  retry    2        2026-11-24 04:10:00  42.0s so far  0       -
";
        assert_eq!(render(&issue, now), expected);
    }

    #[test]
    fn an_issue_without_runs_says_so() {
        let issue: Issue = serde_json::from_str(
            r#"{"work_item":{"key":"linear:ENG-1","status":"queued"},"runs":[]}"#,
        )
        .expect("issue");
        let text = render(&issue, Utc::now());
        assert!(text.ends_with("No runs yet.\n"), "{text}");
    }

    #[test]
    fn the_key_is_one_encoded_segment_of_the_path() {
        assert_eq!(
            issue_path("github:acme/app#12"),
            "/api/v1/issues/github%3Aacme%2Fapp%2312"
        );
    }
}
