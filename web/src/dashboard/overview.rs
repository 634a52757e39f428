//! `GET /`: everything baton is working on at a glance: counts, token totals and cost, and
//! one table per status that needs a look (running, awaiting approval, awaiting input,
//! queued, retrying, failed, dead-lettered).

use super::error::DashboardError;
use super::html::{count, issue_path, page, respond, run_path, time, tokens, Html};
use super::Dashboard;
use crate::api::{snapshot, StateEntry, StateResponse};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use baton_core::domain::{TokenTotals, WorkItemStatus};
use chrono::{DateTime, Utc};

pub(super) async fn get_overview(
    State(dashboard): State<Dashboard>,
) -> Result<Response, DashboardError> {
    let state = snapshot(dashboard.store.as_ref(), dashboard.clock.as_ref()).await?;
    let mut body = Html::new();
    body.raw("<h1>Overview</h1><p class=\"muted\">As of ")
        .text(time(state.generated_at))
        .raw("; this page reloads itself.</p>");
    cards(&mut body, &dashboard, &state);
    super::trends::section(&mut body, &dashboard, None).await?;
    super::accounts::section(&mut body, state.rate_limits.as_ref());
    let now = state.generated_at;
    section(
        &mut body,
        "Running",
        "Nothing is running.",
        &state.running,
        now,
    );
    section(
        &mut body,
        "Awaiting approval",
        "Nothing is waiting for approval.",
        &state.awaiting_approval,
        now,
    );
    section(
        &mut body,
        "Awaiting input",
        "No agent is waiting for an answer.",
        &state.awaiting_input,
        now,
    );
    section(
        &mut body,
        "Queued",
        "Nothing is queued.",
        &state.queued,
        now,
    );
    section(
        &mut body,
        "Retrying",
        "Nothing is waiting for a retry.",
        &state.retrying,
        now,
    );
    section(
        &mut body,
        "Failed",
        "Nothing has failed.",
        &state.failed,
        now,
    );
    section(
        &mut body,
        "Dead-lettered",
        "Nothing is dead-lettered.",
        &state.dead_lettered,
        now,
    );
    Ok(respond(StatusCode::OK, page("Overview", true, body)))
}

/// The counts per status, the token totals and their cost.
fn cards(html: &mut Html, dashboard: &Dashboard, state: &StateResponse) {
    use WorkItemStatus as S;
    let counts = &state.counts;
    let capped = |status: WorkItemStatus| state.capped.contains(&status);
    let shown = [
        ("Running", counts.running, capped(S::Running)),
        (
            "Awaiting approval",
            counts.awaiting_approval,
            capped(S::AwaitingApproval),
        ),
        (
            "Awaiting input",
            counts.awaiting_input,
            capped(S::AwaitingInput),
        ),
        ("Queued", counts.queued, capped(S::Queued)),
        ("Retrying", counts.retrying, capped(S::Retrying)),
        ("Failed", counts.failed, capped(S::Failed)),
        (
            "Dead-lettered",
            counts.dead_lettered,
            capped(S::DeadLettered),
        ),
        ("Succeeded", counts.succeeded, capped(S::Succeeded)),
        ("Cancelled", counts.cancelled, capped(S::Cancelled)),
    ];
    html.raw("<div class=\"cards\">");
    for (label, n, capped) in shown {
        html.raw("<div class=\"card\"><b>")
            .text(count(n as u64))
            // A capped count is a lower bound.
            .raw(if capped { "+" } else { "" })
            .raw("</b>")
            .text(label)
            .raw("</div>");
    }
    html.raw("</div>");
    let totals: TokenTotals = state.token_totals;
    html.raw("<dl><dt>Tokens</dt><dd>")
        .text(tokens(totals))
        .raw("</dd><dt>Cost</dt><dd>")
        .text(dashboard.pricing.format_cost(totals))
        .raw("</dd></dl>");
}

/// One status's table, or a line saying it is empty.
fn section(
    html: &mut Html,
    heading: &str,
    empty: &str,
    entries: &[StateEntry],
    now: DateTime<Utc>,
) {
    html.raw("<section><h2>")
        .text(heading)
        .raw(" <span class=\"muted\">(")
        .text(entries.len())
        .raw(")</span></h2>");
    if entries.is_empty() {
        html.raw("<p class=\"empty\">")
            .text(empty)
            .raw("</p></section>");
        return;
    }
    html.raw("<table><thead><tr><th>Issue</th><th>Title</th><th>Status</th><th>Tracker state</th>")
        .raw("<th>Attempt</th><th>Detail</th><th>Updated</th><th>Tokens</th></tr></thead><tbody>");
    for entry in entries {
        html.raw("<tr><td>")
            .link(&issue_path(&entry.work_item), &entry.identifier)
            .raw("</td><td>")
            .text(&entry.title)
            .raw("</td><td>")
            .status(entry.status.as_str())
            .raw("</td><td>")
            .text(&entry.state)
            .raw("</td><td>")
            .text(entry.attempt)
            .raw("</td><td>");
        detail(html, entry, now);
        html.raw("</td><td>")
            .text(time(entry.updated_at))
            .raw("</td><td>")
            .text(count(entry.tokens.total_tokens))
            .raw("</td></tr>");
    }
    html.raw("</tbody></table></section>");
}

/// What matters about an entry in its status: who runs it, when it retries, why it failed.
fn detail(html: &mut Html, entry: &StateEntry, now: DateTime<Utc>) {
    if entry.cancel_requested {
        html.raw("<span class=\"cancelled\">cancel requested</span> ");
    }
    if let Some(owner) = &entry.lease_owner {
        html.raw("on ").text(owner).raw(" ");
        if entry.lease_expires_at.is_some_and(|expires| expires <= now) {
            // The runner stopped heartbeating: the reconciler will requeue it.
            html.raw("<span class=\"failed\">lease expired</span> ");
        }
    }
    if let Some(due) = entry.next_retry_at {
        html.raw("retry at ").text(time(due)).raw(" ");
    }
    if let Some(wait) = &entry.waiting_for_account {
        super::accounts::wait(html, wait);
    }
    if entry.status == WorkItemStatus::AwaitingApproval {
        html.raw("waiting for an approver ");
    }
    if let Some(question) = &entry.question {
        html.raw("<span class=\"question\">asks: ")
            .text(question)
            .raw("</span> ");
        if let Some(deadline) = entry.input_deadline {
            html.raw("until ").text(time(deadline)).raw(" ");
        }
    }
    if let Some(error) = &entry.last_error {
        html.raw("<span class=\"error\">")
            .text(error)
            .raw("</span> ");
    }
    if let Some(run) = &entry.run_id {
        html.link(&run_path(run), "last run");
    }
}
