//! The reconciler Lambda: one requeue pass per invocation, on an EventBridge schedule
//! (`rate(1 minute)`), wired to DynamoDB and SQS from the environment. The pass's report is
//! the invocation's result.

use baton_core::clock::{Clock, SystemClock};
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{reconcile_once, ReconcileError, ReconcileReport, ReconcilerSettings};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use std::sync::Arc;

/// The parts of an EventBridge scheduled event worth a log line. Every field is optional,
/// so a manual test invoke with `{}` runs a pass too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ScheduledEvent {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "detail-type")]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// When the schedule fired (RFC 3339).
    #[serde(default)]
    pub time: Option<String>,
    /// The schedule rule's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
}

pub struct Handler {
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
    settings: ReconcilerSettings,
}

impl Handler {
    pub fn new(
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
        settings: ReconcilerSettings,
    ) -> Self {
        Self {
            store,
            queue,
            clock,
            settings,
        }
    }

    /// Builds the handler from the environment:
    /// - `BATON_BACKEND`: `aws` (default) or `memory`; `BATON_TABLE`, `BATON_QUEUE`, `BATON_DLQ`;
    /// - `BATON_LEASE_SECS`, `BATON_RECONCILE_LEASE_GRACE_SECS`,
    ///   `BATON_RECONCILE_RETRY_GRACE_SECS`, `BATON_RECONCILE_QUEUED_SECS`: the graces.
    pub async fn from_env() -> anyhow::Result<Self> {
        let backend: baton_aws::BackendKind = std::env::var("BATON_BACKEND")
            .unwrap_or_else(|_| "aws".into())
            .parse()
            .map_err(|e: String| anyhow::anyhow!("BATON_BACKEND: {e}"))?;
        let backends = baton_aws::open(backend, &baton_aws::Settings::from_env()).await?;
        let settings = ReconcilerSettings::from_lookup(|name| std::env::var(name).ok())?;
        tracing::info!(backend = %backends.description, ?settings, "reconciler ready");
        Ok(Self::new(
            backends.store,
            backends.queue,
            Arc::new(SystemClock),
            settings,
        ))
    }

    /// One pass.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ReconcileError> {
        reconcile_once(&*self.store, &*self.queue, &*self.clock, &self.settings).await
    }

    /// One scheduled invocation. A pass that cannot list the work items fails the
    /// invocation; the next schedule tries again.
    pub async fn handle(
        &self,
        event: LambdaEvent<ScheduledEvent>,
    ) -> Result<ReconcileReport, ReconcileError> {
        let (scheduled, context) = event.into_parts();
        tracing::info!(request_id = %context.request_id,
            event_id = scheduled.id.as_deref().unwrap_or(""),
            scheduled_at = scheduled.time.as_deref().unwrap_or(""), "reconciler invoked");
        let report = self.reconcile().await?;
        tracing::info!(
            inspected = report.inspected,
            requeued = report.requeued.len(),
            failed = report.failed.len(),
            "reconciler pass done"
        );
        Ok(report)
    }
}
