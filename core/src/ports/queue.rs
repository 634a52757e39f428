use crate::domain::Job;
use async_trait::async_trait;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The receipt handle is unknown or expired (the message became visible again).
    #[error("receipt is no longer valid: {0}")]
    InvalidReceipt(String),
}

/// A message taken off the queue. It stays invisible to other consumers for the visibility
/// timeout, then returns unless deleted.
#[derive(Debug, Clone)]
pub struct ReceivedJob {
    /// The parsed job, or why the body could not be parsed (a poison message).
    pub job: Result<Job, String>,
    pub receipt: String,
    /// How many times this message has been received, this time included.
    pub receive_count: u32,
}

/// `maxReceiveCount` of the redrive policy: a message received this many times without
/// being deleted moves to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// SQS's longest message delay; longer delays are cut to it.
pub const MAX_SEND_DELAY: Duration = Duration::from_secs(15 * 60);

/// The jobs queue: at-least-once delivery, with a dead-letter queue after
/// [`MAX_RECEIVE_COUNT`] receives.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    async fn send(&self, job: &Job) -> Result<(), QueueError>;

    /// Sends a job that becomes visible after `delay` (whole seconds, at most
    /// [`MAX_SEND_DELAY`]): how retries wait out their backoff.
    async fn send_delayed(&self, job: &Job, delay: Duration) -> Result<(), QueueError>;

    /// Puts a job straight on the dead-letter queue: the runner gave up on it.
    async fn dead_letter(&self, job: &Job) -> Result<(), QueueError>;

    /// Waits up to `wait` for at most `max` messages (1..=10), hiding each for `visibility`.
    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError>;

    /// Acknowledges a message: it will not be delivered again.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;

    /// Extends (or shortens) a received message's invisibility, e.g. as a heartbeat.
    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError>;

    /// Messages currently in the dead-letter queue (approximate on SQS).
    async fn dead_letter_count(&self) -> Result<usize, QueueError>;
}
