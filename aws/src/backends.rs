//! Choosing the backends at start-up: embedded in-memory adapters, or DynamoDB and SQS.
//! The one place a process decides; everything after talks to the ports.

use crate::startup::{self, Failure, StartupBudget, StartupError};
use crate::{adapters, config_loader, Settings};
use aws_config::SdkConfig;
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
/// refuses to start (with a hint) rather than answering 503 to every webhook. The checks
/// wait for a cold or throttled endpoint within the start-up budget of the environment
/// (`BATON_STARTUP_BUDGET_SECS`, see [`crate::startup`]).
pub async fn open(kind: BackendKind, settings: &Settings) -> Result<Backends, OpenError> {
    if kind == BackendKind::Memory {
        return Ok(Backends {
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::new()),
            description: "embedded in-memory store and queue".into(),
        });
    }
    let budget = StartupBudget::from_env().map_err(|e| OpenError(e.to_string()))?;
    open_aws(&config_loader().load().await, settings, &budget).await
}

/// Opens DynamoDB and SQS as `config` says, checking within `budget` that the table and the
/// jobs queue exist. A missing one fails at once; an endpoint that does not answer (yet) is
/// retried until the budget is spent.
pub async fn open_aws(
    config: &SdkConfig,
    settings: &Settings,
    budget: &StartupBudget,
) -> Result<Backends, OpenError> {
    let (store, queue) = adapters(config, settings);
    let endpoint = config.endpoint_url().unwrap_or("AWS").to_owned();
    let hint = "create them with `baton setup` (or the infra templates)";
    let unusable = |what: &str, error: StartupError| {
        OpenError(format!(
            "{what} at {endpoint} is not usable ({error}); {hint}"
        ))
    };
    let client = startup::patient_dynamo(store.client());
    let what = format!("checking DynamoDB table `{}`", settings.table);
    startup::retry(budget, &what, || async {
        client
            .describe_table()
            .table_name(store.table())
            .send()
            .await
            .map_err(|e| Failure::from_sdk("DynamoDB", "DescribeTable", &e))
    })
    .await
    .map_err(|e| unusable(&format!("DynamoDB table `{}`", settings.table), e))?;
    let patient_queue = queue.patient();
    let what = format!("checking SQS queue `{}`", settings.queue);
    startup::retry(budget, &what, || patient_queue.check_queue_url())
        .await
        .map_err(|e| unusable(&format!("SQS queue `{}`", settings.queue), e))?;
    Ok(Backends {
        description: format!(
            "DynamoDB table `{}` and SQS queue `{}` at {endpoint}",
            settings.table, settings.queue
        ),
        store: Arc::new(store),
        queue: Arc::new(queue),
    })
}
