//! Embedded in-memory adapters of the ports, for the zero-setup local mode.
//!
//! They behave like the DynamoDB and SQS adapters of the `baton-aws` crate (the suites in
//! `crate::contract` run against both), including their time granularity: delivery leases are
//! compared in milliseconds, retention and visibility timeouts in whole seconds.

mod accounts;
mod budgets;
mod deliveries;
mod metrics;
mod queue;
mod store;

pub use queue::MemoryQueue;
pub use store::MemoryStore;

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every critical
/// section here leaves the state consistent before anything can panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod contract_tests {
    use super::{MemoryQueue, MemoryStore};

    async fn send_raw(queue: &MemoryQueue, body: String) {
        queue.send_raw(body);
    }

    crate::store_contract_tests!(std::sync::Arc::new(MemoryStore::new()));
    crate::queue_contract_tests!(fresh = MemoryQueue::new(), send_raw = send_raw);

    #[tokio::test]
    async fn queue_stale_receipts_are_invalid() {
        crate::contract::queue::stale_receipts_are_invalid(&MemoryQueue::new()).await;
    }
}
