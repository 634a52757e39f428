//! Choosing and preparing the storage and queue backends.

use crate::cli::BackendArgs;
use anyhow::Context;
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{Queue, Store};
use std::sync::Arc;

pub struct Backends {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub description: String,
}

fn aws_settings(args: &BackendArgs) -> baton_aws::Settings {
    baton_aws::Settings {
        table: args.table.clone(),
        queue: args.queue.clone(),
        dlq: args.dlq.clone(),
    }
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "the default AWS endpoint".into())
}

pub async fn connect(args: &BackendArgs) -> anyhow::Result<Backends> {
    if !args.use_aws() {
        return Ok(Backends {
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::new()),
            description: "embedded in-memory store and queue".into(),
        });
    }
    let settings = aws_settings(args);
    let (store, queue) = baton_aws::connect(&settings).await.with_context(|| {
        format!(
            "cannot reach table `{}` and queue `{}` at {}; run `baton setup` first",
            args.table,
            args.queue,
            endpoint()
        )
    })?;
    Ok(Backends {
        store: Arc::new(store),
        queue: Arc::new(queue),
        description: format!(
            "DynamoDB table `{}` and SQS queue `{}` at {}",
            args.table,
            args.queue,
            endpoint()
        ),
    })
}

/// `baton setup`: creates the table and queues, idempotently.
pub async fn setup(args: BackendArgs) -> anyhow::Result<()> {
    let settings = aws_settings(&args);
    eprintln!(
        "creating table `{}`, queue `{}` and dead-letter queue `{}` at {} ...",
        settings.table,
        settings.queue,
        settings.dlq,
        endpoint()
    );
    baton_aws::setup(&settings)
        .await
        .context("setup failed")?;
    eprintln!("ready.");
    Ok(())
}
