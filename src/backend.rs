//! Choosing and preparing the storage and queue backends.

use crate::cli::BackendArgs;
use anyhow::Context;
use baton_aws::{Backends, Settings};

fn settings(args: &BackendArgs) -> Settings {
    Settings {
        table: args.table.clone(),
        queue: args.queue.clone(),
        dead_letter_queue: args.dlq.clone(),
    }
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "the default AWS endpoint".into())
}

pub async fn open(args: &BackendArgs) -> anyhow::Result<Backends> {
    Ok(baton_aws::open(args.kind()?, &settings(args)).await?)
}

/// `baton setup`: creates the table and queues, idempotently.
pub async fn setup(args: BackendArgs) -> anyhow::Result<()> {
    let settings = settings(&args);
    eprintln!(
        "creating table `{}`, queue `{}` and dead-letter queue `{}` at {} ...",
        settings.table,
        settings.queue,
        settings.dead_letter_queue,
        endpoint()
    );
    let (store, queue) = baton_aws::connect(&settings).await;
    baton_aws::setup(&store, &queue)
        .await
        .context("setup failed")?;
    eprintln!("ready.");
    Ok(())
}
