//! What the emulator-backed tests share: the endpoint check and uniquely named resources.

#![allow(dead_code)]

use baton_aws::{DynamoStore, Settings, SqsQueue};
use std::sync::{Arc, LazyLock};

/// One table per test binary run, shared by its tests (their keys are unique); created by
/// whichever test gets there first, `create_table` being idempotent.
static TABLE: LazyLock<String> = LazyLock::new(|| unique("baton-test"));

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// These tests need the AWS emulator; without it they fail (they must not pass vacuously).
pub fn require_emulator() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.trim().is_empty(),
        "AWS_ENDPOINT_URL is not set. These tests run against the AWS emulator: run them with \
         `scripts/test` (e.g. `scripts/test -p baton-aws`), which starts moto and sets \
         AWS_ENDPOINT_URL, AWS_REGION and test credentials."
    );
}

fn settings() -> Settings {
    let queue = unique("baton-test-jobs");
    Settings {
        table: TABLE.clone(),
        dead_letter_queue: format!("{queue}-dlq"),
        queue,
    }
}

/// The shared test table, created if needed.
pub async fn store() -> Arc<DynamoStore> {
    require_emulator();
    let (store, _) = baton_aws::connect(&settings()).await;
    store.create_table().await.unwrap_or_else(|e| panic!("{e}"));
    Arc::new(store)
}

/// A new pair of queues of its own.
pub async fn queue() -> SqsQueue {
    require_emulator();
    let (_, queue) = baton_aws::connect(&settings()).await;
    queue
        .create_queues()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    queue
}

/// Both, set up with `baton_aws::setup`.
pub async fn both() -> (DynamoStore, SqsQueue, Settings) {
    require_emulator();
    let settings = settings();
    let (store, queue) = baton_aws::connect(&settings).await;
    baton_aws::setup(&store, &queue)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (store, queue, settings)
}
