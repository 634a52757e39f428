//! A stand-in for Slack's two ways in, in Slack's own shapes, for notifier tests: an incoming
//! webhook (`POST /services/...`, answering the text `ok`, or 400 `invalid_payload` /
//! 404 `no_service`) and the Web API's `chat.postMessage` (always HTTP 200 with `{"ok":..}`,
//! `not_authed`/`invalid_auth` for a missing or wrong bearer token, `channel_not_found`).
//! Serve it with [`super::FakeApi`], which records requests and injects 429s with
//! `Retry-After` in front of it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// The bot token the fake accepts.
pub const BOT_TOKEN: &str = "xoxb-fake-0000-token";
/// The one channel the fake knows.
pub const CHANNEL: &str = "C0123456789";
/// The incoming webhook's path; its secret part is the last segment.
pub const WEBHOOK_PATH: &str = "/services/T0000/B0000/fakewebhooksecret";

/// Cloning shares what was posted.
#[derive(Debug, Clone, Default)]
pub struct SlackFake {
    posted: Arc<Mutex<Vec<Value>>>,
}

impl SlackFake {
    /// Serves the webhook at [`WEBHOOK_PATH`] and the Web API under `/api`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/services/{*hook}", post(webhook))
            .route("/api/chat.postMessage", post(post_message))
            .with_state(self.clone())
    }

    /// The payloads Slack accepted, in order.
    pub fn posted(&self) -> Vec<Value> {
        self.posted.lock().unwrap().clone()
    }

    fn accept(&self, payload: Value) {
        self.posted.lock().unwrap().push(payload);
    }
}

/// Slack refuses a message with neither `text` nor `blocks`.
fn has_content(payload: &Value) -> bool {
    let text = payload["text"].as_str().is_some_and(|t| !t.is_empty());
    let blocks = payload["blocks"].as_array().is_some_and(|b| !b.is_empty());
    text || blocks
}

async fn webhook(State(fake): State<SlackFake>, uri: axum::http::Uri, body: String) -> Response {
    if uri.path() != WEBHOOK_PATH {
        return (StatusCode::NOT_FOUND, "no_service").into_response();
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(payload) if has_content(&payload) => {
            fake.accept(payload);
            (StatusCode::OK, "ok").into_response()
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_payload").into_response(),
    }
}

async fn post_message(
    State(fake): State<SlackFake>,
    headers: HeaderMap,
    body: String,
) -> Json<Value> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let error = |code: &str| Json(json!({ "ok": false, "error": code }));
    match auth {
        None => return error("not_authed"),
        Some(token) if token != BOT_TOKEN => return error("invalid_auth"),
        Some(_) => {}
    }
    let Ok(payload) = serde_json::from_str::<Value>(&body) else {
        return error("invalid_json");
    };
    let Some(channel) = payload["channel"].as_str().map(str::to_owned) else {
        return error("channel_not_found");
    };
    if channel != CHANNEL {
        return error("channel_not_found");
    }
    if !has_content(&payload) {
        return error("no_text");
    }
    fake.accept(payload);
    Json(json!({ "ok": true, "channel": channel, "ts": "1764925200.000100" }))
}
