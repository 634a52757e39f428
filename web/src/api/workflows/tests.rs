use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_core::workflow::{WorkflowSet, WorkflowSource};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

async fn call(app: Router, method: &str) -> (StatusCode, serde_json::Value) {
    let request = Request::builder()
        .method(method)
        .uri(WORKFLOWS_PATH)
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&body).expect("json"))
}

#[tokio::test]
async fn lists_each_workflow_with_its_version_and_error() {
    let source = WorkflowSource::built_in(Arc::new(|_| None));
    let app = workflows_router(WorkflowWatch::start(source, None));

    let (status, body) = call(app.clone(), "GET").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let listed = &body["workflows"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(listed[0]["name"], "development");
    assert_eq!(listed[0]["active"], true);
    assert_eq!(listed[0]["serves"], "the memory tracker");
    assert!(listed[0]["version"].is_string(), "{body}");
    assert!(listed[0]["loaded_at"].is_string(), "{body}");
    assert_eq!(listed[0]["last_error"], serde_json::Value::Null);

    let (status, body) = call(app, "POST").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_fixed_set_lists_nothing() {
    let app = workflows_router(WorkflowWatch::fixed(WorkflowSet::default()));
    let (status, body) = call(app, "GET").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({ "workflows": [] }));
}
