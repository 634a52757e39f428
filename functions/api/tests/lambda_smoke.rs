//! The api function behind Lambda: recorded-shape Function URL and API Gateway v2 events go
//! through `lambda_http`'s own event parsing into the router `baton-api` builds at start
//! (`app_from_env`, with the in-memory backends).

use axum::body::Body;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

/// A payload format 2.0 GET, as Function URLs and HTTP APIs send it.
fn get_event(domain: &str, route_key: &str, path: &str, query: &str) -> String {
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "host": domain,
            "user-agent": "curl/8.5.0",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": domain,
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "0b7c2f1e-5d1a-4d8e-9a53-3f1f2d9c7e11",
            "routeKey": route_key,
            "stage": "$default",
            "time": "01/Mar/2026:12:00:00 +0000",
            "timeEpoch": 1772366400000_u64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

async fn invoke(event: &str) -> (u16, Value) {
    // SAFETY of the environment: every test in this file sets the same values. A Lambda
    // has no loopback peer, so the function is deployed with IAM auth on its URL (or a
    // token); these events come through that URL.
    std::env::set_var("BATON_BACKEND", "memory");
    std::env::set_var("BATON_API_AUTH", "iam");
    let app = baton_api::app_from_env()
        .await
        .expect("the function starts on the memory backend");
    let request = lambda_http::request::from_str(event).expect("a valid Lambda event");
    let response = app
        .oneshot(request.map(|body| Body::from(body.to_vec())))
        .await
        .expect("router answers");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, serde_json::from_slice(&bytes).expect("json answer"))
}

#[tokio::test]
async fn a_function_url_event_reads_the_state() {
    let (status, answer) = invoke(&get_event(
        "abcdefghij.lambda-url.us-east-1.on.aws",
        "$default",
        "/api/v1/state",
        "",
    ))
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["counts"]["queued"], 0, "{answer}");
    assert_eq!(answer["running"], json!([]), "{answer}");
    assert!(answer["generated_at"].is_string(), "{answer}");
}

#[tokio::test]
async fn an_http_api_event_for_an_unknown_path_gets_the_error_envelope() {
    let (status, answer) = invoke(&get_event(
        "abcdefghij.execute-api.us-east-1.amazonaws.com",
        "GET /{proxy+}",
        "/api/v1/nothing-here",
        "verbose=1",
    ))
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "not_found", "{answer}");
}
