//! The packaged `bootstrap` of the status API, invoked as Lambda invokes it: started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a local stand-in for the Runtime API, fed Function
//! URL requests (payload format 2.0, behind the URL's IAM auth). Its cold start, process
//! start → first response, is printed, not asserted.

use baton_lambda_harness::{binary, report, Bootstrap, Outcome, RuntimeApi};
use serde_json::{json, Value};

fn get(path: &str) -> Value {
    let domain = "abcdefghij.lambda-url.us-east-1.on.aws";
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "application/json",
            "host": domain,
            "user-agent": "curl/8.5.0",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "authorizer": { "iam": {
                "accessKey": "AKIAIOSFODNN7EXAMPLE",
                "accountId": "123456789012",
                "callerId": "AIDACKCEVSQ6C2EXAMPLE",
                "userArn": "arn:aws:iam::123456789012:user/operator",
                "userId": "AIDACKCEVSQ6C2EXAMPLE"
            }},
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
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Mar/2026:12:00:00 +0000",
            "timeEpoch": 1772366400000_u64
        },
        "isBase64Encoded": false
    })
}

/// The HTTP answer inside a `…/response`: its status and body text.
fn http_answer(outcome: &Outcome) -> (u64, String) {
    let Outcome::Response { body, .. } = outcome else {
        panic!("the function failed: {outcome:?}");
    };
    assert_eq!(body["isBase64Encoded"], false, "{body}");
    let status = body["statusCode"].as_u64().expect("a statusCode");
    (status, body["body"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_answers_function_url_requests() {
    let api = RuntimeApi::start().await;
    let path = binary("baton-api", env!("CARGO_BIN_EXE_baton-api"));
    let function = Bootstrap::start(
        "baton-api",
        &path,
        &api,
        &[
            ("BATON_BACKEND", "memory"),
            ("BATON_API_AUTH", "iam"),
            ("RUST_LOG", "warn"),
        ],
    );

    let first = api.invoke(&get("/api/v1/state")).await;
    report("baton-api", &function, function.since_start(&first));
    let (status, text) = http_answer(&first);
    assert_eq!(status, 200, "{text}");
    let state: Value = serde_json::from_str(&text).expect("JSON state");
    assert_eq!(state["counts"]["queued"], 0, "{state}");

    let (status, text) = http_answer(&api.invoke(&get("/api/v1/no-such-route")).await);
    assert_eq!(status, 404, "{text}");
    assert!(api.init_error().is_none());
}
