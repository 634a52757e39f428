//! Turns Codex app-server notifications into [`AgentEvent`]s and tracks the state of a turn.

use super::wire::truncate;
use crate::agent::{AgentEvent, TokenUsage, TurnStatus};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Command output kept in a [`AgentEvent::Command`].
pub const MAX_COMMAND_OUTPUT: usize = 16 * 1024;
/// The longest agent message kept (deltas beyond it are dropped).
pub const MAX_MESSAGE: usize = 1024 * 1024;
/// Agent messages being streamed at once (more are dropped: a sane agent streams one).
const MAX_OPEN_MESSAGES: usize = 64;
/// Tool call ids remembered per turn (to avoid reporting one call twice).
const MAX_CALL_IDS: usize = 4096;
/// Errors and details copied into events.
const MAX_DETAIL: usize = 4096;

/// Per-session protocol state; [`Normalizer::begin_turn`] resets the per-turn part.
#[derive(Debug, Default)]
pub struct Normalizer {
    /// Cumulative usage of the session.
    pub usage: TokenUsage,
    /// The id of the running turn, once known.
    pub turn_id: Option<String>,
    /// The last complete agent message of the turn.
    pub last_message: Option<String>,
    /// Set by `turn/completed`.
    pub completed: Option<(TurnStatus, Option<String>)>,
    /// The last `error` notification of the turn.
    pub last_error: Option<String>,
    deltas: HashMap<String, String>,
    answered_calls: HashSet<String>,
}

impl Normalizer {
    pub fn begin_turn(&mut self) {
        self.turn_id = None;
        self.last_message = None;
        self.completed = None;
        self.last_error = None;
        self.deltas.clear();
        self.answered_calls.clear();
    }

    /// Remembers a dynamic tool call answered by the host, so its item is not reported again.
    pub fn answered_call(&mut self, call_id: &str) {
        if self.answered_calls.len() < MAX_CALL_IDS {
            self.answered_calls.insert(call_id.to_string());
        }
    }

    /// The events of one notification (possibly none).
    pub fn notification(&mut self, method: &str, params: &Value) -> Vec<AgentEvent> {
        match method {
            "item/completed" => match params.get("item") {
                Some(item) => self.item_completed(item),
                None => vec![notice(format!("`{method}` without an item"))],
            },
            "item/agentMessage/delta" => {
                self.delta(params);
                Vec::new()
            }
            "thread/tokenUsage/updated" => self.token_usage(params),
            "account/rateLimits/updated" => vec![AgentEvent::RateLimit {
                details: params
                    .get("rateLimits")
                    .cloned()
                    .unwrap_or_else(|| params.clone()),
            }],
            "turn/started" => {
                if self.turn_id.is_none() {
                    self.turn_id = params
                        .pointer("/turn/id")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                }
                Vec::new()
            }
            "turn/completed" => self.turn_completed(params),
            "error" => {
                let message = error_message(params.get("error").unwrap_or(params))
                    .unwrap_or_else(|| "unknown error".to_string());
                let retrying = params
                    .get("willRetry")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if !retrying {
                    self.last_error = Some(message.clone());
                }
                let suffix = if retrying { " (retrying)" } else { "" };
                vec![notice(format!("agent error{suffix}: {message}"))]
            }
            // Everything else (item/started, reasoning deltas, diffs, plans, ...) carries nothing
            // the normalized stream reports.
            _ => Vec::new(),
        }
    }

    fn delta(&mut self, params: &Value) {
        let (Some(item), Some(delta)) = (
            params.get("itemId").and_then(Value::as_str),
            params.get("delta").and_then(Value::as_str),
        ) else {
            return;
        };
        if !self.deltas.contains_key(item) && self.deltas.len() >= MAX_OPEN_MESSAGES {
            return;
        }
        let text = self.deltas.entry(item.to_string()).or_default();
        if text.len() + delta.len() <= MAX_MESSAGE {
            text.push_str(delta);
        }
    }

    fn item_completed(&mut self, item: &Value) -> Vec<AgentEvent> {
        let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
        let status = item.get("status").and_then(Value::as_str);
        match item.get("type").and_then(Value::as_str).unwrap_or_default() {
            "agentMessage" => {
                let streamed = self.deltas.remove(id);
                let text = match item.get("text").and_then(Value::as_str) {
                    Some(text) if !text.is_empty() => truncate(text, MAX_MESSAGE),
                    _ => streamed.unwrap_or_default(),
                };
                self.last_message = Some(text.clone());
                vec![AgentEvent::Message { text }]
            }
            "commandExecution" => {
                let command = match item.get("command") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .map(|p| {
                            p.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| p.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                let exit_code = item
                    .get("exitCode")
                    .and_then(Value::as_i64)
                    .and_then(|c| i32::try_from(c).ok());
                let output = item
                    .get("aggregatedOutput")
                    .and_then(Value::as_str)
                    .map(|o| truncate(o, MAX_COMMAND_OUTPUT));
                vec![AgentEvent::Command {
                    command: truncate(&command, MAX_DETAIL),
                    exit_code,
                    output,
                }]
            }
            "fileChange" => {
                if matches!(status, Some("declined") | Some("failed")) {
                    return Vec::new();
                }
                let Some(changes) = item.get("changes").and_then(Value::as_array) else {
                    return Vec::new();
                };
                changes
                    .iter()
                    .filter_map(|change| {
                        let path = change.get("path").and_then(Value::as_str)?;
                        let kind = match change.get("kind") {
                            Some(Value::String(kind)) => kind.clone(),
                            Some(Value::Object(kind)) => kind
                                .get("type")
                                .and_then(Value::as_str)
                                .unwrap_or("update")
                                .to_string(),
                            _ => "update".to_string(),
                        };
                        Some(AgentEvent::FileChange {
                            path: truncate(path, MAX_DETAIL),
                            kind,
                        })
                    })
                    .collect()
            }
            "mcpToolCall" => {
                let tool = item.get("tool").and_then(Value::as_str).unwrap_or("?");
                let name = match item.get("server").and_then(Value::as_str) {
                    Some(server) => format!("{server}/{tool}"),
                    None => tool.to_string(),
                };
                vec![AgentEvent::ToolCall {
                    name,
                    arguments: item.get("arguments").cloned().unwrap_or(Value::Null),
                    success: status_success(status),
                }]
            }
            "dynamicToolCall" => {
                let call_id = item.get("callId").and_then(Value::as_str).unwrap_or(id);
                if self.answered_calls.contains(call_id) || self.answered_calls.contains(id) {
                    return Vec::new();
                }
                vec![AgentEvent::ToolCall {
                    name: item
                        .get("tool")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_string(),
                    arguments: item.get("arguments").cloned().unwrap_or(Value::Null),
                    success: item
                        .get("success")
                        .and_then(Value::as_bool)
                        .or_else(|| status_success(status)),
                }]
            }
            _ => Vec::new(),
        }
    }

    fn token_usage(&mut self, params: &Value) -> Vec<AgentEvent> {
        let usage = params.get("tokenUsage").unwrap_or(params);
        let Some(total) = usage.get("total") else {
            return vec![notice("token usage without `total`".to_string())];
        };
        let field = |camel: &str, snake: &str| {
            total
                .get(camel)
                .or_else(|| total.get(snake))
                .and_then(Value::as_u64)
        };
        let input_tokens = field("inputTokens", "input_tokens").unwrap_or(0);
        let output_tokens = field("outputTokens", "output_tokens").unwrap_or(0);
        let total_tokens = field("totalTokens", "total_tokens")
            .unwrap_or(input_tokens.saturating_add(output_tokens));
        self.usage = TokenUsage {
            input_tokens,
            output_tokens,
            total_tokens,
        };
        vec![AgentEvent::Usage(self.usage)]
    }

    fn turn_completed(&mut self, params: &Value) -> Vec<AgentEvent> {
        let turn = params.get("turn").unwrap_or(params);
        let id = turn.get("id").and_then(Value::as_str);
        if let (Some(ours), Some(theirs)) = (self.turn_id.as_deref(), id) {
            if ours != theirs {
                return vec![notice(format!(
                    "ignored turn/completed of another turn ({theirs})"
                ))];
            }
        }
        let error = turn
            .get("error")
            .filter(|e| !e.is_null())
            .map(|e| error_message(e).unwrap_or_else(|| truncate(&e.to_string(), MAX_DETAIL)));
        let status = turn.get("status").and_then(Value::as_str).unwrap_or("");
        let outcome = match status {
            "completed" if error.is_none() => (TurnStatus::Completed, None),
            "completed" => (TurnStatus::Failed, error),
            "interrupted" => (TurnStatus::Interrupted, error),
            "failed" => (
                TurnStatus::Failed,
                error
                    .or_else(|| self.last_error.clone())
                    .or_else(|| Some("turn failed".to_string())),
            ),
            other => (
                TurnStatus::Failed,
                Some(format!("unknown turn status `{}`", truncate(other, 64))),
            ),
        };
        self.completed = Some(outcome);
        Vec::new()
    }
}

fn status_success(status: Option<&str>) -> Option<bool> {
    match status {
        Some("completed") => Some(true),
        Some("failed") | Some("declined") => Some(false),
        _ => None,
    }
}

/// The message of an error payload: `{message}`, or a string.
fn error_message(error: &Value) -> Option<String> {
    match error {
        Value::String(s) => Some(truncate(s, MAX_DETAIL)),
        Value::Object(obj) => obj
            .get("message")
            .and_then(Value::as_str)
            .map(|m| truncate(m, MAX_DETAIL)),
        _ => None,
    }
}

pub fn notice(text: String) -> AgentEvent {
    AgentEvent::Notice { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_fold_deltas() {
        let mut n = Normalizer::default();
        n.notification(
            "item/agentMessage/delta",
            &json!({"itemId": "m1", "delta": "Hel"}),
        );
        n.notification(
            "item/agentMessage/delta",
            &json!({"itemId": "m1", "delta": "lo"}),
        );
        let events = n.notification(
            "item/completed",
            &json!({"item": {"type": "agentMessage", "id": "m1", "text": ""}}),
        );
        assert_eq!(
            events,
            vec![AgentEvent::Message {
                text: "Hello".into()
            }]
        );
        assert_eq!(n.last_message.as_deref(), Some("Hello"));
    }

    #[test]
    fn items() {
        let mut n = Normalizer::default();
        let long = "x".repeat(MAX_COMMAND_OUTPUT + 10);
        let events = n.notification(
            "item/completed",
            &json!({"item": {"type": "commandExecution", "id": "c", "command": ["ls", "-la"],
                "exitCode": 2, "aggregatedOutput": long}}),
        );
        let [AgentEvent::Command {
            command,
            exit_code,
            output,
        }] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(command, "ls -la");
        assert_eq!(*exit_code, Some(2));
        assert!(output.as_ref().unwrap().len() < MAX_COMMAND_OUTPUT + 64);

        let events = n.notification(
            "item/completed",
            &json!({"item": {"type": "fileChange", "id": "f", "status": "completed", "changes": [
                {"path": "a.rs", "kind": "add"}, {"path": "b.rs", "kind": {"type": "update"}}]}}),
        );
        assert_eq!(
            events,
            vec![
                AgentEvent::FileChange {
                    path: "a.rs".into(),
                    kind: "add".into()
                },
                AgentEvent::FileChange {
                    path: "b.rs".into(),
                    kind: "update".into()
                }
            ]
        );
        n.answered_call("call1");
        let events = n.notification(
            "item/completed",
            &json!({"item": {"type": "dynamicToolCall", "id": "call1", "tool": "t"}}),
        );
        assert!(events.is_empty());
    }

    #[test]
    fn usage_uses_total() {
        let mut n = Normalizer::default();
        let events = n.notification(
            "thread/tokenUsage/updated",
            &json!({"tokenUsage": {"total": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                "last": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}}),
        );
        let expected = TokenUsage {
            input_tokens: 10,
            output_tokens: 5,
            total_tokens: 15,
        };
        assert_eq!(events, vec![AgentEvent::Usage(expected)]);
        assert_eq!(n.usage, expected);
    }

    #[test]
    fn completion_statuses() {
        let mut n = Normalizer::default();
        n.notification(
            "turn/completed",
            &json!({"turn": {"id": "t", "status": "completed", "error": {"message": "boom"}}}),
        );
        assert_eq!(
            n.completed,
            Some((TurnStatus::Failed, Some("boom".to_string())))
        );
        n.begin_turn();
        n.turn_id = Some("t2".into());
        n.notification(
            "turn/completed",
            &json!({"turn": {"id": "t1", "status": "completed"}}),
        );
        assert_eq!(n.completed, None);
        n.notification(
            "turn/completed",
            &json!({"turn": {"id": "t2", "status": "interrupted"}}),
        );
        assert_eq!(n.completed, Some((TurnStatus::Interrupted, None)));
    }
}
