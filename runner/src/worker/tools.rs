//! The tracker's tools, offered to the agent as host tools: they run here, with the tracker
//! credential, on the one issue the run is for, and only those the profile allows.

use crate::agent::{ToolHandler, ToolResult, ToolSpec};
use async_trait::async_trait;
use baton_core::workflow::Profile;
use baton_integrations::tracker::{IssueRef, Tracker};
use std::sync::Arc;

pub struct TrackerTools {
    tracker: Arc<dyn Tracker>,
    issue: IssueRef,
    profile: Profile,
}

impl TrackerTools {
    pub fn new(tracker: Arc<dyn Tracker>, issue: IssueRef, profile: Profile) -> Self {
        Self {
            tracker,
            issue,
            profile,
        }
    }
}

#[async_trait]
impl ToolHandler for TrackerTools {
    fn specs(&self) -> Vec<ToolSpec> {
        self.tracker
            .tools()
            .into_iter()
            .filter(|tool| self.profile.allows_tool(&tool.name))
            .map(|tool| ToolSpec {
                name: tool.name,
                description: tool.description,
                input_schema: tool.input_schema,
            })
            .collect()
    }

    async fn call(&self, name: &str, arguments: serde_json::Value) -> ToolResult {
        if !self.profile.allows_tool(name) {
            return ToolResult {
                text: format!(
                    "tool `{name}` is not available to the {} profile",
                    self.profile.kind().as_str()
                ),
                success: false,
            };
        }
        match self.tracker.call_tool(&self.issue, name, &arguments).await {
            Ok(value) => ToolResult {
                text: value.to_string(),
                success: true,
            },
            // The error names the tool and the tracker's answer, never the credential.
            Err(error) => ToolResult {
                text: error.to_string(),
                success: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::workflow::ProfileKind;
    use baton_integrations::tracker::memory::MemoryTracker;
    use baton_integrations::tracker::TrackerIssue;

    fn tools(kind: ProfileKind) -> (TrackerTools, MemoryTracker) {
        let tracker = MemoryTracker::new();
        tracker.upsert(TrackerIssue {
            id: "1".into(),
            identifier: "MEM-1".into(),
            title: "Tool me".into(),
            state: "Todo".into(),
            ..TrackerIssue::default()
        });
        let profile = Profile {
            spec: kind.spec(),
            routes: Default::default(),
        };
        let issue = IssueRef {
            id: "1".into(),
            identifier: "MEM-1".into(),
        };
        (
            TrackerTools::new(Arc::new(tracker.clone()), issue, profile),
            tracker,
        )
    }

    #[tokio::test]
    async fn the_profile_decides_which_tracker_tools_the_agent_gets() {
        let (coding, tracker) = tools(ProfileKind::CodingPrDelivery);
        let names: Vec<_> = coding.specs().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["tracker_get_issue", "tracker_comment"]);
        let posted = coding
            .call("tracker_comment", serde_json::json!({"body": "progress"}))
            .await;
        assert!(posted.success, "{posted:?}");
        assert_eq!(tracker.comments("1").len(), 1);

        let (analysis, tracker) = tools(ProfileKind::RequirementAnalysis);
        let names: Vec<_> = analysis.specs().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["tracker_get_issue"]);
        let refused = analysis
            .call("tracker_comment", serde_json::json!({"body": "sneaky"}))
            .await;
        assert!(!refused.success);
        assert!(refused
            .text
            .contains("not available to the requirement_analysis profile"));
        assert!(tracker.comments("1").is_empty());
    }
}
