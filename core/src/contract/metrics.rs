//! The `Store` contract for the metrics series: hour buckets per scope that add up, gauges
//! that keep the last and the largest sample, concurrent adds that are never lost, and
//! retention.
//!
//! Every case works in hours of its own, picked at random far in the future (so they are
//! within retention and no other case or test run writes there), since the deployment's
//! scope is shared by every writer of a table.

use super::unique;
use crate::domain::{JobId, JobReason, Run, RunId, RunStatus, TokenTotals, WorkItemKey};
use crate::ports::{Store, StoreError};
use crate::trends::{
    hour_of, HourStats, MetricsRecord, MetricsUpdate, QueueDepth, WebhookVerdict, ALL_SCOPE,
};
use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Arc;

/// An hour nobody else uses: between one and about forty years ahead.
fn private_hour() -> DateTime<Utc> {
    let offset = (uuid::Uuid::new_v4().as_u128() % 350_000) as i64 + 24;
    hour_of(Utc::now()) + TimeDelta::hours(offset)
}

async fn record(store: &dyn Store, update: MetricsUpdate) {
    store
        .record_metrics(&update)
        .await
        .unwrap_or_else(|e| panic!("record_metrics({update:?}) failed: {e}"));
}

async fn read(
    store: &dyn Store,
    scope: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<MetricsRecord> {
    store
        .read_metrics(scope, from, to)
        .await
        .unwrap_or_else(|e| panic!("read_metrics({scope}) failed: {e}"))
}

fn stats(record: &MetricsRecord) -> HourStats {
    HourStats::from_values(&record.values)
}

fn ended_run(claimed: DateTime<Utc>, status: RunStatus) -> Run {
    Run {
        run_id: RunId::generate(),
        work_item: WorkItemKey::parse("github:acme/app#7").expect("a key"),
        job_id: JobId::generate(),
        reason: JobReason::Labeled,
        attempt: 1,
        runner: "contract".into(),
        status,
        received_at: Some(claimed - TimeDelta::seconds(2)),
        queued_at: claimed,
        claimed_at: claimed,
        agent_started_at: Some(claimed + TimeDelta::seconds(1)),
        ended_at: Some(claimed + TimeDelta::minutes(5)),
        session_id: None,
        turns: 2,
        tokens: TokenTotals {
            input_tokens: 1200,
            output_tokens: 300,
            total_tokens: 1500,
        },
        error: None,
        workspace: None,
        branch: None,
        commit: None,
        events: 0,
        version: 3,
    }
}

/// Updates land in the bucket of their hour, in the deployment's scope and their
/// workflow's; a read returns the hours in its span, oldest first.
pub async fn metrics_add_up_per_hour_and_scope(store: &dyn Store) {
    let hour = private_hour();
    let (first, second) = (unique("wf"), unique("wf"));
    let minute = |n: i64| hour + TimeDelta::minutes(n);
    record(store, MetricsUpdate::run_started(minute(1), Some(&first))).await;
    record(store, MetricsUpdate::run_started(minute(59), Some(&first))).await;
    record(store, MetricsUpdate::run_started(minute(30), Some(&second))).await;
    record(
        store,
        MetricsUpdate::webhook(minute(2), None, WebhookVerdict::Refused),
    )
    .await;
    // Ends in the next hour: claimed at +58 min, five minutes long.
    let run = ended_run(minute(58), RunStatus::Failed);
    record(
        store,
        MetricsUpdate::run_ended(&run, Some(&first), minute(63)),
    )
    .await;

    let all = read(store, ALL_SCOPE, hour, hour + TimeDelta::hours(2)).await;
    let hours: Vec<_> = all.iter().map(|record| record.hour).collect();
    assert_eq!(hours, [hour, hour + TimeDelta::hours(1)]);
    let (now, next) = (stats(&all[0]), stats(&all[1]));
    assert_eq!(now.runs_started, 3);
    assert_eq!((now.webhooks_received, now.webhooks_refused), (1, 1));
    assert_eq!(now.ended.total(), 0);
    assert_eq!(next.ended.failed, 1);
    assert_eq!((next.input_tokens, next.output_tokens), (1200, 300));
    assert_eq!(next.duration.count(), 1);
    assert_eq!(
        next.dispatch.quantile_ms(0.5),
        Some(3200),
        "3 s falls under 3.2 s"
    );

    let mine = read(
        store,
        &crate::trends::workflow_scope(&first),
        hour,
        hour + TimeDelta::hours(2),
    )
    .await;
    assert_eq!(mine.len(), 2);
    assert_eq!(stats(&mine[0]).runs_started, 2);
    assert_eq!(stats(&mine[0]).webhooks_received, 0, "not the workflow's");
    assert_eq!(stats(&mine[1]).ended.failed, 1);

    let later = read(
        store,
        ALL_SCOPE,
        hour + TimeDelta::hours(1),
        hour + TimeDelta::days(3),
    )
    .await;
    assert_eq!(later.len(), 1, "the span starts at the second hour");
    let before = read(store, ALL_SCOPE, hour - TimeDelta::hours(5), hour).await;
    assert!(before.is_empty(), "`to` is exclusive");
    let unknown = read(
        store,
        &crate::trends::workflow_scope(&unique("wf")),
        hour,
        hour + TimeDelta::hours(2),
    )
    .await;
    assert!(unknown.is_empty());
}

/// The queue depth gauge keeps the hour's last sample and its largest.
pub async fn metrics_gauges_keep_last_and_max(store: &dyn Store) {
    let hour = private_hour();
    for (minute, depth) in [(1, 5), (20, 9), (40, 3)] {
        record(
            store,
            MetricsUpdate::queue_depth(hour + TimeDelta::minutes(minute), depth),
        )
        .await;
    }
    let all = read(store, ALL_SCOPE, hour, hour + TimeDelta::hours(1)).await;
    assert_eq!(all.len(), 1);
    assert_eq!(
        stats(&all[0]).queue_depth,
        Some(QueueDepth { last: 3, max: 9 })
    );
}

/// Concurrent adds to one bucket are all counted (no read-modify-write race).
pub async fn metrics_concurrent_adds_are_not_lost(store: Arc<dyn Store>) {
    let hour = private_hour();
    let workflow = unique("wf");
    let writers: Vec<_> = (0..16)
        .map(|n| {
            let store = Arc::clone(&store);
            let workflow = workflow.clone();
            tokio::spawn(async move {
                let at = hour + TimeDelta::seconds(n);
                record(&*store, MetricsUpdate::run_started(at, Some(&workflow))).await;
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let scope = crate::trends::workflow_scope(&workflow);
    let mine = read(&*store, &scope, hour, hour + TimeDelta::hours(1)).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(stats(&mine[0]).runs_started, 16);
}

/// Buckets past their retention are absent; bad counter names are refused.
pub async fn metrics_retention_and_names(store: &dyn Store) {
    let old = hour_of(Utc::now()) - TimeDelta::days(crate::trends::RETENTION_DAYS + 2);
    let workflow = unique("wf");
    record(store, MetricsUpdate::run_started(old, Some(&workflow))).await;
    let scope = crate::trends::workflow_scope(&workflow);
    let found = read(store, &scope, old, old + TimeDelta::hours(1)).await;
    assert!(
        found.is_empty(),
        "an expired bucket was returned: {found:?}"
    );

    let mut bad = MetricsUpdate::run_started(private_hour(), Some(&workflow));
    bad.add.push(("Runs Started; DROP".to_owned(), 1));
    match store.record_metrics(&bad).await {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("a bad counter name: expected Corrupt, got {other:?}"),
    }
}
