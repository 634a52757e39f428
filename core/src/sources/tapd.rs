//! TAPD: no webhooks baton can verify, so the safety poll brings its stories in.

use super::Source;
use crate::domain::{IssueSnapshot, SourceKind};

pub struct TapdSource;

impl Source for TapdSource {
    fn kind(&self) -> SourceKind {
        SourceKind::Tapd
    }

    #[cfg(test)]
    fn samples(&self) -> crate::sources::contract::Samples {
        let story = |workspace: &str| IssueSnapshot {
            url: Some(format!(
                "https://www.tapd.cn/{workspace}/prong/stories/view/1120355782001000001"
            )),
            ..IssueSnapshot::default()
        };
        crate::sources::contract::Samples {
            scope: Some(crate::sources::contract::ScopeSample {
                value: "20355782",
                inside: story("20355782"),
                outside: story("20355783"),
            }),
            webhook: None,
        }
    }

    /// The status keys of TAPD's default story workflow (规划中, 实现中 / 已实现, 已拒绝).
    fn default_active_states(&self) -> &'static [&'static str] {
        &["planning", "developing"]
    }

    fn default_terminal_states(&self) -> &'static [&'static str] {
        &["resolved", "rejected"]
    }

    fn scope_key(&self) -> Option<&'static str> {
        Some("workspace_id")
    }

    fn check_scope(&self, value: &str) -> Result<(), &'static str> {
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err("the workspace's numeric id, as a string (`\"20355782\"`)")
        }
    }

    /// Story ids are opaque; the story's address names its workspace
    /// (`…/20355782/prong/stories/view/…`).
    fn in_scope(&self, issue: &IssueSnapshot, value: &str) -> bool {
        issue
            .url
            .as_deref()
            .is_some_and(|url| url.contains(&format!("/{value}/prong/")))
    }
}
