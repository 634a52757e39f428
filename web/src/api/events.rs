//! `GET /api/v1/runs/{id}/events?limit=N&cursor=C`: a run's timeline, a page at a time,
//! oldest first. `next_cursor` resumes after the page; it stays non-null while the run has
//! not ended, even on an empty page, so a client follows a live run by polling with the last
//! cursor it got.

use super::cursor::CursorKey;
use super::error::ApiError;
use super::params::{self, Segment};
use super::Api;
use axum::extract::{RawQuery, State};
use axum::Json;
use baton_core::domain::{RunEvent, RunId, RunStatus};
use serde::{Deserialize, Serialize};

/// Events per page unless `limit` says otherwise.
pub const DEFAULT_EVENTS_LIMIT: usize = 100;
/// The largest `limit` accepted.
pub const MAX_EVENTS_LIMIT: usize = 500;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventsResponse {
    #[schema(value_type = super::schemas::RunIdSchema)]
    pub run_id: RunId,
    /// Oldest first.
    #[schema(value_type = Vec<super::schemas::RunEventSchema>)]
    pub events: Vec<RunEvent>,
    /// Pass it as `cursor` for the events after these; `null` once the run has ended and
    /// this page holds its last event.
    pub next_cursor: Option<String>,
}

/// What the query string asks for.
struct Page {
    limit: usize,
    cursor: Option<String>,
}

fn page(query: Option<&str>) -> Result<Page, ApiError> {
    let mut page = Page {
        limit: DEFAULT_EVENTS_LIMIT,
        cursor: None,
    };
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*name {
            "limit" => {
                page.limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_EVENTS_LIMIT).contains(limit))
                    .ok_or_else(|| {
                        ApiError::InvalidLimit(format!(
                            "`limit` must be a whole number from 1 to {MAX_EVENTS_LIMIT}, not `{value}`"
                        ))
                    })?;
            }
            "cursor" => page.cursor = Some(value.into_owned()),
            // Unknown parameters are ignored, as caches and proxies add their own.
            _ => {}
        }
    }
    Ok(page)
}

/// A page of a run's timeline.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/events",
    tag = "runs",
    params(
        ("id" = String, Path, description = "The run id (a UUID)"),
        ("limit" = Option<u32>, Query, description = "Events per page, 1 to 500 (default 100)"),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of events", body = EventsResponse),
        (status = 400, description = "`invalid_run_id`, `invalid_cursor` or `invalid_limit`", body = super::error::ErrorEnvelope),
        (status = 401, description = "`unauthorized`", body = super::error::ErrorEnvelope),
        (status = 404, description = "`run_not_found`", body = super::error::ErrorEnvelope),
        (status = 503, description = "`store_unavailable`", body = super::error::ErrorEnvelope),
    )
)]
pub(super) async fn list_run_events(
    State(api): State<Api>,
    id: Segment,
    RawQuery(query): RawQuery,
) -> Result<Json<EventsResponse>, ApiError> {
    let run_id = params::run_id(id)?;
    let page = page(query.as_deref())?;
    let after = match &page.cursor {
        Some(cursor) => api
            .cursors
            .decode(&run_id, cursor)
            .map_err(ApiError::InvalidCursor)?,
        None => 0,
    };
    let run = api
        .store
        .get_run(&run_id)
        .await
        .map_err(ApiError::store("reading a run"))?
        .ok_or_else(|| ApiError::RunNotFound(run_id.clone()))?;
    // One more than the page tells whether more follow.
    let mut events = api
        .store
        .list_events(&run_id, after, page.limit + 1)
        .await
        .map_err(ApiError::store("listing run events"))?;
    let more = events.len() > page.limit;
    events.truncate(page.limit);
    let next_cursor = next_cursor(
        &api.cursors,
        &run_id,
        after,
        &events,
        more || run.status == RunStatus::Running,
    );
    Ok(Json(EventsResponse {
        run_id,
        events,
        next_cursor,
    }))
}

/// The cursor after `events` (or after `after` when the page is empty), if `more` may come.
fn next_cursor(
    key: &CursorKey,
    run: &RunId,
    after: u32,
    events: &[RunEvent],
    more: bool,
) -> Option<String> {
    let last = events.last().map_or(after, |event| event.seq);
    more.then(|| key.encode(run, last))
}
