//! The reconciler Lambda fed a recorded EventBridge scheduled event, against DynamoDB and SQS
//! on the emulator (`scripts/test` starts it): a stale item is requeued, a live one is not,
//! and the report comes back as the invocation's JSON result.

use baton_core::clock::{Clock, ManualClock};
use baton_core::domain::{
    IssueSnapshot, JobId, JobReason, Lease, RunId, SourceKind, WorkItem, WorkItemKey,
    WorkItemStatus,
};
use baton_core::ports::{Queue, Store};
use baton_core::reconciler::ReconcilerSettings;
use baton_reconciler::{Handler, ScheduledEvent};
use chrono::Utc;
use lambda_runtime::{Context, LambdaEvent};
use std::sync::Arc;
use std::time::Duration;

/// As EventBridge delivers a `rate(1 minute)` schedule.
const RECORDED: &str = r#"{
  "version": "0",
  "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  "source": "aws.events",
  "account": "123456789012",
  "time": "2026-03-01T12:00:00Z",
  "region": "us-east-1",
  "resources": ["arn:aws:events:us-east-1:123456789012:rule/baton-reconciler-every-minute"],
  "detail": {}
}"#;

fn item(number: u32, status: WorkItemStatus, at: chrono::DateTime<Utc>) -> WorkItem {
    let identifier = format!("acme/app#{number}");
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

async fn emulator() -> (Arc<dyn Store>, Arc<dyn Queue>) {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `scripts/test`, which starts the emulator"
    );
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let settings = baton_aws::Settings {
        table: format!("baton-test-{suffix}"),
        queue: format!("baton-jobs-{suffix}"),
        dead_letter_queue: format!("baton-dlq-{suffix}"),
    };
    let (store, queue) = baton_aws::connect(&settings).await;
    baton_aws::setup(&store, &queue)
        .await
        .expect("setup on the emulator");
    (Arc::new(store), Arc::new(queue))
}

#[test]
fn the_recorded_event_and_an_empty_test_invoke_both_parse() {
    let event: ScheduledEvent = serde_json::from_str(RECORDED).expect("recorded event");
    assert_eq!(event.detail_type.as_deref(), Some("Scheduled Event"));
    assert_eq!(event.source.as_deref(), Some("aws.events"));
    assert_eq!(event.time.as_deref(), Some("2026-03-01T12:00:00Z"));
    let empty: ScheduledEvent = serde_json::from_str("{}").expect("empty event");
    assert_eq!(empty, ScheduledEvent::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_invocation_requeues_the_stale_item_and_reports_it() {
    let (store, queue) = emulator().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let written = clock.now();
    let stale = item(1, WorkItemStatus::Queued, written);
    let mut live = item(2, WorkItemStatus::Running, written);
    live.lease = Some(Lease {
        owner: "runner-a".into(),
        run_id: RunId::generate(),
        expires_at: written + chrono::Duration::hours(2),
    });
    for item in [&stale, &live] {
        store.put_work_item(item, None).await.expect("put");
    }
    clock.advance(chrono::Duration::minutes(20));
    let handler = Handler::new(
        store.clone(),
        queue.clone(),
        clock,
        ReconcilerSettings::default(),
    );

    let event = serde_json::from_str(RECORDED).expect("recorded event");
    let report = handler
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .expect("invocation");

    // The invocation's result, as Lambda serializes it.
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["inspected"], 2, "{json}");
    assert_eq!(json["skipped"]["lease_live"], 1, "{json}");
    assert_eq!(
        json["requeued"][0]["work_item"], "github:acme/app#1",
        "{json}"
    );
    assert_eq!(json["requeued"][0]["cause"], "queued_stale", "{json}");
    assert_eq!(json["requeued"][0]["status"], "queued", "{json}");
    assert_eq!(json["failed"], serde_json::json!([]), "{json}");

    let stored = store
        .get_work_item(&stale.key)
        .await
        .expect("get")
        .expect("item");
    assert_eq!(
        stored.pending_job.as_ref(),
        Some(&report.pass.requeued[0].job_id)
    );
    let received = queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1);
    let job = received[0].job.as_ref().expect("a job");
    assert_eq!(job.reason, JobReason::Reconciled);
    assert_eq!(job.work_item, stale.key);
    assert_eq!(
        store.get_work_item(&live.key).await.expect("get"),
        Some(live),
        "a live runner's item is untouched"
    );
}
