//! `baton status`: the agent accounts of the state snapshot's `rate_limits`, one row per
//! account: who leases it, whether its quota is used up, and the provider's last signals.

use super::table::{self, Table};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Provider → its accounts.
pub type RateLimits = BTreeMap<String, Vec<Account>>;

#[derive(Debug, Deserialize)]
pub struct Account {
    pub name: String,
    #[serde(default)]
    pub leased_by: Option<String>,
    #[serde(default)]
    pub exhausted_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub signals: Option<Signals>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Signals {
    pub windows: Vec<Window>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Window {
    pub name: String,
    pub used_percent: Option<f64>,
    pub window_minutes: Option<u64>,
    pub resets_at: Option<DateTime<Utc>>,
}

/// Why a queued item waits: every account of `provider` is used up until `until`.
#[derive(Debug, Deserialize)]
pub struct Wait {
    pub provider: String,
    pub until: DateTime<Utc>,
}

pub fn wait_detail(wait: &Wait, now: DateTime<Utc>) -> String {
    format!(
        "waiting for a {} account until {}",
        wait.provider,
        table::relative(wait.until, now)
    )
}

/// The titled accounts table, or nothing when no pool is recorded.
pub fn render(limits: Option<&RateLimits>, now: DateTime<Utc>) -> String {
    let Some(limits) = limits.filter(|l| l.values().any(|accounts| !accounts.is_empty())) else {
        return String::new();
    };
    let mut rows = Table::new(&["PROVIDER", "ACCOUNT", "LEASED BY", "QUOTA", "SIGNALS"]);
    let mut total = 0;
    for (provider, accounts) in limits {
        for account in accounts {
            total += 1;
            let quota = match account.exhausted_until {
                Some(until) => format!("used up, resets {}", table::relative(until, now)),
                None => "available".to_owned(),
            };
            rows.row(vec![
                provider.clone(),
                account.name.clone(),
                account
                    .leased_by
                    .clone()
                    .unwrap_or_else(|| "free".to_owned()),
                quota,
                signals(account.signals.as_ref(), now),
            ]);
        }
    }
    format!("\nAgent accounts ({total})\n{}", rows.render())
}

fn signals(signals: Option<&Signals>, now: DateTime<Utc>) -> String {
    let Some(signals) = signals else {
        return String::new();
    };
    let mut parts: Vec<String> = signals
        .windows
        .iter()
        .map(|w| {
            let mut text = w.name.clone();
            if let Some(used) = w.used_percent {
                text.push_str(&format!(" {used:.0}%"));
            }
            if let Some(minutes) = w.window_minutes {
                text.push_str(&format!(" of {minutes}m"));
            }
            if let Some(reset) = w.resets_at {
                text.push_str(&format!(", resets {}", table::relative(reset, now)));
            }
            text
        })
        .collect();
    if let Some(error) = &signals.error {
        parts.push(table::truncate(&table::clean(error), 60));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_show_their_lease_quota_and_signals() {
        let limits: RateLimits = serde_json::from_str(
            r#"{"codex": [
                {"name": "team-a", "leased_by": "run-1", "exhausted_until": null,
                 "signals": {"observed_at": "2026-11-24T04:39:00Z",
                   "windows": [{"name": "primary", "used_percent": 42.0, "window_minutes": 300,
                                "resets_at": "2026-11-24T05:40:00Z"}]}},
                {"name": "team-b", "leased_by": null, "exhausted_until": "2026-11-24T04:50:00Z",
                 "signals": {"observed_at": "2026-11-24T04:39:00Z", "windows": [],
                   "error": "429 usage limit reached"}}
            ]}"#,
        )
        .expect("rate limits");
        let now = "2026-11-24T04:40:00Z".parse().expect("time");
        let text = render(Some(&limits), now);
        assert!(text.contains("Agent accounts (2)"), "{text}");
        assert!(text.contains("team-a") && text.contains("run-1"), "{text}");
        assert!(
            text.contains("primary 42% of 300m, resets in 1h00m"),
            "{text}"
        );
        assert!(text.contains("used up, resets in 10m00s"), "{text}");
        assert!(text.contains("free"), "{text}");
        assert!(render(None, now).is_empty());
    }
}
