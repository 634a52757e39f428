//! Path parameters are bounded and printable: a 10 KB key or a NUL answers 400 in the error
//! envelope (never 404), and the message does not echo the whole value.

use super::*;

/// Every route with a path parameter, the parameter standing as `{}`, and the code it
/// answers when the parameter is refused.
const ROUTES: [(&str, &str, &str); 6] = [
    ("GET", "/api/v1/issues/{}", "invalid_key"),
    ("POST", "/api/v1/issues/{}/retry", "invalid_key"),
    ("POST", "/api/v1/issues/{}/cancel", "invalid_key"),
    ("GET", "/api/v1/runs/{}", "invalid_run_id"),
    ("GET", "/api/v1/runs/{}/events", "invalid_run_id"),
    (
        "POST",
        "/api/v1/deliveries/{}/replay",
        "invalid_delivery_id",
    ),
];

/// The segment as a client sends it (percent-encoded), for a value starting with `prefix`.
fn segments(prefix: &str) -> Vec<String> {
    let long = format!("{prefix}{}", "a".repeat(10 * 1024));
    [
        long,
        format!("{prefix}acme\0app"),
        format!("{prefix}acme\napp"),
        format!("{prefix}\u{1b}[31mred"),
    ]
    .iter()
    .map(|value| utf8_percent_encode(value, NON_ALPHANUMERIC).to_string())
    .collect()
}

#[tokio::test]
async fn oversized_or_control_character_parameters_are_400_in_the_envelope() {
    let app = api(seeded().await);
    for (method, template, code) in ROUTES {
        let prefix = if code == "invalid_run_id" {
            ""
        } else {
            "github:"
        };
        for segment in segments(prefix) {
            let uri = template.replace("{}", &segment);
            let method = Method::from_bytes(method.as_bytes()).expect("method");
            let answer = send(&app, method, &uri).await;
            let message = assert_error(&answer, StatusCode::BAD_REQUEST, code);
            assert!(message.len() < 300, "{template}: {message}");
            assert!(
                !message.contains('\0') && !message.contains('\n'),
                "{message}"
            );
        }
    }
}

#[tokio::test]
async fn a_key_at_the_limit_is_looked_up() {
    let app = api(seeded().await);
    let key = format!(
        "github:{}",
        "a".repeat(WorkItemKey::MAX_LEN - "github:".len())
    );
    let uri = format!(
        "/api/v1/issues/{}",
        utf8_percent_encode(&key, NON_ALPHANUMERIC)
    );
    assert_error(
        &get(&app, &uri).await,
        StatusCode::NOT_FOUND,
        "issue_not_found",
    );
    let over = format!("{key}a");
    let uri = format!(
        "/api/v1/issues/{}",
        utf8_percent_encode(&over, NON_ALPHANUMERIC)
    );
    assert_error(
        &get(&app, &uri).await,
        StatusCode::BAD_REQUEST,
        "invalid_key",
    );
}

#[tokio::test]
async fn an_unknown_webhook_source_name_is_not_echoed_whole() {
    let app = api(seeded().await);
    let uri = format!("/webhooks/{}", "x".repeat(10 * 1024));
    let request = Request::builder()
        .method(Method::POST)
        .uri(&uri)
        .body(Body::empty())
        .expect("request");
    let merged = Router::new().merge(app).merge(ingress::router(ingress_on(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryQueue::new()),
    )));
    let message = assert_error(
        &answer(&merged, request, &uri).await,
        StatusCode::NOT_FOUND,
        "unknown_source",
    );
    assert!(message.len() < 300, "{message}");
}
