//! An in-memory tracker for the safety poll: issues set by hand, listed when their state is
//! one of the active ones. For tests and local runs.

use super::poll::{IssuePoller, TrackerUnavailable};
use crate::domain::{IssueSnapshot, SourceKind};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

pub struct MemoryPoller {
    source: SourceKind,
    /// Lowercased.
    active_states: Vec<String>,
    /// By identifier.
    issues: Mutex<BTreeMap<String, IssueSnapshot>>,
    unavailable: AtomicBool,
    polls: AtomicU32,
}

impl MemoryPoller {
    pub fn new(source: SourceKind, active_states: &[&str]) -> Self {
        Self {
            source,
            active_states: active_states
                .iter()
                .map(|s| s.trim().to_lowercase())
                .collect(),
            issues: Mutex::new(BTreeMap::new()),
            unavailable: AtomicBool::new(false),
            polls: AtomicU32::new(0),
        }
    }

    fn issues(&self) -> MutexGuard<'_, BTreeMap<String, IssueSnapshot>> {
        self.issues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds the issue, or replaces the one with its identifier.
    pub fn put(&self, issue: IssueSnapshot) {
        self.issues().insert(issue.identifier.clone(), issue);
    }

    /// Deletes the issue from the tracker.
    pub fn delete(&self, identifier: &str) {
        self.issues().remove(identifier);
    }

    /// Makes every call fail (or work again), as a tracker outage does.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// How many times the active issues were listed.
    pub fn polls(&self) -> u32 {
        self.polls.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), TrackerUnavailable> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(TrackerUnavailable(format!(
                "{} tracker is down",
                self.source
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl IssuePoller for MemoryPoller {
    fn source(&self) -> SourceKind {
        self.source
    }

    async fn active_issues(&self) -> Result<Vec<IssueSnapshot>, TrackerUnavailable> {
        self.check()?;
        self.polls.fetch_add(1, Ordering::SeqCst);
        Ok(self
            .issues()
            .values()
            .filter(|issue| {
                self.active_states
                    .contains(&issue.state.trim().to_lowercase())
            })
            .cloned()
            .collect())
    }

    async fn fetch_issue(
        &self,
        issue: &IssueSnapshot,
    ) -> Result<Option<IssueSnapshot>, TrackerUnavailable> {
        self.check()?;
        Ok(self.issues().get(&issue.identifier).cloned())
    }
}
