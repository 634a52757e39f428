//! What providers say about an account's quota, read from the agent's event stream:
//!
//! - Codex's `account/rateLimits/updated`: `{primary, secondary}` windows of
//!   `{usedPercent, windowDurationMins, resetsAt}` (epoch seconds); a window at 100 % is
//!   used up until it resets.
//! - Claude Code's `rate_limit_event`: `{status, resetsAt, rateLimitType, utilization}`;
//!   `status: rejected` means refused until `resetsAt`.
//! - Rate-limit errors of either CLI: HTTP 429, `rate_limit_error`, "usage limit" (Claude
//!   Code's `Claude AI usage limit reached|<epoch>`), with a reset time when they give one.

use crate::agent::AgentEvent;
use baton_core::ports::{QuotaSignals, QuotaWindow};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// How long an account is skipped after a usage-limit error that names no reset time.
pub const USAGE_LIMIT_COOLDOWN: chrono::Duration = chrono::Duration::hours(1);
/// How long after a bare rate-limit error (HTTP 429) that names no reset time.
pub const RATE_LIMIT_COOLDOWN: chrono::Duration = chrono::Duration::minutes(1);
/// Characters of a provider's error kept in the record.
const MAX_ERROR_CHARS: usize = 300;

/// The quota signals seen in one run: the last snapshot and the last rate-limit error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub snapshot: Option<Value>,
    pub error: Option<String>,
}

impl Seen {
    pub fn observe(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::RateLimit { details } => self.snapshot = Some(details.clone()),
            AgentEvent::TurnEnded {
                error: Some(text), ..
            }
            | AgentEvent::Notice { text } => self.error_text(text),
            _ => {}
        }
    }

    /// Notes `text` if it is a rate-limit error.
    pub fn error_text(&mut self, text: &str) {
        if is_rate_limit_error(text) {
            self.error = Some(text.chars().take(MAX_ERROR_CHARS).collect());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.error.is_none()
    }

    /// The signals to record, and until when the account is used up (if it is).
    pub fn assess(&self, now: DateTime<Utc>) -> (QuotaSignals, Option<DateTime<Utc>>) {
        let windows = self.snapshot.as_ref().map(windows).unwrap_or_default();
        let mut exhausted = windows
            .iter()
            .filter(|w| w.used_percent.is_some_and(|p| p >= 100.0))
            .map(|w| w.resets_at.unwrap_or(now + USAGE_LIMIT_COOLDOWN))
            .max();
        if self
            .snapshot
            .as_ref()
            .and_then(|s| s.get("status"))
            .and_then(Value::as_str)
            == Some("rejected")
        {
            let until = self
                .snapshot
                .as_ref()
                .and_then(|s| time(s.get("resetsAt")?))
                .unwrap_or(now + USAGE_LIMIT_COOLDOWN);
            exhausted = exhausted.max(Some(until));
        }
        if let Some(error) = &self.error {
            exhausted = exhausted.max(Some(error_reset(error, now)));
        }
        let signals = QuotaSignals {
            observed_at: now,
            windows,
            error: self.error.clone(),
        };
        (signals, exhausted.filter(|until| *until > now))
    }
}

/// Whether an error text is a provider refusing for rate or usage limits.
pub fn is_rate_limit_error(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.contains("rate_limit_error")
        || lower.contains("usage limit")
        || lower.contains("rate limit")
        || lower.contains("too many requests")
        || lower.contains("usage_limit_reached")
        || lower
            .split(|c: char| !c.is_ascii_digit())
            .any(|number| number == "429")
}

/// When an error's limit resets: Claude Code's `|<epoch>` suffix, "try again in N
/// seconds/minutes/hours", "resets at <RFC 3339>", or a default cooldown.
fn error_reset(text: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    if let Some(epoch) = text
        .rsplit_once('|')
        .and_then(|(_, tail)| tail.trim().parse::<i64>().ok())
    {
        if let Some(at) = DateTime::from_timestamp(epoch, 0) {
            return at;
        }
    }
    if let Some(at) = text.split_whitespace().find_map(|word| {
        DateTime::parse_from_rfc3339(word.trim_matches(|c| c == '.' || c == ',')).ok()
    }) {
        return at.with_timezone(&Utc);
    }
    let lower = text.to_lowercase();
    if let Some(rest) = lower.split("try again in ").nth(1) {
        let mut words = rest.split_whitespace();
        if let (Some(number), Some(unit)) = (words.next(), words.next()) {
            if let Ok(n) = number.parse::<i64>() {
                let seconds = match unit.trim_end_matches(['.', ',']) {
                    u if u.starts_with("second") => Some(n),
                    u if u.starts_with("minute") => Some(n * 60),
                    u if u.starts_with("hour") => Some(n * 3600),
                    _ => None,
                };
                if let Some(seconds) = seconds {
                    return now + chrono::Duration::seconds(seconds.clamp(0, 7 * 24 * 3600));
                }
            }
        }
    }
    let usage = lower.contains("usage limit") || lower.contains("usage_limit");
    now + if usage {
        USAGE_LIMIT_COOLDOWN
    } else {
        RATE_LIMIT_COOLDOWN
    }
}

/// Epoch seconds (a number or a numeric string) or an RFC 3339 string.
fn time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => DateTime::from_timestamp(n.as_f64()? as i64, 0),
        Value::String(s) => s
            .parse::<i64>()
            .ok()
            .and_then(|epoch| DateTime::from_timestamp(epoch, 0))
            .or_else(|| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }),
        _ => None,
    }
}

fn field<'a>(value: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names
        .iter()
        .find_map(|name| value.get(name))
        .filter(|v| !v.is_null())
}

/// The usage windows of a snapshot, in Codex's shape or Claude Code's.
fn windows(snapshot: &Value) -> Vec<QuotaWindow> {
    let window = |name: &str, w: &Value| QuotaWindow {
        name: name.to_owned(),
        used_percent: field(w, &["usedPercent", "used_percent"])
            .and_then(Value::as_f64)
            .or_else(|| {
                field(w, &["utilization"])
                    .and_then(Value::as_f64)
                    .map(|u| u * 100.0)
            }),
        window_minutes: field(
            w,
            &["windowDurationMins", "window_minutes", "windowMinutes"],
        )
        .and_then(Value::as_u64),
        resets_at: field(w, &["resetsAt", "resets_at"]).and_then(time),
    };
    let codex: Vec<QuotaWindow> = ["primary", "secondary"]
        .iter()
        .filter_map(|name| field(snapshot, &[name]).map(|w| window(name, w)))
        .collect();
    if !codex.is_empty() {
        return codex;
    }
    if snapshot.get("status").is_some() || snapshot.get("resetsAt").is_some() {
        let name = field(snapshot, &["rateLimitType"])
            .and_then(Value::as_str)
            .unwrap_or("limit");
        return vec![window(name, snapshot)];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn a_codex_window_at_full_usage_exhausts_the_account_until_it_resets() {
        let mut seen = Seen::default();
        seen.observe(&AgentEvent::RateLimit {
            details: json!({
                "primary": {"usedPercent": 100.0, "windowDurationMins": 300, "resetsAt": 1_800_003_600},
                "secondary": {"usedPercent": 40, "windowDurationMins": 10080, "resetsAt": 1_800_500_000}
            }),
        });
        let (signals, until) = seen.assess(now());
        assert_eq!(until, DateTime::from_timestamp(1_800_003_600, 0));
        assert_eq!(signals.windows.len(), 2);
        assert_eq!(signals.windows[1].used_percent, Some(40.0));
        assert_eq!(signals.windows[0].window_minutes, Some(300));
    }

    #[test]
    fn a_codex_window_below_full_usage_only_records_the_signal() {
        let mut seen = Seen::default();
        seen.observe(&AgentEvent::RateLimit {
            details: json!({"primary": {"usedPercent": 42.5, "windowDurationMins": 300}}),
        });
        let (signals, until) = seen.assess(now());
        assert_eq!(until, None);
        assert_eq!(signals.windows[0].used_percent, Some(42.5));
    }

    #[test]
    fn a_claude_rejection_and_usage_limit_errors_name_their_reset() {
        let mut seen = Seen::default();
        seen.observe(&AgentEvent::RateLimit {
            details: json!({"status": "rejected", "resetsAt": 1_800_007_200, "rateLimitType": "five_hour"}),
        });
        let (signals, until) = seen.assess(now());
        assert_eq!(until, DateTime::from_timestamp(1_800_007_200, 0));
        assert_eq!(signals.windows[0].name, "five_hour");

        let mut seen = Seen::default();
        seen.observe(&AgentEvent::TurnEnded {
            turn: 1,
            status: crate::agent::TurnStatus::Failed,
            error: Some("Claude AI usage limit reached|1800009000".into()),
        });
        assert_eq!(
            seen.assess(now()).1,
            DateTime::from_timestamp(1_800_009_000, 0)
        );

        let mut seen = Seen::default();
        seen.error_text("stream error: 429 Too Many Requests; try again in 90 seconds");
        assert_eq!(
            seen.assess(now()).1,
            Some(now() + chrono::Duration::seconds(90))
        );

        let mut seen = Seen::default();
        seen.error_text("You've hit your usage limit.");
        assert_eq!(seen.assess(now()).1, Some(now() + USAGE_LIMIT_COOLDOWN));
    }

    #[test]
    fn other_errors_are_not_rate_limits() {
        for text in [
            "exit status 1",
            "compile error in line 4290",
            "permission denied",
        ] {
            assert!(!is_rate_limit_error(text), "{text}");
        }
        let mut seen = Seen::default();
        seen.error_text("exit status 1");
        assert!(seen.is_empty());
    }
}
