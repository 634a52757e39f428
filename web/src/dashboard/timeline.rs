//! A run's timeline as a table: one row per event, each kind shown the way a person reads
//! it (a message as text, a command with its exit code and output, a file change as its
//! path). Kinds this module does not know still show, as their JSON.

use super::html::{clock_time, count, duration, Html};
use baton_core::domain::RunEvent;
use serde_json::Value;

/// The timeline table; `events` oldest first.
pub fn render(html: &mut Html, events: &[RunEvent]) {
    let Some(first) = events.first() else {
        html.raw("<p class=\"empty\">No events recorded yet.</p>");
        return;
    };
    html.raw("<table class=\"timeline\"><thead><tr><th>#</th><th>At</th><th>Event</th>")
        .raw("<th>Detail</th></tr></thead><tbody>");
    for event in events {
        html.raw("<tr><td>")
            .text(event.seq)
            .raw("</td><td class=\"at\" title=\"")
            .text(event.at.to_rfc3339())
            .raw("\">")
            .text(clock_time(event.at))
            .raw(" <span class=\"muted\">+")
            .text(duration(first.at, event.at))
            .raw("</span></td><td class=\"kind\">")
            .text(&event.kind)
            .raw("</td><td>");
        detail(html, &event.kind, &event.data);
        html.raw("</td></tr>");
    }
    html.raw("</tbody></table>");
}

fn text<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str)
}

fn number(data: &Value, key: &str) -> Option<i64> {
    data.get(key).and_then(Value::as_i64)
}

fn unsigned(data: &Value, key: &str) -> u64 {
    data.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn block(html: &mut Html, content: &str) {
    html.raw("<pre>").text(content).raw("</pre>");
}

fn json(html: &mut Html, value: &Value) {
    if value.as_object().is_some_and(|map| map.is_empty()) || value.is_null() {
        return;
    }
    let compact = serde_json::to_string(value).unwrap_or_default();
    html.raw("<code>").text(compact).raw("</code>");
}

fn detail(html: &mut Html, kind: &str, data: &Value) {
    match kind {
        "message" | "notice" => block(html, text(data, "text").unwrap_or_default()),
        "command" => {
            html.raw("<code>$ ")
                .text(text(data, "command").unwrap_or_default())
                .raw("</code>");
            if let Some(code) = number(data, "exit_code") {
                html.raw(" <span class=\"")
                    .raw(if code == 0 { "succeeded" } else { "failed" })
                    .raw("\">exit ")
                    .text(code)
                    .raw("</span>");
            }
            if let Some(output) = text(data, "output").filter(|output| !output.is_empty()) {
                block(html, output);
            }
        }
        "file_change" => {
            html.text(text(data, "kind").unwrap_or("change"))
                .raw(" <code>")
                .text(text(data, "path").unwrap_or_default())
                .raw("</code>");
        }
        "tool_call" => {
            html.raw("<code>")
                .text(text(data, "name").unwrap_or_default())
                .raw("</code> ");
            match data.get("success").and_then(Value::as_bool) {
                Some(true) => html.raw("<span class=\"succeeded\">ok</span> "),
                Some(false) => html.raw("<span class=\"failed\">failed</span> "),
                None => html,
            };
            if let Some(arguments) = data.get("arguments") {
                json(html, arguments);
            }
        }
        "approval" => {
            html.text(text(data, "kind").unwrap_or("request"))
                .raw(": ")
                .status(text(data, "decision").unwrap_or("unanswered"));
            if let Some(detail) = text(data, "detail") {
                html.raw(" <code>").text(detail).raw("</code>");
            }
        }
        "usage" => {
            html.text(format!(
                "{} in · {} out · {} total tokens",
                count(unsigned(data, "input_tokens")),
                count(unsigned(data, "output_tokens")),
                count(unsigned(data, "total_tokens"))
            ));
        }
        "session_started" => {
            html.raw("session <code>")
                .text(text(data, "session_id").unwrap_or_default())
                .raw("</code>");
        }
        "turn_started" => {
            html.text(format!("turn {}", unsigned(data, "turn")));
        }
        "turn_ended" => {
            html.text(format!("turn {} ", unsigned(data, "turn")))
                .status(text(data, "status").unwrap_or("unknown"));
            if let Some(error) = text(data, "error") {
                html.raw(" <span class=\"error\">")
                    .text(error)
                    .raw("</span>");
            }
        }
        "run_ended" => {
            html.status(text(data, "status").unwrap_or("unknown"));
            if let Some(code) = text(data, "code") {
                html.raw(" <code>").text(code).raw("</code>");
            }
            if let Some(message) = text(data, "message") {
                html.raw(" <span class=\"error\">")
                    .text(message)
                    .raw("</span>");
            }
            if let Some(reason) = text(data, "reason") {
                html.raw(" ").text(reason);
            }
        }
        "process_exited" => {
            match (number(data, "code"), number(data, "signal")) {
                (Some(code), _) => html.text(format!("exit code {code}")),
                (None, Some(signal)) => html.text(format!("killed by signal {signal}")),
                (None, None) => html.text("exited"),
            };
        }
        "claimed" => {
            html.text(format!(
                "by {} · attempt {} · {}",
                text(data, "runner").unwrap_or("?"),
                unsigned(data, "attempt"),
                text(data, "reason").unwrap_or("?")
            ));
            if let Some(account) = text(data, "account") {
                html.text(format!(" · account {account}"));
            }
        }
        "workspace_ready" => {
            html.raw("<code>")
                .text(text(data, "path").unwrap_or_default())
                .raw("</code>");
            if let Some(branch) = text(data, "branch") {
                html.raw(" on <code>").text(branch).raw("</code>");
            }
        }
        "committed" => {
            html.raw("<code>")
                .text(text(data, "commit").unwrap_or_default())
                .raw("</code>");
            if let Some(branch) = text(data, "branch") {
                html.raw(" on <code>").text(branch).raw("</code>");
            }
        }
        "delivered" => {
            if let Some(url) = data
                .get("pull_request")
                .and_then(|pull_request| pull_request.get("url"))
                .and_then(Value::as_str)
            {
                html.raw("pull request ").external_link(url, url).raw(" ");
            }
            if let Some(state) = text(data, "moved_to") {
                html.text(format!("moved to {state} "));
            }
            if let Some(note) = text(data, "note") {
                html.raw("<span class=\"muted\">").text(note).raw("</span>");
            }
        }
        _ => json(html, data),
    }
}
