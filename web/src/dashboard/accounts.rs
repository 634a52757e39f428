//! The overview's agent accounts: per provider, each account's lease, whether its quota is
//! used up, and the provider's last rate-limit signals.

use super::html::{time, Html};
use crate::api::{AccountView, AccountWait, RateLimits};
use baton_core::ports::QuotaSignals;

/// The section, when any pool is recorded.
pub(super) fn section(html: &mut Html, limits: Option<&RateLimits>) {
    let Some(limits) = limits.filter(|l| l.values().any(|a| !a.is_empty())) else {
        return;
    };
    html.raw("<section><h2>Agent accounts</h2><table><thead><tr><th>Provider</th>")
        .raw("<th>Account</th><th>Leased by</th><th>Quota</th><th>Last signals</th>")
        .raw("</tr></thead><tbody>");
    for (provider, accounts) in limits {
        for account in accounts {
            row(html, provider, account);
        }
    }
    html.raw("</tbody></table></section>");
}

fn row(html: &mut Html, provider: &str, account: &AccountView) {
    html.raw("<tr><td>")
        .text(provider)
        .raw("</td><td>")
        .text(&account.name)
        .raw("</td><td>");
    match &account.leased_by {
        Some(run) => html.text(run),
        None => html.raw("<span class=\"muted\">free</span>"),
    };
    html.raw("</td><td>");
    match account.exhausted_until {
        Some(until) => html
            .raw("<span class=\"failed\">used up</span> until ")
            .text(time(until)),
        None => html.raw("available"),
    };
    html.raw("</td><td>");
    if let Some(signals) = &account.signals {
        signals_text(html, signals);
    }
    html.raw("</td></tr>");
}

fn signals_text(html: &mut Html, signals: &QuotaSignals) {
    for window in &signals.windows {
        html.text(&window.name);
        if let Some(used) = window.used_percent {
            html.text(format!(" {used:.0}%"));
        }
        if let Some(minutes) = window.window_minutes {
            html.text(format!(" of {minutes} min"));
        }
        if let Some(reset) = window.resets_at {
            html.raw(", resets ").text(time(reset));
        }
        html.raw("; ");
    }
    if let Some(error) = &signals.error {
        html.raw("<span class=\"error\">")
            .text(error)
            .raw("</span>");
    }
}

/// The detail of a queued item that waits for an account.
pub(super) fn wait(html: &mut Html, wait: &AccountWait) {
    html.raw("waiting for an agent account (")
        .text(&wait.provider)
        .raw(") until ")
        .text(time(wait.until))
        .raw(" ");
}
