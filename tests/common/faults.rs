//! Adapters that fail on demand, wrapped around real ones, to show that a backend failure
//! loses nothing.

use async_trait::async_trait;
use baton_core::domain::Job;
use baton_core::ports::{Queue, QueueError, ReceivedJob};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A queue whose next `failures` sends fail as if SQS were down.
pub struct FailingSends {
    pub inner: Arc<dyn Queue>,
    pub failures: AtomicU32,
}

#[async_trait]
impl Queue for FailingSends {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(QueueError::Unavailable("injected: SQS is down".into()));
        }
        self.inner.send(job).await
    }

    async fn send_delayed(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        self.inner.send_delayed(job, delay).await
    }

    async fn dead_letter(&self, job: &Job) -> Result<(), QueueError> {
        self.inner.dead_letter(job).await
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        self.inner.receive(max, wait, visibility).await
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.inner.delete(receipt).await
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        self.inner.change_visibility(receipt, visibility).await
    }

    async fn dead_letter_count(&self) -> Result<usize, QueueError> {
        self.inner.dead_letter_count().await
    }
}
