//! baton's library: everything the thin binaries share.
//!
//! The domain (`domain`, `workflow`, `routing`, `sources`, `webhooks`) never touches AWS; storage and
//! queueing go through the `ports` traits, with in-memory adapters here and DynamoDB/SQS
//! adapters in the `baton-aws` crate. `ingress` serves webhooks, `api` the read API and
//! `dashboard` its HTML pages; all are axum routers that merge into one. `reconciler`
//! requeues lost jobs and polls the trackers for webhooks that never arrived. `telemetry`
//! sets up every binary's logs, redaction and metrics.

pub mod api;
pub mod clock;
pub mod dashboard;
pub mod domain;
mod http_error;
pub mod ingress;
pub mod memory;
pub mod ports;
pub mod reconciler;
pub mod routing;
pub mod secret;
pub mod sources;
pub mod telemetry;
pub mod trends;
pub mod webhooks;
pub mod workflow;

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
