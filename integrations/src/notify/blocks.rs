//! The Block Kit message for a run's outcome: a header saying what happened, the issue
//! (linked when the tracker gave a URL), then the pull request, the error, the question or
//! how to approve,
//! and the run's id and record link as context. `text` is the fallback Slack shows in
//! notifications and to clients without blocks.

use super::{Notice, Outcome};
use serde_json::{json, Value};

/// Slack's limits: 150 characters for a header, 3000 for a section's text.
const HEADER_LIMIT: usize = 150;
const SECTION_LIMIT: usize = 3000;

/// The message payload (without `channel`, which only the Web API takes).
pub fn message(notice: &Notice) -> Value {
    let headline = headline(notice);
    let issue = match &notice.issue_url {
        Some(url) => format!("<{}|{}>", escape(url), escape(&notice.issue)),
        None => format!("*{}*", escape(&notice.issue)),
    };
    let mut blocks = vec![
        json!({ "type": "header", "text": { "type": "plain_text", "text": bounded(&headline, HEADER_LIMIT), "emoji": true } }),
        section(&format!("{issue} {}", escape(&notice.title))),
        section(&detail(&notice.outcome)),
    ];
    let mut context = match notice.run_id.as_str() {
        "" => "no run yet".to_owned(),
        id => format!("run `{}`", escape(id)),
    };
    if let Some(link) = &notice.run_link {
        context.push_str(&format!(" · <{}|run record>", escape(link)));
    }
    blocks
        .push(json!({ "type": "context", "elements": [ { "type": "mrkdwn", "text": context } ] }));
    json!({ "text": bounded(&headline, SECTION_LIMIT), "blocks": blocks })
}

fn headline(notice: &Notice) -> String {
    let what = match &notice.outcome {
        Outcome::Succeeded { .. } => ":white_check_mark: Run succeeded",
        Outcome::Failed {
            dead_lettered: true,
            ..
        } => ":x: Run failed and was dead-lettered",
        Outcome::Failed { .. } => ":x: Run failed",
        Outcome::AwaitingInput { .. } => ":question: Agent is waiting for an answer",
        Outcome::AwaitingApproval { .. } => ":raised_hand: Run is waiting for approval",
    };
    format!("{what}: {}", notice.issue)
}

fn detail(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Succeeded {
            pull_request: Some(url),
        } => format!("*Pull request:* <{}>", escape(url)),
        Outcome::Succeeded { pull_request: None } => "No pull request was opened.".into(),
        Outcome::Failed { error, .. } => format!("*Error:*\n```{}```", escape(error)),
        Outcome::AwaitingInput { question } => {
            let quoted: Vec<String> = escape(question)
                .lines()
                .map(|line| format!("> {line}"))
                .collect();
            format!("*Question:*\n{}\nAnswer on the issue.", quoted.join("\n"))
        }
        Outcome::AwaitingApproval { approve_with } => format!(
            "A run was requested, and this workflow needs a person's approval first. \
             Approve it with `{}` on the issue.",
            escape(approve_with)
        ),
    }
}

fn section(text: &str) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": bounded(text, SECTION_LIMIT) } })
}

/// Slack's mrkdwn control characters, escaped as Slack asks.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn bounded(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let cut: String = text.chars().take(limit - 1).collect();
    format!("{cut}…")
}
