//! Contract suites every adapter of a port must pass.
//!
//! Each case is a `pub async fn` that takes the adapter under test and panics on a broken
//! promise. Every case uses keys of its own (a fresh uuid), so the store cases can share one
//! table; the queue cases need an empty queue each. Two macros turn the suites into one
//! `#[tokio::test]` per case, so every adapter runs every case:
//!
//! ```ignore
//! baton_core::store_contract_tests!(std::sync::Arc::new(MemoryStore::new()));
//! baton_core::queue_contract_tests!(fresh = MemoryQueue::new(), send_raw = send_raw);
//! ```
//!
//! Time in the store cases is simulated through the `now` arguments, never slept; the queue
//! cases do sleep (visibility timeouts are whole seconds on SQS), about 3 s at most each.
//!
//! Compiled for core's own tests and, with the `contract-tests` feature, for adapter crates.

pub mod accounts;
pub mod budgets;
pub mod metrics;
pub mod queue;
pub mod store;

/// A fresh identifier for keys that no other test (or test run) uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
