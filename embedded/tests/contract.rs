//! The shared store and queue contracts, each case on a fresh data dir.

mod common;

baton_core::store_contract_tests!(common::fresh_store());
baton_core::queue_contract_tests!(fresh = common::fresh_queue(), send_raw = common::send_raw);

/// Held to it like the memory queue: a receipt goes stale once its message is received again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_stale_receipts_are_invalid() {
    baton_core::contract::queue::stale_receipts_are_invalid(&common::fresh_queue()).await;
}
