//! The read API: what baton is working on and what each run did, as JSON.
//!
//! - `GET /api/v1/state`: a Symphony-style snapshot of the work items by status (see
//!   [`StateResponse`]).
//! - `GET /api/v1/issues/{key}`: one work item with its runs and their timelines (see
//!   [`IssueResponse`]). `{key}` is the work item key (`github:acme/app#12`) percent-encoded
//!   as one path segment: `github%3Aacme%2Fapp%2312`.
//! - `GET /api/v1/workflows`: the workflow files and their status (see [`WorkflowsResponse`]);
//!   a separate router, [`workflows_router`], since only a process that loads the files has it.
//!
//! Errors use the envelope of every baton HTTP surface, `{"error":{"code","message"}}`:
//! 400 `invalid_key`, 404 `issue_not_found`, 503 `store_unavailable` (the detail goes to the
//! log only), and 405 `method_not_allowed` on a known path.
//!
//! The router sets no fallback, because axum refuses to merge two routers that both have one:
//! it is meant to be merged into the ingress router (`ingress::router(..).merge(api::router(..))`),
//! whose fallback answers every unknown path, `/api/...` included, with 404 `not_found`. The
//! 405 answers are per-route fallbacks, which survive the merge.

mod error;
mod issue;
mod state;
#[cfg(test)]
mod tests;
mod workflows;

pub use crate::http_error::not_found;
pub use error::ApiError;
pub use issue::{issue_view, IssueResponse, RunView, EVENTS_PER_RUN};
pub use state::{snapshot, Counts, StateEntry, StateResponse, STATE_LIST_LIMIT};
pub use workflows::{workflows_router, WorkflowsResponse, WORKFLOWS_PATH};

use crate::clock::Clock;
use crate::http_error::method_not_allowed;
use crate::ports::Store;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// The state snapshot.
pub const STATE_PATH: &str = "/api/v1/state";
/// One work item, by its percent-encoded key.
pub const ISSUE_PATH: &str = "/api/v1/issues/{key}";

/// What the handlers share.
#[derive(Clone)]
struct Api {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// The read API's routes, without a fallback (see the module docs): merge it into a router
/// that has one, such as [`crate::ingress::router`].
pub fn router(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Router {
    Router::new()
        .route(
            STATE_PATH,
            get(state::get_state).fallback(method_not_allowed),
        )
        .route(
            ISSUE_PATH,
            get(issue::get_issue).fallback(method_not_allowed),
        )
        .with_state(Api { store, clock })
}
