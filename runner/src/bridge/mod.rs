//! The tool bridge: the host tools an agent session is offered, the same for every provider
//! (Codex gets them as app-server dynamic tools, Claude Code and OpenCode through the MCP
//! endpoint in [`crate::agent::mcp`]).
//!
//! Every tool runs here, in the runner, with the credentials of the workflow's tracker and
//! repo platform: the agent never sees them. A tool acts only on the run's own issue, pull
//! request and workspace; the profile's `tools` list decides which are offered, and each
//! call is written on the run's timeline (redacted there).

mod args;
mod repo;
mod tracker;
mod workspace;

pub use tracker::LivingComment;

use crate::agent::{ToolHandler, ToolResult, ToolSpec};
use async_trait::async_trait;
use baton_core::workflow::Profile;
use baton_integrations::repo::RepoPlatform;
use baton_integrations::tracker::{IssueRef, Tracker};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

/// Where each call is recorded (the run's timeline).
pub trait ToolLog: Send + Sync {
    fn record(&self, name: &str, arguments: &Value, success: bool, result: &str);
}

/// Everything the session's tools act on.
pub struct BridgeContext {
    /// `None`: the workflow writes nothing back to a tracker; tracker tools are not offered.
    pub tracker: Option<Arc<dyn Tracker>>,
    pub issue: IssueRef,
    /// `None`: no repo platform; pull-request tools are not offered.
    pub platform: Option<Arc<dyn RepoPlatform>>,
    pub profile: Profile,
    pub workspace: PathBuf,
    /// The branch baton pushes and opens the pull request from.
    pub work_branch: Option<String>,
    /// baton's living status comment on the issue, for `tracker_update_status`.
    pub status: Option<Arc<LivingComment>>,
    pub log: Arc<dyn ToolLog>,
}

/// The session's host tools.
pub struct ToolBridge {
    context: BridgeContext,
}

/// What a tool answers: a JSON value to show the agent, or an error it can read.
type Answer = Result<Value, String>;

impl ToolBridge {
    pub fn new(context: BridgeContext) -> Self {
        Self { context }
    }

    /// Every tool this session could have, before the profile's filter.
    fn available(&self) -> Vec<ToolSpec> {
        let mut specs = tracker::specs(&self.context);
        specs.extend(repo::specs(&self.context));
        specs.extend(workspace::specs());
        specs
    }

    async fn dispatch(&self, name: &str, arguments: &Value) -> Answer {
        if let Some(answer) = tracker::call(&self.context, name, arguments).await {
            return answer;
        }
        if let Some(answer) = repo::call(&self.context, name, arguments).await {
            return answer;
        }
        if let Some(answer) = workspace::call(&self.context, name).await {
            return answer;
        }
        Err(format!("unknown tool `{name}`"))
    }
}

#[async_trait]
impl ToolHandler for ToolBridge {
    fn specs(&self) -> Vec<ToolSpec> {
        let profile = &self.context.profile;
        let mut offered: Vec<ToolSpec> = self
            .available()
            .into_iter()
            .filter(|spec| profile.allows_tool(&spec.name))
            .collect();
        // In the order the workflow (or the profile) lists them.
        offered.sort_by_key(|spec| profile.tools().iter().position(|t| *t == spec.name));
        offered
    }

    async fn call(&self, name: &str, arguments: Value) -> ToolResult {
        let offered = self.specs().iter().any(|spec| spec.name == name);
        let answer = if offered {
            self.dispatch(name, &arguments).await
        } else {
            Err(format!(
                "tool `{name}` is not offered to this session (the {} profile's tools: {})",
                self.context.profile.kind().as_str(),
                self.context.profile.tools().join(", ")
            ))
        };
        let result = match answer {
            Ok(value) => ToolResult {
                text: value.to_string(),
                success: true,
            },
            Err(text) => ToolResult {
                text,
                success: false,
            },
        };
        self.context
            .log
            .record(name, &arguments, result.success, &result.text);
        result
    }
}
