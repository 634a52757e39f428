//! The ingress: the HTTP edge that turns signed webhooks into durable jobs.
//!
//! [`Ingress`] is the pipeline (verify, parse, route, deduplicate, record, enqueue) with no
//! HTTP in it; [`router`] serves it with axum, the same router on Lambda and locally.

mod acknowledge;
mod actions;
mod announce;
mod answers;
mod approvals;
mod body;
mod budget;
mod dedupe;
mod follow_ups;
mod response;
mod router;
mod service;
mod verify;
mod work_items;

pub use actions::ActionError;
pub use budget::{BodyBudget, BudgetSpent, Held};
pub use router::{router, WEBHOOK_PATH};
pub use service::{Accepted, Ingress, IngressError, IngressSettings};
pub use work_items::merge_snapshot;
