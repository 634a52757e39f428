use crate::startup::Failure;
use crate::{describe, timeout_config, SetupError, ATTEMPT_TIMEOUT};
use async_trait::async_trait;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;
use baton_core::domain::Job;
use baton_core::ports::{Queue, QueueError, ReceivedJob, MAX_RECEIVE_COUNT, MAX_SEND_DELAY};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OnceCell;

/// SQS limits.
const MAX_BATCH: usize = 10;
const MAX_WAIT: Duration = Duration::from_secs(20);
const MAX_VISIBILITY_SECS: u64 = 12 * 60 * 60;

/// What `create_queues` gives the jobs queue: a runner heartbeats well within a minute.
const VISIBILITY_TIMEOUT_SECS: u32 = 60;
/// Dead letters are kept as long as SQS allows, 14 days.
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;

/// The `Queue` port on an SQS standard queue whose redrive policy moves a message to the
/// dead-letter queue after [`MAX_RECEIVE_COUNT`] receives. Queue URLs are looked up by name
/// (`GetQueueUrl`) on first use and cached.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    queue: String,
    dead_letter_queue: String,
    queue_url: OnceCell<String>,
    dead_letter_queue_url: OnceCell<String>,
}

fn unavailable<E, R>(operation: &str, err: SdkError<E, R>) -> QueueError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    QueueError::Unavailable(describe("SQS", operation, &err))
}

/// SQS counts visibility in whole seconds, up to 12 hours.
fn whole_seconds(duration: Duration) -> i32 {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(seconds.min(MAX_VISIBILITY_SECS)).unwrap_or(i32::MAX)
}

/// `DelaySeconds`: whole seconds (a fraction is dropped), at most [`MAX_SEND_DELAY`].
fn delay_seconds(delay: Duration) -> i32 {
    i32::try_from(delay.min(MAX_SEND_DELAY).as_secs()).unwrap_or(0)
}

/// Whether an error means the receipt handle is not (or no longer) good. SQS reports an
/// expired handle on `ChangeMessageVisibility` as `InvalidParameterValue`.
/// Codes may come with the `AWS.SimpleQueueService.` prefix of the query protocol.
fn is_bad_receipt(code: Option<&str>, message: Option<&str>) -> bool {
    match code.and_then(|code| code.rsplit('.').next()) {
        Some("ReceiptHandleIsInvalid" | "InvalidIdFormat" | "MessageNotInflight") => true,
        Some("InvalidParameterValue") => {
            message.is_some_and(|m| m.contains("ReceiptHandle") || m.contains("receipt handle"))
        }
        _ => false,
    }
}

impl SqsQueue {
    pub fn new(
        client: Client,
        queue: impl Into<String>,
        dead_letter_queue: impl Into<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                queue: queue.into(),
                dead_letter_queue: dead_letter_queue.into(),
                queue_url: OnceCell::new(),
                dead_letter_queue_url: OnceCell::new(),
            }),
        }
    }

    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The same queues through a client for start-up calls (see `crate::startup`). It
    /// caches its URLs apart from this one.
    pub(crate) fn patient(&self) -> Self {
        Self::new(
            crate::startup::patient_sqs(&self.inner.client),
            self.inner.queue.clone(),
            self.inner.dead_letter_queue.clone(),
        )
    }

    /// The jobs queue's URL.
    pub async fn queue_url(&self) -> Result<&str, QueueError> {
        let inner = &*self.inner;
        self.url(&inner.queue_url, &inner.queue).await
    }

    /// Looks the jobs queue up by name, keeping the SDK's error so that a start-up check can
    /// tell a missing queue (fail at once) from an endpoint that is not ready (wait).
    pub(crate) async fn check_queue_url(&self) -> Result<(), Failure> {
        self.inner
            .client
            .get_queue_url()
            .queue_name(&self.inner.queue)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Failure::from_sdk("SQS", "GetQueueUrl", &e))
    }

    /// The dead-letter queue's URL.
    pub async fn dead_letter_queue_url(&self) -> Result<&str, QueueError> {
        let inner = &*self.inner;
        self.url(&inner.dead_letter_queue_url, &inner.dead_letter_queue)
            .await
    }

    async fn url<'a>(&self, cell: &'a OnceCell<String>, name: &str) -> Result<&'a str, QueueError> {
        cell.get_or_try_init(|| async {
            let output = self
                .inner
                .client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| unavailable("GetQueueUrl", e))?;
            output
                .queue_url
                .ok_or_else(|| QueueError::Unavailable(format!("SQS gave no URL for queue {name}")))
        })
        .await
        .map(String::as_str)
    }

    /// Puts a body on the queue as is, whether it is a valid job or not.
    pub async fn send_raw(&self, body: &str) -> Result<(), QueueError> {
        let url = self.queue_url().await?;
        self.send_message(url, body, None).await
    }

    /// SendMessage; `delay_secs` overrides the queue's default delay.
    async fn send_message(
        &self,
        url: &str,
        body: &str,
        delay_secs: Option<i32>,
    ) -> Result<(), QueueError> {
        let mut request = self
            .inner
            .client
            .send_message()
            .queue_url(url)
            .message_body(body);
        if let Some(delay_secs) = delay_secs {
            request = request.delay_seconds(delay_secs);
        }
        request
            .send()
            .await
            .map_err(|e| unavailable("SendMessage", e))?;
        Ok(())
    }

    /// Creates the dead-letter queue and the jobs queue with its redrive policy, or brings
    /// existing ones to these attributes.
    pub async fn create_queues(&self) -> Result<(), SetupError> {
        let inner = &*self.inner;
        let dlq_url = self
            .create_queue(
                &inner.dead_letter_queue,
                vec![(
                    QueueAttributeName::MessageRetentionPeriod,
                    DLQ_RETENTION_SECS.to_string(),
                )],
            )
            .await?;
        let resource = format!("queue {}", inner.dead_letter_queue);
        let fail = |message: String| SetupError::new(&resource, message);
        let dlq_arn = inner
            .client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| {
                SetupError::from_failure(
                    &resource,
                    Failure::from_sdk("SQS", "GetQueueAttributes", &e),
                )
            })?
            .attributes
            .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| fail("no QueueArn attribute".to_owned()))?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        });
        let url = self
            .create_queue(
                &inner.queue,
                vec![
                    (
                        QueueAttributeName::VisibilityTimeout,
                        VISIBILITY_TIMEOUT_SECS.to_string(),
                    ),
                    (QueueAttributeName::RedrivePolicy, redrive.to_string()),
                ],
            )
            .await?;
        // Caches them, unless a lookup got there first (with the same URLs).
        let _ = inner.dead_letter_queue_url.set(dlq_url);
        let _ = inner.queue_url.set(url);
        Ok(())
    }

    async fn create_queue(
        &self,
        name: &str,
        attributes: Vec<(QueueAttributeName, String)>,
    ) -> Result<String, SetupError> {
        let client = &self.inner.client;
        let resource = format!("queue {name}");
        let fail = |e: String| SetupError::new(&resource, e);
        let created = client
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(attributes.iter().cloned().collect()))
            .send()
            .await;
        match created {
            Ok(output) => output
                .queue_url
                .ok_or_else(|| fail("CreateQueue gave no URL".to_owned())),
            // It exists with other attributes: bring them to ours.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_queue_name_exists()) =>
            {
                let url = client
                    .get_queue_url()
                    .queue_name(name)
                    .send()
                    .await
                    .map_err(|e| {
                        SetupError::from_failure(
                            &resource,
                            Failure::from_sdk("SQS", "GetQueueUrl", &e),
                        )
                    })?
                    .queue_url
                    .ok_or_else(|| fail("GetQueueUrl gave no URL".to_owned()))?;
                client
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attributes.into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| {
                        SetupError::from_failure(
                            &resource,
                            Failure::from_sdk("SQS", "SetQueueAttributes", &e),
                        )
                    })?;
                Ok(url)
            }
            Err(e) => Err(SetupError::from_failure(
                &resource,
                Failure::from_sdk("SQS", "CreateQueue", &e),
            )),
        }
    }
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.send_raw(&job.to_message()).await
    }

    async fn send_delayed(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let url = self.queue_url().await?;
        self.send_message(url, &job.to_message(), Some(delay_seconds(delay)))
            .await
    }

    /// Sends the job's body to the dead-letter queue, where SQS's redrive would have put it.
    async fn dead_letter(&self, job: &Job) -> Result<(), QueueError> {
        let url = self.dead_letter_queue_url().await?;
        self.send_message(url, &job.to_message(), None).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        let url = self.queue_url().await?;
        let wait = wait.min(MAX_WAIT);
        // A long poll legitimately takes `wait`: give each attempt that much more time.
        let attempt = wait + ATTEMPT_TIMEOUT;
        let max = i32::try_from(max.clamp(1, MAX_BATCH)).unwrap_or(1);
        let output = self
            .inner
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max)
            .wait_time_seconds(i32::try_from(wait.as_secs()).unwrap_or(20))
            .visibility_timeout(whole_seconds(visibility))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(
                aws_sdk_sqs::config::Builder::default()
                    .timeout_config(timeout_config(attempt, attempt + ATTEMPT_TIMEOUT)),
            )
            .send()
            .await
            .map_err(|e| unavailable("ReceiveMessage", e))?;
        let mut received = Vec::new();
        for message in output.messages.unwrap_or_default() {
            let Some(receipt) = message.receipt_handle else {
                tracing::warn!(
                    message_id = ?message.message_id,
                    "SQS message without a receipt handle"
                );
                continue;
            };
            let receive_count = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|count| count.parse().ok())
                .unwrap_or_else(|| {
                    tracing::warn!(
                        message_id = ?message.message_id,
                        "SQS message without ApproximateReceiveCount"
                    );
                    1
                });
            received.push(ReceivedJob {
                job: Job::from_message(message.body.as_deref().unwrap_or_default()),
                receipt,
                receive_count,
            });
        }
        Ok(received)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let url = self.queue_url().await?;
        let deleted = self
            .inner
            .client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(e)
                    if e.is_receipt_handle_is_invalid()
                        || is_bad_receipt(e.code(), e.message()) =>
                {
                    Err(QueueError::InvalidReceipt(describe(
                        "SQS",
                        "DeleteMessage",
                        &err,
                    )))
                }
                _ => Err(unavailable("DeleteMessage", err)),
            },
        }
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        let url = self.queue_url().await?;
        let changed = self
            .inner
            .client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(whole_seconds(visibility))
            .send()
            .await;
        match changed {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(e)
                    if e.is_receipt_handle_is_invalid()
                        || e.is_message_not_inflight()
                        || is_bad_receipt(e.code(), e.message()) =>
                {
                    Err(QueueError::InvalidReceipt(describe(
                        "SQS",
                        "ChangeMessageVisibility",
                        &err,
                    )))
                }
                _ => Err(unavailable("ChangeMessageVisibility", err)),
            },
        }
    }

    async fn dead_letter_count(&self) -> Result<usize, QueueError> {
        let url = self.dead_letter_queue_url().await?;
        let attributes = self
            .inner
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| unavailable("GetQueueAttributes", e))?
            .attributes
            .unwrap_or_default();
        let count = attributes
            .get(&QueueAttributeName::ApproximateNumberOfMessages)
            .ok_or_else(|| {
                QueueError::Unavailable("SQS gave no ApproximateNumberOfMessages".to_owned())
            })?;
        count.parse().map_err(|_| {
            QueueError::Unavailable(format!("ApproximateNumberOfMessages is `{count}`"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_whole_seconds_up_to_fifteen_minutes() {
        assert_eq!(delay_seconds(Duration::ZERO), 0);
        assert_eq!(delay_seconds(Duration::from_millis(999)), 0);
        assert_eq!(delay_seconds(Duration::from_millis(2_500)), 2);
        assert_eq!(delay_seconds(Duration::from_secs(900)), 900);
        assert_eq!(delay_seconds(Duration::from_secs(901)), 900);
        assert_eq!(delay_seconds(Duration::MAX), 900);
    }
}
