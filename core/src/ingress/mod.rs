//! The ingress pipeline: what turns a signed webhook into a durable job.
//!
//! [`Ingress`] verifies, parses, routes, deduplicates, records and enqueues, with no HTTP in
//! it: the web edge (`baton_web::ingress::router`) serves it, and the reconciler's safety
//! poll feeds it the same way.

mod acknowledge;
mod actions;
mod announce;
mod answers;
mod approvals;
mod dedupe;
mod follow_ups;
mod service;
mod verify;
mod work_items;

pub use actions::ActionError;
pub use service::{Accepted, Ingress, IngressError, IngressSettings};
pub use work_items::merge_snapshot;
