//! Claude Code's command line and environment: the argv of a session (`command_argv` or the
//! default, plus one flag per option) and the variables baton sets so the CLI runs unattended.
//! The one place to add flags (MCP config, ...): [`claude_argv`].
//!
//! Unattended defaults, each unless the workflow says otherwise: `--permission-mode
//! acceptEdits` (file edits go through without asking; `-p` mode cannot ask), and
//! [`UNATTENDED_ENV`] (no auto-update, no telemetry or other non-essential traffic).

use crate::agent::{AgentError, SessionConfig};
use serde_json::{Map, Value};

/// The command used when `command_argv` is empty.
pub const DEFAULT_CLAUDE_ARGV: &[&str] = &[
    "claude",
    "-p",
    "--output-format",
    "stream-json",
    "--input-format",
    "stream-json",
    "--verbose",
];

/// The permission mode used when neither the options nor `command_argv` choose one.
pub const DEFAULT_PERMISSION_MODE: &str = "acceptEdits";

/// The modes `--permission-mode` accepts (Claude Code 2.1).
const PERMISSION_MODES: &[&str] = &[
    "acceptEdits",
    "auto",
    "bypassPermissions",
    "default",
    "dontAsk",
    "manual",
    "plan",
];

/// Variables baton sets for every Claude Code session unless the environment has them: an
/// unattended run must not update itself, phone home or wait on a prompt about either.
pub const UNATTENDED_ENV: &[(&str, &str)] = &[
    ("DISABLE_AUTOUPDATER", "1"),
    ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
];

/// The full argv of a session: `command_argv` (or [`DEFAULT_CLAUDE_ARGV`]) plus the flags of
/// the options.
pub fn claude_argv(config: &SessionConfig) -> Result<Vec<String>, AgentError> {
    let mut argv: Vec<String> = if config.command_argv.is_empty() {
        DEFAULT_CLAUDE_ARGV.iter().map(|s| s.to_string()).collect()
    } else {
        config.command_argv.clone()
    };
    argv.extend(option_args(&config.options)?);
    let chooses_mode = argv
        .iter()
        .any(|arg| arg.starts_with("--permission-mode") || arg == "--dangerously-skip-permissions");
    if !chooses_mode {
        argv.extend([
            "--permission-mode".to_string(),
            DEFAULT_PERMISSION_MODE.to_string(),
        ]);
    }
    Ok(argv)
}

pub(super) fn option_args(options: &Map<String, Value>) -> Result<Vec<String>, AgentError> {
    let mut args = Vec::new();
    for (key, value) in options {
        let flag = match key.as_str() {
            "permission_mode" => "--permission-mode",
            "model" => "--model",
            "mcp_config" => "--mcp-config",
            "append_system_prompt" => "--append-system-prompt",
            "max_turns" => {
                let turns = value.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    AgentError::InvalidOptions("`max_turns` must be a positive integer".into())
                })?;
                args.extend(["--max-turns".to_string(), turns.to_string()]);
                continue;
            }
            "allowed_tools" | "disallowed_tools" => {
                let list = string_list(key, value)?;
                let flag = if key == "allowed_tools" {
                    "--allowedTools"
                } else {
                    "--disallowedTools"
                };
                if !list.is_empty() {
                    args.extend([flag.to_string(), list.join(",")]);
                }
                continue;
            }
            "extra_args" => {
                args.extend(string_list(key, value)?);
                continue;
            }
            other => {
                return Err(AgentError::InvalidOptions(format!(
                    "unknown claude_code option `{other}`"
                )))
            }
        };
        let text = value
            .as_str()
            .ok_or_else(|| AgentError::InvalidOptions(format!("`{key}` must be a string")))?;
        if key == "permission_mode" && !PERMISSION_MODES.contains(&text) {
            return Err(AgentError::InvalidOptions(format!(
                "`permission_mode` `{text}`: Claude Code accepts {}",
                PERMISSION_MODES.join(", ")
            )));
        }
        args.extend([flag.to_string(), text.to_string()]);
    }
    Ok(args)
}

/// A string or a list of strings.
pub(crate) fn string_list(key: &str, value: &Value) -> Result<Vec<String>, AgentError> {
    let invalid = || AgentError::InvalidOptions(format!("`{key}` must be a list of strings"));
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(invalid))
            .collect(),
        _ => Err(invalid()),
    }
}

/// The session's environment: `env` plus [`UNATTENDED_ENV`] where `env` does not set them.
pub fn claude_env(env: &[(String, String)]) -> Vec<(String, String)> {
    let mut all = env.to_vec();
    for (name, value) in UNATTENDED_ENV {
        if !all.iter().any(|(set, _)| set == name) {
            all.push((name.to_string(), value.to_string()));
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_become_flags() {
        let options = json!({
            "permission_mode": "acceptEdits",
            "max_turns": 12,
            "allowed_tools": ["Bash(git:*)", "Edit"],
            "model": "sonnet",
        });
        let args = option_args(options.as_object().unwrap()).unwrap();
        assert_eq!(
            args,
            [
                "--allowedTools",
                "Bash(git:*),Edit",
                "--max-turns",
                "12",
                "--model",
                "sonnet",
                "--permission-mode",
                "acceptEdits"
            ]
        );
        let bad = json!({"sandbox": "x"});
        assert!(matches!(
            option_args(bad.as_object().unwrap()),
            Err(AgentError::InvalidOptions(_))
        ));
    }

    fn config(argv: &[&str], options: Value) -> SessionConfig {
        SessionConfig {
            workspace: ".".into(),
            command_argv: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![(
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "0".into(),
            )],
            timeouts: Default::default(),
            approval_policy: Default::default(),
            options: options.as_object().cloned().unwrap_or_default(),
            tools: std::sync::Arc::new(crate::agent::NoTools),
        }
    }

    #[test]
    fn unattended_defaults_apply_unless_the_workflow_chooses() {
        let argv = claude_argv(&config(&[], json!({}))).unwrap();
        assert_eq!(argv[..DEFAULT_CLAUDE_ARGV.len()], *DEFAULT_CLAUDE_ARGV);
        assert_eq!(
            argv[DEFAULT_CLAUDE_ARGV.len()..],
            ["--permission-mode", "acceptEdits"]
        );
        let planned = claude_argv(&config(&[], json!({"permission_mode": "plan"}))).unwrap();
        assert_eq!(
            planned.iter().filter(|a| *a == "--permission-mode").count(),
            1
        );
        assert!(planned.ends_with(&["--permission-mode".into(), "plan".into()]));
        let own = claude_argv(&config(
            &["claude", "-p", "--dangerously-skip-permissions"],
            json!({}),
        ))
        .unwrap();
        assert_eq!(own, ["claude", "-p", "--dangerously-skip-permissions"]);

        let Err(error) = claude_argv(&config(&[], json!({"permission_mode": "yolo"}))) else {
            panic!("an unknown mode is refused at the start");
        };
        assert!(
            error.to_string().contains("`permission_mode` `yolo`"),
            "{error}"
        );

        let env = claude_env(&config(&[], json!({})).env);
        assert!(env.contains(&("DISABLE_AUTOUPDATER".into(), "1".into())));
        assert!(
            env.contains(&(
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "0".into()
            )),
            "a value the environment sets is kept: {env:?}"
        );
        assert_eq!(env.len(), 2);
    }
}
