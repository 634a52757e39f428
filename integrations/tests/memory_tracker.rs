//! The memory tracker passes the tracker contract (without the fault cases: it has no server).

use async_trait::async_trait;
use baton_integrations::contract::tracker::{run_all, SeedIssue, TrackerHarness};
use baton_integrations::test_support::{Fault, RecordedRequest};
use baton_integrations::tracker::memory::MemoryTracker;
use baton_integrations::tracker::{IssueRef, Tracker, TrackerIssue};
use std::sync::atomic::{AtomicU64, Ordering};

struct MemoryHarness {
    tracker: MemoryTracker,
    next: AtomicU64,
}

#[async_trait]
impl TrackerHarness for MemoryHarness {
    fn tracker(&self) -> &dyn Tracker {
        &self.tracker
    }

    async fn seed(&self, issue: SeedIssue) -> IssueRef {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let seeded = TrackerIssue {
            id: format!("mem-{n}"),
            identifier: format!("MEM-{n}"),
            title: issue.title,
            description: issue.description,
            state: issue.state,
            labels: issue.labels.iter().map(|l| l.to_lowercase()).collect(),
            ..TrackerIssue::default()
        };
        let reference = IssueRef::from(&seeded);
        self.tracker.upsert(seeded);
        reference
    }

    async fn comments(&self, issue: &IssueRef) -> Vec<String> {
        self.tracker
            .comments(&issue.id)
            .into_iter()
            .map(|c| c.body)
            .collect()
    }

    async fn state(&self, issue: &IssueRef) -> String {
        self.tracker
            .issue(&issue.id)
            .map(|i| i.state)
            .unwrap_or_default()
    }

    fn active_state(&self) -> String {
        "Todo".into()
    }

    fn done_state(&self) -> String {
        "Done".into()
    }

    fn missing_issue(&self) -> IssueRef {
        IssueRef {
            id: "mem-missing".into(),
            identifier: "MEM-0".into(),
        }
    }

    fn paginates(&self) -> bool {
        false
    }

    fn inject(&self, _: Fault) -> bool {
        false
    }

    fn clear_faults(&self) {}

    fn requests(&self) -> Vec<RecordedRequest> {
        Vec::new()
    }

    fn credential(&self) -> Option<String> {
        None
    }
}

#[tokio::test]
async fn memory_tracker_passes_the_contract() {
    let harness = MemoryHarness {
        tracker: MemoryTracker::new(),
        next: AtomicU64::new(0),
    };
    run_all(&harness).await;
}
