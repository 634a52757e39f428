//! `GET /issues/{key}`: one work item (the issue, its status, pull request and status
//! comment) and each of its runs, newest first, with their timelines.

use super::error::DashboardError;
use super::html::{page, respond, run_path, time, tokens, Html};
use super::run::summary;
use super::timeline;
use super::Dashboard;
use crate::api::{issue_view, EVENTS_PER_RUN};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use baton_core::domain::{WorkItem, WorkItemKey};

pub(super) async fn get_issue(
    State(dashboard): State<Dashboard>,
    key: Result<Path<String>, PathRejection>,
) -> Result<Response, DashboardError> {
    // The path segment is percent-decoded already; a rejection means it was not UTF-8.
    let Path(key) = key.map_err(|rejection| DashboardError::InvalidKey(rejection.body_text()))?;
    let key = WorkItemKey::parse(&key).map_err(DashboardError::InvalidKey)?;
    let view = issue_view(dashboard.store.as_ref(), key).await?;
    let now = dashboard.clock.now();
    let item = &view.work_item;

    let mut body = Html::new();
    body.raw("<h1>")
        .text(&item.issue.identifier)
        .raw(" · ")
        .text(&item.issue.title)
        .raw("</h1>");
    facts(&mut body, &dashboard, item);

    body.raw("<h2>Runs</h2>");
    if view.runs.is_empty() {
        body.raw("<p class=\"empty\">No runs yet.</p>");
    }
    // Newest first: the run a person came to look at is usually the last one.
    for run in view.runs.iter().rev() {
        body.raw("<section class=\"run\"><h3>Attempt ")
            .text(run.attempt)
            .raw(" · ")
            .status(run.status.as_str())
            .raw("</h3>");
        summary(&mut body, &dashboard, run, now);
        if run.events_truncated {
            body.raw("<p class=\"muted\">The first ")
                .text(EVENTS_PER_RUN)
                .raw(" events; the ")
                .link(&run_path(&run.run_id), "run page")
                .raw(" has the rest.</p>");
        }
        timeline::render(&mut body, &run.events);
        body.raw("</section>");
    }
    let title = format!("{} · {}", item.issue.identifier, item.issue.title);
    Ok(respond(
        StatusCode::OK,
        page(&title, item.status.is_active(), body),
    ))
}

/// The work item's own facts.
fn facts(html: &mut Html, dashboard: &Dashboard, item: &WorkItem) {
    html.raw("<dl><dt>Status</dt><dd>")
        .status(item.status.as_str());
    if item.cancel_requested {
        html.raw(" <span class=\"cancelled\">cancel requested</span>");
    }
    html.raw("</dd><dt>Key</dt><dd><code>")
        .text(&item.key)
        .raw("</code></dd><dt>Issue</dt><dd>");
    match &item.issue.url {
        Some(url) => html.external_link(url, url),
        None => html.text(&item.issue.identifier),
    };
    html.raw(" <span class=\"muted\">(")
        .text(&item.issue.state)
        .raw(")</span></dd><dt>Attempt</dt><dd>")
        .text(item.attempt)
        .raw("</dd>");
    if let Some(workflow) = &item.workflow {
        html.raw("<dt>Workflow</dt><dd>")
            .link(&super::workflow_path(workflow), workflow)
            .raw("</dd>");
    }
    if let Some(error) = &item.last_error {
        html.raw("<dt>Last error</dt><dd class=\"error\">")
            .text(error)
            .raw("</dd>");
    }
    if let Some(input) = &item.input_request {
        html.raw("<dt>Question</dt><dd class=\"question\">")
            .text(&input.question)
            .raw(" <span class=\"muted\">(asked ")
            .text(time(input.asked_at));
        if let Some(deadline) = input.deadline {
            html.raw("; waits until ").text(time(deadline));
        }
        html.raw(")</span></dd>");
        if let Some(answer) = &input.answer {
            html.raw("<dt>Answer</dt><dd>")
                .text(&answer.text)
                .raw(" <span class=\"muted\">(")
                .text(&answer.by)
                .raw(")</span></dd>");
        }
    }
    if let Some(due) = item.next_retry_at {
        html.raw("<dt>Next retry</dt><dd>")
            .text(time(due))
            .raw("</dd>");
    }
    if let Some(lease) = &item.lease {
        html.raw("<dt>Runner</dt><dd>")
            .text(&lease.owner)
            .raw(" <span class=\"muted\">(lease until ")
            .text(time(lease.expires_at))
            .raw(")</span></dd>");
    }
    if let Some(approver) = &item.approved_by {
        html.raw("<dt>Approved by</dt><dd>")
            .text(approver)
            .raw("</dd>");
    }
    html.raw("<dt>Pull request</dt><dd>");
    match &item.pull_request {
        Some(pull_request) => html
            .external_link(&pull_request.url, format!("#{}", pull_request.number))
            .raw(" <span class=\"muted\">from <code>")
            .text(&pull_request.branch)
            .raw("</code></span>"),
        None => html.raw("<span class=\"muted\">none yet</span>"),
    };
    html.raw("</dd><dt>Status comment</dt><dd>");
    match &item.status_comment {
        Some(id) => match comment_url(item, id) {
            Some(url) => html.external_link(&url, "evidence and status"),
            None => html.text(format!("comment {id} on the issue")),
        },
        None => html.raw("<span class=\"muted\">none yet</span>"),
    };
    html.raw("</dd><dt>Tokens</dt><dd>")
        .text(tokens(item.tokens))
        .raw("</dd><dt>Cost</dt><dd>")
        .text(dashboard.pricing.format_cost(item.tokens))
        .raw("</dd><dt>First seen</dt><dd>")
        .text(time(item.created_at))
        .raw("</dd><dt>Updated</dt><dd>")
        .text(time(item.updated_at))
        .raw("</dd></dl>");
}

/// Where the status comment is, from the issue's address and the comment id the tracker
/// gave, when the source has a documented anchor for it.
fn comment_url(item: &WorkItem, id: &str) -> Option<String> {
    let issue = item.issue.url.as_deref()?;
    baton_core::sources::describe(item.source).comment_url(issue, id)
}
