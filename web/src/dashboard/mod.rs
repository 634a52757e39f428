//! The dashboard: server-rendered HTML pages over the same data as the read API, readable
//! without JavaScript and reloading themselves while work is live.
//!
//! - `GET /`: counts per status, token totals and cost, and the running, awaiting-approval,
//!   queued, retrying, failed and dead-lettered work items.
//! - `GET /issues/{key}`: one work item (its pull request, status comment, tokens and cost)
//!   and each run's facts and timeline. `{key}` is percent-encoded as one path segment, as
//!   for `GET /api/v1/issues/{key}`.
//! - `GET /runs/{id}`: one run's facts and its whole timeline.
//! - `GET /workflows/{name}`: one workflow's trends. The overview shows every workflow's:
//!   runs by outcome, dispatch latency and run duration (p50/p95), queue depth over the last
//!   24 hours and cost per day over 14 (see `charts`).
//!
//! A malformed key or run id answers a 400 page, an unknown one a 404 page, a failing store
//! a 503 page that retries by itself. Like [`crate::api::router`], the router has no
//! fallback: merge it into one that has (the ingress router). Authentication is not here:
//! whoever serves the router puts it in front.

mod accounts;
mod charts;
mod error;
mod html;
pub use html::{issue_path, run_path};
mod issue;
mod overview;
mod pricing;
mod run;
#[cfg(test)]
mod tests;
mod timeline;
mod trends;
#[cfg(test)]
mod trends_tests;

pub use error::DashboardError;
pub use html::{escape, REFRESH_SECONDS};
pub use pricing::{Pricing, PricingError, INPUT_PRICE_VARIABLE, OUTPUT_PRICE_VARIABLE};
pub use run::RUN_PAGE_EVENTS;
pub use trends::workflow_path;

use axum::routing::get;
use axum::Router;
use baton_core::clock::Clock;
use baton_core::ports::Store;
use std::sync::Arc;

/// The overview.
pub const OVERVIEW_PATH: &str = "/";
/// One work item, by its percent-encoded key.
pub const ISSUE_PAGE_PATH: &str = "/issues/{key}";
/// One run, by its id.
pub const RUN_PAGE_PATH: &str = "/runs/{id}";
/// One workflow's trends, by its percent-encoded name.
pub const WORKFLOW_PAGE_PATH: &str = "/workflows/{name}";

/// What the pages share.
#[derive(Clone)]
struct Dashboard {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pricing: Pricing,
}

/// The dashboard's routes, with token prices from the environment (see [`Pricing`]); an
/// invalid price is logged and costs show as `—`. Binaries that can refuse to start on a
/// bad setting use [`router_with_pricing`] with [`Pricing::from_env`] instead.
pub fn router(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Router {
    let pricing = Pricing::from_env().unwrap_or_else(|error| {
        tracing::warn!(%error, "dashboard: token prices ignored; costs show as —");
        Pricing::unset()
    });
    router_with_pricing(store, clock, pricing)
}

/// The dashboard's routes, without a fallback (see the module docs).
pub fn router_with_pricing(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pricing: Pricing,
) -> Router {
    Router::new()
        .route(
            OVERVIEW_PATH,
            get(overview::get_overview).fallback(error::method_not_allowed),
        )
        .route(
            ISSUE_PAGE_PATH,
            get(issue::get_issue).fallback(error::method_not_allowed),
        )
        .route(
            RUN_PAGE_PATH,
            get(run::get_run).fallback(error::method_not_allowed),
        )
        .route(
            WORKFLOW_PAGE_PATH,
            get(trends::get_workflow).fallback(error::method_not_allowed),
        )
        .with_state(Dashboard {
            store,
            clock,
            pricing,
        })
}
