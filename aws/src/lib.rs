//! baton's AWS adapters: [`DynamoStore`] implements the `Store` port on one DynamoDB table,
//! [`SqsQueue`] the `Queue` port on an SQS standard queue with a dead-letter queue (delayed
//! sends use `DelaySeconds`; `dead_letter` sends the job to the dead-letter queue itself).
//!
//! The endpoint comes from the SDK's usual configuration (`AWS_ENDPOINT_URL`, or the
//! per-service `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SQS`), so the same code talks
//! to AWS or to an emulator. The clients fail fast: a dead endpoint gives an error within
//! about three seconds, which the ingress turns into a 503. Start-up calls (`setup`, the
//! checks of `open`) are the exception: they wait for a cold or throttled endpoint within a
//! start-up budget (see [`startup`]).
//!
//! Table layout (one table, string keys `pk`/`sk`):
//!
//! | item      | pk                          | sk         | other attributes                                  |
//! |-----------|-----------------------------|------------|---------------------------------------------------|
//! | delivery  | `DELIVERY#<source>#<id>`    | `DELIVERY` | `status`, `owner`, `lease_until` (epoch ms), `outcome` (JSON), `expires_at` (TTL, epoch s) |
//! | work item | `ITEM#<key>`                | `ITEM`     | `doc` (the item as JSON), `version`, `status`, `gsi1pk` = `STATUS#<status>`, `gsi1sk` = `updated_at` (RFC 3339) |
//! | run       | `RUN#<run id>`              | `RUN`      | `doc` (the run as JSON), `version`, `gsi1pk` = `RUNS#<work item key>`, `gsi1sk` = run id |
//! | run event | `RUN#<run id>`              | `EVENT#<seq>` (10 digits, zero-padded) | `doc` (the event as JSON), `expires_at` (TTL: the event's `at` + retention, epoch s) |
//! | slot pool | `SLOTS#<scope>`             | `SLOTS`    | `doc` (the pool as JSON), `version`                |
//!
//! Versioned records (work items, runs, slot pools) are written with a condition on
//! `version` (or on the record not existing yet). A run's events share its partition: a
//! timeline is read with consistent queries on `sk` between `EVENT#<after + 1>` and the
//! largest sequence number, which leaves the run's own record out. Events are written with
//! `BatchWriteItem`, 25 at a time, unconditionally (appending is idempotent).
//!
//! The global secondary index `gsi1` (`gsi1pk`/`gsi1sk`, all attributes projected) serves
//! the listings: work items by status, most recently updated first, and a work item's runs,
//! oldest first (run ids are UUIDv7s, so they sort by creation time). Reads of a GSI are
//! only eventually consistent: a listing may miss a write of the last moment.
//!
//! DynamoDB deletes items past their TTL in the background, up to a few days late (and
//! emulators may never do it), so reads treat a record whose `expires_at` has passed as
//! absent.

mod backends;
mod credentials;
mod dynamo;
mod sqs;
pub mod startup;

pub use backends::{open, open_aws, BackendKind, Backends, OpenError};
pub use credentials::AwsCredentials;
pub use dynamo::DynamoStore;
pub use sqs::SqsQueue;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use std::time::Duration;

/// Where baton keeps its state: names only; the endpoint, region and credentials come from
/// the AWS SDK's own configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `BATON_TABLE`, default `baton`.
    pub table: String,
    /// `BATON_QUEUE`, default `baton-jobs`.
    pub queue: String,
    /// `BATON_DLQ`, default `baton-jobs-dlq`.
    pub dead_letter_queue: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            table: "baton".to_owned(),
            queue: "baton-jobs".to_owned(),
            dead_letter_queue: "baton-jobs-dlq".to_owned(),
        }
    }
}

impl Settings {
    /// Reads `BATON_TABLE`, `BATON_QUEUE` and `BATON_DLQ`; unset or empty ones keep their
    /// defaults.
    pub fn from_env() -> Self {
        let var = |name: &str, default: String| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
                .unwrap_or(default)
        };
        let defaults = Self::default();
        Self {
            table: var("BATON_TABLE", defaults.table),
            queue: var("BATON_QUEUE", defaults.queue),
            dead_letter_queue: var("BATON_DLQ", defaults.dead_letter_queue),
        }
    }
}

/// Time to open a connection to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// One attempt of a call. DynamoDB and SQS answer in milliseconds; SQS long polls get
/// their wait added (see `SqsQueue::receive`).
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole call, retries included.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// Standard retries (throttling, 5xx, connection errors), few and quick: the caller is
/// usually a webhook sender that retries on a 503 anyway.
fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_millis(500))
}

pub(crate) fn timeout_config(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// The SDK configuration loader baton uses: the SDK's defaults (environment, profile,
/// `AWS_ENDPOINT_URL`, ...) with short timeouts and few retries. Callers may override more
/// (a test points it at a dead endpoint) before `load()`.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config(ATTEMPT_TIMEOUT, OPERATION_TIMEOUT))
}

/// Builds both adapters from one SDK configuration.
pub fn adapters(config: &SdkConfig, settings: &Settings) -> (DynamoStore, SqsQueue) {
    (
        DynamoStore::new(aws_sdk_dynamodb::Client::new(config), &settings.table),
        SqsQueue::new(
            aws_sdk_sqs::Client::new(config),
            &settings.queue,
            &settings.dead_letter_queue,
        ),
    )
}

/// Loads the SDK configuration from the environment and builds both adapters. Nothing is
/// called yet: the queue URLs are looked up on first use.
pub async fn connect(settings: &Settings) -> (DynamoStore, SqsQueue) {
    adapters(&config_loader().load().await, settings)
}

/// The agent account credential source of a runner on AWS: Secrets Manager and Parameter
/// Store references, the rest through `local`.
pub async fn agent_credentials(
    local: std::sync::Arc<dyn baton_core::ports::CredentialSource>,
) -> AwsCredentials {
    AwsCredentials::new(&config_loader().load().await, local)
}

/// Creates what the adapters need, idempotently: the table (with its GSI and TTL, waiting
/// until it is active), the dead-letter queue and the jobs queue with its redrive policy.
/// Infrastructure templates do the same in AWS accounts; this is for emulators and tests.
/// Waits for a cold or throttled endpoint within the start-up budget of the environment
/// (`BATON_STARTUP_BUDGET_SECS`, see [`startup`]).
pub async fn setup(store: &DynamoStore, queue: &SqsQueue) -> Result<(), SetupError> {
    let budget = startup::StartupBudget::from_env()
        .map_err(|e| SetupError::new("the start-up budget", e.to_string()))?;
    setup_within(store, queue, &budget).await
}

/// [`setup`] within `budget`.
pub async fn setup_within(
    store: &DynamoStore,
    queue: &SqsQueue,
    budget: &startup::StartupBudget,
) -> Result<(), SetupError> {
    let (store, queue) = (store.patient(), queue.patient());
    let table = format!("table {}", store.table());
    let what = format!("creating DynamoDB table `{}`", store.table());
    startup::retry(budget, &what, || async {
        store.create_table().await.map_err(SetupError::into_failure)
    })
    .await
    .map_err(|e| SetupError::new(table, e.to_string()))?;
    let what = "creating the SQS queues";
    startup::retry(budget, what, || async {
        queue
            .create_queues()
            .await
            .map_err(SetupError::into_failure)
    })
    .await
    .map_err(|e| SetupError::new("the queues", e.to_string()))
}

/// An SDK error with its whole chain of causes (the service's message included), for
/// `Unavailable` errors and logs.
pub(crate) fn describe<E, R>(service: &str, operation: &str, err: &SdkError<E, R>) -> String
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    format!("{service} {operation}: {}", DisplayErrorContext(err))
}

/// Creating the table or the queues failed.
#[derive(Debug, thiserror::Error)]
#[error("setting up {resource} failed: {message}")]
pub struct SetupError {
    pub resource: String,
    pub message: String,
    /// Whether trying again later may succeed (see [`startup::Failure::from_sdk`]).
    transient: bool,
}

impl SetupError {
    fn new(resource: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            message: message.into(),
            transient: false,
        }
    }

    fn from_failure(resource: impl Into<String>, failure: startup::Failure) -> Self {
        Self {
            resource: resource.into(),
            message: failure.message,
            transient: failure.transient,
        }
    }

    fn into_failure(self) -> startup::Failure {
        startup::Failure {
            transient: self.transient,
            message: self.message,
        }
    }
}
