//! `GET /runs/{id}`: one run, its facts and its whole timeline; and the run summary the
//! issue page shows for each of its runs.

use super::error::DashboardError;
use super::html::{duration, issue_path, page, respond, run_path, time, tokens, Html};
use super::timeline;
use super::Dashboard;
use crate::api::RunView;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use baton_core::domain::{RunEvent, RunId, RunStatus};
use chrono::{DateTime, Utc};

/// Events read per store call on the run page.
const EVENT_PAGE: usize = 500;
/// The most events the run page shows: above the runner's default cap per run (2000), so a
/// whole timeline fits, while a page stays a size a browser opens.
pub const RUN_PAGE_EVENTS: usize = 5000;

/// The facts of a run as a definition list; durations of a running run count up to `now`.
pub(super) fn summary(html: &mut Html, dashboard: &Dashboard, run: &RunView, now: DateTime<Utc>) {
    let end = run.ended_at.unwrap_or(now);
    html.raw("<dl><dt>Status</dt><dd>")
        .status(run.status.as_str())
        .raw("</dd>");
    if let Some(error) = &run.error {
        html.raw("<dt>Error</dt><dd class=\"error\"><code>")
            .text(&error.code)
            .raw("</code> ")
            .text(&error.message)
            .raw("</dd>");
    }
    html.raw("<dt>Run</dt><dd>")
        .link(&run_path(&run.run_id), &run.run_id)
        .raw("</dd><dt>Why</dt><dd>")
        .text(format!("{} · attempt {}", run.reason.as_str(), run.attempt))
        .raw("</dd><dt>Runner</dt><dd>")
        .text(&run.runner)
        .raw("</dd>");
    if let Some(received) = run.received_at {
        html.raw("<dt>Webhook received</dt><dd>")
            .text(time(received))
            .raw("</dd>");
    }
    html.raw("<dt>Queued</dt><dd>")
        .text(time(run.queued_at))
        .raw("</dd><dt>Claimed</dt><dd>")
        .text(time(run.claimed_at))
        .raw(" <span class=\"muted\">(waited ")
        .text(duration(
            run.received_at.unwrap_or(run.queued_at),
            run.claimed_at,
        ))
        .raw(")</span></dd>");
    if let Some(started) = run.agent_started_at {
        html.raw("<dt>Agent started</dt><dd>")
            .text(time(started))
            .raw(" <span class=\"muted\">(session ")
            .text(duration(started, end))
            .raw(if run.ended_at.is_some() {
                ")"
            } else {
                " so far)"
            })
            .raw("</span></dd>");
    }
    match run.ended_at {
        Some(ended) => html
            .raw("<dt>Ended</dt><dd>")
            .text(time(ended))
            .raw(" <span class=\"muted\">(run took ")
            .text(duration(run.claimed_at, ended))
            .raw(")</span></dd>"),
        None => html
            .raw("<dt>Running for</dt><dd>")
            .text(duration(run.claimed_at, now))
            .raw("</dd>"),
    };
    html.raw("<dt>Turns</dt><dd>")
        .text(run.turns)
        .raw("</dd><dt>Tokens</dt><dd>")
        .text(tokens(run.tokens))
        .raw("</dd><dt>Cost</dt><dd>")
        .text(dashboard.pricing.format_cost(run.tokens))
        .raw("</dd>");
    if let Some(session) = &run.session_id {
        html.raw("<dt>Session</dt><dd><code>")
            .text(session)
            .raw("</code></dd>");
    }
    if let Some(branch) = &run.branch {
        html.raw("<dt>Branch</dt><dd><code>")
            .text(branch)
            .raw("</code></dd>");
    }
    if let Some(commit) = &run.commit {
        html.raw("<dt>Commit</dt><dd><code>")
            .text(commit)
            .raw("</code></dd>");
    }
    html.raw("<dt>Events</dt><dd>")
        .text(run.event_count)
        .raw("</dd></dl>");
}

pub(super) async fn get_run(
    State(dashboard): State<Dashboard>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, DashboardError> {
    let Path(id) = id.map_err(|rejection| DashboardError::InvalidRunId(rejection.body_text()))?;
    let run_id = RunId::parse(&id).map_err(DashboardError::InvalidRunId)?;
    let store = dashboard.store.as_ref();
    let run = store
        .get_run(&run_id)
        .await
        .map_err(DashboardError::store("reading a run"))?
        .ok_or_else(|| DashboardError::RunNotFound(run_id.clone()))?;
    let item = store
        .get_work_item(&run.work_item)
        .await
        .map_err(DashboardError::store("reading a work item"))?;
    let (events, truncated) = all_events(&dashboard, &run_id).await?;
    let now = dashboard.clock.now();

    let mut body = Html::new();
    body.raw("<h1>Run ").text(&run.run_id).raw("</h1><p>");
    let issue_label = match &item {
        Some(item) => format!("{} · {}", item.issue.identifier, item.issue.title),
        None => run.work_item.to_string(),
    };
    body.link(&issue_path(&run.work_item), issue_label)
        .raw("</p>");
    summary(
        &mut body,
        &dashboard,
        &RunView::new(run.clone(), Vec::new(), false),
        now,
    );
    body.raw("<h2>Timeline</h2>");
    if truncated {
        body.raw("<p class=\"muted\">Showing the first ")
            .text(RUN_PAGE_EVENTS)
            .raw(" events.</p>");
    }
    timeline::render(&mut body, &events);
    let live = run.status == RunStatus::Running;
    let title = format!("Run {}", run.run_id);
    Ok(respond(StatusCode::OK, page(&title, live, body)))
}

/// The run's events, oldest first, at most [`RUN_PAGE_EVENTS`]; and whether there are more.
async fn all_events(
    dashboard: &Dashboard,
    run_id: &RunId,
) -> Result<(Vec<RunEvent>, bool), DashboardError> {
    let mut events: Vec<RunEvent> = Vec::new();
    loop {
        let after = events.last().map_or(0, |event| event.seq);
        let page = dashboard
            .store
            .list_events(run_id, after, EVENT_PAGE)
            .await
            .map_err(DashboardError::store("listing run events"))?;
        let full = page.len() == EVENT_PAGE;
        events.extend(page);
        if events.len() > RUN_PAGE_EVENTS {
            events.truncate(RUN_PAGE_EVENTS);
            return Ok((events, true));
        }
        if !full {
            return Ok((events, false));
        }
    }
}
