//! `setup` against the emulator: what it creates, and that running it again changes nothing.

mod common;

use aws_sdk_dynamodb::types::{IndexStatus, TableStatus, TimeToLiveStatus};
use aws_sdk_sqs::types::QueueAttributeName;
use baton_core::ports::MAX_RECEIVE_COUNT;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_creates_the_table_and_queues_idempotently() {
    let (store, queue, settings) = common::both().await;
    baton_aws::setup(&store, &queue)
        .await
        .expect("setup runs again over what exists");

    let table = store
        .client()
        .describe_table()
        .table_name(&settings.table)
        .send()
        .await
        .expect("describe_table")
        .table
        .expect("the table");
    assert_eq!(table.table_status, Some(TableStatus::Active));
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["pk", "sk"]);
    let gsi = table
        .global_secondary_indexes()
        .iter()
        .find(|index| index.index_name() == Some("gsi1"))
        .expect("the gsi1 index");
    let gsi_keys: Vec<_> = gsi
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(gsi_keys, ["gsi1pk", "gsi1sk"]);
    assert!(matches!(gsi.index_status, None | Some(IndexStatus::Active)));

    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name(&settings.table)
        .send()
        .await
        .expect("describe_time_to_live")
        .time_to_live_description
        .expect("a TTL description");
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled));

    let url = queue.queue_url().await.expect("queue url");
    assert!(url.contains(&settings.queue), "looked up by name: {url}");
    let attributes = queue
        .client()
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("get_queue_attributes")
        .attributes
        .unwrap_or_default();
    assert_eq!(
        attributes
            .get(&QueueAttributeName::VisibilityTimeout)
            .map(String::as_str),
        Some("60")
    );
    let redrive: serde_json::Value = serde_json::from_str(
        attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .expect("a redrive policy"),
    )
    .expect("redrive policy JSON");
    let max_receives = match &redrive["maxReceiveCount"] {
        serde_json::Value::String(count) => count.parse::<u32>().ok(),
        value => value.as_u64().and_then(|count| u32::try_from(count).ok()),
    };
    assert_eq!(max_receives, Some(MAX_RECEIVE_COUNT));
    let target = redrive["deadLetterTargetArn"].as_str().unwrap_or_default();
    assert!(
        target.ends_with(&format!(":{}", settings.dead_letter_queue)),
        "dead-letter target {target}"
    );

    let dlq_url = queue.dead_letter_queue_url().await.expect("dlq url");
    let retention = queue
        .client()
        .get_queue_attributes()
        .queue_url(dlq_url)
        .attribute_names(QueueAttributeName::MessageRetentionPeriod)
        .send()
        .await
        .expect("get_queue_attributes")
        .attributes
        .unwrap_or_default();
    assert_eq!(
        retention
            .get(&QueueAttributeName::MessageRetentionPeriod)
            .map(String::as_str),
        Some("1209600")
    );
}
