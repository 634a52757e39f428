//! Scenario files of the mock agent: JSON Lines, one step per line, grouped into turns by
//! `{"do":"turn"}` separators. The format is documented in `runner/scenarios/README.md`.

use serde::Deserialize;
use serde_json::Value;

/// One step of a turn.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Step {
    /// Starts the next turn's steps (lines before the first separator form turn 1).
    Turn,
    /// Sends an arbitrary notification; `{{turn_id}}` and `{{thread_id}}` in strings are
    /// substituted.
    Notify {
        method: String,
        #[serde(default)]
        params: Value,
    },
    /// An agent message: `item/started`, two `item/agentMessage/delta`, `item/completed`.
    Message {
        text: String,
    },
    /// A command execution item.
    Command {
        command: String,
        #[serde(default)]
        exit_code: Option<i32>,
        #[serde(default)]
        output: String,
    },
    /// A file change item for `path`; with `content`, the file is written in the workspace
    /// (appended to, with `append`, so every run changes it).
    FileChange {
        path: String,
        #[serde(default = "default_kind")]
        kind: String,
        #[serde(default)]
        content: Option<String>,
        #[serde(default)]
        append: bool,
    },
    /// `thread/tokenUsage/updated` with cumulative totals.
    Usage {
        input: u64,
        output: u64,
    },
    /// `account/rateLimits/updated` with `rate_limits` as `rateLimits`.
    RateLimits {
        #[serde(default)]
        rate_limits: Value,
    },
    /// An `error` notification.
    Error {
        message: String,
    },
    /// Sends a request and waits for the client's answer; with `expect`, the answer must
    /// contain it (see [`contains`]) or the turn fails.
    Request {
        method: String,
        #[serde(default)]
        params: Value,
        #[serde(default)]
        expect: Option<Value>,
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// `item/tool/call`, then a `dynamicToolCall` item; `expect` as for `request`.
    ToolCall {
        tool: String,
        #[serde(default)]
        arguments: Value,
        #[serde(default)]
        expect: Option<Value>,
    },
    /// An approval request (`kind`: `command` or `file_change`) around its item; with
    /// `expect_decision`, the decision must be that one or the turn fails.
    Approval {
        kind: String,
        #[serde(default)]
        command: Option<String>,
        #[serde(default)]
        path: Option<String>,
        #[serde(default)]
        expect_decision: Option<String>,
    },
    /// `item/tool/requestUserInput` with one question; waits for any answer.
    UserInput {
        question: String,
    },
    Sleep {
        ms: u64,
    },
    /// `count` notifications (`mock/heartbeat`), one every `interval_ms`.
    Heartbeat {
        count: u32,
        interval_ms: u64,
    },
    /// Waits until the turn is interrupted (or stdin closes).
    Hang,
    /// From now on in this turn, `turn/interrupt` is answered but ignored.
    IgnoreInterrupts,
    /// Writes a file, relative to the workspace (paths escaping it are refused).
    WriteFile {
        path: String,
        content: String,
    },
    /// Writes the agent's environment as a JSON object to a file in the workspace.
    WriteEnv {
        path: String,
    },
    /// Prints `line` verbatim on stdout (e.g. something that is not JSON).
    Raw {
        line: String,
    },
    /// Prints `text` on stderr.
    Stderr {
        text: String,
    },
    /// Ends the turn with `turn/completed` (`status` completed|interrupted|failed, `error`).
    Complete {
        #[serde(default = "default_status")]
        status: String,
        #[serde(default)]
        error: Option<String>,
    },
    /// Exits the process with `code` at once.
    Exit {
        code: i32,
    },
}

fn default_kind() -> String {
    "update".to_string()
}

fn default_status() -> String {
    "completed".to_string()
}

/// Parses a scenario into its turns' steps. Blank lines and lines starting with `#` or `//`
/// are skipped.
pub fn parse(text: &str) -> Result<Vec<Vec<Step>>, String> {
    let mut turns = vec![Vec::new()];
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let step: Step =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", number + 1))?;
        match step {
            Step::Turn => turns.push(Vec::new()),
            step => {
                if let Some(last) = turns.last_mut() {
                    last.push(step);
                }
            }
        }
    }
    // A leading separator does not create an empty first turn.
    if turns.len() > 1 && turns[0].is_empty() {
        turns.remove(0);
    }
    Ok(turns)
}

/// Whether `actual` contains `expected`: objects key by key (extra keys allowed), everything
/// else by equality.
pub fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(actual), Value::Object(expected)) => expected
            .iter()
            .all(|(k, v)| actual.get(k).is_some_and(|a| contains(a, v))),
        (actual, expected) => actual == expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn turns_and_steps() {
        let turns = parse(
            "# comment\n{\"do\":\"turn\"}\n{\"do\":\"message\",\"text\":\"a\"}\n\n{\"do\":\"turn\"}\n{\"do\":\"complete\"}\n",
        )
        .unwrap();
        assert_eq!(
            turns,
            vec![
                vec![Step::Message { text: "a".into() }],
                vec![Step::Complete {
                    status: "completed".into(),
                    error: None
                }]
            ]
        );
        assert!(parse("{\"do\":\"nope\"}").is_err());
    }

    #[test]
    fn containment() {
        assert!(contains(
            &json!({"a": 1, "b": {"c": 2, "d": 3}}),
            &json!({"b": {"c": 2}})
        ));
        assert!(!contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!contains(&json!({"a": 1}), &json!({"b": 1})));
    }
}
