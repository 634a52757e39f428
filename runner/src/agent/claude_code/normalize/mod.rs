//! Claude Code's stream-json lines, normalized into [`AgentEvent`]s: one [`Normalizer`] per
//! session, one [`TurnState`] per turn (see the table in the parent module).

use super::process::{bound, bound_json, MAX_MESSAGE_BYTES, MAX_NOTICE_BYTES, MAX_OUTPUT_BYTES};
use crate::agent::{AgentEvent, TokenUsage, TurnStatus};
use serde_json::Value;

/// Session-wide normalization state.
#[derive(Debug, Default)]
pub(super) struct Normalizer {
    pub(super) pid: Option<u32>,
    pub(super) session_id: Option<String>,
    /// The session's cumulative usage, as last reported.
    pub(super) usage: TokenUsage,
    /// Per-turn `result.usage` summed over turns (used without `modelUsage`).
    summed: TokenUsage,
}

/// One turn's normalization state.
#[derive(Debug, Default)]
pub(super) struct TurnState {
    /// Tool calls waiting for their result, in call order.
    pending: Vec<PendingTool>,
    pub(super) last_message: Option<String>,
    /// The `result` text (the final answer), a fallback for `last_message`.
    pub(super) result_text: Option<String>,
    /// Set by the `result` line.
    pub(super) result: Option<(TurnStatus, Option<String>)>,
    /// What the agent asked a person with its question tool (`AskUserQuestion`) this turn.
    question: Option<String>,
}

#[derive(Debug)]
struct PendingTool {
    id: String,
    name: String,
    input: Value,
}

impl TurnState {
    /// Reports the tool calls that never got a result.
    pub(super) fn flush_tools(&mut self) -> Vec<AgentEvent> {
        self.pending
            .drain(..)
            .flat_map(|tool| tool_events(tool, None))
            .collect()
    }
}

pub(super) fn notice(text: impl AsRef<str>) -> AgentEvent {
    AgentEvent::Notice {
        text: bound(text.as_ref(), MAX_NOTICE_BYTES),
    }
}

impl Normalizer {
    /// The state of a new session of the process `pid`.
    pub(super) fn for_process(pid: Option<u32>) -> Self {
        Self {
            pid,
            ..Self::default()
        }
    }
}

impl Normalizer {
    /// Normalizes one stdout line.
    pub(super) fn on_line(&mut self, turn: &mut TurnState, line: &str) -> Vec<AgentEvent> {
        if line.trim().is_empty() {
            return Vec::new();
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value @ Value::Object(_)) => value,
            Ok(_) => return vec![notice(format!("non-object line from Claude Code: {line}"))],
            Err(err) => {
                return vec![notice(format!(
                    "malformed line from Claude Code ({err}): {line}"
                ))]
            }
        };
        let Some(kind) = value.get("type").and_then(Value::as_str) else {
            return vec![notice(format!(
                "line without a type from Claude Code: {line}"
            ))];
        };
        match kind {
            "system" => self.on_system(&value),
            "assistant" => on_assistant(turn, &value),
            "user" => on_user(turn, &value),
            "result" => self.on_result(turn, &value),
            "rate_limit_event" => {
                let details = value.get("rate_limit_info").cloned().unwrap_or(value);
                vec![AgentEvent::RateLimit {
                    details: bound_json(details, MAX_OUTPUT_BYTES),
                }]
            }
            // Partial-message deltas (only with --include-partial-messages) and keep-alives.
            "stream_event" | "keep_alive" => Vec::new(),
            other => vec![notice(format!("unhandled Claude Code message `{other}`"))],
        }
    }

    fn on_system(&mut self, value: &Value) -> Vec<AgentEvent> {
        let subtype = value.get("subtype").and_then(Value::as_str).unwrap_or("");
        if subtype != "init" {
            return vec![notice(format!("Claude Code system message `{subtype}`"))];
        }
        let Some(id) = value.get("session_id").and_then(Value::as_str) else {
            return vec![notice("Claude Code init without a session_id")];
        };
        // Init comes again with every turn in stream-json input mode: report it once.
        if self.session_id.as_deref() == Some(id) {
            return Vec::new();
        }
        self.session_id = Some(id.to_string());
        vec![AgentEvent::SessionStarted {
            session_id: id.to_string(),
            pid: self.pid,
        }]
    }

    fn on_result(&mut self, turn: &mut TurnState, value: &Value) -> Vec<AgentEvent> {
        let mut events = Vec::new();
        let subtype = value.get("subtype").and_then(Value::as_str);
        let is_error = value.get("is_error").and_then(Value::as_bool);
        let text = value
            .get("result")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .map(|t| bound(t, MAX_MESSAGE_BYTES));
        let errors: Vec<String> = match value.get("errors") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|e| {
                    e.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string())
                })
                .collect(),
            _ => Vec::new(),
        };
        let details = if !errors.is_empty() {
            Some(errors.join("; "))
        } else {
            text.clone()
        };
        let num_turns = value.get("num_turns").and_then(Value::as_u64);

        let (status, error) = match (subtype, is_error) {
            (Some("success"), Some(true)) => (
                TurnStatus::Failed,
                Some(format!(
                    "Claude Code reported an error: {}",
                    details.as_deref().unwrap_or("no details")
                )),
            ),
            (Some("success"), _) => (TurnStatus::Completed, None),
            (Some("error_max_turns"), _) => (
                TurnStatus::Failed,
                Some(match num_turns {
                    Some(n) => format!("error_max_turns: stopped after {n} turns"),
                    None => "error_max_turns: the turn limit was reached".into(),
                }),
            ),
            (Some(other), _) => (
                TurnStatus::Failed,
                Some(match details.as_deref() {
                    Some(details) => format!("{other}: {details}"),
                    None => other.to_string(),
                }),
            ),
            (None, Some(false)) => (TurnStatus::Completed, None),
            (None, _) => (
                TurnStatus::Failed,
                Some(format!(
                    "Claude Code result without a subtype: {}",
                    details.as_deref().unwrap_or("no details")
                )),
            ),
        };
        let error = error.map(|e| bound(&e, MAX_NOTICE_BYTES));
        // A question for a person outranks how the turn went on without its answer.
        let (status, error) = match turn.question.take() {
            Some(question) => (TurnStatus::InputRequired, Some(question)),
            None => (status, error),
        };

        if let Some(Value::Array(denials)) = value.get("permission_denials") {
            for denial in denials {
                let kind = denial
                    .get("tool_name")
                    .and_then(Value::as_str)
                    .unwrap_or("tool")
                    .to_string();
                let detail = denial
                    .get("tool_input")
                    .map(|input| bound(&input.to_string(), MAX_NOTICE_BYTES));
                events.push(AgentEvent::Approval {
                    kind,
                    decision: "decline".into(),
                    detail,
                });
            }
        }

        if let Some(usage) = self.update_usage(value) {
            events.push(AgentEvent::Usage(usage));
        }
        turn.result_text = text;
        turn.result = Some((status, error));
        events
    }

    /// Updates the cumulative usage from a `result`; returns it when the result had any.
    fn update_usage(&mut self, value: &Value) -> Option<TokenUsage> {
        let count = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0);
        let per_turn = value.get("usage").filter(|u| u.is_object()).map(|u| {
            (
                count(u, "input_tokens")
                    + count(u, "cache_read_input_tokens")
                    + count(u, "cache_creation_input_tokens"),
                count(u, "output_tokens"),
            )
        });
        if let Some((input, output)) = per_turn {
            self.summed.input_tokens += input;
            self.summed.output_tokens += output;
            self.summed.total_tokens = self.summed.input_tokens + self.summed.output_tokens;
        }
        let cumulative = value
            .get("modelUsage")
            .and_then(Value::as_object)
            .filter(|models| !models.is_empty())
            .map(|models| {
                models.values().fold((0, 0), |(input, output), m| {
                    (
                        input
                            + count(m, "inputTokens")
                            + count(m, "cacheReadInputTokens")
                            + count(m, "cacheCreationInputTokens"),
                        output + count(m, "outputTokens"),
                    )
                })
            });
        let usage = match cumulative {
            Some((input_tokens, output_tokens)) => TokenUsage {
                input_tokens,
                output_tokens,
                total_tokens: input_tokens + output_tokens,
            },
            None if per_turn.is_some() => self.summed,
            None => return None,
        };
        self.usage = usage;
        Some(usage)
    }
}

fn on_assistant(turn: &mut TurnState, value: &Value) -> Vec<AgentEvent> {
    let mut events = Vec::new();
    let Some(blocks) = value.pointer("/message/content").and_then(Value::as_array) else {
        return vec![notice("Claude Code assistant message without content")];
    };
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                if text.trim().is_empty() {
                    continue;
                }
                let text = bound(text, MAX_MESSAGE_BYTES);
                turn.last_message = Some(text.clone());
                events.push(AgentEvent::Message { text });
            }
            Some("tool_use") | Some("server_tool_use") => {
                if block.get("name").and_then(Value::as_str) == Some(QUESTION_TOOL) {
                    turn.question = questions(block.get("input"));
                }
                turn.pending.push(PendingTool {
                    id: block
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    name: block
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                        .to_string(),
                    input: block.get("input").cloned().unwrap_or(Value::Null),
                });
            }
            // Reasoning stays private.
            Some("thinking") | Some("redacted_thinking") => {}
            Some(other) => events.push(notice(format!(
                "unhandled Claude Code content block `{other}`"
            ))),
            None => events.push(notice("Claude Code content block without a type")),
        }
    }
    events
}

/// Claude Code's tool for asking the user: unattended, baton asks on the issue instead.
const QUESTION_TOOL: &str = "AskUserQuestion";

/// The questions of an `AskUserQuestion` call (`{"questions": [{"question": ...}]}`), one
/// per line.
fn questions(input: Option<&Value>) -> Option<String> {
    let asked: Vec<&str> = input?
        .get("questions")?
        .as_array()?
        .iter()
        .filter_map(|q| q.get("question").and_then(Value::as_str))
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .collect();
    (!asked.is_empty()).then(|| bound(&asked.join("\n"), MAX_MESSAGE_BYTES))
}

fn on_user(turn: &mut TurnState, value: &Value) -> Vec<AgentEvent> {
    let mut events = Vec::new();
    // A plain string is an echo of our own input.
    let Some(blocks) = value.pointer("/message/content").and_then(Value::as_array) else {
        return events;
    };
    for block in blocks {
        if block.get("type").and_then(Value::as_str) != Some("tool_result") {
            continue;
        }
        let id = block
            .get("tool_use_id")
            .and_then(Value::as_str)
            .unwrap_or("");
        let result = ToolResultInfo {
            is_error: block
                .get("is_error")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            text: tool_result_text(block.get("content")),
        };
        match turn.pending.iter().position(|tool| tool.id == id) {
            Some(index) => {
                let tool = turn.pending.remove(index);
                events.extend(tool_events(tool, Some(result)));
            }
            None => events.push(notice(format!(
                "tool result for an unknown call `{id}`: {}",
                result.text
            ))),
        }
    }
    events
}

#[derive(Debug)]
struct ToolResultInfo {
    is_error: bool,
    text: String,
}

/// The text of a `tool_result`'s content: a string, or text blocks.
fn tool_result_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// `Exit code 2` (optionally after `Error: `) at the start of a failed Bash result.
fn parse_exit_code(text: &str) -> Option<i32> {
    let text = text.trim_start();
    let text = text.strip_prefix("Error: ").unwrap_or(text);
    let rest = text.strip_prefix("Exit code ")?;
    let end = rest
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || (*i == 0 && *c == '-')))
        .map_or(rest.len(), |(i, _)| i);
    rest[..end].parse().ok()
}

fn tool_events(tool: PendingTool, result: Option<ToolResultInfo>) -> Vec<AgentEvent> {
    let output = result
        .as_ref()
        .map(|r| bound(&r.text, MAX_OUTPUT_BYTES))
        .filter(|t| !t.is_empty());
    if tool.name == "Bash" {
        let command = match tool.input.get("command").and_then(Value::as_str) {
            Some(command) => bound(command, MAX_OUTPUT_BYTES),
            None => bound(&tool.input.to_string(), MAX_OUTPUT_BYTES),
        };
        let exit_code = result.as_ref().and_then(|r| {
            if r.is_error {
                parse_exit_code(&r.text)
            } else {
                Some(0)
            }
        });
        return vec![AgentEvent::Command {
            command,
            exit_code,
            output,
        }];
    }
    let success = result.as_ref().map(|r| !r.is_error);
    let file_change = match tool.name.as_str() {
        "Write" => Some("write"),
        "Edit" | "MultiEdit" | "NotebookEdit" => Some("edit"),
        _ => None,
    }
    .filter(|_| success == Some(true))
    .and_then(|kind| {
        let path = tool
            .input
            .get("file_path")
            .or_else(|| tool.input.get("notebook_path"))
            .and_then(Value::as_str)?;
        Some(AgentEvent::FileChange {
            path: path.to_string(),
            kind: kind.to_string(),
        })
    });
    let mut events = vec![AgentEvent::ToolCall {
        name: tool.name,
        arguments: bound_json(tool.input, MAX_OUTPUT_BYTES),
        success,
    }];
    events.extend(file_change);
    events
}

#[cfg(test)]
mod tests;
