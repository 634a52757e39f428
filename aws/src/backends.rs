//! Choosing the backends at start-up: embedded in-memory adapters, or DynamoDB and SQS.
//! The one place a process decides; everything after talks to the ports.

use crate::{connect, Settings};
use baton_core::memory::{MemoryQueue, MemoryStore};
use baton_core::ports::{Queue, Store};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// In-process, nothing to install; state ends with the process.
    Memory,
    /// DynamoDB and SQS at the SDK's endpoint (`AWS_ENDPOINT_URL`, or AWS itself).
    Aws,
}

impl FromStr for BackendKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "memory" => Ok(Self::Memory),
            "aws" => Ok(Self::Aws),
            other => Err(format!("unknown backend `{other}` (memory or aws)")),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::Aws => "aws",
        })
    }
}

/// The ports a process runs on, and a line saying what they are.
#[derive(Clone)]
pub struct Backends {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn Queue>,
    pub description: String,
}

/// The backends are unusable: the table or a queue is missing or unreachable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(String);

/// Opens the backends. For AWS it checks that the table and the queue exist, so a process
/// refuses to start (with a hint) rather than answering 503 to every webhook.
pub async fn open(kind: BackendKind, settings: &Settings) -> Result<Backends, OpenError> {
    if kind == BackendKind::Memory {
        return Ok(Backends {
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::new()),
            description: "embedded in-memory store and queue".into(),
        });
    }
    let (store, queue) = connect(settings).await;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "AWS".into());
    let hint = "create them with `baton setup` (or the infra templates)";
    store
        .client()
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .map_err(|e| {
            OpenError(format!(
                "DynamoDB table `{}` at {endpoint} is not usable ({}); {hint}",
                settings.table,
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            ))
        })?;
    queue.queue_url().await.map_err(|e| {
        OpenError(format!(
            "SQS queue `{}` at {endpoint} is not usable ({e}); {hint}",
            settings.queue
        ))
    })?;
    Ok(Backends {
        description: format!(
            "DynamoDB table `{}` and SQS queue `{}` at {endpoint}",
            settings.table, settings.queue
        ),
        store: Arc::new(store),
        queue: Arc::new(queue),
    })
}
