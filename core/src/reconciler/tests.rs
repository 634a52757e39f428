use super::*;
use crate::clock::{Clock, ManualClock};
use crate::domain::{
    DeliveryKey, DeliveryOutcome, IssueSnapshot, Job, JobId, JobReason, Lease, Run, RunEvent,
    RunId, SourceKind, WorkItem, WorkItemKey, WorkItemStatus,
};
use crate::memory::{MemoryQueue, MemoryStore};
use crate::ports::{DeliveryClaim, Queue, QueueError, ReceivedJob, SlotPool, Store, StoreError};
use crate::workflow::Workflow;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn secs(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn settings() -> ReconcilerSettings {
    ReconcilerSettings {
        lease_grace: Duration::from_secs(120),
        retry_grace: Duration::from_secs(60),
        queued_grace: Duration::from_secs(900),
    }
}

fn issue(number: u32, state: &str, labels: &[&str]) -> IssueSnapshot {
    IssueSnapshot {
        id: number.to_string(),
        identifier: format!("acme/app#{number}"),
        title: format!("Issue {number}"),
        state: state.into(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        ..IssueSnapshot::default()
    }
}

/// An item written at `at`, with its request made then.
fn item(number: u32, status: WorkItemStatus, at: DateTime<Utc>) -> WorkItem {
    let issue = issue(number, "open", &["baton"]);
    WorkItem {
        key: WorkItemKey::new(SourceKind::Github, &issue.identifier),
        source: SourceKind::Github,
        issue,
        status,
        attempt: 1,
        cancel_requested: false,
        pending_job: Some(JobId::generate()),
        last_delivery: Some("delivery-1".into()),
        created_at: at,
        updated_at: at,
        requested_at: Some(at),
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: Default::default(),
        approved_by: None,
        pull_request: None,
        status_comment: None,
        input_request: None,
        agent_session: None,
        workflow: None,
        version: 1,
    }
}

fn running(number: u32, at: DateTime<Utc>, lease_until: DateTime<Utc>) -> WorkItem {
    let mut item = item(number, WorkItemStatus::Running, at);
    item.lease = Some(Lease {
        owner: "runner-a".into(),
        run_id: RunId::generate(),
        expires_at: lease_until,
    });
    item
}

fn requeue(cause: RequeueCause) -> Verdict {
    Verdict::Requeue(cause)
}

fn skip(reason: SkipReason) -> Verdict {
    Verdict::Skip(reason)
}

// ---- the rules ----

#[test]
fn a_live_lease_is_never_touched() {
    let t = start();
    let s = settings();
    // A runner that keeps renewing, however old the request.
    let mut heartbeating = running(1, t, t + secs(30));
    heartbeating.requested_at = Some(t - secs(86_400));
    assert_eq!(judge(&heartbeating, t, &s), skip(SkipReason::LeaseLive));
    for status in [WorkItemStatus::Queued, WorkItemStatus::Retrying] {
        let mut leased = heartbeating.clone();
        leased.status = status;
        leased.updated_at = t - secs(86_400);
        assert_eq!(
            judge(&leased, t, &s),
            skip(SkipReason::LeaseLive),
            "{status:?}"
        );
    }
}

#[test]
fn an_expired_lease_is_requeued_only_after_the_grace() {
    let s = settings();
    let t = start();
    let item = running(1, t, t + secs(60));
    assert_eq!(
        judge(&item, t + secs(61), &s),
        skip(SkipReason::LeaseRecentlyExpired)
    );
    assert_eq!(
        judge(&item, t + secs(60 + 119), &s),
        skip(SkipReason::LeaseRecentlyExpired)
    );
    assert_eq!(
        judge(&item, t + secs(60 + 120), &s),
        requeue(RequeueCause::LeaseExpired)
    );
}

#[test]
fn a_requeued_item_waits_a_whole_grace_before_the_next_requeue() {
    let s = settings();
    let t = start();
    let mut item = running(1, t, t + secs(60));
    // The reconciler wrote it (a fresh pending job) long after the lease ran out.
    item.updated_at = t + secs(600);
    assert_eq!(
        judge(&item, t + secs(600 + 119), &s),
        skip(SkipReason::LeaseRecentlyExpired)
    );
    assert_eq!(
        judge(&item, t + secs(600 + 120), &s),
        requeue(RequeueCause::LeaseExpired)
    );
}

#[test]
fn a_cancel_whose_runner_died_is_settled() {
    let s = settings();
    let t = start();
    let mut item = running(1, t, t + secs(60));
    item.cancel_requested = true;
    item.pending_job = None;
    assert_eq!(
        judge(&item, t + secs(180), &s),
        requeue(RequeueCause::OrphanedCancel)
    );
}

#[test]
fn a_retry_is_requeued_once_overdue_by_the_grace() {
    let s = settings();
    let t = start();
    let mut item = item(1, WorkItemStatus::Retrying, t);
    item.next_retry_at = Some(t + secs(300));
    assert_eq!(
        judge(&item, t + secs(10), &s),
        skip(SkipReason::RetryNotOverdue)
    );
    assert_eq!(
        judge(&item, t + secs(359), &s),
        skip(SkipReason::RetryNotOverdue)
    );
    assert_eq!(
        judge(&item, t + secs(360), &s),
        requeue(RequeueCause::RetryOverdue)
    );
}

#[test]
fn a_queued_item_is_requeued_once_stale() {
    let s = settings();
    let t = start();
    let queued = item(1, WorkItemStatus::Queued, t);
    assert_eq!(
        judge(&queued, t + secs(899), &s),
        skip(SkipReason::QueuedRecently)
    );
    assert_eq!(
        judge(&queued, t + secs(900), &s),
        requeue(RequeueCause::QueuedStale)
    );
    // A continuation due later counts from when it is due.
    let mut continuation = queued.clone();
    continuation.next_retry_at = Some(t + secs(3600));
    assert_eq!(
        judge(&continuation, t + secs(3600 + 899), &s),
        skip(SkipReason::QueuedRecently)
    );
}

#[test]
fn ended_items_are_left_alone() {
    let t = start();
    for status in [
        WorkItemStatus::Succeeded,
        WorkItemStatus::Failed,
        WorkItemStatus::Cancelled,
        WorkItemStatus::DeadLettered,
    ] {
        let ended = item(1, status, t - secs(86_400));
        assert_eq!(judge(&ended, t, &settings()), skip(SkipReason::Inactive));
    }
}

#[test]
fn settings_come_from_the_environment() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        }
    };
    let defaults = ReconcilerSettings::from_lookup(env(&[])).expect("defaults");
    assert_eq!(defaults, ReconcilerSettings::default());
    assert_eq!(defaults.lease_grace, Duration::from_secs(120));
    assert_eq!(defaults.queued_grace, Duration::from_secs(900));
    let short_lease =
        ReconcilerSettings::from_lookup(env(&[("BATON_LEASE_SECS", "5")])).expect("lease");
    assert_eq!(short_lease.lease_grace, Duration::from_secs(10));
    let set = ReconcilerSettings::from_lookup(env(&[
        ("BATON_RECONCILE_LEASE_GRACE_SECS", "7"),
        ("BATON_RECONCILE_RETRY_GRACE_SECS", "8"),
        ("BATON_RECONCILE_QUEUED_SECS", "9"),
    ]))
    .expect("set");
    assert_eq!(
        (set.lease_grace, set.retry_grace, set.queued_grace),
        (
            Duration::from_secs(7),
            Duration::from_secs(8),
            Duration::from_secs(9)
        )
    );
    let error = ReconcilerSettings::from_lookup(env(&[("BATON_RECONCILE_QUEUED_SECS", "soon")]))
        .expect_err("not a number");
    assert!(error.to_string().contains("BATON_RECONCILE_QUEUED_SECS"));
}

#[test]
fn the_poll_interval_comes_from_the_workflow() {
    let parse = |front: &str| Workflow::parse(&format!("---\n{front}\n---\n"));
    let interval = |front: &str| poll_interval(&parse(front).expect("workflow"));
    assert_eq!(interval("tracker: {kind: github}"), DEFAULT_POLL_INTERVAL);
    assert_eq!(
        interval("tracker: {kind: github}\npolling: {interval_ms: 5000}"),
        Duration::from_secs(5)
    );
    for bad in [
        "polling: {interval_ms: 0}",
        "polling: {interval_ms: soon}",
        "polling: 5",
    ] {
        let error = parse(&format!("tracker: {{kind: github}}\n{bad}")).expect_err(bad);
        assert!(error.to_string().contains("polling"), "{bad}: {error}");
    }
    let workflow = parse("tracker: {kind: github}").expect("workflow");
    assert!(Schedule::from_workflow(&workflow, Duration::ZERO).is_err());
}

// ---- the pass, on the memory backends ----

struct Fixture {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    clock: Arc<ManualClock>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            queue: Arc::new(MemoryQueue::new()),
            clock: Arc::new(ManualClock::new(start())),
        }
    }

    async fn put(&self, item: &WorkItem) {
        self.store.put_work_item(item, None).await.expect("put");
    }

    async fn get(&self, key: &WorkItemKey) -> WorkItem {
        self.store
            .get_work_item(key)
            .await
            .expect("get")
            .expect("exists")
    }

    async fn pass(&self) -> ReconcileReport {
        reconcile_once(&*self.store, &*self.queue, &*self.clock, &settings())
            .await
            .expect("pass")
    }

    async fn jobs(&self) -> Vec<Job> {
        let received = self
            .queue
            .receive(10, Duration::ZERO, Duration::from_secs(30))
            .await
            .expect("receive");
        received
            .into_iter()
            .map(|message| message.job.expect("a job"))
            .collect()
    }
}

#[tokio::test]
async fn a_stale_item_gets_a_fresh_pending_job_once() {
    let f = Fixture::new();
    let mut stale = item(1, WorkItemStatus::Queued, start());
    stale.attempt = 2;
    f.put(&stale).await;
    let old_job = stale.pending_job.clone();
    f.clock.advance(secs(900));

    let report = f.pass().await;
    assert_eq!(report.inspected, 1);
    assert_eq!(report.requeued.len(), 1, "{report:?}");
    let requeued = &report.requeued[0];
    assert_eq!(requeued.cause, RequeueCause::QueuedStale);
    let stored = f.get(&stale.key).await;
    assert_eq!(stored.pending_job.as_ref(), Some(&requeued.job_id));
    assert_ne!(stored.pending_job, old_job, "the old job is superseded");
    assert_eq!(stored.status, WorkItemStatus::Queued);
    assert_eq!(stored.version, stale.version + 1);
    let jobs = f.jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].job_id, requeued.job_id);
    assert_eq!(jobs[0].reason, JobReason::Reconciled);
    assert_eq!(jobs[0].attempt, 2, "the same attempt");
    assert_eq!(jobs[0].delivery_id.as_deref(), Some("delivery-1"));

    // The next pass, a minute later, finds it recently written.
    f.clock.advance(secs(60));
    let again = f.pass().await;
    assert!(again.requeued.is_empty(), "{again:?}");
    assert_eq!(again.skipped_for(SkipReason::QueuedRecently), 1);
    assert!(f.jobs().await.is_empty());
}

#[tokio::test]
async fn a_running_item_with_a_live_runner_is_untouched_and_a_dead_one_is_taken_back() {
    let f = Fixture::new();
    let t = start();
    let live = running(1, t, t + secs(3600));
    let dead = running(2, t, t + secs(60));
    f.put(&live).await;
    f.put(&dead).await;
    f.clock.advance(secs(600));

    let report = f.pass().await;
    assert_eq!(report.inspected, 2);
    assert_eq!(report.skipped_for(SkipReason::LeaseLive), 1);
    assert_eq!(report.requeued.len(), 1, "{report:?}");
    assert_eq!(report.requeued[0].work_item, dead.key);
    assert_eq!(report.requeued[0].cause, RequeueCause::LeaseExpired);
    assert_eq!(f.get(&live.key).await, live, "not a byte changed");
    let taken = f.get(&dead.key).await;
    // Still running under the dead lease: the runner that claims the job marks the dead
    // run abandoned as it takes over.
    assert_eq!(taken.status, WorkItemStatus::Running);
    assert_eq!(taken.lease, dead.lease);
    assert_eq!(taken.pending_job.as_ref(), Some(&report.requeued[0].job_id));
}

#[tokio::test]
async fn an_orphaned_cancel_gets_a_job_no_run_claims() {
    let f = Fixture::new();
    let t = start();
    let mut cancelled = running(1, t, t + secs(60));
    cancelled.cancel_requested = true;
    cancelled.pending_job = None;
    f.put(&cancelled).await;
    f.clock.advance(secs(600));
    let report = f.pass().await;
    assert_eq!(report.requeued.len(), 1);
    assert_eq!(report.requeued[0].cause, RequeueCause::OrphanedCancel);
    assert_eq!(f.get(&cancelled.key).await.pending_job, None);
    assert_eq!(f.jobs().await.len(), 1);
}

/// A store whose every call yields first, so two concurrent passes interleave.
struct Interleaving(MemoryStore);

#[async_trait]
impl Store for Interleaving {
    async fn begin_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        retain: Duration,
    ) -> Result<DeliveryClaim, StoreError> {
        tokio::task::yield_now().await;
        self.0.begin_delivery(key, owner, now, lease, retain).await
    }
    async fn complete_delivery(
        &self,
        key: &DeliveryKey,
        owner: &str,
        outcome: &DeliveryOutcome,
        event: &crate::domain::NormalizedEvent,
        now: DateTime<Utc>,
        retain: Duration,
    ) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        self.0
            .complete_delivery(key, owner, outcome, event, now, retain)
            .await
    }
    async fn get_delivery(
        &self,
        key: &DeliveryKey,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::domain::DeliveryRecord>, StoreError> {
        self.0.get_delivery(key, now).await
    }

    async fn release_delivery(&self, key: &DeliveryKey, owner: &str) -> Result<(), StoreError> {
        self.0.release_delivery(key, owner).await
    }
    async fn get_work_item(&self, key: &WorkItemKey) -> Result<Option<WorkItem>, StoreError> {
        tokio::task::yield_now().await;
        self.0.get_work_item(key).await
    }
    async fn put_work_item(
        &self,
        item: &WorkItem,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        self.0.put_work_item(item, expected_version).await
    }
    async fn delete_work_item(&self, key: &WorkItemKey, version: u64) -> Result<(), StoreError> {
        self.0.delete_work_item(key, version).await
    }
    async fn list_work_items(
        &self,
        status: WorkItemStatus,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        tokio::task::yield_now().await;
        self.0.list_work_items(status, limit).await
    }
    async fn put_run(&self, run: &Run, expected: Option<u64>) -> Result<(), StoreError> {
        self.0.put_run(run, expected).await
    }
    async fn get_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        self.0.get_run(run_id).await
    }
    async fn list_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        self.0.list_runs(key).await
    }
    async fn append_events(&self, events: &[RunEvent], retain: Duration) -> Result<(), StoreError> {
        self.0.append_events(events, retain).await
    }
    async fn list_events(
        &self,
        run_id: &RunId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<RunEvent>, StoreError> {
        self.0.list_events(run_id, after, limit).await
    }
    async fn get_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        self.0.get_slot_pool(scope).await
    }
    async fn put_slot_pool(
        &self,
        pool: &SlotPool,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.0.put_slot_pool(pool, expected).await
    }

    async fn get_account_pool(
        &self,
        provider: &str,
    ) -> Result<Option<crate::ports::AccountPool>, StoreError> {
        self.0.get_account_pool(provider).await
    }
    async fn put_account_pool(
        &self,
        pool: &crate::ports::AccountPool,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        self.0.put_account_pool(pool, expected).await
    }

    async fn record_metrics(
        &self,
        update: &crate::trends::MetricsUpdate,
    ) -> Result<(), StoreError> {
        self.0.record_metrics(update).await
    }

    async fn read_metrics(
        &self,
        scope: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<crate::trends::MetricsRecord>, StoreError> {
        self.0.read_metrics(scope, from, to).await
    }

    async fn charge_budget(
        &self,
        charge: &crate::ports::BudgetCharge,
    ) -> Result<crate::ports::BudgetTotals, StoreError> {
        self.0.charge_budget(charge).await
    }

    async fn read_budget(
        &self,
        scope: &crate::ports::BudgetScope,
    ) -> Result<crate::ports::BudgetTotals, StoreError> {
        self.0.read_budget(scope).await
    }
}

#[tokio::test]
async fn two_reconcilers_at_once_requeue_an_item_once() {
    let store = Interleaving(MemoryStore::new());
    let queue = MemoryQueue::new();
    let clock = ManualClock::new(start());
    let items: Vec<_> = (1..=5)
        .map(|n| running(n, start(), start() + secs(60)))
        .collect();
    for item in &items {
        store.put_work_item(item, None).await.expect("put");
    }
    clock.advance(secs(600));
    let s = settings();
    let (a, b) = tokio::join!(
        reconcile_once(&store, &queue, &clock, &s),
        reconcile_once(&store, &queue, &clock, &s)
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.requeued.len() + b.requeued.len(), 5, "{a:?}\n{b:?}");
    let received = queue
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(received.len(), 5, "one job per item");
    for item in &items {
        let stored = store
            .get_work_item(&item.key)
            .await
            .expect("get")
            .expect("item");
        assert_eq!(stored.version, item.version + 1, "written once");
    }
}

/// A queue whose next `failures` sends fail.
struct FailingSends {
    inner: MemoryQueue,
    failures: AtomicU32,
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

#[tokio::test]
async fn a_job_that_cannot_be_sent_leaves_the_item_as_it_was_for_the_next_pass() {
    let store = MemoryStore::new();
    let queue = FailingSends {
        inner: MemoryQueue::new(),
        failures: AtomicU32::new(1),
    };
    let clock = ManualClock::new(start());
    let retrying = {
        let mut item = item(1, WorkItemStatus::Retrying, start());
        item.next_retry_at = Some(start() + secs(30));
        item
    };
    store.put_work_item(&retrying, None).await.expect("put");
    clock.advance(secs(600));

    let report = reconcile_once(&store, &queue, &clock, &settings())
        .await
        .expect("pass");
    assert!(report.requeued.is_empty());
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0].error.contains("could not be sent"),
        "{report:?}"
    );
    let stored = store
        .get_work_item(&retrying.key)
        .await
        .expect("get")
        .expect("item");
    assert_eq!(stored.pending_job, retrying.pending_job, "put back");
    assert_eq!(stored.updated_at, retrying.updated_at, "put back");

    let report = reconcile_once(&store, &queue, &clock, &settings())
        .await
        .expect("pass");
    assert_eq!(
        report.requeued.len(),
        1,
        "the next pass tries again: {report:?}"
    );
    assert_eq!(report.requeued[0].cause, RequeueCause::RetryOverdue);
}

// ---- the safety poll, on the memory backends ----

fn github_workflow() -> Workflow {
    Workflow::parse("---\ntracker: {kind: github}\ntriggers: {label: baton}\n---\n")
        .expect("workflow")
}

struct PollFixture {
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    poller: MemoryPoller,
    poll: SafetyPoll,
}

impl PollFixture {
    fn new() -> Self {
        let store = Arc::new(MemoryStore::new());
        let queue = Arc::new(MemoryQueue::new());
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
        let poll = SafetyPoll::new(&github_workflow(), store.clone(), queue.clone(), clock);
        Self {
            store,
            queue,
            poller: MemoryPoller::new(SourceKind::Github, &["open"]),
            poll,
        }
    }

    async fn poll(&self) -> PollReport {
        self.poll.poll(&self.poller).await.expect("poll")
    }

    async fn item(&self, number: u32) -> Option<WorkItem> {
        let key = WorkItemKey::new(SourceKind::Github, &format!("acme/app#{number}"));
        self.store.get_work_item(&key).await.expect("get")
    }

    async fn job_count(&self) -> usize {
        self.queue
            .receive(10, Duration::ZERO, Duration::from_secs(30))
            .await
            .expect("receive")
            .len()
    }
}

#[tokio::test]
async fn an_issue_whose_webhook_never_arrived_is_queued_once_over_many_polls() {
    let f = PollFixture::new();
    f.poller.put(issue(1, "open", &["baton"]));
    f.poller.put(issue(2, "open", &["bug"]));
    let first = f.poll().await;
    assert_eq!(first.listed, 2);
    assert_eq!(first.queued.len(), 1, "{first:?}");
    for _ in 0..3 {
        let again = f.poll().await;
        assert!(
            again.queued.is_empty() && again.failed.is_empty(),
            "{again:?}"
        );
        assert_eq!(again.unchanged, 2);
    }
    assert_eq!(f.job_count().await, 1);
    let item = f.item(1).await.expect("item");
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert!(item
        .last_delivery
        .as_deref()
        .is_some_and(|d| d.starts_with("poll:acme/app#1:")));
    assert!(f.item(2).await.is_none(), "not eligible: nothing written");
}

#[tokio::test]
async fn two_polls_at_once_queue_an_issue_once() {
    let store = Arc::new(Interleaving(MemoryStore::new()));
    let queue = Arc::new(MemoryQueue::new());
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(start()));
    let workflow = github_workflow();
    let a = SafetyPoll::new(&workflow, store.clone(), queue.clone(), clock.clone());
    let b = SafetyPoll::new(&workflow, store.clone(), queue.clone(), clock);
    let poller = MemoryPoller::new(SourceKind::Github, &["open"]);
    poller.put(issue(1, "open", &["baton"]));
    let (ra, rb) = tokio::join!(a.poll(&poller), b.poll(&poller));
    let (ra, rb) = (ra.expect("a"), rb.expect("b"));
    assert_eq!(ra.queued.len() + rb.queued.len(), 1, "{ra:?}\n{rb:?}");
    let received = queue
        .receive(10, Duration::ZERO, Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
}

#[tokio::test]
async fn a_finished_issue_that_stays_open_is_not_run_again_but_one_relabelled_is() {
    let f = PollFixture::new();
    let mut done = item(1, WorkItemStatus::Succeeded, start());
    done.pending_job = None;
    f.store.put_work_item(&done, None).await.expect("put");
    f.poller.put(issue(1, "open", &["baton"]));
    let report = f.poll().await;
    assert!(report.queued.is_empty(), "{report:?}");

    // Unlabelled (the stored snapshot says so), then labelled again without a webhook.
    let mut unlabelled = done.clone();
    unlabelled.status = WorkItemStatus::Cancelled;
    unlabelled.issue.labels.clear();
    unlabelled.version += 1;
    f.store
        .put_work_item(&unlabelled, Some(done.version))
        .await
        .expect("put");
    let report = f.poll().await;
    assert_eq!(report.queued.len(), 1, "{report:?}");
    assert_eq!(
        f.item(1).await.expect("item").status,
        WorkItemStatus::Queued
    );
}

#[tokio::test]
async fn an_issue_closed_or_deleted_without_a_webhook_gets_its_cancel() {
    let f = PollFixture::new();
    f.poller.put(issue(1, "open", &["baton"]));
    f.poller.put(issue(2, "open", &["baton"]));
    f.poller.put(issue(3, "open", &["baton"]));
    assert_eq!(f.poll().await.queued.len(), 3);

    f.poller.put(issue(1, "closed", &["baton"]));
    f.poller.delete("acme/app#2");
    f.poller.put(issue(3, "open", &[]));
    let report = f.poll().await;
    assert_eq!(report.looked_up, 2, "{report:?}");
    let mut cancelled = report.cancelled.clone();
    cancelled.sort();
    assert_eq!(cancelled.len(), 3, "{report:?}");
    for number in 1..=3 {
        let item = f.item(number).await.expect("item");
        assert_eq!(item.status, WorkItemStatus::Cancelled, "#{number}");
        assert!(item.cancel_requested);
    }
    let report = f.poll().await;
    assert!(
        report.cancelled.is_empty() && report.looked_up == 0,
        "{report:?}"
    );
}

#[tokio::test]
async fn an_unavailable_tracker_fails_the_poll_and_writes_nothing() {
    let f = PollFixture::new();
    f.poller.put(issue(1, "open", &["baton"]));
    f.poller.set_unavailable(true);
    let error = f.poll.poll(&f.poller).await.expect_err("tracker down");
    assert!(matches!(error, PollError::Tracker { .. }), "{error}");
    assert!(f.item(1).await.is_none());
    f.poller.set_unavailable(false);
    assert_eq!(f.poll().await.queued.len(), 1);
}

#[test]
fn synthetic_delivery_ids_follow_what_routing_sees() {
    let open = issue(1, "open", &["baton", "bug"]);
    let id = poll::delivery_id(&open, Some(3));
    assert!(id.starts_with("poll:acme/app#1:"), "{id}");
    assert_eq!(
        id,
        poll::delivery_id(&issue(1, "Open", &["bug", "baton"]), Some(3))
    );
    assert_ne!(id, poll::delivery_id(&open, Some(4)));
    assert_ne!(id, poll::delivery_id(&open, None));
    assert_ne!(
        id,
        poll::delivery_id(&issue(1, "closed", &["baton", "bug"]), Some(3))
    );
    assert_ne!(id, poll::delivery_id(&issue(1, "open", &["bug"]), Some(3)));
    let long = IssueSnapshot {
        identifier: "x".repeat(500),
        ..open
    };
    assert!(poll::delivery_id(&long, None).len() <= DeliveryKey::MAX_ID_LEN);
}

/// An item waiting on the agent's question, asked at `at`, its wait ending `wait` later.
fn waiting(number: u32, at: DateTime<Utc>, wait: Option<i64>) -> WorkItem {
    let mut item = item(number, WorkItemStatus::AwaitingInput, at);
    item.pending_job = None;
    item.input_request = Some(crate::domain::InputRequest {
        question: "Which database?".into(),
        asked_at: at,
        deadline: wait.map(|s| at + secs(s)),
        run_id: RunId::generate(),
        session_id: None,
        answer: None,
    });
    item
}

#[tokio::test]
async fn an_unanswered_question_fails_its_item_at_the_deadline_and_only_then() {
    let f = Fixture::new();
    let soon = waiting(70, start(), Some(600));
    let never = waiting(71, start(), None);
    f.put(&soon).await;
    f.put(&never).await;

    f.clock.advance(secs(599));
    let report = f.pass().await;
    assert!(report.input_expired.is_empty(), "{report:?}");
    assert_eq!(f.get(&soon.key).await.status, WorkItemStatus::AwaitingInput);

    f.clock.advance(secs(1));
    let report = f.pass().await;
    assert_eq!(report.input_expired, vec![soon.key.clone()]);
    let failed = f.get(&soon.key).await;
    assert_eq!(failed.status, WorkItemStatus::Failed);
    assert!(failed.input_request.is_none());
    let error = failed.last_error.unwrap_or_default();
    assert!(error.starts_with("input_timeout:"), "{error}");
    assert!(f.jobs().await.is_empty(), "nothing is queued for it");

    // Without a deadline the question waits as long as it takes.
    f.clock.advance(secs(86_400 * 30));
    assert!(f.pass().await.input_expired.is_empty());
    assert_eq!(
        f.get(&never.key).await.status,
        WorkItemStatus::AwaitingInput
    );
}

#[tokio::test]
async fn an_answered_question_is_not_expired() {
    let f = Fixture::new();
    let mut answered = waiting(72, start(), Some(60));
    if let Some(input) = answered.input_request.as_mut() {
        input.answer = Some(crate::domain::InputAnswer {
            by: "alice".into(),
            text: "Postgres".into(),
            at: start(),
        });
    }
    f.put(&answered).await;
    f.clock.advance(secs(3600));
    assert!(f.pass().await.input_expired.is_empty());
    assert_eq!(
        f.get(&answered.key).await.status,
        WorkItemStatus::AwaitingInput
    );
}
