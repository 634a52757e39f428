//! The ingress's HTTP edge: `POST /webhooks/{source}` reads the body within a shared memory
//! budget and hands it to the pipeline (`baton_core::ingress::Ingress`), whose verdict it
//! turns into the status code and body the sender sees.

mod body;
mod budget;
mod response;
mod router;

pub use budget::{BodyBudget, BudgetSpent, Held};
pub use router::{router, WEBHOOK_PATH};
