//! The reconciler function built from its environment as deployed (`BATON_WORKFLOW` names a
//! directory of workflows, the tracker token is a variable), against DynamoDB and SQS on the
//! emulator and a fake GitHub API: a scheduled invocation polls the workflow's tracker and
//! queues the labelled issue whose webhook never arrived, through the same wiring as
//! `baton dev`. One test in this binary: it sets process environment variables.

use baton_core::domain::{JobReason, WorkItemKey, WorkItemStatus};
use baton_core::ports::{Queue, Store};
use baton_integrations::test_support::fakes::github::{GithubFake, NewIssue};
use baton_integrations::test_support::FakeApi;
use baton_reconciler::{Handler, ScheduledEvent};
use lambda_runtime::{Context, LambdaEvent};
use std::time::Duration;

const TOKEN: &str = "ghp-reconciler-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_invocation_polls_each_workflows_tracker_and_queues_the_missed_issue() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL").is_some(),
        "AWS_ENDPOINT_URL is not set: run the tests with `scripts/test`, which starts the emulator"
    );
    let fake = GithubFake::new("acme/app").require_token(TOKEN);
    let mut labelled = NewIssue::new("Labelled, webhook lost");
    labelled.labels = vec!["baton".into()];
    let wanted = fake.add_issue(labelled);
    let unlabelled = fake.add_issue(NewIssue::new("Not for baton"));
    let api = FakeApi::spawn(fake.router()).await;

    // Two workflows, as a deployment's directory holds them: one polls a tracker, one has
    // no `tracker.provider` (webhooks only) and is not polled.
    let dir = std::env::temp_dir().join(format!("baton-reconciler-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("workflow dir");
    std::fs::write(
        dir.join("app.md"),
        format!(
            "---\ntracker:\n  kind: github\n  provider:\n    repository: acme/app\n    \
             base_url: \"{}\"\n    token: $RECONCILER_TEST_GITHUB_TOKEN\n\
             triggers: {{label: baton}}\npolling: {{interval_ms: 60000}}\n---\nFix it.\n",
            api.url()
        ),
    )
    .expect("write app.md");
    std::fs::write(
        dir.join("other.md"),
        "---\ntracker:\n  kind: github\n---\nWork.\n",
    )
    .expect("write other.md");
    // A workflow whose tracker credential is missing fails its own poll, not the others'.
    std::fs::write(
        dir.join("broken.md"),
        "---\ntracker:\n  kind: github\n  provider:\n    repository: acme/broken\n    \
         token: $RECONCILER_TEST_UNSET_TOKEN\n---\nWork.\n",
    )
    .expect("write broken.md");

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
    std::env::set_var("BATON_WORKFLOW", &dir);
    std::env::set_var("BATON_BACKEND", "aws");
    std::env::set_var("BATON_TABLE", &settings.table);
    std::env::set_var("BATON_QUEUE", &settings.queue);
    std::env::set_var("BATON_DLQ", &settings.dead_letter_queue);
    std::env::set_var("RECONCILER_TEST_GITHUB_TOKEN", TOKEN);

    let handler = Handler::from_env()
        .await
        .expect("the handler from its environment");
    let event: ScheduledEvent = serde_json::from_str("{}").expect("event");
    let invocation = handler
        .handle(LambdaEvent::new(event.clone(), Context::default()))
        .await
        .expect("invocation");

    let json = serde_json::to_value(&invocation).expect("json");
    let polls = json["polls"].as_array().expect("polls");
    assert_eq!(
        polls.len(),
        2,
        "the workflows with a tracker are polled, or say why not: {json}"
    );
    assert_eq!(polls[0]["workflow"], "broken.md", "{json}");
    assert!(
        polls[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("RECONCILER_TEST_UNSET_TOKEN")),
        "the error names the missing variable: {json}"
    );
    let polls = &polls[1..];
    assert_eq!(polls[0]["workflow"], "app.md", "{json}");
    let key = WorkItemKey::parse(&format!("github:acme/app#{wanted}")).expect("key");
    assert_eq!(
        polls[0]["report"]["queued"],
        serde_json::json!([key.as_str()]),
        "the labelled issue is queued, not #{unlabelled}: {json}"
    );

    let item = store
        .get_work_item(&key)
        .await
        .expect("get")
        .expect("the polled issue has a work item");
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert_eq!(
        item.workflow.as_deref(),
        Some("app.md"),
        "it follows its workflow"
    );
    let received = queue
        .receive(10, Duration::from_secs(1), Duration::from_secs(30))
        .await
        .expect("receive");
    assert_eq!(received.len(), 1, "one job");
    let job = received[0].job.as_ref().expect("a job");
    assert_eq!(job.work_item, key);
    assert_eq!(job.reason, JobReason::Polled);
    assert!(
        api.requests()
            .iter()
            .all(|request| !request.uri.contains(TOKEN)),
        "the token travels in a header, never in a URL"
    );

    // Within the workflow's polling interval, the next invocation does not poll again.
    let again = handler
        .handle(LambdaEvent::new(event, Context::default()))
        .await
        .expect("second invocation");
    assert!(
        again.polls.iter().all(|poll| poll.report.is_none()),
        "polled again within interval_ms: {:?}",
        again.polls
    );
    let _ = std::fs::remove_dir_all(&dir);
}
