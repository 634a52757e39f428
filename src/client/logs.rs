//! `baton logs <run-id> [--follow]`: a run's timeline from `GET /api/v1/runs/{id}/events`,
//! page by page with the cursor, and with `--follow` on until the run has ended.

use super::http::{segment, Answer, ApiClient, ClientError};
use super::progress::{self, Spinner};
use super::table::{self, clean};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::cell::Cell;
use std::time::Duration;

/// The most events a page may hold (the API's maximum): fewer round trips.
pub const PAGE_LIMIT: usize = 500;
/// How much of an event's data one line shows.
const SUMMARY_WIDTH: usize = 120;

/// One page of `GET /api/v1/runs/{id}/events`.
#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    pub events: Vec<Event>,
    /// Present while more events may follow: passed back, it returns the next page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// One timeline entry.
#[derive(Debug, Deserialize)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub kind: String,
    #[serde(default)]
    pub data: Value,
}

/// A page as received (for `--json`) and as read.
pub struct Fetched {
    pub answer: Answer,
    pub page: Page,
}

/// `GET /api/v1/runs/{id}`, reduced to what following needs.
#[derive(Debug, Deserialize)]
struct RunAnswer {
    run: RunStatus,
}

#[derive(Debug, Deserialize)]
struct RunStatus {
    status: String,
}

/// Where the timeline comes from, and how to wait for more of it; the API in the CLI,
/// recorded pages in the tests.
pub(crate) trait Timeline {
    /// The page after `cursor`, or the first one.
    async fn page(&self, cursor: Option<&str>) -> Result<Fetched, ClientError>;
    /// Whether the run is over (so its timeline is complete).
    async fn run_has_ended(&self) -> Result<bool, ClientError>;
    /// Waits before asking again.
    async fn pause(&self);
}

/// Whether to stop at the end of what is recorded or wait for the run to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Once,
    Follow,
}

/// Reads the timeline from the start, handing every page that has events to `emit`, oldest
/// first; returns how many events there were.
///
/// Once: pages until an empty one or the last (`next_cursor` null). Follow: when a page is
/// empty, asks whether the run has ended; if not, pauses and asks again from the same
/// cursor; if so, reads on until a page comes back empty, since events written just before
/// the end may still follow, and stops there.
pub(crate) async fn read<T: Timeline>(
    timeline: &T,
    mode: Mode,
    mut emit: impl FnMut(&Fetched) -> Result<(), ClientError>,
) -> Result<usize, ClientError> {
    let mut cursor: Option<String> = None;
    let mut seen = 0;
    let mut ended = false;
    loop {
        let fetched = timeline.page(cursor.as_deref()).await?;
        let empty = fetched.page.events.is_empty();
        if !empty {
            seen += fetched.page.events.len();
            emit(&fetched)?;
        }
        match fetched.page.next_cursor {
            // The API says nothing more will come.
            None => return Ok(seen),
            Some(next) => cursor = Some(next),
        }
        if !empty {
            continue;
        }
        if mode == Mode::Once || ended {
            return Ok(seen);
        }
        if timeline.run_has_ended().await? {
            ended = true;
        } else {
            timeline.pause().await;
        }
    }
}

/// The timeline of one run through the API.
pub struct ApiTimeline<'a> {
    client: &'a ApiClient,
    run_id: String,
    poll: Duration,
    /// Off a terminal, the wait is announced once, plainly.
    announced: Cell<bool>,
}

impl<'a> ApiTimeline<'a> {
    pub fn new(client: &'a ApiClient, run_id: &str, poll: Duration) -> Self {
        Self {
            client,
            run_id: run_id.to_owned(),
            poll,
            announced: Cell::new(false),
        }
    }
}

impl Timeline for ApiTimeline<'_> {
    async fn page(&self, cursor: Option<&str>) -> Result<Fetched, ClientError> {
        let answer = self.client.get(&events_path(&self.run_id, cursor)).await?;
        let page = answer.decode()?;
        Ok(Fetched { answer, page })
    }

    async fn run_has_ended(&self) -> Result<bool, ClientError> {
        let answer = self.client.get(&run_path(&self.run_id)).await?;
        let run: RunAnswer = answer.decode()?;
        Ok(run.run.status != "running")
    }

    async fn pause(&self) {
        let message = format!("waiting for events of run {}…", self.run_id);
        if progress::interactive() {
            let spinner = Spinner::start(message, Duration::ZERO);
            tokio::time::sleep(self.poll).await;
            spinner.stop().await;
        } else {
            if !self.announced.replace(true) {
                eprintln!("baton: {message}");
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

pub fn run_path(run_id: &str) -> String {
    format!("/api/v1/runs/{}", segment(run_id))
}

pub fn events_path(run_id: &str, cursor: Option<&str>) -> String {
    let mut path = format!("{}/events?limit={PAGE_LIMIT}", run_path(run_id));
    if let Some(cursor) = cursor {
        path.push_str("&cursor=");
        path.push_str(&segment(cursor));
    }
    path
}

/// The page's events, one line each: time, kind, summary.
pub fn render(page: &Page) -> String {
    page.events
        .iter()
        .map(|event| {
            let line = format!(
                "{}  {:<16} {}",
                table::time_of_day(event.at),
                clean(&event.kind),
                summary(&event.kind, &event.data)
            );
            format!("{}\n", line.trim_end())
        })
        .collect()
}

/// A short, one-line account of an event's data: the fields that matter for the kinds the
/// runner records, `key=value` pairs for any other.
pub fn summary(kind: &str, data: &Value) -> String {
    let text = |key: &str| data.get(key).and_then(scalar);
    let known = match kind {
        "claimed" => both(text("runner"), text("attempt"), |r, a| {
            format!("runner {r} (attempt {a})")
        }),
        "workspace_ready" => match (text("path"), text("branch")) {
            (Some(path), Some(branch)) => Some(format!("{path} on {branch}")),
            (path, _) => path,
        },
        "prompt_rendered" => text("chars").map(|chars| format!("{chars} characters")),
        "session_started" => text("session_id").map(|id| format!("session {id}")),
        "turn_started" => text("turn").map(|turn| format!("turn {turn}")),
        "message" => text("text"),
        "command" => text("command").map(|command| match text("exit_code") {
            Some(code) => format!("$ {command} (exit {code})"),
            None => format!("$ {command}"),
        }),
        "file_change" => both(text("kind"), text("path"), |k, p| format!("{k} {p}")),
        "usage" => text("total_tokens").map(|total| format!("{total} tokens")),
        "turn_ended" => both(text("turn"), text("status"), |t, s| format!("turn {t} {s}")),
        "committed" => both(text("commit"), text("branch"), |c, b| format!("{c} on {b}")),
        "process_exited" => text("code").map(|code| format!("exit code {code}")),
        "run_ended" => text("status").map(|status| {
            match (
                text("code"),
                text("message"),
                text("reason"),
                text("commit"),
            ) {
                (Some(code), Some(message), _, _) => format!("{status}: {code}: {message}"),
                (_, _, Some(reason), _) => format!("{status}: {reason}"),
                (_, _, _, Some(commit)) => format!("{status} (commit {commit})"),
                _ => status,
            }
        }),
        _ => None,
    };
    let line = known.unwrap_or_else(|| pairs(data));
    table::truncate(&clean(&line), SUMMARY_WIDTH)
}

fn both(
    a: Option<String>,
    b: Option<String>,
    join: impl FnOnce(String, String) -> String,
) -> Option<String> {
    Some(join(a?, b?))
}

/// Strings, numbers and booleans as text; nothing else is a single field.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// `key=value key=value`, nested values as compact JSON, nulls left out.
fn pairs(data: &Value) -> String {
    match data {
        Value::Object(fields) => {
            // Sorted by key, whatever order the map keeps: the same event reads the same.
            let mut shown: Vec<_> = fields
                .iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| match scalar(value) {
                    Some(text) => format!("{key}={text}"),
                    None => format!("{key}={value}"),
                })
                .collect();
            shown.sort_unstable();
            shown.join(" ")
        }
        Value::Null => String::new(),
        other => scalar(other).unwrap_or_else(|| other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    const RUN: &str = "0196a0b4-0000-7000-8000-000000000001";

    /// Pages of `GET /api/v1/runs/{id}/events` recorded while a mock-agent run went on,
    /// trimmed to a few events each.
    const FIRST: &str = r#"{"run_id":"0196a0b4-0000-7000-8000-000000000001","events":[
      {"run_id":"0196a0b4-0000-7000-8000-000000000001","seq":1,"at":"2026-11-24T04:38:54.120Z","kind":"claimed","data":{"runner":"dev-1","attempt":1}},
      {"run_id":"0196a0b4-0000-7000-8000-000000000001","seq":2,"at":"2026-11-24T04:38:54.310Z","kind":"workspace_ready","data":{"path":"/tmp/ws/acme_app_1","branch":"baton/acme-app-1"}}
    ],"next_cursor":"c2"}"#;
    const EMPTY: &str =
        r#"{"run_id":"0196a0b4-0000-7000-8000-000000000001","events":[],"next_cursor":"c2"}"#;
    const SECOND: &str = r#"{"run_id":"0196a0b4-0000-7000-8000-000000000001","events":[
      {"run_id":"0196a0b4-0000-7000-8000-000000000001","seq":3,"at":"2026-11-24T04:38:55Z","kind":"file_change","data":{"kind":"update","path":"src/lib.rs"}},
      {"run_id":"0196a0b4-0000-7000-8000-000000000001","seq":4,"at":"2026-11-24T04:38:56Z","kind":"run_ended","data":{"status":"succeeded"}}
    ],"next_cursor":"c4"}"#;
    const LAST_EMPTY: &str =
        r#"{"run_id":"0196a0b4-0000-7000-8000-000000000001","events":[],"next_cursor":null}"#;

    /// Hands out recorded pages in order and checks the cursor each request carries.
    struct Recorded {
        pages: RefCell<VecDeque<(Option<&'static str>, &'static str)>>,
        ended: RefCell<VecDeque<bool>>,
        pauses: Cell<usize>,
    }

    impl Recorded {
        fn new(pages: &[(Option<&'static str>, &'static str)], ended: &[bool]) -> Self {
            Self {
                pages: RefCell::new(pages.iter().copied().collect()),
                ended: RefCell::new(ended.iter().copied().collect()),
                pauses: Cell::new(0),
            }
        }
    }

    impl Timeline for Recorded {
        async fn page(&self, cursor: Option<&str>) -> Result<Fetched, ClientError> {
            let (expected, body) = self
                .pages
                .borrow_mut()
                .pop_front()
                .expect("asked for more pages than were recorded");
            assert_eq!(cursor, expected, "the request's cursor");
            let answer = Answer {
                url: "recorded".into(),
                body: body.into(),
            };
            let page = answer.decode()?;
            Ok(Fetched { answer, page })
        }

        async fn run_has_ended(&self) -> Result<bool, ClientError> {
            Ok(self
                .ended
                .borrow_mut()
                .pop_front()
                .expect("asked about the run more often than recorded"))
        }

        async fn pause(&self) {
            self.pauses.set(self.pauses.get() + 1);
        }
    }

    async fn lines(timeline: &Recorded, mode: Mode) -> (usize, String) {
        let mut out = String::new();
        let seen = read(timeline, mode, |fetched| {
            out.push_str(&render(&fetched.page));
            Ok(())
        })
        .await
        .expect("read");
        (seen, out)
    }

    #[tokio::test]
    async fn following_waits_on_the_cursor_until_the_run_ends_then_drains() {
        let timeline = Recorded::new(
            &[
                (None, FIRST),
                (Some("c2"), EMPTY),
                (Some("c2"), EMPTY),
                (Some("c2"), SECOND),
                (Some("c4"), LAST_EMPTY),
            ],
            &[false, false],
        );
        let (seen, out) = lines(&timeline, Mode::Follow).await;
        assert_eq!(seen, 4);
        assert_eq!(timeline.pauses.get(), 2);
        assert_eq!(
            out,
            "04:38:54.120  claimed          runner dev-1 (attempt 1)\n\
             04:38:54.310  workspace_ready  /tmp/ws/acme_app_1 on baton/acme-app-1\n\
             04:38:55.000  file_change      update src/lib.rs\n\
             04:38:56.000  run_ended        succeeded\n"
        );
        assert!(timeline.pages.borrow().is_empty(), "every page was read");
    }

    #[tokio::test]
    async fn after_the_run_ends_one_more_page_is_read_for_late_events() {
        // The run has ended when the first empty page comes back; its last events arrive
        // on the very next page, which must still be read.
        let timeline = Recorded::new(
            &[
                (None, FIRST),
                (Some("c2"), EMPTY),
                (Some("c2"), SECOND),
                (Some("c4"), r#"{"events":[],"next_cursor":"c4"}"#),
            ],
            &[true],
        );
        let (seen, out) = lines(&timeline, Mode::Follow).await;
        assert_eq!(seen, 4);
        assert_eq!(timeline.pauses.get(), 0);
        assert!(out.ends_with("run_ended        succeeded\n"), "{out}");
    }

    #[tokio::test]
    async fn without_follow_it_stops_at_the_end_of_what_is_recorded() {
        let timeline = Recorded::new(&[(None, FIRST), (Some("c2"), EMPTY)], &[]);
        let (seen, out) = lines(&timeline, Mode::Once).await;
        assert_eq!(seen, 2);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert_eq!(timeline.pauses.get(), 0);
    }

    #[tokio::test]
    async fn a_null_cursor_ends_the_timeline_even_when_following() {
        let last = r#"{"events":[{"at":"2026-11-24T04:38:56Z","kind":"run_ended","data":{"status":"failed","code":"turn_timed_out","message":"turn timed out"}}],"next_cursor":null}"#;
        let timeline = Recorded::new(&[(None, last)], &[]);
        let (seen, out) = lines(&timeline, Mode::Follow).await;
        assert_eq!(seen, 1);
        assert_eq!(
            out,
            "04:38:56.000  run_ended        failed: turn_timed_out: turn timed out\n"
        );
    }

    #[tokio::test]
    async fn an_error_while_following_stops_it() {
        let timeline = Recorded::new(&[(None, r#"{"events": 3}"#)], &[]);
        let result = read(&timeline, Mode::Follow, |_| Ok(())).await;
        assert!(
            matches!(result, Err(ClientError::Unexpected { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn the_cursor_travels_encoded_in_the_query() {
        assert_eq!(
            events_path(RUN, None),
            format!("/api/v1/runs/{RUN}/events?limit=500")
        );
        assert_eq!(
            events_path(RUN, Some("AAAB_x-y=")),
            format!("/api/v1/runs/{RUN}/events?limit=500&cursor=AAAB_x-y%3D")
        );
    }

    #[test]
    fn summaries_name_what_matters_and_fall_back_to_pairs() {
        let data = |value: Value| value;
        assert_eq!(
            summary(
                "command",
                &data(serde_json::json!({"command": "cargo test", "exit_code": 0}))
            ),
            "$ cargo test (exit 0)"
        );
        assert_eq!(
            summary("usage", &data(serde_json::json!({"total_tokens": 1500}))),
            "1500 tokens"
        );
        assert_eq!(
            summary(
                "approval_requested",
                &data(serde_json::json!({"tool": "shell", "args": ["rm"], "why": null}))
            ),
            "args=[\"rm\"] tool=shell"
        );
        // A known kind missing its fields shows what it has rather than blanks.
        assert_eq!(
            summary("claimed", &data(serde_json::json!({"runner": "r"}))),
            "runner=r"
        );
        let long = "x".repeat(500);
        let shown = summary("message", &serde_json::json!({ "text": long }));
        assert_eq!(shown.chars().count(), SUMMARY_WIDTH);
        assert!(shown.ends_with('…'));
        assert_eq!(
            summary("message", &serde_json::json!({"text": "two\nlines\x1b[0m"})),
            "two lines [0m"
        );
    }
}
