//! baton's kernel: the domain and the rules every binary shares, with no HTTP and no AWS in
//! it.
//!
//! The domain (`domain`, `workflow`, `routing`, `sources`, `webhooks`) never touches AWS;
//! storage and queueing go through the `ports` traits, with in-memory adapters here and
//! DynamoDB/SQS adapters in the `baton-aws` crate. `ingress` is the pipeline from a verified
//! webhook to a queued job; `reconciler` requeues lost jobs and polls the trackers for
//! webhooks that never arrived; `trends` keeps the hourly series. The web edge (the ingress's
//! HTTP router, the API, the dashboard) is the `baton-web` crate, and logs, redaction and
//! metrics are `baton-telemetry`.

pub mod clock;
pub mod domain;
pub mod ingress;
pub mod links;
pub mod memory;
pub mod ports;
pub mod reconciler;
pub mod routing;
pub mod secret;
pub mod sources;
pub mod trends;
pub mod webhooks;
pub mod workflow;

#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
