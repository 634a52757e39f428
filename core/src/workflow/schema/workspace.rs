//! `workspace`, `hooks`, `repo` and `server`: where a run works and what it is cloned from.
//! Paths stay as written here; the runner expands `~` and `$VAR` against its environment.

use super::{invalid, nullable};
use crate::workflow::WorkflowError;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceSection {
    /// Where workspaces live; `~` and `$VAR` expanded, relative to the workflow file.
    pub root: Option<String>,
}

/// Shell scripts run in the workspace at its lifecycle points.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HooksSection {
    pub after_create: Option<String>,
    pub before_run: Option<String>,
    pub after_run: Option<String>,
    pub before_remove: Option<String>,
    /// Zero or less: the default.
    pub timeout_ms: Option<i64>,
}

/// `repo:` (Maestro's shape): what a workspace is cloned from and where results go.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepoSection {
    /// A local repository.
    pub path: Option<String>,
    pub base_branch: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub remote: RepoRemote,
    #[serde(deserialize_with = "nullable")]
    pub branch: RepoBranch,
    /// The adapter-owned map of the code host (`kind` required: github, cnb, memory, ...).
    pub provider: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepoRemote {
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RepoBranch {
    pub work_prefix: Option<String>,
}

impl RepoSection {
    /// `repo.provider.kind`, when the provider map is given.
    pub fn provider_kind(&self) -> Option<&str> {
        self.provider.as_ref()?.get("kind")?.as_str()
    }

    pub(super) fn validate(&self) -> Result<(), WorkflowError> {
        if self.provider.is_some() && self.provider_kind().is_none_or(|k| k.trim().is_empty()) {
            return Err(invalid(
                "repo.provider.kind",
                "is required (github, cnb, memory, ...)",
            ));
        }
        Ok(())
    }
}

/// Symphony's optional HTTP server. baton's API is served by its own processes; the key is
/// accepted so a Symphony file loads unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub port: Option<u16>,
}
