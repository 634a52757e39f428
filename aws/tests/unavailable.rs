//! With the backend down, calls fail fast with `Unavailable` (the ingress answers 503)
//! instead of hanging in retries. Needs no emulator.

use aws_sdk_dynamodb::config::Credentials;
use baton_aws::Settings;
use baton_core::domain::{
    DeliveryKey, Job, JobId, JobReason, RunEvent, RunId, SourceKind, WorkItemKey, WorkItemStatus,
};
use baton_core::ports::{Queue, QueueError, Store, StoreError};
use std::time::{Duration, Instant};

/// The operation timeout is 3 s; allow some scheduling slack on a loaded machine.
const FAST: Duration = Duration::from_millis(3_500);

async fn adapters(endpoint: &str) -> (baton_aws::DynamoStore, baton_aws::SqsQueue) {
    let config = baton_aws::config_loader()
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    baton_aws::adapters(&config, &Settings::default())
}

fn job() -> Job {
    Job {
        v: baton_core::domain::JOB_SCHEMA_VERSION,
        job_id: JobId::generate(),
        work_item: WorkItemKey::new(SourceKind::Github, "acme/app#1"),
        reason: JobReason::Labeled,
        attempt: 1,
        queued_at: chrono::Utc::now(),
        delivery_id: None,
        continuation: 0,
    }
}

async fn assert_fails_fast(endpoint: &str) {
    let (store, queue) = adapters(endpoint).await;

    let started = Instant::now();
    let claim = store
        .begin_delivery(
            &DeliveryKey::new(SourceKind::Github, "d-1"),
            "me",
            chrono::Utc::now(),
            Duration::from_secs(30),
            Duration::from_secs(3600),
        )
        .await;
    let took = started.elapsed();
    match claim {
        Err(StoreError::Unavailable(message)) => assert!(!message.is_empty()),
        other => panic!("begin_delivery against {endpoint}: expected Unavailable, got {other:?}"),
    }
    assert!(
        took < FAST,
        "the store took {took:?} to give up on {endpoint}"
    );

    let started = Instant::now();
    let sent = queue.send(&job()).await;
    let took = started.elapsed();
    assert!(
        matches!(sent, Err(QueueError::Unavailable(_))),
        "send against {endpoint}: expected Unavailable, got {sent:?}"
    );
    assert!(
        took < FAST,
        "the queue took {took:?} to give up on {endpoint}"
    );
}

#[tokio::test]
async fn a_refused_connection_fails_fast() {
    // Port 1 on the loopback: nothing listens, the connection is refused at once.
    assert_fails_fast("http://127.0.0.1:1").await;
}

#[tokio::test]
async fn a_silent_endpoint_fails_fast() {
    // Accepts connections and never answers: only the timeouts end the calls.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    assert_fails_fast(&format!("http://{address}")).await;
    silent.abort();
}

/// The batch writes, queries and sends of the runner's operations map failures the same way.
#[tokio::test]
async fn the_runner_operations_are_unavailable_too() {
    let endpoint = "http://127.0.0.1:1";
    let (store, queue) = adapters(endpoint).await;
    let run_id = RunId::generate();
    let key = WorkItemKey::new(SourceKind::Github, "acme/app#1");
    let event = RunEvent {
        run_id: run_id.clone(),
        seq: 1,
        at: chrono::Utc::now(),
        kind: "claimed".into(),
        data: serde_json::Value::Null,
    };
    let store_results = [
        (
            "append_events",
            store
                .append_events(&[event], Duration::from_secs(60))
                .await
                .map(|_| ()),
        ),
        (
            "list_events",
            store.list_events(&run_id, 0, 10).await.map(|_| ()),
        ),
        (
            "list_work_items",
            store
                .list_work_items(WorkItemStatus::Queued, 10)
                .await
                .map(|_| ()),
        ),
        ("list_runs", store.list_runs(&key).await.map(|_| ())),
        ("get_run", store.get_run(&run_id).await.map(|_| ())),
        (
            "get_slot_pool",
            store.get_slot_pool("global").await.map(|_| ()),
        ),
    ];
    for (operation, result) in store_results {
        assert!(
            matches!(result, Err(StoreError::Unavailable(_))),
            "{operation} against {endpoint}: expected Unavailable, got {result:?}"
        );
    }
    let queue_results = [
        (
            "send_delayed",
            queue.send_delayed(&job(), Duration::from_secs(5)).await,
        ),
        ("dead_letter", queue.dead_letter(&job()).await),
    ];
    for (operation, result) in queue_results {
        assert!(
            matches!(result, Err(QueueError::Unavailable(_))),
            "{operation} against {endpoint}: expected Unavailable, got {result:?}"
        );
    }
}
