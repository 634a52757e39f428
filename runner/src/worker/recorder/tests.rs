use super::*;
use crate::agent::AgentEvent;
use async_trait::async_trait;
use baton_core::clock::SystemClock;
use baton_core::domain::{
    DeliveryKey, DeliveryOutcome, JobId, JobReason, RunId, RunStatus, WorkItem, WorkItemKey,
    WorkItemStatus,
};
use baton_core::memory::MemoryStore;
use baton_core::ports::{DeliveryClaim, SlotPool, StoreError};
use chrono::{DateTime, Utc};

/// A store whose timeline writes take `delay` each: a slow or throttled DynamoDB.
struct SlowTimelines {
    inner: MemoryStore,
    delay: Duration,
}

#[async_trait]
impl Store for SlowTimelines {
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        self.inner
            .begin_delivery(key, owner, now, lease, retain)
            .await
    }
    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        outcome: &DeliveryOutcome,
        event: &baton_core::domain::NormalizedEvent,
        now: DateTime<Utc>,
        retain: Duration,
    ) -> Result<(), StoreError> {
        self.inner
            .complete_delivery(key, owner, outcome, event, now, retain)
            .await
    }
    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<baton_core::domain::DeliveryRecord>, StoreError> {
        self.inner.get_delivery(key, now).await
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        self.inner.release_delivery(key, owner).await
    }
    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError> {
        self.inner.get_work_item(key).await
    }
    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put_work_item(item, expected).await
    }
    async fn delete_work_item(&self, key: &WorkItemKey, expected: u64) -> Result<(), StoreError> {
        self.inner.delete_work_item(key, expected).await
    }
    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        self.inner.list_work_items(status, limit).await
    }
    async fn put_run(&self, run: &Run, expected: Option<u64>) -> Result<(), StoreError> {
        self.inner.put_run(run, expected).await
    }
    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        self.inner.get_run(run_id).await
    }
    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        self.inner.list_runs(key).await
    }
    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.append_events(events, retain).await
    }
    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        self.inner.list_events(run_id, after, limit).await
    }
    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        self.inner.get_slot_pool(scope).await
    }
    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put_slot_pool(pool, expected).await
    }

    async fn get_account_pool(
        &self,
        provider: &str,
    ) -> Result<Option<baton_core::ports::AccountPool>, StoreError> {
        self.inner.get_account_pool(provider).await
    }
    async fn put_account_pool(
        &self,
        pool: &baton_core::ports::AccountPool,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.inner.put_account_pool(pool, expected).await
    }

    async fn record_metrics(
        &self,
        update: &baton_core::trends::MetricsUpdate,
    ) -> Result<(), StoreError> {
        self.inner.record_metrics(update).await
    }

    async fn read_metrics(
        &self,
        scope: &str,
        from: chrono::DateTime<chrono::Utc>,
        to: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<baton_core::trends::MetricsRecord>, StoreError> {
        self.inner.read_metrics(scope, from, to).await
    }

    async fn charge_budget(
        &self,
        charge: &baton_core::ports::BudgetCharge,
    ) -> Result<baton_core::ports::BudgetTotals, StoreError> {
        self.inner.charge_budget(charge).await
    }

    async fn read_budget(
        &self,
        scope: &baton_core::ports::BudgetScope,
    ) -> Result<baton_core::ports::BudgetTotals, StoreError> {
        self.inner.read_budget(scope).await
    }
}

fn run() -> Run {
    let now = Utc::now();
    Run {
        run_id: RunId::generate(),
        work_item: WorkItemKey::parse("github:acme/app#1").expect("key"),
        job_id: JobId::generate(),
        reason: JobReason::Labeled,
        attempt: 1,
        runner: "test".into(),
        status: RunStatus::Running,
        received_at: Some(now),
        queued_at: now,
        claimed_at: now,
        agent_started_at: None,
        ended_at: None,
        session_id: None,
        turns: 0,
        tokens: TokenTotals::default(),
        error: None,
        workspace: None,
        branch: None,
        commit: None,
        events: 0,
        version: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_never_holds_up_the_agent() {
    let store = Arc::new(SlowTimelines {
        inner: MemoryStore::new(),
        delay: Duration::from_millis(150),
    });
    let run = run();
    store.put_run(&run, None).await.expect("put run");
    let (tx, rx) = mpsc::channel(AGENT_EVENT_CAPACITY);
    let recorder = start(
        RecorderContext {
            store: store.clone(),
            clock: Arc::new(SystemClock),
            redactor: Redactor::default(),
            retention: Duration::from_secs(3600),
            max_events: 100_000,
            max_tokens: None,
            stop: Stop::child_of(&tokio_util::sync::CancellationToken::new()),
            budget: crate::worker::budget::RunBudget::inert(),
            session: None,
        },
        run.clone(),
        rx,
    );
    tx.send(AgentEvent::SessionStarted {
        session_id: "s1".into(),
        pid: None,
    })
    .await
    .expect("send");
    // Far more output than the channel holds, while every timeline write takes 150 ms:
    // written inline, 5000 events would take about 30 s to get through.
    let sending = std::time::Instant::now();
    for n in 0..5_000 {
        let sent = tx
            .send_timeout(
                AgentEvent::Message {
                    text: format!("line {n}"),
                },
                Duration::from_secs(1),
            )
            .await;
        assert!(sent.is_ok(), "the agent was held up at event {n}");
    }
    assert!(
        sending.elapsed() < Duration::from_secs(5),
        "the agent waited on the store: {:?}",
        sending.elapsed()
    );
    drop(tx);
    let recorded = recorder.finish(run.clone()).await;
    assert_eq!(recorded.session_id.as_deref(), Some("s1"));
    // The record kept up: its stored version is what the recorder reports.
    let stored = store.get_run(&run.run_id).await.expect("get").expect("run");
    assert_eq!(stored.version, recorded.version);
    assert_eq!(stored.session_id.as_deref(), Some("s1"));
    // What could not be stored is said, not silently lost.
    let events = store
        .list_events(&run.run_id, 0, 100_000)
        .await
        .expect("events");
    let gap = events.iter().find(|e| e.kind == "timeline_gap");
    let stored_messages = events.iter().filter(|e| e.kind == "message").count();
    match gap {
        Some(gap) => assert_eq!(
            gap.data["unstored_events"]
                .as_u64()
                .map(|n| n as usize + stored_messages),
            Some(5_000),
            "stored plus unstored is everything"
        ),
        None => assert_eq!(stored_messages, 5_000),
    }
}
