use super::normalize::*;
use super::*;
use crate::agent::TokenUsage;
use serde_json::json;

#[test]
fn step_finish_tokens_accumulate() {
    let mut norm = Normalizer::default();
    let mut turn = TurnState::default();
    let line = r#"{"type":"step_finish","sessionID":"ses_1","part":{"type":"step-finish","tokens":{"input":10,"output":5,"reasoning":1,"cache":{"read":100,"write":2}},"cost":0}}"#;
    norm.on_line(&mut turn, line);
    let events = norm.on_line(&mut turn, line);
    assert_eq!(
        events,
        vec![AgentEvent::Usage(TokenUsage {
            input_tokens: 224,
            output_tokens: 12,
            total_tokens: 236
        })]
    );
    assert_eq!(norm.session_id.as_deref(), Some("ses_1"));
}

#[test]
fn errors_read_name_and_message() {
    let error = json!({"name": "APIError", "data": {"message": "401 Unauthorized"}});
    assert_eq!(error_text(Some(&error)), "APIError: 401 Unauthorized");
    assert_eq!(
        error_text(Some(&json!({"name": "UnknownError"}))),
        "UnknownError"
    );
}

#[test]
fn options_become_flags() {
    let options = json!({"model": "anthropic/claude-sonnet-4", "session": "ses_x"});
    let (args, session) = option_args(options.as_object().unwrap()).unwrap();
    assert_eq!(args, ["--model", "anthropic/claude-sonnet-4"]);
    assert_eq!(session.as_deref(), Some("ses_x"));
    assert!(option_args(json!({"max_turns": 3}).as_object().unwrap()).is_err());
}
