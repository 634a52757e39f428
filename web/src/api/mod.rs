//! The status API: what baton is working on, what each run did, and the actions a person can
//! take, as JSON.
//!
//! - `GET /api/v1/state`: a Symphony-style snapshot of the work items by status
//!   ([`StateResponse`]).
//! - `GET /api/v1/issues/{key}`: one work item with its runs and their timelines
//!   ([`IssueResponse`]). `{key}` is the work item key (`github:acme/app#12`) percent-encoded
//!   as one path segment: `github%3Aacme%2Fapp%2312`.
//! - `GET /api/v1/runs/{id}` ([`RunResponse`]) and `GET /api/v1/runs/{id}/events`, its
//!   timeline a page at a time with authenticated cursors ([`EventsResponse`]).
//! - `POST /api/v1/issues/{key}/retry`, `POST /api/v1/issues/{key}/cancel` and
//!   `POST /api/v1/deliveries/{id}/replay` ([`ActionResponse`]), carried out by the ingress.
//! - `GET /api/v1/metrics?from&to&workflow`: the hourly series of runs by outcome, latency
//!   percentiles, tokens and cost, queue depth and webhooks ([`MetricsResponse`]).
//! - `GET /api/v1/openapi.json`: the OpenAPI 3.1 document ([`ApiDoc`]).
//! - `GET /api/v1/workflows`: the workflow files and their status ([`WorkflowsResponse`]); a
//!   separate router, [`workflows_router`], since only a process that loads the files has it.
//!
//! Errors use the envelope of every baton HTTP surface, `{"error":{"code","message"}}` (see
//! [`ApiError`]). [`require_auth`] wraps routers with the auth check, [`login_router`] serves
//! the dashboard's sign-in form.
//!
//! The routers set no fallback, because axum refuses to merge two routers that both have one:
//! they are meant to be merged into the ingress router, whose fallback answers every unknown
//! path, `/api/...` included, with 404 `not_found`. The 405 answers are per-route fallbacks,
//! which survive the merge.

mod accounts;
mod actions;
mod auth;
mod cursor;
mod error;
mod events;
mod issue;
mod login;
mod metrics;
mod openapi;
mod params;
mod run;
mod schemas;
mod state;
#[cfg(test)]
mod tests;
mod workflows;

pub use crate::http_error::not_found;
pub use crate::series::MetricsResponse;
pub use accounts::{AccountView, AccountWait, RateLimits};
pub use actions::{ActionResponse, ActionStatus};
pub use auth::{
    require_auth, ApiAuth, AuthConfigError, AUTH_MODE_VARIABLE, SESSION_COOKIE, TOKEN_VARIABLE,
};
pub use cursor::{CursorError, CursorKey, CURSOR_KEY_VARIABLE};
pub use error::{ApiError, ErrorBody, ErrorEnvelope};
pub use events::{EventsResponse, DEFAULT_EVENTS_LIMIT, MAX_EVENTS_LIMIT};
pub use issue::{issue_view, IssueResponse, RunView, EVENTS_PER_RUN};
pub use login::login_router;
pub use metrics::answer as metrics_answer;
pub use openapi::{ApiDoc, OPENAPI_PATH};
pub use run::RunResponse;
pub use state::{snapshot, Counts, StateEntry, StateResponse, STATE_LIST_LIMIT};
pub use workflows::{workflows_router, WorkflowsResponse, WORKFLOWS_PATH};

use crate::dashboard::Pricing;
use crate::http_error::method_not_allowed;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use baton_core::clock::Clock;
use baton_core::ingress::Ingress;
use baton_core::ports::Store;
use std::sync::Arc;

/// The dashboard's sign-in form (token mode).
pub const LOGIN_PATH: &str = "/login";
/// The state snapshot.
pub const STATE_PATH: &str = "/api/v1/state";
/// One work item, by its percent-encoded key.
pub const ISSUE_PATH: &str = baton_core::links::ISSUE_RECORD_PATH;
pub use baton_core::links::issue_url;

/// One run, by id.
pub const RUN_PATH: &str = "/api/v1/runs/{id}";
/// A run's timeline, a page at a time.
pub const RUN_EVENTS_PATH: &str = "/api/v1/runs/{id}/events";
/// Queue a new run of a work item.
pub const RETRY_PATH: &str = "/api/v1/issues/{key}/retry";
/// Cancel a work item.
pub const CANCEL_PATH: &str = "/api/v1/issues/{key}/cancel";
/// The metrics series.
pub const METRICS_PATH: &str = "/api/v1/metrics";
/// Route a delivery's event again.
pub const REPLAY_PATH: &str = "/api/v1/deliveries/{id}/replay";

/// What the handlers share.
#[derive(Clone)]
struct Api {
    ingress: Arc<Ingress>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    cursors: CursorKey,
    /// Token prices, for the cost in the metrics.
    pricing: Pricing,
}

/// The routes, with the paths they serve, so a test can hold the OpenAPI document to them.
#[derive(Default)]
pub(super) struct Routes {
    router: Router<Api>,
    pub(super) paths: Vec<&'static str>,
}

impl Routes {
    fn add(mut self, path: &'static str, methods: MethodRouter<Api>) -> Self {
        self.router = self
            .router
            .route(path, methods.fallback(method_not_allowed));
        self.paths.push(path);
        self
    }
}

pub(super) fn routes() -> Routes {
    Routes::default()
        .add(STATE_PATH, get(state::get_state))
        .add(ISSUE_PATH, get(issue::get_issue))
        .add(RETRY_PATH, post(actions::retry_issue))
        .add(CANCEL_PATH, post(actions::cancel_issue))
        .add(RUN_PATH, get(run::get_run))
        .add(RUN_EVENTS_PATH, get(events::list_run_events))
        .add(REPLAY_PATH, post(actions::replay_delivery))
        .add(METRICS_PATH, get(metrics::get_metrics))
        .add(OPENAPI_PATH, get(openapi::get_openapi))
}

/// The API's routes, without a fallback and without the auth check: wrap the result with
/// [`require_auth`] and merge it into a router that has a fallback, such as
/// [`crate::ingress::router`]. The actions go through `ingress`; `cursors` authenticates
/// the event cursors (share one key between instances: [`CursorKey::from_env`]).
pub fn router(ingress: Arc<Ingress>, cursors: CursorKey) -> Router {
    let api = Api {
        store: Arc::clone(ingress.store()),
        clock: Arc::clone(ingress.clock()),
        ingress,
        cursors,
        // Invalid prices are reported by the dashboard's router, which reads the same.
        pricing: Pricing::from_env().unwrap_or_default(),
    };
    routes().router.with_state(api)
}
