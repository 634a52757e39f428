//! Beyond the contracts: what is specific to a database file. Expired records are really
//! deleted, everything survives a reopen, a backup opens as a data dir, two handles on one
//! file share the work without delivering anything twice, and files baton cannot use are
//! refused with a message that says why.

mod common;

use baton_core::contract::queue::job;
use baton_core::contract::store::sample_event;
use baton_core::domain::{DeliveryKey, DeliveryOutcome, RunEvent, RunId, SourceKind, WorkItem};
use baton_core::ports::{DeliveryClaim, Queue, SlotPool, Store};
use baton_embedded::{backup, BackupError, OpenError, SqliteStore};
use chrono::{DateTime, Utc};
use common::{data_dir, open, work_item};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);
const LONG: Duration = Duration::from_secs(60);

fn key(id: impl Into<String>) -> DeliveryKey {
    DeliveryKey::new(SourceKind::Github, id)
}

fn ignored() -> DeliveryOutcome {
    DeliveryOutcome::Ignored {
        reason: "test".into(),
    }
}

async fn deliver(store: &SqliteStore, key: &DeliveryKey, now: DateTime<Utc>, retain: Duration) {
    let claim = store
        .begin_delivery(key, "me", now, LEASE, retain)
        .await
        .expect("begin_delivery");
    assert_eq!(claim, DeliveryClaim::Claimed, "{key}");
    store
        .complete_delivery(key, "me", &ignored(), &sample_event(), now, retain)
        .await
        .expect("complete_delivery");
}

fn event(run_id: &RunId, seq: u32, at: DateTime<Utc>) -> RunEvent {
    RunEvent {
        run_id: run_id.clone(),
        seq,
        at,
        kind: "message".into(),
        data: serde_json::json!({ "seq": seq }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_deliveries_are_deleted_from_the_file() {
    let dir = data_dir();
    let store = open(dir.path()).store;
    let t0 = Utc::now();
    let retain = Duration::from_secs(10);
    for i in 0..1_000 {
        deliver(&store, &key(format!("old-{i}")), t0, retain).await;
    }
    assert_eq!(store.delivery_records().await.expect("count"), 1_000);

    // An hour later every one of them has expired: a stream of new ids deletes them.
    let later = t0 + chrono::Duration::hours(1);
    assert_eq!(
        store.get_delivery(&key("old-0"), later).await.expect("get"),
        None,
        "an expired record reads as absent"
    );
    for i in 0..200 {
        deliver(&store, &key(format!("new-{i}")), later, retain).await;
    }
    assert_eq!(
        store.delivery_records().await.expect("count"),
        200,
        "only the live records are left in the file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_unique_ids_keeps_the_file_bounded() {
    let dir = data_dir();
    let store = open(dir.path()).store;
    let start = Utc::now();
    let retain = Duration::from_secs(10);
    // 20 deliveries per simulated second for 5 minutes, each kept for 10 s.
    for i in 0..6_000u32 {
        let now = start + chrono::Duration::milliseconds(i64::from(i) * 50);
        deliver(&store, &key(format!("d-{i}")), now, retain).await;
    }
    // About 11 s worth of records is live, a few more wait for their prune.
    let held = store.delivery_records().await.expect("count");
    assert!(held < 300, "{held} records held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_events_are_deleted_from_the_file() {
    let dir = data_dir();
    let store = open(dir.path()).store;
    let run_id = RunId::generate();
    let retain = Duration::from_secs(3600);
    // Live now, expired two seconds from now.
    let soon = Utc::now() - chrono::Duration::seconds(3600 - 1);
    let doomed: Vec<RunEvent> = (1..=50).map(|seq| event(&run_id, seq, soon)).collect();
    store.append_events(&doomed, retain).await.expect("append");
    assert_eq!(store.event_records().await.expect("count"), 50);

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    // Each append deletes as many expired events as it adds, and a few more.
    let other = RunId::generate();
    for batch in 0..5 {
        let live: Vec<RunEvent> = (1..=10)
            .map(|seq| event(&other, batch * 10 + seq, Utc::now()))
            .collect();
        store.append_events(&live, retain).await.expect("append");
    }
    assert!(
        store
            .list_events(&run_id, 0, 100)
            .await
            .expect("list")
            .is_empty(),
        "expired events read as absent"
    );
    assert_eq!(
        store.event_records().await.expect("count"),
        50,
        "only the live events are left in the file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_reopen() {
    let dir = data_dir();
    let now = Utc::now();
    let item = work_item("acme/app#1");
    let run_id = RunId::generate();
    let timeline: Vec<RunEvent> = (1..=3).map(|seq| event(&run_id, seq, now)).collect();
    let pool = SlotPool {
        scope: "global".into(),
        holders: BTreeMap::from([(run_id.to_string(), now)]),
        version: 1,
    };
    let sent = job();
    let dead = job();
    {
        let embedded = open(dir.path());
        let (store, queue) = (&embedded.store, &embedded.queue);
        deliver(store, &key("kept"), now, LONG * 60).await;
        store.put_work_item(&item, None).await.expect("put");
        store
            .append_events(&timeline, LONG * 60)
            .await
            .expect("append");
        store.put_slot_pool(&pool, None).await.expect("put pool");
        queue.send(&sent).await.expect("send");
        queue.dead_letter(&dead).await.expect("dead_letter");
    }

    let embedded = open(dir.path());
    let (store, queue) = (&embedded.store, &embedded.queue);
    assert_eq!(
        store
            .begin_delivery(&key("kept"), "other", now, LEASE, LONG)
            .await
            .expect("begin"),
        DeliveryClaim::Completed(ignored())
    );
    assert_eq!(
        store.get_work_item(&item.key).await.expect("get"),
        Some(item)
    );
    assert_eq!(
        store.list_events(&run_id, 0, 10).await.expect("list"),
        timeline
    );
    assert_eq!(
        store.get_slot_pool("global").await.expect("get pool"),
        Some(pool)
    );
    let got = queue
        .receive(10, Duration::ZERO, LONG)
        .await
        .expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].job.as_ref().ok(), Some(&sent));
    assert_eq!(
        queue.dead_letters().await.expect("dead letters"),
        [dead.to_message()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_writing_opens_as_a_data_dir() {
    let dir = data_dir();
    let embedded = open(dir.path());
    let before: Vec<WorkItem> = (0..100)
        .map(|i| work_item(&format!("acme/app#{i}")))
        .collect();
    for item in &before {
        embedded.store.put_work_item(item, None).await.expect("put");
    }
    embedded.queue.send(&job()).await.expect("send");

    // Writers go on while the backup runs.
    let store = embedded.store.clone();
    let writer = tokio::spawn(async move {
        for i in 0..2_000 {
            store
                .put_work_item(&work_item(&format!("acme/during#{i}")), None)
                .await
                .expect("put during the backup");
        }
    });
    let copy_dir = data_dir();
    let dest = copy_dir.path().join(baton_embedded::DATABASE_FILE);
    let source = dir.path().to_owned();
    let target = dest.clone();
    let report = tokio::task::spawn_blocking(move || backup(&source, &target))
        .await
        .expect("backup task")
        .expect("backup");
    writer.await.expect("writer");
    assert_eq!(report.path, dest);
    assert!(report.pages > 0 && report.bytes > 0, "{report:?}");

    let copy = open(copy_dir.path());
    for item in &before {
        assert_eq!(
            copy.store.get_work_item(&item.key).await.expect("get"),
            Some(item.clone())
        );
    }
    let got = copy
        .queue
        .receive(10, Duration::ZERO, LONG)
        .await
        .expect("receive");
    assert_eq!(got.len(), 1, "the queued job is in the copy");

    // A second backup replaces the first.
    let source = dir.path().to_owned();
    let target = dest.clone();
    tokio::task::spawn_blocking(move || backup(&source, &target))
        .await
        .expect("backup task")
        .expect("a backup over an existing file");
}

#[test]
fn a_backup_of_a_missing_database_says_where_it_looked() {
    let dir = data_dir();
    let err = backup(&dir.path().join("nothing"), &dir.path().join("copy.db"))
        .expect_err("nothing to back up");
    assert!(matches!(err, BackupError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("nothing"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_never_deliver_twice() {
    const JOBS: usize = 200;
    let dir = data_dir();
    let first = open(dir.path());
    let second = open(dir.path());

    // One delivery id claimed through both handles at once: one winner.
    let contested = key("contested");
    let mut claims = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = if i % 2 == 0 {
            first.store.clone()
        } else {
            second.store.clone()
        };
        let key = contested.clone();
        claims.spawn(async move {
            store
                .begin_delivery(&key, &format!("claimant-{i}"), Utc::now(), LEASE, LONG)
                .await
                .expect("begin")
        });
    }
    let mut winners = 0;
    while let Some(claim) = claims.join_next().await {
        if claim.expect("claim task") == DeliveryClaim::Claimed {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one claimant wins across the handles");

    // Jobs sent through one handle, received through both by racing consumers.
    let sent: HashSet<String> = {
        let mut ids = HashSet::new();
        for _ in 0..JOBS {
            let job = job();
            ids.insert(job.job_id.to_string());
            first.queue.send(&job).await.expect("send");
        }
        ids
    };
    let mut consumers = tokio::task::JoinSet::new();
    for i in 0..6 {
        let queue = if i % 2 == 0 {
            first.queue.clone()
        } else {
            second.queue.clone()
        };
        consumers.spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = queue
                    .receive(3, Duration::from_secs(1), LONG)
                    .await
                    .expect("receive");
                if batch.is_empty() {
                    return got;
                }
                for message in batch {
                    assert_eq!(message.receive_count, 1, "received before");
                    let job = message.job.expect("a job");
                    got.push(job.job_id.to_string());
                    queue.delete(&message.receipt).await.expect("delete");
                }
            }
        });
    }
    let mut received = Vec::new();
    while let Some(got) = consumers.join_next().await {
        received.extend(got.expect("consumer task"));
    }
    assert_eq!(received.len(), JOBS, "every job received exactly once");
    let unique: HashSet<String> = received.into_iter().collect();
    assert_eq!(unique, sent);

    // A receive waiting on one handle sees a send through the other.
    let late = job();
    let (got, ()) = tokio::join!(
        first.queue.receive(1, Duration::from_secs(10), LONG),
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            second.queue.send(&late).await.expect("send");
        }
    );
    let got = got.expect("receive");
    assert_eq!(got.len(), 1, "the long poll saw the other handle's send");
    assert_eq!(got[0].job.as_ref().ok(), Some(&late));
}

#[test]
fn a_database_of_a_newer_baton_is_refused() {
    let dir = data_dir();
    drop(open(dir.path()));
    let path = baton_embedded::database_path(dir.path());
    let conn = rusqlite::Connection::open(&path).expect("open the file");
    conn.pragma_update(None, "user_version", baton_embedded::SCHEMA_VERSION + 1)
        .expect("set user_version");
    drop(conn);

    let err = baton_embedded::open(dir.path())
        .err()
        .expect("a newer schema is refused");
    assert!(
        matches!(err, OpenError::NewerSchema { found, .. } if found == baton_embedded::SCHEMA_VERSION + 1),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("upgrade baton"), "{message}");
}

#[test]
fn files_that_are_not_baton_databases_are_refused() {
    let dir = data_dir();
    let path = baton_embedded::database_path(dir.path());
    let conn = rusqlite::Connection::open(&path).expect("create a file");
    conn.execute_batch("CREATE TABLE notes (text TEXT)")
        .expect("another application's table");
    drop(conn);
    let err = baton_embedded::open(dir.path())
        .err()
        .expect("another application's database is refused");
    assert!(matches!(err, OpenError::NotBaton { .. }), "{err:?}");

    std::fs::write(&path, b"not a database at all, just text").expect("write");
    let err = baton_embedded::open(dir.path())
        .err()
        .expect("a file that is not a database is refused");
    assert!(matches!(err, OpenError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("baton.db"), "{err}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").expect("write");
    let err = baton_embedded::open(&file)
        .err()
        .expect("a data dir that is a file is refused");
    assert!(matches!(err, OpenError::CreateDir { .. }), "{err:?}");
}
