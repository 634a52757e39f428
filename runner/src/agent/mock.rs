//! The mock provider: [`CodexProvider`] driving `baton-mock-agent`, which speaks the Codex
//! app-server protocol from a scenario file (see `runner/scenarios/README.md`).

use super::codex::CodexProvider;
use std::path::{Path, PathBuf};

/// The name of the mock agent's binary.
pub const MOCK_AGENT_BINARY: &str = "baton-mock-agent";

/// The mock agent, `baton-mock-agent`. It has no provider of its own: it speaks Codex's
/// protocol, so the provider of kind `mock` is a [`CodexProvider`] running it.
pub struct MockAgent;

impl MockAgent {
    /// A provider running `mock_binary --scenario scenario` for every session (the session's
    /// `command_argv` is ignored). Relative paths are made absolute against the current
    /// directory, since the agent runs in the workspace.
    pub fn provider(mock_binary: impl AsRef<Path>, scenario: impl AsRef<Path>) -> CodexProvider {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        CodexProvider::with_command(
            "mock",
            vec![
                absolute(mock_binary.as_ref())
                    .to_string_lossy()
                    .into_owned(),
                "--scenario".to_string(),
                absolute(scenario.as_ref()).to_string_lossy().into_owned(),
            ],
        )
    }

    /// `baton-mock-agent` next to the running executable (or one directory up, as for test
    /// binaries in `target/*/deps`), if it exists.
    pub fn sibling_binary() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let dir = exe.parent()?;
        let name = format!("{MOCK_AGENT_BINARY}{}", std::env::consts::EXE_SUFFIX);
        let found = [Some(dir), dir.parent()]
            .into_iter()
            .flatten()
            .map(|d| d.join(&name))
            .find(|p| p.is_file());
        found
    }
}
