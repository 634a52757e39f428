//! The API token never reaches a log line, whether it is right, nearly right, or typed into
//! the sign-in form.
//!
//! A test binary of its own: the capture is the process-wide subscriber, so no test running
//! beside it can swap the dispatcher or the callsite cache under it.

use axum::body::Body;
use axum::http::{header, Request};
use axum::routing::get;
use axum::Router;
use baton_core::secret::Secret;
use baton_web::api::{login_router, require_auth, ApiAuth};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const TOKEN: &str = "s3cr3t-t0ken-never-logged";

/// Collects every log line.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn send(app: &Router, request: Request<Body>) {
    app.clone().oneshot(request).await.expect("infallible");
}

#[tokio::test]
async fn the_token_never_reaches_a_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .expect("the only subscriber of this test binary");

    let auth = ApiAuth::token(Secret::new(TOKEN).expect("non-empty"));
    let api = Router::new().route("/api/v1/state", get(|| async { "{}" }));
    let app = require_auth(api, auth.clone()).merge(login_router(auth.clone()));
    for authorization in [format!("Bearer {TOKEN}x"), format!("Bearer {TOKEN}")] {
        let request = Request::get("/api/v1/state")
            .header(header::AUTHORIZATION, authorization)
            .body(Body::empty())
            .expect("request");
        send(&app, request).await;
    }
    for token in [TOKEN, "wrong"] {
        let request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .expect("request");
        send(&app, request).await;
    }
    tracing::info!(auth = ?auth, "the auth mode");

    let log =
        String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    // The refusals were logged, so the capture saw the code paths that handle the token.
    assert!(log.contains("request refused"), "{log}");
    assert!(log.contains("sign-in refused"), "{log}");
    assert!(log.contains("the auth mode"), "{log}");
    assert!(!log.contains(TOKEN), "the token leaked: {log}");
}
