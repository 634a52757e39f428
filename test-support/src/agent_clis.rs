//! The real agent CLIs in tests: where they are (installed by `scripts/agents.sh` into
//! `target/agent-clis`, or on PATH), whether a missing one fails the test
//! (`BATON_REQUIRE_AGENT_CLIS=1`, set by `scripts/test`), and the configuration that points
//! them at a [`super::model::ScriptedModel`] with dummy credentials.

use std::path::{Path, PathBuf};

/// Set to `1` by `scripts/test`: a missing CLI is then a failure, not a skip.
pub const REQUIRE_ENV: &str = "BATON_REQUIRE_AGENT_CLIS";

/// The variable holding the dummy key of the scripted Codex model provider (its `env_key`).
pub const CODEX_KEY_ENV: &str = "SCRIPTED_MODEL_API_KEY";

/// The dummy credential every test uses: never a real key.
pub const DUMMY_KEY: &str = "sk-scripted-dummy-key";

/// The repository-local install prefix of `scripts/agents.sh`.
pub fn install_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/agent-clis/bin")
        .components()
        .collect()
}

/// `program` from the repository-local install, else from PATH.
pub fn find(program: &str) -> Option<PathBuf> {
    let local = install_dir().join(program);
    if local.is_file() {
        return Some(local);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// `program`, or `None` with a note on stderr (the caller skips); panics instead when
/// [`REQUIRE_ENV`] is `1`.
pub fn require(program: &str) -> Option<PathBuf> {
    match find(program) {
        Some(path) => Some(path),
        None if std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1") => {
            panic!("`{program}` is not installed and {REQUIRE_ENV}=1: run scripts/agents.sh")
        }
        None => {
            eprintln!(
                "note: `{program}` is not installed (scripts/agents.sh); replaying recorded transcripts instead"
            );
            None
        }
    }
}

/// A PATH for the agent: the CLI's own directory first (Codex and Claude Code are node
/// scripts next to `node`'s links), then the system's.
pub fn agent_path(program: &Path) -> String {
    let mut dirs: Vec<PathBuf> = program
        .parent()
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Writes `<dir>/config.toml` for Codex: a custom model provider at `base_url` (the scripted
/// model's `/v1`), keyed by [`CODEX_KEY_ENV`]. Returns `dir`, to use as `CODEX_HOME`.
pub fn codex_home(dir: &Path, base_url: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let config = format!(
        "model = \"gpt-5\"\n\
         model_provider = \"scripted\"\n\
         [model_providers.scripted]\n\
         name = \"scripted\"\n\
         base_url = \"{base_url}/v1\"\n\
         wire_api = \"responses\"\n\
         env_key = \"{CODEX_KEY_ENV}\"\n\
         requires_openai_auth = false\n\
         supports_websockets = false\n\
         request_max_retries = 0\n\
         stream_max_retries = 0\n"
    );
    std::fs::write(dir.join("config.toml"), config)?;
    Ok(dir.to_path_buf())
}

/// The variables that point Claude Code at `base_url` with a dummy key and a fresh config
/// directory `config_dir`.
pub fn claude_env(base_url: &str, config_dir: &Path) -> Vec<(String, String)> {
    vec![
        ("ANTHROPIC_BASE_URL".into(), base_url.to_owned()),
        ("ANTHROPIC_API_KEY".into(), DUMMY_KEY.to_owned()),
        ("CLAUDE_CONFIG_DIR".into(), config_dir.display().to_string()),
    ]
}
