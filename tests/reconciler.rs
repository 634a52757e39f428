//! The reconciler's promises on both backends (the embedded adapters, and DynamoDB and SQS on
//! the emulator through the real AWS SDK): a lost job is sent again once, a live runner's
//! item is never touched, two reconcilers at once requeue an item once, and the safety poll
//! turns a webhook that never arrived into exactly one queued job.

#[macro_use]
mod common;

use baton_core::clock::{Clock, ManualClock};
use baton_core::domain::{
    IssueSnapshot, JobId, JobReason, Lease, RunId, SourceKind, WorkItem, WorkItemKey,
    WorkItemStatus,
};
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::{
    reconcile_once, MemoryPoller, ReconcileReport, ReconcilerSettings, RequeueCause, SafetyPoll,
    SkipReason,
};
use baton_core::workflow::Workflow;
use chrono::{DateTime, Utc};
use common::signing::{self, github_issue};
use common::{spawn_with, Backend, GITHUB_SECRET};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    a_job_lost_after_the_webhook_is_sent_again_once,
    only_the_item_whose_runner_died_is_taken_back,
    an_overdue_retry_is_sent_again,
    two_reconcilers_at_once_requeue_each_item_once,
    the_safety_poll_queues_a_missed_issue_once_and_cancels_a_closed_one,
);

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

fn unique_identifier() -> String {
    format!(
        "acme/app#{}",
        uuid::Uuid::new_v4().as_u128() % 1_000_000_000
    )
}

fn item(status: WorkItemStatus, at: DateTime<Utc>) -> WorkItem {
    let identifier = unique_identifier();
    WorkItem {
        key: WorkItemKey::new(SourceKind::Github, &identifier),
        source: SourceKind::Github,
        issue: IssueSnapshot {
            identifier,
            state: "open".into(),
            labels: vec!["baton".into()],
            ..IssueSnapshot::default()
        },
        status,
        attempt: 1,
        cancel_requested: false,
        pending_job: Some(JobId::generate()),
        last_delivery: None,
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

fn leased(at: DateTime<Utc>, until: DateTime<Utc>) -> WorkItem {
    let mut item = item(WorkItemStatus::Running, at);
    item.lease = Some(Lease {
        owner: "runner-a".into(),
        run_id: RunId::generate(),
        expires_at: until,
    });
    item
}

async fn get(store: &dyn Store, key: &WorkItemKey) -> WorkItem {
    store.get_work_item(key).await.expect("get").expect("item")
}

/// Every job visible on the queue, acknowledged.
async fn drain(queue: &dyn Queue) -> Vec<baton_core::domain::Job> {
    let mut jobs = Vec::new();
    loop {
        let batch = queue
            .receive(10, Duration::from_secs(1), Duration::from_secs(30))
            .await
            .expect("receive");
        if batch.is_empty() {
            return jobs;
        }
        for message in batch {
            queue.delete(&message.receipt).await.expect("delete");
            jobs.push(message.job.expect("a job"));
        }
    }
}

async fn pass(store: &dyn Store, queue: &dyn Queue, clock: &ManualClock) -> ReconcileReport {
    reconcile_once(store, queue, clock, &ReconcilerSettings::default())
        .await
        .expect("pass")
}

async fn a_job_lost_after_the_webhook_is_sent_again_once(backend: Backend) {
    let (store, queue) = common::backends(backend).await;
    let app = spawn_with(
        &Workflow::development(),
        common::all_secrets(),
        store.clone(),
        queue.clone(),
        Default::default(),
    )
    .await;
    let body = github_issue(
        "labeled",
        5,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let (status, answer) = app
        .post(
            "github",
            &signing::github(GITHUB_SECRET, "issues", "lost-job", &body),
            body,
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let key = WorkItemKey::parse(answer["work_item"].as_str().expect("key")).expect("key");
    // The message is lost: taken and never run.
    let lost = drain(&*queue).await;
    assert_eq!(lost.len(), 1);

    let clock = ManualClock::new(Utc::now());
    let early = pass(&*store, &*queue, &clock).await;
    assert!(early.requeued.is_empty(), "too early: {early:?}");
    assert_eq!(early.skipped_for(SkipReason::QueuedRecently), 1);

    clock.advance(minutes(16));
    let report = pass(&*store, &*queue, &clock).await;
    assert_eq!(report.requeued.len(), 1, "{report:?}");
    assert_eq!(report.requeued[0].cause, RequeueCause::QueuedStale);
    let jobs = drain(&*queue).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].reason, JobReason::Reconciled);
    assert_ne!(jobs[0].job_id, lost[0].job_id);
    assert_eq!(jobs[0].delivery_id.as_deref(), Some("lost-job"));
    let stored = get(&*store, &key).await;
    assert_eq!(stored.pending_job.as_ref(), Some(&jobs[0].job_id));

    clock.advance(minutes(1));
    let again = pass(&*store, &*queue, &clock).await;
    assert!(again.requeued.is_empty(), "{again:?}");
    assert!(drain(&*queue).await.is_empty());
}

async fn only_the_item_whose_runner_died_is_taken_back(backend: Backend) {
    let (store, queue) = common::backends(backend).await;
    let now = Utc::now();
    let live = leased(now, now + minutes(60));
    let fresh = leased(now - minutes(2), now + chrono::Duration::seconds(-30));
    let dead = leased(now - minutes(10), now - minutes(5));
    for item in [&live, &fresh, &dead] {
        store.put_work_item(item, None).await.expect("put");
    }
    let clock = ManualClock::new(now);
    let report = pass(&*store, &*queue, &clock).await;
    assert_eq!(report.inspected, 3, "{report:?}");
    assert_eq!(report.skipped_for(SkipReason::LeaseLive), 1, "{report:?}");
    assert_eq!(
        report.skipped_for(SkipReason::LeaseRecentlyExpired),
        1,
        "{report:?}"
    );
    assert_eq!(report.requeued.len(), 1, "{report:?}");
    assert_eq!(report.requeued[0].work_item, dead.key);
    assert_eq!(report.requeued[0].cause, RequeueCause::LeaseExpired);
    assert_eq!(get(&*store, &live.key).await, live);
    assert_eq!(get(&*store, &fresh.key).await, fresh);
    let taken = get(&*store, &dead.key).await;
    assert_eq!(taken.pending_job.as_ref(), Some(&report.requeued[0].job_id));
    assert_eq!(taken.version, dead.version + 1);
    let jobs = drain(&*queue).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].work_item, dead.key);
}

async fn an_overdue_retry_is_sent_again(backend: Backend) {
    let (store, queue) = common::backends(backend).await;
    let now = Utc::now();
    let mut retrying = item(WorkItemStatus::Retrying, now);
    retrying.attempt = 3;
    retrying.next_retry_at = Some(now + minutes(5));
    store.put_work_item(&retrying, None).await.expect("put");
    let clock = ManualClock::new(now + minutes(5));
    assert!(pass(&*store, &*queue, &clock).await.requeued.is_empty());
    clock.advance(minutes(1));
    let report = pass(&*store, &*queue, &clock).await;
    assert_eq!(report.requeued.len(), 1, "{report:?}");
    assert_eq!(report.requeued[0].cause, RequeueCause::RetryOverdue);
    let jobs = drain(&*queue).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].attempt, 3, "the retry keeps its attempt number");
    let stored = get(&*store, &retrying.key).await;
    assert_eq!(stored.status, WorkItemStatus::Retrying);
    assert_eq!(stored.pending_job.as_ref(), Some(&jobs[0].job_id));
}

async fn two_reconcilers_at_once_requeue_each_item_once(backend: Backend) {
    let (store, queue) = common::backends(backend).await;
    let now = Utc::now();
    let items: Vec<_> = (0..8).map(|_| item(WorkItemStatus::Queued, now)).collect();
    for item in &items {
        store.put_work_item(item, None).await.expect("put");
    }
    let clock = ManualClock::new(now + minutes(20));
    let (a, b) = tokio::join!(
        pass(&*store, &*queue, &clock),
        pass(&*store, &*queue, &clock)
    );
    assert_eq!(a.requeued.len() + b.requeued.len(), 8, "{a:?}\n{b:?}");
    let jobs = drain(&*queue).await;
    assert_eq!(jobs.len(), 8, "one job per item");
    for item in &items {
        let stored = get(&*store, &item.key).await;
        assert_eq!(stored.version, item.version + 1, "written once");
        assert!(jobs
            .iter()
            .any(|job| Some(&job.job_id) == stored.pending_job.as_ref()));
    }
}

async fn the_safety_poll_queues_a_missed_issue_once_and_cancels_a_closed_one(backend: Backend) {
    let (store, queue) = common::backends(backend).await;
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Utc::now()));
    let poll = SafetyPoll::new(
        &Workflow::development(),
        store.clone(),
        queue.clone(),
        clock,
    );
    let tracker = MemoryPoller::new(SourceKind::Github, &["open"]);
    let identifier = unique_identifier();
    let key = WorkItemKey::new(SourceKind::Github, &identifier);
    let issue = IssueSnapshot {
        id: "77".into(),
        identifier,
        title: "The webhook never came".into(),
        state: "open".into(),
        labels: vec!["baton".into()],
        ..IssueSnapshot::default()
    };
    tracker.put(issue.clone());

    let mut queued = 0;
    for _ in 0..4 {
        let report = poll.poll(&tracker).await.expect("poll");
        assert!(report.failed.is_empty(), "{report:?}");
        queued += report.queued.len();
    }
    assert_eq!(queued, 1);
    let jobs = drain(&*queue).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].reason, JobReason::Polled);
    assert_eq!(get(&*store, &key).await.status, WorkItemStatus::Queued);

    tracker.put(IssueSnapshot {
        state: "closed".into(),
        ..issue
    });
    let report = poll.poll(&tracker).await.expect("poll");
    assert_eq!(report.cancelled, vec![key.clone()], "{report:?}");
    let cancelled = get(&*store, &key).await;
    assert_eq!(cancelled.status, WorkItemStatus::Cancelled);
    assert_eq!(cancelled.issue.state, "closed");
    let report = poll.poll(&tracker).await.expect("poll");
    assert!(
        report.cancelled.is_empty() && report.queued.is_empty(),
        "{report:?}"
    );
}
