use super::*;
use serde_json::json;

fn run(lines: &[&str]) -> (Vec<AgentEvent>, TurnState, Normalizer) {
    let mut norm = Normalizer::default();
    let mut turn = TurnState::default();
    let mut events = Vec::new();
    for line in lines {
        events.extend(norm.on_line(&mut turn, line));
    }
    events.extend(turn.flush_tools());
    (events, turn, norm)
}

#[test]
fn the_question_tool_ends_the_turn_waiting_for_a_person() {
    let (_, turn, _) = run(&[
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"q1","name":"AskUserQuestion","input":{"questions":[{"question":"Postgres or SQLite?","header":"DB","options":[]},{"question":"Keep the old API?"}]}}]}}"#,
        r#"{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"q1","is_error":true,"content":"not available"}]}}"#,
        r#"{"type":"result","subtype":"success","is_error":false,"result":"I went on guessing."}"#,
    ]);
    assert_eq!(
        turn.result,
        Some((
            TurnStatus::InputRequired,
            Some("Postgres or SQLite?\nKeep the old API?".into())
        ))
    );
}

#[test]
fn exit_codes_are_parsed_from_failed_bash_results() {
    assert_eq!(parse_exit_code("Exit code 2\nls: cannot access"), Some(2));
    assert_eq!(parse_exit_code("Error: Exit code 127"), Some(127));
    assert_eq!(parse_exit_code("permission denied"), None);
}

#[test]
fn tool_calls_wait_for_their_results() {
    let (events, _, _) = run(&[
        r#"{"type":"assistant","message":{"content":[{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"false"}},{"type":"tool_use","id":"t2","name":"Read","input":{"file_path":"a"}}]}}"#,
        r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"Exit code 1","is_error":true}]}}"#,
    ]);
    assert_eq!(
        events,
        vec![
            AgentEvent::Command {
                command: "false".into(),
                exit_code: Some(1),
                output: Some("Exit code 1".into()),
            },
            AgentEvent::ToolCall {
                name: "Read".into(),
                arguments: json!({"file_path": "a"}),
                success: None,
            },
        ]
    );
}

#[test]
fn usage_prefers_the_cumulative_model_usage() {
    let (_, _, norm) = run(&[
        r#"{"type":"result","subtype":"success","is_error":false,"usage":{"input_tokens":5,"cache_read_input_tokens":10,"output_tokens":7},"modelUsage":{"a":{"inputTokens":50,"cacheReadInputTokens":100,"cacheCreationInputTokens":1,"outputTokens":70},"b":{"inputTokens":1,"outputTokens":2}}}"#,
    ]);
    assert_eq!(
        norm.usage,
        TokenUsage {
            input_tokens: 152,
            output_tokens: 72,
            total_tokens: 224
        }
    );
    let (_, _, norm) = run(&[
        r#"{"type":"result","subtype":"success","is_error":false,"usage":{"input_tokens":5,"cache_read_input_tokens":10,"output_tokens":7}}"#,
        r#"{"type":"result","subtype":"success","is_error":false,"usage":{"input_tokens":1,"output_tokens":1}}"#,
    ]);
    assert_eq!(norm.usage.total_tokens, 24);
}

#[test]
fn results_are_judged_by_subtype_and_is_error() {
    let judge = |line: &str| run(&[line]).1.result.map(|(status, _)| status);
    assert_eq!(
        judge(r#"{"type":"result","subtype":"success","is_error":false}"#),
        Some(TurnStatus::Completed)
    );
    assert_eq!(
        judge(r#"{"type":"result","subtype":"success","is_error":true,"result":"API Error"}"#),
        Some(TurnStatus::Failed)
    );
    assert_eq!(
        judge(r#"{"type":"result","subtype":"error_max_turns","is_error":false}"#),
        Some(TurnStatus::Failed)
    );
    assert_eq!(
        judge(r#"{"type":"result","subtype":"something_new","is_error":false}"#),
        Some(TurnStatus::Failed)
    );
}
