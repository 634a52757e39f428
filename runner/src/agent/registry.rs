//! The agent providers, by `agent_provider.kind`. Adding one is its module and a line here.
//! (`mock` is not here: it is Codex's provider running the mock agent, which needs the
//! runner's command for it; see `setup`.)

use super::claude_code::ClaudeCodeProvider;
use super::codex::CodexProvider;
use super::opencode::OpenCodeProvider;
use super::AgentProvider;
use std::sync::Arc;

/// The kinds [`provider`] builds.
pub const KINDS: &[&str] = &["codex", "claude_code", "opencode"];

/// The provider of `kind`; `None` for a kind this registry does not build.
pub fn provider(kind: &str) -> Option<Arc<dyn AgentProvider>> {
    Some(match kind {
        "codex" => Arc::new(CodexProvider::new()),
        "claude_code" => Arc::new(ClaudeCodeProvider::new()),
        "opencode" => Arc::new(OpenCodeProvider::new()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::workflow::schema::AGENT_KINDS;

    /// The workflow schema accepts exactly the kinds the runner can build (and `mock`).
    #[test]
    fn the_schema_and_the_registry_name_the_same_kinds() {
        let mut built: Vec<&str> = KINDS.iter().copied().chain(["mock"]).collect();
        let mut accepted: Vec<&str> = AGENT_KINDS.to_vec();
        built.sort_unstable();
        accepted.sort_unstable();
        assert_eq!(built, accepted);
        for kind in KINDS {
            let provider = provider(kind).expect("registered");
            assert_eq!(provider.kind(), *kind);
        }
        assert!(provider("mock").is_none() && provider("gpt").is_none());
    }
}
