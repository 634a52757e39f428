//! A scripted model server: stands in for the OpenAI Responses API and the Anthropic Messages
//! API, so the real agent CLIs (Codex, Claude Code) run whole sessions offline, with no tokens
//! and a known outcome.
//!
//! A script is a list of [`Reply`]s. Every model request that offers tools (the agent's own
//! turns) takes the next one; requests without tools (titles, summaries the CLIs ask for on
//! the side) get a short text with zero usage, so they neither eat the script nor change the
//! token totals. Once the script is used up, every request answers a plain "done" text with
//! zero usage. A scripted error is sticky: it answers every later request. Serve it with [`super::FakeApi::spawn`], which records every request.
//!
//! Endpoints: `POST /v1/responses` (SSE), `POST /v1/messages` (SSE or JSON),
//! `POST /v1/messages/count_tokens`, `GET /v1/models`; the same without `/v1`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One tool call the model asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The tool's name as the agent offers it (`apply_patch`, `shell`, `Write`, an MCP tool).
    pub name: String,
    /// The arguments. A freeform (OpenAI `custom`) tool gets the string itself when this is a
    /// JSON string.
    pub arguments: Value,
}

/// What the model answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A final text: the agent's turn ends.
    Text(String),
    /// Tool calls (after an optional text): the agent runs them and asks again.
    Tools {
        text: Option<String>,
        calls: Vec<ToolCall>,
    },
    /// An HTTP error the API would send (e.g. 400 for an invalid request).
    Error { status: u16, message: String },
}

/// One scripted model reply with its usage figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub answer: Answer,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Reply {
    pub fn text(text: &str, input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            answer: Answer::Text(text.to_owned()),
            input_tokens,
            output_tokens,
        }
    }

    pub fn tool(name: &str, arguments: Value, input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            answer: Answer::Tools {
                text: None,
                calls: vec![ToolCall {
                    name: name.to_owned(),
                    arguments,
                }],
            },
            input_tokens,
            output_tokens,
        }
    }

    pub fn error(status: u16, message: &str) -> Self {
        Self {
            answer: Answer::Error {
                status,
                message: message.to_owned(),
            },
            input_tokens: 0,
            output_tokens: 0,
        }
    }
}

#[derive(Debug, Default)]
struct Script {
    replies: VecDeque<Reply>,
    /// Agent requests answered so far.
    served: usize,
}

/// The scripted model; clones share the script.
#[derive(Debug, Clone, Default)]
pub struct ScriptedModel {
    script: Arc<Mutex<Script>>,
}

impl ScriptedModel {
    pub fn new(replies: Vec<Reply>) -> Self {
        Self {
            script: Arc::new(Mutex::new(Script {
                replies: replies.into(),
                served: 0,
            })),
        }
    }

    /// The sum of the usage figures of `replies`: what an agent should report after all of
    /// them were served.
    pub fn totals(replies: &[Reply]) -> (u64, u64) {
        replies.iter().fold((0, 0), |(i, o), r| {
            (i + r.input_tokens, o + r.output_tokens)
        })
    }

    /// How many agent requests (with tools) were answered.
    pub fn served(&self) -> usize {
        self.lock().served
    }

    /// How many scripted replies are left.
    pub fn remaining(&self) -> usize {
        self.lock().replies.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        // A panic elsewhere in a test must not hide this server's answers.
        self.script
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next reply for a request; `agent_turn` is false for side requests (no tools).
    fn next(&self, agent_turn: bool) -> Reply {
        let filler = Reply::text("done", 0, 0);
        if !agent_turn {
            return filler;
        }
        let mut script = self.lock();
        script.served += 1;
        match script.replies.front() {
            // An error stays: the CLIs retry, or fall back to another request shape, and
            // every attempt must see the same failure.
            Some(
                reply @ Reply {
                    answer: Answer::Error { .. },
                    ..
                },
            ) => reply.clone(),
            Some(_) => script.replies.pop_front().unwrap_or(filler),
            None => filler,
        }
    }

    /// The routes of both APIs.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/responses", post(responses))
            .route("/messages", post(messages))
            .route("/messages/count_tokens", post(count_tokens))
            .route("/models", get(models));
        Router::new()
            .nest("/v1", api.clone())
            .merge(api)
            .with_state(self.clone())
    }
}

fn has_tools(request: &Value) -> bool {
    request["tools"]
        .as_array()
        .is_some_and(|tools| !tools.is_empty())
}

fn error_response(status: u16, kind: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({
        "type": "error",
        "error": {"type": kind, "code": kind, "message": message},
    });
    (status, Json(body)).into_response()
}

fn sse(events: Vec<(&'static str, Value)>) -> Response {
    let mut body = String::new();
    for (name, data) in events {
        body.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn models() -> Json<Value> {
    Json(json!({
        "object": "list",
        "data": [],
        "models": [],
        "has_more": false,
    }))
}

async fn count_tokens() -> Json<Value> {
    Json(json!({ "input_tokens": 1 }))
}

/// OpenAI Responses API, streamed: `response.created`, one `output_item.added`/`done` pair
/// per item (text deltas in between), `response.completed` with usage.
async fn responses(State(model): State<ScriptedModel>, Json(request): Json<Value>) -> Response {
    let reply = model.next(has_tools(&request));
    let (text, calls) = match reply.answer {
        Answer::Error { status, message } => {
            return error_response(status, "invalid_request_error", &message)
        }
        Answer::Text(text) => (Some(text), Vec::new()),
        Answer::Tools { text, calls } => (text, calls),
    };
    let id = format!("resp_{}", uuid_like());
    let model_name = request["model"].as_str().unwrap_or("gpt-5").to_owned();
    let mut events = vec![(
        "response.created",
        json!({"type": "response.created", "response": {
            "id": id, "object": "response", "status": "in_progress", "model": model_name,
            "output": [],
        }}),
    )];
    let mut output = Vec::new();
    if let Some(text) = text {
        let item_id = format!("msg_{}", uuid_like());
        let index = output.len();
        events.push((
            "response.output_item.added",
            json!({"type": "response.output_item.added", "output_index": index, "item": {
                "type": "message", "id": item_id, "role": "assistant", "status": "in_progress",
                "content": [],
            }}),
        ));
        events.push((
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "item_id": item_id,
                "output_index": index, "content_index": 0, "delta": text}),
        ));
        let item = json!({
            "type": "message", "id": item_id, "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        });
        events.push((
            "response.output_item.done",
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        ));
        output.push(item);
    }
    for call in calls {
        let index = output.len();
        let call_id = format!("call_{}", uuid_like());
        // A freeform tool (`"type": "custom"`, e.g. Codex's apply_patch) takes raw text.
        let custom = request["tools"].as_array().is_some_and(|tools| {
            tools
                .iter()
                .any(|t| t["type"] == "custom" && t["name"] == call.name.as_str())
        });
        let item = match (&call.arguments, custom) {
            (Value::String(input), true) => json!({
                "type": "custom_tool_call", "id": format!("ctc_{}", uuid_like()),
                "call_id": call_id, "name": call.name, "input": input, "status": "completed",
            }),
            (arguments, _) => json!({
                "type": "function_call", "id": format!("fc_{}", uuid_like()),
                "call_id": call_id, "name": call.name, "status": "completed",
                "arguments": match arguments {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            }),
        };
        events.push((
            "response.output_item.added",
            json!({"type": "response.output_item.added", "output_index": index, "item": item}),
        ));
        events.push((
            "response.output_item.done",
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        ));
        output.push(item);
    }
    events.push((
        "response.completed",
        json!({"type": "response.completed", "response": {
            "id": id, "object": "response", "status": "completed", "model": model_name,
            "output": output,
            "usage": {
                "input_tokens": reply.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": reply.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": reply.input_tokens + reply.output_tokens,
            },
        }}),
    ));
    sse(events)
}

/// Anthropic Messages API: streamed when the request says `stream: true` (`message_start`,
/// content blocks with text or `input_json_delta` deltas, `message_delta` with usage,
/// `message_stop`), one JSON message otherwise.
async fn messages(State(model): State<ScriptedModel>, Json(request): Json<Value>) -> Response {
    let reply = model.next(has_tools(&request));
    let (text, calls) = match reply.answer {
        Answer::Error { status, message } => {
            return error_response(status, "invalid_request_error", &message)
        }
        Answer::Text(text) => (Some(text), Vec::new()),
        Answer::Tools { text, calls } => (text, calls),
    };
    let stop_reason = if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    let model_name = request["model"]
        .as_str()
        .unwrap_or("claude-sonnet-4-5")
        .to_owned();
    let mut blocks = Vec::new();
    if let Some(text) = text {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for call in calls {
        let input = match call.arguments {
            Value::Object(_) => call.arguments,
            other => json!({ "input": other }),
        };
        blocks.push(json!({
            "type": "tool_use", "id": format!("toolu_{}", uuid_like()),
            "name": call.name, "input": input,
        }));
    }
    let id = format!("msg_{}", uuid_like());
    let usage = json!({
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    });
    if request["stream"] != json!(true) {
        return Json(json!({
            "id": id, "type": "message", "role": "assistant", "model": model_name,
            "content": blocks, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage,
        }))
        .into_response();
    }
    let mut events = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model_name,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {
                "input_tokens": reply.input_tokens, "output_tokens": 0,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            },
        }}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let (start, delta) = if block["type"] == "text" {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        } else {
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        };
        events.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        events.push((
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index, "delta": delta}),
        ));
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push((
        "message_delta",
        json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": reply.output_tokens}}),
    ));
    events.push(("message_stop", json!({"type": "message_stop"})));
    sse(events)
}

/// A short unique suffix for ids.
fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:016x}", NEXT.fetch_add(1, Ordering::Relaxed))
}
