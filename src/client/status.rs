//! `baton status`: `GET /api/v1/state` as a counts line and one table per non-empty list.

use super::http::{Answer, ApiClient, ClientError};
use super::table::{self, Table};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub const STATE_PATH: &str = "/api/v1/state";

/// The fields of the state snapshot the table shows. Statuses and lists the API may add
/// later default to empty, so an older CLI still reads a newer server.
#[derive(Debug, Deserialize)]
pub struct State {
    pub generated_at: DateTime<Utc>,
    #[serde(default)]
    pub counts: Counts,
    #[serde(default)]
    pub counts_capped_at: Option<u64>,
    #[serde(default)]
    pub capped: Vec<String>,
    #[serde(default)]
    pub running: Vec<Entry>,
    #[serde(default)]
    pub awaiting_approval: Vec<Entry>,
    #[serde(default)]
    pub awaiting_input: Vec<Entry>,
    #[serde(default)]
    pub queued: Vec<Entry>,
    #[serde(default)]
    pub retrying: Vec<Entry>,
    #[serde(default)]
    pub failed: Vec<Entry>,
    #[serde(default)]
    pub dead_lettered: Vec<Entry>,
    #[serde(default)]
    pub token_totals: Tokens,
    #[serde(default)]
    pub rate_limits: Option<super::accounts::RateLimits>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub queued: u64,
    pub running: u64,
    pub retrying: u64,
    pub awaiting_approval: u64,
    pub awaiting_input: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub dead_lettered: u64,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct Tokens {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

/// One work item of a list.
#[derive(Debug, Deserialize)]
pub struct Entry {
    pub work_item: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub attempt: u32,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub lease_owner: Option<String>,
    #[serde(default)]
    pub lease_expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub next_retry_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub cancel_requested: bool,
    #[serde(default)]
    pub question: Option<String>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub tokens: Tokens,
    #[serde(default)]
    pub waiting_for_account: Option<super::accounts::Wait>,
}

pub async fn fetch(client: &ApiClient) -> Result<Answer, ClientError> {
    client.get(STATE_PATH).await
}

/// The counts line, a capped-counts note when one applies, then a titled table per
/// non-empty list (or a line saying there is nothing in flight).
pub fn render(state: &State) -> String {
    let mut out = counts_line(state);
    if !state.capped.is_empty() {
        let cap = state
            .counts_capped_at
            .map_or_else(|| "the cap".to_owned(), |cap| cap.to_string());
        out.push_str(&format!(
            "(at least: {} have more than {cap} items)\n",
            state.capped.join(", ")
        ));
    }
    let sections: [(&str, &[Entry]); 7] = [
        ("Running", &state.running),
        ("Awaiting approval", &state.awaiting_approval),
        ("Awaiting input", &state.awaiting_input),
        ("Queued", &state.queued),
        ("Retrying", &state.retrying),
        ("Failed", &state.failed),
        ("Dead-lettered", &state.dead_lettered),
    ];
    let mut any = false;
    for (title, entries) in sections {
        if entries.is_empty() {
            continue;
        }
        any = true;
        out.push('\n');
        out.push_str(&format!("{title} ({})\n", entries.len()));
        out.push_str(&section(entries, state.generated_at).render());
    }
    if !any {
        out.push_str(
            "\nNothing is running, queued, retrying, awaiting approval or input, or failed.\n",
        );
    }
    out.push_str(&super::accounts::render(
        state.rate_limits.as_ref(),
        state.generated_at,
    ));
    out
}

fn counts_line(state: &State) -> String {
    let c = &state.counts;
    let tokens = &state.token_totals;
    format!(
        "{} running · {} queued · {} retrying · {} awaiting approval · {} awaiting input · \
         {} failed · {} dead-lettered · {} succeeded · {} cancelled\n\
         tokens: {} ({} in, {} out)\n",
        c.running,
        c.queued,
        c.retrying,
        c.awaiting_approval,
        c.awaiting_input,
        c.failed,
        c.dead_lettered,
        c.succeeded,
        c.cancelled,
        table::count(tokens.total_tokens),
        table::count(tokens.input_tokens),
        table::count(tokens.output_tokens),
    )
}

fn section(entries: &[Entry], now: DateTime<Utc>) -> Table {
    let mut table = Table::new(&[
        "ISSUE", "TITLE", "ATTEMPT", "RUN", "UPDATED", "TOKENS", "DETAIL",
    ]);
    for entry in entries {
        table.row(vec![
            entry.work_item.clone(),
            table::truncate(&table::clean(&entry.title), 40),
            entry.attempt.to_string(),
            entry.run_id.clone().unwrap_or_default(),
            table::relative(entry.updated_at, now),
            table::count(entry.tokens.total_tokens),
            detail(entry, now),
        ]);
    }
    table
}

/// What matters about the item in its state: who holds it, when it retries, why it failed.
fn detail(entry: &Entry, now: DateTime<Utc>) -> String {
    let mut parts = Vec::new();
    if entry.cancel_requested {
        parts.push("cancel requested".to_owned());
    }
    if let Some(owner) = &entry.lease_owner {
        match entry.lease_expires_at {
            Some(expires) if expires < now => parts.push(format!(
                "runner {owner}, lease expired {}",
                table::relative(expires, now)
            )),
            Some(expires) => parts.push(format!(
                "runner {owner}, lease ends {}",
                table::relative(expires, now)
            )),
            None => parts.push(format!("runner {owner}")),
        }
    }
    if let Some(due) = entry.next_retry_at {
        parts.push(format!("retry {}", table::relative(due, now)));
    }
    if let Some(wait) = &entry.waiting_for_account {
        parts.push(super::accounts::wait_detail(wait, now));
    }
    if let Some(question) = &entry.question {
        parts.push(format!(
            "asks: {}",
            table::truncate(&table::clean(question), 80)
        ));
    }
    if let Some(error) = &entry.last_error {
        parts.push(table::truncate(&table::clean(error), 80));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `GET /api/v1/state` answer as `baton dev` gives it, with one item in each list
    /// that has a detail to show (trimmed to the fields that matter).
    const RECORDED: &str = r#"{
      "generated_at": "2026-11-24T04:40:00Z",
      "counts": {"queued": 1, "running": 1, "retrying": 1, "succeeded": 3, "failed": 0,
                 "cancelled": 0, "dead_lettered": 0, "awaiting_approval": 0},
      "counts_capped_at": 100,
      "capped": [],
      "running": [{
        "work_item": "github:acme/app#1", "identifier": "acme/app#1", "title": "Fix the bug",
        "url": null, "state": "open", "status": "running", "attempt": 1,
        "run_id": "0196a0b4-7c1d-7000-8000-000000000001",
        "lease_owner": "runner-a", "lease_expires_at": "2026-11-24T04:40:30Z",
        "next_retry_at": null, "last_error": null, "cancel_requested": false,
        "updated_at": "2026-11-24T04:39:55Z",
        "tokens": {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500}
      }],
      "retrying": [{
        "work_item": "linear:ENG-42", "identifier": "ENG-42", "title": "Flaky\u001b[2J test",
        "url": null, "state": "Todo", "status": "retrying", "attempt": 2, "run_id": null,
        "lease_owner": null, "lease_expires_at": null,
        "next_retry_at": "2026-11-24T04:42:00Z", "last_error": "turn timed out",
        "cancel_requested": false, "updated_at": "2026-11-24T04:30:00Z",
        "tokens": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
      }],
      "queued": [{
        "work_item": "github:acme/app#3", "identifier": "acme/app#3", "title": "Docs",
        "url": null, "state": "open", "status": "queued", "attempt": 0, "run_id": null,
        "lease_owner": null, "lease_expires_at": null, "next_retry_at": null,
        "last_error": null, "cancel_requested": false, "updated_at": "2026-11-24T04:39:59Z",
        "tokens": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
      }],
      "failed": [], "dead_lettered": [],
      "token_totals": {"input_tokens": 3000, "output_tokens": 1500, "total_tokens": 4500},
      "rate_limits": null
    }"#;

    fn recorded() -> State {
        serde_json::from_str(RECORDED).expect("recorded state")
    }

    #[test]
    fn shows_the_counts_then_one_section_per_non_empty_list() {
        let text = render(&recorded());
        let expected = "\
1 running · 1 queued · 1 retrying · 0 awaiting approval · 0 awaiting input · 0 failed · 0 dead-lettered · 3 succeeded · 0 cancelled
tokens: 4,500 (3,000 in, 1,500 out)

Running (1)
ISSUE              TITLE        ATTEMPT  RUN                                   UPDATED  TOKENS  DETAIL
github:acme/app#1  Fix the bug  1        0196a0b4-7c1d-7000-8000-000000000001  5s ago   1,500   runner runner-a, lease ends in 30s

Queued (1)
ISSUE              TITLE  ATTEMPT  RUN  UPDATED  TOKENS  DETAIL
github:acme/app#3  Docs   0        -    1s ago   0       -

Retrying (1)
ISSUE          TITLE           ATTEMPT  RUN  UPDATED     TOKENS  DETAIL
linear:ENG-42  Flaky [2J test  2        -    10m00s ago  0       retry in 2m00s; turn timed out
";
        assert_eq!(text, expected);
    }

    #[test]
    fn says_so_when_nothing_is_in_flight_and_notes_capped_counts() {
        let mut state = recorded();
        state.running.clear();
        state.queued.clear();
        state.retrying.clear();
        state.capped = vec!["succeeded".into()];
        let text = render(&state);
        assert!(
            text.contains("(at least: succeeded have more than 100 items)"),
            "{text}"
        );
        assert!(text.ends_with(
            "Nothing is running, queued, retrying, awaiting approval or input, or failed.\n"
        ));
        assert!(!text.contains("ISSUE"), "{text}");
    }

    #[test]
    fn reads_a_snapshot_without_the_newer_fields() {
        let state: State = serde_json::from_str(
            r#"{"generated_at":"2026-11-24T04:40:00Z","counts":{"running":0},"running":[]}"#,
        )
        .expect("older snapshot");
        assert!(render(&state).starts_with("0 running"));
    }

    #[test]
    fn an_expired_lease_is_called_out() {
        let mut state = recorded();
        state.running[0].lease_expires_at =
            Some(state.generated_at - chrono::TimeDelta::seconds(90));
        let text = render(&state);
        assert!(text.contains("lease expired 1m30s ago"), "{text}");
    }
}
