//! The safety poll's view of a tracker: a `baton-integrations` tracker read through the
//! reconciler's [`IssuePoller`] port.

use crate::tracker::{IssueRef, Tracker};
use async_trait::async_trait;
use baton_core::domain::{IssueSnapshot, SourceKind};
use baton_core::reconciler::{IssuePoller, TrackerUnavailable};
use std::sync::Arc;

pub struct TrackerPoller {
    tracker: Arc<dyn Tracker>,
    source: SourceKind,
    /// The workflow's active states, in the tracker's names.
    active_states: Vec<String>,
}

impl TrackerPoller {
    pub fn new(tracker: Arc<dyn Tracker>, source: SourceKind, active_states: Vec<String>) -> Self {
        Self {
            tracker,
            source,
            active_states,
        }
    }
}

#[async_trait]
impl IssuePoller for TrackerPoller {
    fn source(&self) -> SourceKind {
        self.source
    }

    async fn active_issues(&self) -> Result<Vec<IssueSnapshot>, TrackerUnavailable> {
        let issues = self
            .tracker
            .fetch_by_states(&self.active_states)
            .await
            .map_err(|e| TrackerUnavailable(e.to_string()))?;
        Ok(issues.iter().map(|issue| issue.to_snapshot()).collect())
    }

    async fn fetch_issue(
        &self,
        issue: &IssueSnapshot,
    ) -> Result<Option<IssueSnapshot>, TrackerUnavailable> {
        let found = self
            .tracker
            .fetch_issue(&IssueRef::of(issue))
            .await
            .map_err(|e| TrackerUnavailable(e.to_string()))?;
        Ok(found.map(|issue| issue.to_snapshot()))
    }
}
