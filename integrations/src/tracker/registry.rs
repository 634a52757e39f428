//! Builds the tracker a workflow names. Adding a tracker is a file and a line here.

use super::github::GithubTracker;
use super::gitlab::GitlabTracker;
use super::jira::JiraTracker;
use super::linear::LinearTracker;
use super::memory::MemoryTracker;
use super::tapd::TapdTracker;
use super::Tracker;
use crate::config::{AdapterConfig, ConfigError};
use std::sync::Arc;

pub const KINDS: &[&str] = &["memory", "github", "gitlab", "linear", "jira", "tapd"];

pub fn build(config: &AdapterConfig<'_>) -> Result<Arc<dyn Tracker>, ConfigError> {
    match config.kind {
        "memory" => Ok(Arc::new(MemoryTracker::new())),
        "github" => Ok(Arc::new(GithubTracker::from_config(config)?)),
        "gitlab" => Ok(Arc::new(GitlabTracker::from_config(config)?)),
        "linear" => Ok(Arc::new(LinearTracker::from_config(config)?)),
        "jira" => Ok(Arc::new(JiraTracker::from_config(config)?)),
        "tapd" => Ok(Arc::new(TapdTracker::from_config(config)?)),
        other => Err(ConfigError::new(
            "tracker.kind",
            format!("unknown tracker `{other}` (known: {})", KINDS.join(", ")),
        )),
    }
}
