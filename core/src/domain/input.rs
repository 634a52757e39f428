//! A question an agent asked a person, and the answer, while its work item waits
//! (`awaiting_input`).

use super::RunId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Every comment baton writes carries an HTML comment starting with this (invisible when
/// rendered), so its own comments are never read as a person's reply.
pub const BATON_COMMENT_MARKER: &str = "<!-- baton:";

/// Longest question or answer kept, in characters: they travel in comments and prompts.
pub const MAX_INPUT_TEXT: usize = 8_000;

/// What the item waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRequest {
    pub question: String,
    pub asked_at: DateTime<Utc>,
    /// When the wait ends without an answer (`agent.input_timeout_ms`); `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// The run that asked.
    pub run_id: RunId,
    /// The agent's session (Codex thread, Claude Code session), for a provider that can
    /// resume it with the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Set once a person answered; the run that takes it clears the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<InputAnswer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputAnswer {
    /// The login that answered.
    pub by: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A final message that starts with this (any case) is a question for a person, not a
/// result: the profile's contract tells the agent so.
pub const QUESTION_MARKER: &str = "QUESTION:";

/// The question in an agent's final message, if it asks one (see [`QUESTION_MARKER`]).
pub fn question_in(final_message: &str) -> Option<String> {
    let text = final_message.trim_start();
    let head = text.get(..QUESTION_MARKER.len())?;
    if !head.eq_ignore_ascii_case(QUESTION_MARKER) {
        return None;
    }
    let question = text[QUESTION_MARKER.len()..].trim();
    (!question.is_empty()).then(|| bounded(question))
}

/// Cuts `text` to [`MAX_INPUT_TEXT`] characters.
pub fn bounded(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_INPUT_TEXT) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

impl InputRequest {
    /// Whether the wait is over at `now` without an answer.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.answer.is_none() && self.deadline.is_some_and(|deadline| now >= deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_message_asks_when_it_starts_with_the_marker() {
        assert_eq!(
            question_in("  question: Postgres or SQLite?\nEither works for me."),
            Some("Postgres or SQLite?\nEither works for me.".into())
        );
        assert_eq!(question_in("QUESTION:"), None);
        assert_eq!(question_in("Done. No QUESTION: left"), None);
        assert_eq!(question_in("Qé"), None);
    }

    #[test]
    fn long_text_is_cut_and_deadlines_pass() {
        assert_eq!(bounded("  short "), "short");
        let long = "é".repeat(MAX_INPUT_TEXT + 5);
        assert_eq!(bounded(&long).chars().count(), MAX_INPUT_TEXT + 1);
        let now = Utc::now();
        let mut request = InputRequest {
            question: "Which database?".into(),
            asked_at: now,
            deadline: Some(now + chrono::Duration::seconds(60)),
            run_id: RunId::generate(),
            session_id: None,
            answer: None,
        };
        assert!(!request.expired(now));
        assert!(request.expired(now + chrono::Duration::seconds(60)));
        request.answer = Some(InputAnswer {
            by: "alice".into(),
            text: "Postgres".into(),
            at: now,
        });
        assert!(!request.expired(now + chrono::Duration::seconds(120)));
        request.deadline = None;
        request.answer = None;
        assert!(!request.expired(now + chrono::Duration::days(365)));
    }
}
