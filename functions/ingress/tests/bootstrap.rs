//! The packaged `bootstrap` of the ingress, invoked as Lambda invokes it: started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a local stand-in for the Runtime API, fed Function
//! URL requests (payload format 2.0). Its cold start, process start → first response, is
//! printed, not asserted.

use baton_lambda_harness::{binary, report, Bootstrap, Outcome, RuntimeApi};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "bootstrap-test-secret";

const WORKFLOW: &str = "---\ntracker: {kind: github}\ntriggers: {label: baton}\n\
    webhooks: {github: {secret: $GITHUB_WEBHOOK_SECRET}}\n\
    agent_provider: {kind: mock}\n---\nFix {{ issue.identifier }}\n";

fn signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A GitHub `issues.labeled` delivery through the function's URL.
fn webhook(number: u32, signature_of: Option<&[u8]>) -> Value {
    let body = json!({
        "action": "labeled",
        "label": { "name": "baton" },
        "issue": {
            "id": number, "number": number, "title": "Fix it", "body": "", "state": "open",
            "labels": [{ "name": "baton" }], "user": { "login": "alice", "type": "User" }
        },
        "repository": { "full_name": "acme/app" },
        "sender": { "login": "alice", "type": "User" }
    })
    .to_string();
    let signed = signature(signature_of.unwrap_or(body.as_bytes()));
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/webhooks/github",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "x-github-event": "issues",
            "x-github-delivery": uuid::Uuid::new_v4().to_string(),
            "x-hub-signature-256": signed,
            "user-agent": "GitHub-Hookshot/abc123",
            "x-forwarded-proto": "https"
        },
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": "POST",
                "path": "/webhooks/github",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.30.252.1",
                "userAgent": "GitHub-Hookshot/abc123"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Mar/2026:12:00:00 +0000",
            "timeEpoch": 1772366400000_u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// The HTTP answer inside a `…/response`: its status and JSON body.
fn http_answer(outcome: &Outcome) -> (u64, Value) {
    let Outcome::Response { body, .. } = outcome else {
        panic!("the function failed: {outcome:?}");
    };
    assert_eq!(body["isBase64Encoded"], false, "{body}");
    let status = body["statusCode"].as_u64().expect("a statusCode");
    let text = body["body"].as_str().expect("a text body");
    (status, serde_json::from_str(text).expect("a JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_answers_function_url_requests() {
    let scratch = std::env::temp_dir().join(format!("baton-ingress-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let workflow = scratch.join("WORKFLOW.md");
    std::fs::write(&workflow, WORKFLOW).expect("workflow");
    let api = RuntimeApi::start().await;
    let path = binary("baton-ingress", env!("CARGO_BIN_EXE_baton-ingress"));
    let workflow_var = workflow.display().to_string();
    let mut function = Bootstrap::start(
        "baton-ingress",
        &path,
        &api,
        &[
            ("BATON_BACKEND", "memory"),
            ("BATON_WORKFLOW", &workflow_var),
            ("GITHUB_WEBHOOK_SECRET", SECRET),
            ("RUST_LOG", "warn"),
        ],
    );

    let first = api.invoke(&webhook(3, None)).await;
    report("baton-ingress", &function, function.since_start(&first));
    let (status, answer) = http_answer(&first);
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["work_item"], "github:acme/app#3", "{answer}");

    let (status, answer) = http_answer(&api.invoke(&webhook(4, Some(b"forged"))).await);
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_signature", "{answer}");

    // An event that is no HTTP request goes to …/error; the process serves on.
    match api.invoke_raw(b"[1, 2, 3]".to_vec()).await {
        Outcome::Error { error_type, .. } => assert!(error_type.is_some()),
        other => panic!("a malformed event was answered: {other:?}"),
    }
    assert!(function.is_running(), "the bootstrap exited after an error");
    let (status, answer) = http_answer(&api.invoke(&webhook(5, None)).await);
    assert_eq!(status, 202, "{answer}");
    assert!(api.init_error().is_none());
    let _ = std::fs::remove_dir_all(&scratch);
}
