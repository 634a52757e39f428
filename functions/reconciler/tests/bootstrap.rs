//! The packaged `bootstrap` of the reconciler, invoked as Lambda invokes it: started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a local stand-in for the Runtime API, fed the
//! EventBridge schedule's event. Its cold start, process start → first response, is
//! printed, not asserted.

use baton_lambda_harness::{binary, report, Bootstrap, Outcome, RuntimeApi};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_answers_scheduled_events() {
    let api = RuntimeApi::start().await;
    let path = binary("baton-reconciler", env!("CARGO_BIN_EXE_baton-reconciler"));
    let mut function = Bootstrap::start(
        "baton-reconciler",
        &path,
        &api,
        &[("BATON_BACKEND", "memory"), ("RUST_LOG", "warn")],
    );
    let schedule = json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-03-01T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/baton-reconciler-every-minute"],
        "detail": {}
    });

    let first = api.invoke(&schedule).await;
    report("baton-reconciler", &function, function.since_start(&first));
    let Outcome::Response { body, .. } = &first else {
        panic!("the pass failed: {first:?}");
    };
    // The pass's report, on an empty store: nothing to look at, nothing requeued.
    assert_eq!(body["inspected"], 0, "{body}");
    assert_eq!(body["requeued"], json!([]), "{body}");
    assert_eq!(body["failed"], json!([]), "{body}");
    assert!(body["polls"].is_array(), "{body}");

    // An event of the wrong shape goes to …/error; the next schedule is served.
    match api.invoke_raw(b"\"not an event\"".to_vec()).await {
        Outcome::Error { error_type, .. } => assert!(error_type.is_some()),
        other => panic!("a malformed event was answered: {other:?}"),
    }
    assert!(function.is_running(), "the bootstrap exited after an error");
    assert!(matches!(
        api.invoke(&schedule).await,
        Outcome::Response { .. }
    ));
    assert!(api.init_error().is_none());
}
