//! OpenCode's NDJSON events, normalised into agent events (the table in the module docs).

use crate::agent::claude_code::process::{
    bound, bound_json, MAX_MESSAGE_BYTES, MAX_NOTICE_BYTES, MAX_OUTPUT_BYTES,
};
use crate::agent::{AgentEvent, TokenUsage};
use serde_json::Value;

/// Session-wide normalization state.
#[derive(Debug, Default)]
pub(super) struct Normalizer {
    /// The OpenCode session, continued by later turns.
    pub(super) session_id: Option<String>,
    /// The session id last reported in a `SessionStarted`.
    pub(super) reported: Option<String>,
    pub(super) usage: TokenUsage,
}

/// One turn's normalization state.
#[derive(Debug, Default)]
pub(super) struct TurnState {
    pub(super) turn: u32,
    pub(super) pid: Option<u32>,
    pub(super) started: bool,
    pub(super) error: Option<String>,
    pub(super) last_message: Option<String>,
}

impl TurnState {
    pub(super) fn ensure_started(&mut self, turn_id: Option<String>) -> Option<AgentEvent> {
        if self.started {
            return None;
        }
        self.started = true;
        Some(AgentEvent::TurnStarted {
            turn: self.turn,
            turn_id,
        })
    }
}

pub(super) fn notice(text: impl AsRef<str>) -> AgentEvent {
    AgentEvent::Notice {
        text: bound(text.as_ref(), MAX_NOTICE_BYTES),
    }
}

pub(super) fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

impl Normalizer {
    pub(super) fn on_line(&mut self, turn: &mut TurnState, line: &str) -> Vec<AgentEvent> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) => return vec![notice(format!("non-object line from OpenCode: {line}"))],
            Err(err) => {
                return vec![notice(format!(
                    "malformed line from OpenCode ({err}): {line}"
                ))]
            }
        };
        let mut events = Vec::new();
        if let Some(id) = str_at(&value, "/sessionID") {
            if self.reported.as_deref() != Some(id) {
                self.reported = Some(id.to_string());
                self.session_id = Some(id.to_string());
                events.push(AgentEvent::SessionStarted {
                    session_id: id.to_string(),
                    pid: turn.pid,
                });
            }
        }
        let Some(kind) = str_at(&value, "/type") else {
            events.push(notice(format!("line without a type from OpenCode: {line}")));
            return events;
        };
        let turn_id = if kind == "step_start" {
            str_at(&value, "/part/messageID").map(str::to_string)
        } else {
            None
        };
        events.extend(turn.ensure_started(turn_id));
        match kind {
            "step_start" | "reasoning" => {}
            "text" => {
                let text = str_at(&value, "/part/text").unwrap_or("");
                if !text.trim().is_empty() {
                    let text = bound(text, MAX_MESSAGE_BYTES);
                    turn.last_message = Some(text.clone());
                    events.push(AgentEvent::Message { text });
                }
            }
            "tool_use" => events.extend(tool_events(&value)),
            "step_finish" => {
                let Some(tokens) = value.pointer("/part/tokens") else {
                    return events;
                };
                let count = |p: &str| tokens.pointer(p).and_then(Value::as_u64).unwrap_or(0);
                self.usage.input_tokens +=
                    count("/input") + count("/cache/read") + count("/cache/write");
                self.usage.output_tokens += count("/output") + count("/reasoning");
                self.usage.total_tokens = self.usage.input_tokens + self.usage.output_tokens;
                events.push(AgentEvent::Usage(self.usage));
            }
            "error" => {
                let message = error_text(value.get("error"));
                turn.error = Some(match turn.error.take() {
                    Some(earlier) => format!("{earlier}; {message}"),
                    None => message,
                });
            }
            "done" => {
                if let Some(Value::Array(rejected)) = value.get("rejected") {
                    for permission in rejected {
                        let kind = permission
                            .as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| permission.to_string());
                        events.push(AgentEvent::Approval {
                            kind,
                            decision: "decline".into(),
                            detail: None,
                        });
                    }
                }
            }
            other => events.push(notice(format!("unhandled OpenCode event `{other}`"))),
        }
        events
    }
}

/// `Name: message` of an OpenCode error (`{name, data: {message}}`), or its JSON.
pub(super) fn error_text(error: Option<&Value>) -> String {
    let Some(error) = error else {
        return "OpenCode reported an error".into();
    };
    if let Some(text) = error.as_str() {
        return bound(text, MAX_NOTICE_BYTES);
    }
    let name = str_at(error, "/name");
    let message = str_at(error, "/data/message").or_else(|| str_at(error, "/message"));
    let text = match (name, message) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => error.to_string(),
    };
    bound(&text, MAX_NOTICE_BYTES)
}

pub(super) fn tool_events(value: &Value) -> Vec<AgentEvent> {
    let name = str_at(value, "/part/tool").unwrap_or("unknown").to_string();
    let status = str_at(value, "/part/state/status");
    let input = value
        .pointer("/part/state/input")
        .cloned()
        .unwrap_or(Value::Null);
    let success = match status {
        Some("completed") => Some(true),
        Some("error") => Some(false),
        _ => None,
    };
    let output = str_at(value, "/part/state/output")
        .or_else(|| str_at(value, "/part/state/error"))
        .filter(|t| !t.is_empty())
        .map(|t| bound(t, MAX_OUTPUT_BYTES));
    if name == "bash" {
        let command = match input.get("command").and_then(Value::as_str) {
            Some(command) => bound(command, MAX_OUTPUT_BYTES),
            None => bound(&input.to_string(), MAX_OUTPUT_BYTES),
        };
        let exit_code = value
            .pointer("/part/state/metadata/exit")
            .and_then(Value::as_i64)
            .and_then(|code| i32::try_from(code).ok());
        return vec![AgentEvent::Command {
            command,
            exit_code,
            output,
        }];
    }
    let file_change = match name.as_str() {
        "write" => Some("write"),
        "edit" | "multiedit" | "patch" => Some("edit"),
        _ => None,
    }
    .filter(|_| success == Some(true))
    .and_then(|kind| {
        let path = input.get("filePath").and_then(Value::as_str)?;
        Some(AgentEvent::FileChange {
            path: path.to_string(),
            kind: kind.to_string(),
        })
    });
    let mut events = vec![AgentEvent::ToolCall {
        name,
        arguments: bound_json(input, MAX_OUTPUT_BYTES),
        success,
    }];
    events.extend(file_change);
    events
}
