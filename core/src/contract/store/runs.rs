//! Versioned runs, their listing by work item, and run timelines.

use super::{assert_conflict, eventually, RETAIN};
use crate::contract::unique;
use crate::domain::{
    JobId, JobReason, Run, RunError, RunEvent, RunId, RunStatus, SourceKind, TokenTotals,
    WorkItemKey,
};
use crate::ports::Store;
use chrono::{DateTime, TimeZone, Utc};
use std::time::Duration;

/// A run of `work_item` with every field set.
fn run(work_item: &WorkItemKey, run_id: RunId) -> Run {
    let claimed_at = Utc
        .with_ymd_and_hms(2025, 6, 30, 12, 0, 1)
        .single()
        .unwrap_or_else(Utc::now)
        + chrono::Duration::nanoseconds(987_654_321);
    Run {
        run_id,
        work_item: work_item.clone(),
        job_id: JobId::generate(),
        reason: JobReason::Retry,
        attempt: 2,
        runner: "runner-a".into(),
        status: RunStatus::Failed,
        received_at: Some(claimed_at - chrono::Duration::seconds(3)),
        queued_at: claimed_at - chrono::Duration::seconds(2),
        claimed_at,
        agent_started_at: Some(claimed_at + chrono::Duration::milliseconds(250)),
        ended_at: Some(claimed_at + chrono::Duration::seconds(90)),
        session_id: Some(unique("session")),
        turns: 4,
        tokens: TokenTotals {
            input_tokens: 1_000,
            output_tokens: 200,
            total_tokens: 1_200,
        },
        error: Some(RunError {
            code: "turn_failed".into(),
            message: "the agent said “no” — twice".into(),
        }),
        workspace: Some("/tmp/baton/acme_app_12".into()),
        branch: Some("baton/acme-app-12".into()),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        events: 17,
        version: 1,
    }
}

fn fresh_work_item_key() -> WorkItemKey {
    WorkItemKey::new(SourceKind::Linear, &unique("ENG"))
}

/// Runs are written only over the version the writer read, and come back as written.
pub async fn run_versions(store: &dyn Store) {
    let key = fresh_work_item_key();
    let first = run(&key, RunId::generate());
    assert_eq!(
        store.get_run(&first.run_id).await.expect("get_run"),
        None,
        "an unknown run reads as None"
    );
    assert_conflict(
        store.put_run(&first, Some(1)).await,
        "put with an expected version of a new run",
    );
    store.put_run(&first, None).await.expect("create a run");
    assert_conflict(store.put_run(&first, None).await, "create over a run");

    let mut next = first.clone();
    next.version = 2;
    next.status = RunStatus::Succeeded;
    next.error = None;
    store
        .put_run(&next, Some(1))
        .await
        .expect("update over the version read");
    let mut stale = first.clone();
    stale.version = 2;
    stale.turns = 99;
    assert_conflict(
        store.put_run(&stale, Some(1)).await,
        "update over a stale version",
    );
    assert_conflict(
        store.put_run(&stale, Some(3)).await,
        "update over a future version",
    );
    assert_eq!(
        store.get_run(&first.run_id).await.expect("get_run"),
        Some(next),
        "the losing writes changed nothing"
    );

    let minimal = Run {
        status: RunStatus::Running,
        received_at: None,
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
        ..run(&key, RunId::generate())
    };
    store.put_run(&minimal, None).await.expect("put");
    assert_eq!(
        store.get_run(&minimal.run_id).await.expect("get_run"),
        Some(minimal)
    );
}

/// `list_runs` gives a work item's runs (and only its), oldest (lowest id) first.
pub async fn runs_listed_by_work_item(store: &dyn Store) {
    let key = fresh_work_item_key();
    let other_key = fresh_work_item_key();
    let mut ids: Vec<RunId> = (0..3).map(|_| RunId::generate()).collect();
    ids.sort();
    let mut runs: Vec<Run> = ids.iter().map(|id| run(&key, id.clone())).collect();
    let other = run(&other_key, RunId::generate());
    // Written out of order.
    for run in [&runs[2], &other, &runs[0], &runs[1]] {
        store.put_run(run, None).await.expect("put_run");
    }
    runs[1].version = 2;
    runs[1].status = RunStatus::Cancelled;
    store.put_run(&runs[1], Some(1)).await.expect("update");

    eventually("the work item's runs, oldest first", &runs, || async {
        store.list_runs(&key).await.expect("list_runs")
    })
    .await;
    eventually("the other work item's runs", &vec![other], || async {
        store.list_runs(&other_key).await.expect("list_runs")
    })
    .await;
    assert_eq!(
        store
            .list_runs(&fresh_work_item_key())
            .await
            .expect("list_runs"),
        Vec::<Run>::new(),
        "a work item without runs"
    );
}

/// An event of `run_id`'s timeline at `at`.
fn event(run_id: &RunId, seq: u32, at: DateTime<Utc>, kind: &str) -> RunEvent {
    RunEvent {
        run_id: run_id.clone(),
        seq,
        at,
        kind: kind.to_owned(),
        data: serde_json::json!({
            "seq": seq,
            "text": "ünï “quoted” \"and\" \\ escaped 🔥",
            "nested": { "list": [1, 2.5, null, true, "x"], "empty": {} },
        }),
    }
}

async fn events(store: &dyn Store, run_id: &RunId, after: u32, limit: usize) -> Vec<RunEvent> {
    store
        .list_events(run_id, after, limit)
        .await
        .unwrap_or_else(|e| panic!("list_events({run_id}, {after}, {limit}) failed: {e}"))
}

fn seqs(events: &[RunEvent]) -> Vec<u32> {
    events.iter().map(|event| event.seq).collect()
}

/// A timeline comes back in sequence order (numeric, not textual), from after `after`, at
/// most `limit` long, without other runs' events.
pub async fn run_events_in_order(store: &dyn Store) {
    let run_id = RunId::generate();
    let other = RunId::generate();
    let now = Utc::now();
    let timeline: Vec<RunEvent> = [1, 2, 9, 10, 11, 100, 1000]
        .into_iter()
        .map(|seq| {
            event(
                &run_id,
                seq,
                now + chrono::Duration::milliseconds(i64::from(seq)),
                "message",
            )
        })
        .collect();
    let others: Vec<RunEvent> = (1..=3)
        .map(|seq| event(&other, seq, now, "command"))
        .collect();
    // One call, shuffled, interleaved with another run's events.
    let order = [5, 0, 3, 6, 1, 4, 2];
    let mut appended: Vec<RunEvent> = order.iter().map(|&i| timeline[i].clone()).collect();
    appended.insert(2, others[1].clone());
    appended.insert(5, others[0].clone());
    appended.push(others[2].clone());
    store
        .append_events(&appended, RETAIN)
        .await
        .expect("append_events");

    assert_eq!(
        events(store, &run_id, 0, 100).await,
        timeline,
        "the whole timeline"
    );
    assert_eq!(
        seqs(&events(store, &run_id, 9, 100).await),
        [10, 11, 100, 1000]
    );
    assert_eq!(seqs(&events(store, &run_id, 9, 2).await), [10, 11]);
    assert_eq!(seqs(&events(store, &run_id, 3, 1).await), [9]);
    assert_eq!(seqs(&events(store, &run_id, 999, 100).await), [1000]);
    assert!(events(store, &run_id, 1000, 100).await.is_empty());
    assert!(events(store, &run_id, u32::MAX, 100).await.is_empty());
    assert!(events(store, &run_id, 0, 0).await.is_empty());
    assert_eq!(
        events(store, &other, 0, 100).await,
        others,
        "the other run's timeline"
    );
    assert!(
        events(store, &RunId::generate(), 0, 100).await.is_empty(),
        "a run without events"
    );
    store
        .append_events(&[], RETAIN)
        .await
        .expect("appending nothing");
}

/// Appending an event whose `(run, seq)` is stored replaces it: a retried append changes
/// nothing, and within one call the last of two events with one seq wins.
pub async fn run_events_are_idempotent(store: &dyn Store) {
    let run_id = RunId::generate();
    let now = Utc::now();
    // More than one batch's worth on DynamoDB (25 a batch).
    let timeline: Vec<RunEvent> = (1..=60)
        .map(|seq| event(&run_id, seq, now, "message"))
        .collect();
    store
        .append_events(&timeline, RETAIN)
        .await
        .expect("append_events");
    store
        .append_events(&timeline, RETAIN)
        .await
        .expect("the same append again");
    assert_eq!(events(store, &run_id, 0, 1_000).await, timeline);

    let mut replaced = timeline.clone();
    let again: Vec<RunEvent> = (1..=60)
        .filter(|seq| seq % 7 == 0)
        .map(|seq| event(&run_id, seq, now + chrono::Duration::seconds(1), "replaced"))
        .collect();
    for event in &again {
        replaced[event.seq as usize - 1] = event.clone();
    }
    store
        .append_events(&again, RETAIN)
        .await
        .expect("append replacements");
    assert_eq!(events(store, &run_id, 0, 1_000).await, replaced);

    let earlier = event(&run_id, 61, now, "earlier");
    let later = event(&run_id, 61, now, "later");
    store
        .append_events(&[earlier, later.clone()], RETAIN)
        .await
        .expect("append one seq twice in a call");
    assert_eq!(events(store, &run_id, 60, 10).await, vec![later]);
}

/// An event is kept for `retain` from its `at`; expired events are left out without
/// shortening a page that more live events could fill.
pub async fn expired_run_events_are_absent(store: &dyn Store) {
    let run_id = RunId::generate();
    let now = Utc::now();
    let long_ago = now - chrono::Duration::days(2);
    let short = Duration::from_secs(3600);
    let expired: Vec<RunEvent> = (1..=120)
        .map(|seq| event(&run_id, seq, long_ago, "old"))
        .collect();
    let live: Vec<RunEvent> = (121..=150)
        .map(|seq| event(&run_id, seq, now, "new"))
        .collect();
    store
        .append_events(&expired, short)
        .await
        .expect("append expired events");
    store
        .append_events(&live, RETAIN)
        .await
        .expect("append live events");
    // Replaced by an expired event: gone too.
    store
        .append_events(&[event(&run_id, 130, long_ago, "old")], short)
        .await
        .expect("append");
    // Old, but retained for longer than its age.
    let old_but_kept = event(&run_id, 151, long_ago, "kept");
    store
        .append_events(std::slice::from_ref(&old_but_kept), RETAIN)
        .await
        .expect("append");

    let mut expected: Vec<RunEvent> = live.into_iter().filter(|event| event.seq != 130).collect();
    expected.push(old_but_kept);
    assert_eq!(events(store, &run_id, 0, 1_000).await, expected);
    assert_eq!(seqs(&events(store, &run_id, 0, 2).await), [121, 122]);
    assert_eq!(
        seqs(&events(store, &run_id, 125, 5).await),
        [126, 127, 128, 129, 131]
    );
    assert_eq!(events(store, &run_id, 0, expected.len()).await, expected);
    assert!(events(store, &run_id, 151, 10).await.is_empty());
}
