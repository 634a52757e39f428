//! Does an agent CLI have a way to reach its model? Checked when a session starts, so a
//! missing key fails the run at once with an error that names it, instead of a failed turn
//! deep in the run (or a CLI waiting on a login prompt nobody answers).
//!
//! Codex: a custom model provider in its `config.toml` (`model_provider = "x"` with
//! `[model_providers.x] env_key = "VAR"`) needs `VAR`; the default OpenAI provider needs
//! `OPENAI_API_KEY` (or `CODEX_API_KEY`), a saved login (`auth.json`) or `OPENAI_BASE_URL`.
//! Claude Code: `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `CLAUDE_CODE_OAUTH_TOKEN`, a
//! saved login (`.credentials.json`), `ANTHROPIC_BASE_URL`, or Bedrock/Vertex.

use super::AgentError;
use std::path::{Path, PathBuf};

/// Refuses to start `argv` when it is a real CLI that cannot reach its model with `env`. A
/// program that cannot be found is left to the spawn, which names it.
pub fn check(kind: &str, argv: &[String], env: &[(String, String)]) -> Result<(), AgentError> {
    let Some(program) = argv.first() else {
        return Ok(());
    };
    let found = if program.contains('/') {
        Path::new(program).is_file()
    } else {
        get(env, "PATH")
            .is_some_and(|path| std::env::split_paths(path).any(|dir| dir.join(program).is_file()))
    };
    match missing(kind, program, env) {
        Some(reason) if found => Err(AgentError::InvalidOptions(reason)),
        _ => Ok(()),
    }
}

fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter()
        .find(|(set, value)| set == name && !value.is_empty())
        .map(|(_, value)| value.as_str())
}

/// Codex's configuration directory: `CODEX_HOME`, else `~/.codex`.
pub fn codex_home(lookup: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    match lookup("CODEX_HOME").filter(|v| !v.is_empty()) {
        Some(home) => Some(PathBuf::from(home)),
        None => lookup("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| Path::new(&home).join(".codex")),
    }
}

/// The model provider Codex's `config.toml` chooses, with the variable its key is read from
/// (`env_key`), when the file names one. A line-based reading of the two keys, enough for
/// the flat form Codex documents.
pub fn codex_model_provider(config_toml: &str) -> Option<(String, Option<String>)> {
    let unquote = |v: &str| v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
    let mut section = String::new();
    let mut provider = None;
    let mut env_keys = Vec::new();
    for line in config_toml.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        // A trailing comment after a quoted value.
        let value = match value.trim().strip_prefix('"') {
            Some(rest) => rest.split('"').next().unwrap_or_default().to_owned(),
            None => unquote(value.split('#').next().unwrap_or_default()),
        };
        match (section.as_str(), key.trim()) {
            ("", "model_provider") => provider = Some(value),
            (table, "env_key") => {
                if let Some(name) = table.strip_prefix("model_providers.") {
                    env_keys.push((unquote(name), value));
                }
            }
            _ => {}
        }
    }
    let provider = provider?;
    let env_key = env_keys
        .into_iter()
        .find(|(name, _)| *name == provider)
        .map(|(_, key)| key);
    Some((provider, env_key))
}

/// The `env_key` of Codex's configured model provider, read from the runner's environment:
/// the agent must receive that variable.
pub fn codex_env_key(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let config = std::fs::read_to_string(codex_home(lookup)?.join("config.toml")).ok()?;
    codex_model_provider(&config).and_then(|(_, key)| key)
}

/// Why the CLI `program` of a `kind` session cannot reach its model with `env`, if it cannot.
/// Only the real CLIs (`codex`, `claude`) are checked: a wrapper or stand-in knows its own.
pub fn missing(kind: &str, program: &str, env: &[(String, String)]) -> Option<String> {
    let name = Path::new(program).file_name()?.to_str()?;
    let lookup = |name: &str| get(env, name).map(str::to_owned);
    match (kind, name) {
        ("codex", "codex") => {
            let home = codex_home(lookup);
            let config = home
                .as_ref()
                .and_then(|home| std::fs::read_to_string(home.join("config.toml")).ok());
            match config.as_deref().and_then(codex_model_provider) {
                Some((provider, Some(key))) if provider != "openai" => {
                    return get(env, &key).is_none().then(|| {
                        format!(
                            "Codex's model provider `{provider}` reads its key from `{key}`, which the agent's environment lacks: set it for the runner"
                        )
                    });
                }
                Some((provider, None)) if provider != "openai" => return None,
                _ => {}
            }
            let logged_in = home.is_some_and(|home| home.join("auth.json").is_file());
            let keyed = ["OPENAI_API_KEY", "CODEX_API_KEY", "OPENAI_BASE_URL"]
                .iter()
                .any(|name| get(env, name).is_some());
            (!logged_in && !keyed).then(|| {
                "Codex has no model credential: set `OPENAI_API_KEY` for the runner, log in with `codex login`, or configure a model provider in its config.toml".to_owned()
            })
        }
        ("claude_code", "claude") => {
            let keyed = [
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_AUTH_TOKEN",
                "CLAUDE_CODE_OAUTH_TOKEN",
                "ANTHROPIC_BASE_URL",
                "CLAUDE_CODE_USE_BEDROCK",
                "CLAUDE_CODE_USE_VERTEX",
            ]
            .iter()
            .any(|name| get(env, name).is_some());
            let config_dir = match lookup("CLAUDE_CONFIG_DIR") {
                Some(dir) => Some(PathBuf::from(dir)),
                None => lookup("HOME").map(|home| Path::new(&home).join(".claude")),
            };
            let logged_in = config_dir.is_some_and(|dir| dir.join(".credentials.json").is_file());
            (!keyed && !logged_in).then(|| {
                "Claude Code has no model credential: set `ANTHROPIC_API_KEY` for the runner (or `ANTHROPIC_BASE_URL`), or log in with `claude`".to_owned()
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_custom_codex_provider_names_its_key() {
        let text = "model = \"gpt-5\" # the default\nmodel_provider = \"local\"\n\n\
                    [model_providers.openai_like]\nenv_key = \"OTHER\"\n\
                    [model_providers.local]\nbase_url = \"http://127.0.0.1:1/v1\"\nenv_key = \"LOCAL_KEY\"\n";
        assert_eq!(
            codex_model_provider(text),
            Some(("local".to_owned(), Some("LOCAL_KEY".to_owned())))
        );
        assert_eq!(codex_model_provider("model = \"o3\"\n"), None);

        let dir = tempfile_dir();
        std::fs::write(dir.join("config.toml"), text).unwrap();
        let home = dir.display().to_string();
        let error = missing("codex", "/opt/bin/codex", &env(&[("CODEX_HOME", &home)]))
            .expect("the key is missing");
        assert!(error.contains("`LOCAL_KEY`"), "{error}");
        assert_eq!(
            missing(
                "codex",
                "codex",
                &env(&[("CODEX_HOME", &home), ("LOCAL_KEY", "k")])
            ),
            None
        );
        assert_eq!(
            codex_env_key(|name| (name == "CODEX_HOME").then(|| home.clone())),
            Some("LOCAL_KEY".to_owned())
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_default_providers_need_a_key_a_login_or_an_endpoint() {
        let empty = tempfile_dir();
        let home = empty.display().to_string();
        let bare = env(&[("HOME", &home)]);
        let error = missing("codex", "codex", &bare).expect("no credential");
        assert!(error.contains("OPENAI_API_KEY"), "{error}");
        assert!(missing("codex", "codex", &env(&[("OPENAI_API_KEY", "k")])).is_none());
        let error = missing("claude_code", "/usr/bin/claude", &bare).expect("no credential");
        assert!(error.contains("ANTHROPIC_API_KEY"), "{error}");
        assert!(missing(
            "claude_code",
            "claude",
            &env(&[("ANTHROPIC_BASE_URL", "http://127.0.0.1:1")])
        )
        .is_none());
        std::fs::create_dir_all(empty.join(".claude")).unwrap();
        std::fs::write(empty.join(".claude/.credentials.json"), "{}").unwrap();
        assert!(
            missing("claude_code", "claude", &bare).is_none(),
            "a saved login"
        );
        // Stand-ins and wrappers are not checked.
        assert!(missing("codex", "baton-mock-agent", &bare).is_none());
        assert!(missing("claude_code", "sh", &bare).is_none());
        let _ = std::fs::remove_dir_all(empty);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("baton-cred-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
