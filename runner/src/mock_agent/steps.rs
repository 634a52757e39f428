//! The steps of a scenario turn, played: items, requests to the client and their checks,
//! files written in the workspace, exits.

use super::scenario::{contains, Step};
use super::{lock, Agent, End, DEFAULT_REQUEST_TIMEOUT, THREAD_ID};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Component, Path};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

impl Agent {
    pub(super) fn ids(turn_id: &str) -> Value {
        json!({ "threadId": THREAD_ID, "turnId": turn_id })
    }

    pub(super) async fn item(&self, turn_id: &str, method: &str, item: Value) {
        let mut params = Self::ids(turn_id);
        params["item"] = item;
        self.notify(method, params).await;
    }

    /// Runs one step; `Some` ends the turn.
    pub(super) async fn step(
        &self,
        turn_id: &str,
        item_id: &str,
        step: Step,
        token: &CancellationToken,
    ) -> Option<End> {
        match step {
            Step::Turn => {}
            Step::Notify { method, params } => {
                self.notify(&method, substitute(params, turn_id)).await
            }
            Step::Message { text } => {
                let text = substitute(Value::String(text), turn_id)
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.item(
                    turn_id,
                    "item/started",
                    json!({"type": "agentMessage", "id": item_id, "text": ""}),
                )
                .await;
                let mid = text
                    .char_indices()
                    .nth(text.chars().count() / 2)
                    .map_or(text.len(), |(i, _)| i);
                for delta in [&text[..mid], &text[mid..]] {
                    let mut params = Self::ids(turn_id);
                    params["itemId"] = json!(item_id);
                    params["delta"] = json!(delta);
                    self.notify("item/agentMessage/delta", params).await;
                }
                self.item(
                    turn_id,
                    "item/completed",
                    json!({"type": "agentMessage", "id": item_id, "text": text}),
                )
                .await;
            }
            Step::Command {
                command,
                exit_code,
                output,
            } => {
                let cwd = self.cwd.to_string_lossy().into_owned();
                self.item(turn_id, "item/started", json!({"type": "commandExecution", "id": item_id, "command": command, "cwd": cwd, "status": "inProgress", "commandActions": []}))
                    .await;
                let status = if exit_code.unwrap_or(0) == 0 {
                    "completed"
                } else {
                    "failed"
                };
                self.item(turn_id, "item/completed", json!({"type": "commandExecution", "id": item_id, "command": command, "cwd": cwd, "status": status, "commandActions": [], "aggregatedOutput": output, "exitCode": exit_code, "durationMs": 1}))
                    .await;
            }
            Step::FileChange {
                path,
                kind,
                content,
                append,
            } => {
                if let Some(content) = content {
                    if let Err(e) = self.write_file(&path, content.as_bytes(), append) {
                        return Some(fail(e));
                    }
                }
                let changes = json!([{ "path": path, "kind": kind, "diff": "" }]);
                self.item(turn_id, "item/started", json!({"type": "fileChange", "id": item_id, "changes": changes, "status": "inProgress"}))
                    .await;
                self.item(turn_id, "item/completed", json!({"type": "fileChange", "id": item_id, "changes": changes, "status": "completed"}))
                    .await;
            }
            Step::Usage { input, output } => {
                let mut params = Self::ids(turn_id);
                params["tokenUsage"] = json!({
                    "total": {"inputTokens": input, "cachedInputTokens": 0, "outputTokens": output, "reasoningOutputTokens": 0, "totalTokens": input + output},
                    "last": {"inputTokens": input, "cachedInputTokens": 0, "outputTokens": output, "reasoningOutputTokens": 0, "totalTokens": input + output},
                });
                self.notify("thread/tokenUsage/updated", params).await;
            }
            Step::RateLimits { rate_limits } => {
                self.notify(
                    "account/rateLimits/updated",
                    json!({ "rateLimits": rate_limits }),
                )
                .await
            }
            Step::Error { message } => {
                let mut params = Self::ids(turn_id);
                params["error"] = json!({ "message": message });
                params["willRetry"] = json!(false);
                self.notify("error", params).await;
            }
            Step::Request {
                method,
                params,
                expect,
                timeout_ms,
            } => {
                let timeout = timeout_ms.map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_millis);
                let answer = self
                    .request(&method, substitute(params, turn_id), timeout)
                    .await;
                if let Some(end) = check(&method, &answer, expect.as_ref()) {
                    return Some(end);
                }
            }
            Step::ToolCall {
                tool,
                arguments,
                expect,
            } => {
                let call_id = format!("call_{item_id}");
                let mut params = Self::ids(turn_id);
                params["callId"] = json!(call_id);
                params["tool"] = json!(tool);
                params["arguments"] = arguments.clone();
                let answer = self
                    .request("item/tool/call", params, DEFAULT_REQUEST_TIMEOUT)
                    .await;
                if let Some(end) = check("item/tool/call", &answer, expect.as_ref()) {
                    return Some(end);
                }
                let success = answer
                    .as_ref()
                    .ok()
                    .and_then(|a| a.pointer("/result/success"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let status = if success { "completed" } else { "failed" };
                self.item(turn_id, "item/completed", json!({"type": "dynamicToolCall", "id": call_id, "tool": tool, "arguments": arguments, "status": status, "success": success}))
                    .await;
            }
            Step::Approval {
                kind,
                command,
                path,
                expect_decision,
            } => {
                let (item, method) = match kind.as_str() {
                    "command" => (
                        json!({"type": "commandExecution", "id": item_id, "command": command.clone().unwrap_or_else(|| "true".into()), "cwd": self.cwd.to_string_lossy(), "status": "inProgress", "commandActions": []}),
                        "item/commandExecution/requestApproval",
                    ),
                    "file_change" => (
                        json!({"type": "fileChange", "id": item_id, "changes": [{"path": path.clone().unwrap_or_else(|| "file.txt".into()), "kind": "update", "diff": ""}], "status": "inProgress"}),
                        "item/fileChange/requestApproval",
                    ),
                    other => return Some(fail(format!("mock: unknown approval kind {other}"))),
                };
                self.item(turn_id, "item/started", item.clone()).await;
                let mut params = Self::ids(turn_id);
                params["itemId"] = json!(item_id);
                params["reason"] = json!("mock approval");
                if let Some(command) = &command {
                    params["command"] = json!(command);
                }
                let answer = self.request(method, params, DEFAULT_REQUEST_TIMEOUT).await;
                let decision = answer
                    .as_ref()
                    .ok()
                    .and_then(|a| a.pointer("/result/decision"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if let Some(expected) = expect_decision {
                    if decision != expected {
                        return Some(fail(format!(
                            "mock: expected decision {expected}, got {answer:?}"
                        )));
                    }
                }
                let mut item = item;
                let accepted = decision.starts_with("accept");
                item["status"] = json!(if accepted { "completed" } else { "declined" });
                if kind == "command" && accepted {
                    item["exitCode"] = json!(0);
                    item["aggregatedOutput"] = json!("");
                }
                self.item(turn_id, "item/completed", item).await;
            }
            Step::UserInput { question } => {
                let mut params = Self::ids(turn_id);
                params["itemId"] = json!(item_id);
                params["questions"] =
                    json!([{"id": "q1", "header": "Question", "question": question}]);
                // Any answer (even an error) lets the scenario go on.
                let _ = self
                    .request(
                        "item/tool/requestUserInput",
                        params,
                        DEFAULT_REQUEST_TIMEOUT,
                    )
                    .await;
            }
            Step::Sleep { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            Step::Heartbeat { count, interval_ms } => {
                for beat in 0..count {
                    let mut params = Self::ids(turn_id);
                    params["beat"] = json!(beat);
                    self.notify("mock/heartbeat", params).await;
                    tokio::time::sleep(Duration::from_millis(interval_ms)).await;
                }
            }
            Step::Hang => token.cancelled().await,
            Step::IgnoreInterrupts => self.deaf.store(true, Ordering::SeqCst),
            Step::WriteFile { path, content } => {
                if let Err(e) = self.write_file(&path, content.as_bytes(), false) {
                    return Some(fail(e));
                }
            }
            Step::WriteEnv { path } => {
                let env: BTreeMap<String, String> = std::env::vars_os()
                    .map(|(k, v)| {
                        (
                            k.to_string_lossy().into_owned(),
                            v.to_string_lossy().into_owned(),
                        )
                    })
                    .collect();
                let text = serde_json::to_string_pretty(&env).unwrap_or_default();
                if let Err(e) = self.write_file(&path, text.as_bytes(), false) {
                    return Some(fail(e));
                }
            }
            Step::Raw { line } => {
                let mut line = line;
                line.push('\n');
                self.write_raw(&line).await;
            }
            Step::Stderr { text } => eprintln!("{text}"),
            Step::Complete { status, error } => return Some(End::Complete(status, error)),
            Step::Exit { code } => return Some(End::Exit(code)),
        }
        None
    }

    /// Sends a request and waits for the answer (the whole response object).
    pub(super) async fn request(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        self.write(&json!({ "id": id, "method": method, "params": params }))
            .await;
        let answer = tokio::time::timeout(timeout, rx).await;
        lock(&self.pending).remove(&id);
        match answer {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err("the request was dropped".into()),
            Err(_) => Err(format!("no answer to {method} within {timeout:?}")),
        }
    }

    /// Writes a file inside the workspace; refuses absolute paths and `..`.
    pub(super) fn write_file(
        &self,
        path: &str,
        content: &[u8],
        append: bool,
    ) -> Result<(), String> {
        let relative = Path::new(path);
        if path.is_empty()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "mock: refusing to write outside the workspace: {path}"
            ));
        }
        let target = self.cwd.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("mock: {path}: {e}"))?;
        }
        let written = if append {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&target)
                .and_then(|mut file| file.write_all(content))
        } else {
            std::fs::write(&target, content)
        };
        written.map_err(|e| format!("mock: {path}: {e}"))
    }
}

pub(super) fn fail(error: String) -> End {
    End::Complete("failed".into(), Some(error))
}

/// Checks a request's answer against `expect` (matched against `result`, or `{"error": ...}`).
pub(super) fn check(
    method: &str,
    answer: &Result<Value, String>,
    expect: Option<&Value>,
) -> Option<End> {
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => return expect.map(|_| fail(format!("mock: {e}"))),
    };
    let expect = expect?;
    let actual = match answer.get("error").filter(|e| !e.is_null()) {
        Some(error) => json!({ "error": error }),
        None => answer.get("result").cloned().unwrap_or(Value::Null),
    };
    if contains(&actual, expect) {
        None
    } else {
        Some(fail(format!(
            "mock: unexpected answer to {method}: expected {expect}, got {actual}"
        )))
    }
}

/// Replaces `{{turn_id}}` and `{{thread_id}}` in every string of `value`.
pub fn substitute(value: Value, turn_id: &str) -> Value {
    match value {
        Value::String(s) => Value::String(
            s.replace("{{turn_id}}", turn_id)
                .replace("{{thread_id}}", THREAD_ID),
        ),
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| substitute(v, turn_id)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, substitute(v, turn_id)))
                .collect(),
        ),
        other => other,
    }
}
