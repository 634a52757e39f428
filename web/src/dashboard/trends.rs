//! The charts' sections: the overview's (every workflow) and `GET /workflows/{name}` (one
//! workflow's), each the last 24 hours by hour and the last 14 days' cost by day, read with
//! the same query as `GET /api/v1/metrics`.

use super::charts;
use super::error::DashboardError;
use super::html::{page, respond, time, Html};
use super::Dashboard;
use crate::api::metrics_answer;
use crate::series::MetricsQuery;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::TimeDelta;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

/// How many days the cost chart covers.
const COST_DAYS: i64 = 14;

/// The dashboard path of a workflow's page.
pub fn workflow_path(name: &str) -> String {
    format!("/workflows/{}", utf8_percent_encode(name, NON_ALPHANUMERIC))
}

/// The charts of `workflow` (`None`: all together), under an `<h2>`.
pub(super) async fn section(
    body: &mut Html,
    dashboard: &Dashboard,
    workflow: Option<&str>,
) -> Result<(), DashboardError> {
    let now = dashboard.clock.now();
    let owned = workflow.map(str::to_owned);
    let day = MetricsQuery::last(TimeDelta::hours(24), now, owned.clone());
    let days = MetricsQuery::last(TimeDelta::days(COST_DAYS), now, owned);
    let store = dashboard.store.as_ref();
    let hourly = metrics_answer(store, &day, &dashboard.pricing)
        .await
        .map_err(DashboardError::store("reading metrics"))?;
    let daily = metrics_answer(store, &days, &dashboard.pricing)
        .await
        .map_err(DashboardError::store("reading metrics"))?;
    let totals = &hourly.totals;
    body.raw("<h2>Trends</h2><p class=\"muted\">The last 24 hours: ")
        .text(totals.runs.started)
        .raw(" runs started, ")
        .text(totals.ended())
        .raw(" ended (")
        .text(totals.runs.failed)
        .raw(" failed); ")
        .text(totals.webhooks.received)
        .raw(" webhooks received, ")
        .text(totals.webhooks.accepted)
        .raw(" accepted, ")
        .text(totals.webhooks.refused)
        .raw(" refused. As JSON: <code>GET /api/v1/metrics</code>.</p><div class=\"charts\">");
    charts::hourly(body, &hourly);
    charts::daily_cost(body, &daily);
    body.raw("</div>");
    Ok(())
}

/// `GET /workflows/{name}`: one workflow's trends.
pub(super) async fn get_workflow(
    State(dashboard): State<Dashboard>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Response, DashboardError> {
    let Path(name) =
        name.map_err(|rejection| DashboardError::InvalidWorkflow(rejection.body_text()))?;
    let valid =
        !name.is_empty() && name.chars().count() <= 200 && !name.chars().any(char::is_control);
    if !valid {
        return Err(DashboardError::InvalidWorkflow(format!(
            "`{}` is not a workflow name (1 to 200 printable characters)",
            baton_core::domain::preview(&name)
        )));
    }
    let mut body = Html::new();
    body.raw("<h1>Workflow ")
        .text(&name)
        .raw("</h1><p class=\"muted\">As of ")
        .text(time(dashboard.clock.now()))
        .raw("; the runs of this workflow only (webhooks and the queue are the deployment's, on the ")
        .link("/", "overview")
        .raw(").</p>");
    section(&mut body, &dashboard, Some(&name)).await?;
    let title = format!("Workflow {name}");
    Ok(respond(StatusCode::OK, page(&title, false, body)))
}
