//! The safety poll of one workflow among several: it acts only on what the deployment's set
//! gives that workflow, as a webhook would be routed, never on a sibling's issues or items.

use super::*;
use crate::clock::SystemClock;
use crate::domain::{IssueSnapshot, SourceKind, WorkItemKey, WorkItemStatus};
use crate::memory::{MemoryQueue, MemoryStore};
use crate::ports::Store;
use crate::workflow::{NamedWorkflow, Workflow, WorkflowSet};
use std::collections::BTreeMap;
use std::sync::Arc;

fn named(name: &str, front_matter: &str) -> NamedWorkflow {
    let workflow =
        Workflow::parse(&format!("---\n{front_matter}\n---\nWork.")).expect("valid workflow");
    NamedWorkflow {
        name: name.to_owned(),
        workflow: Arc::new(workflow),
        version: None,
        secrets: BTreeMap::new(),
    }
}

fn linear_issue(identifier: &str) -> IssueSnapshot {
    IssueSnapshot {
        id: identifier.to_lowercase(),
        identifier: identifier.into(),
        title: identifier.into(),
        state: "Todo".into(),
        labels: vec!["baton".into()],
        ..IssueSnapshot::default()
    }
}

#[tokio::test]
async fn each_workflows_poll_queues_only_the_issues_its_set_gives_it() {
    // A catch-all Linear workflow and one scoped to team ENG, both polling one tracker.
    let set = Arc::new(
        WorkflowSet::new(vec![
            named("all.md", "tracker: {kind: linear}"),
            named("eng.md", "tracker: {kind: linear, provider: {team: ENG}}"),
        ])
        .expect("set"),
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let queue = Arc::new(MemoryQueue::new());
    let tracker = MemoryPoller::new(SourceKind::Linear, &["Todo", "In Progress"]);
    tracker.put(linear_issue("ENG-1"));
    tracker.put(linear_issue("OPS-1"));
    let poll = |name: &str| {
        SafetyPoll::in_set(
            Arc::clone(&set),
            name,
            Arc::clone(&store),
            queue.clone(),
            Arc::new(SystemClock),
        )
    };

    let all = poll("all.md").poll(&tracker).await.expect("poll");
    let ops = WorkItemKey::new(SourceKind::Linear, "OPS-1");
    let eng = WorkItemKey::new(SourceKind::Linear, "ENG-1");
    assert_eq!(all.queued, vec![ops.clone()], "{all:?}");
    assert_eq!(
        store.get_work_item(&eng).await.expect("get"),
        None,
        "the catch-all leaves ENG-1 to its own workflow"
    );
    let scoped = poll("eng.md").poll(&tracker).await.expect("poll");
    assert_eq!(scoped.queued, vec![eng.clone()], "{scoped:?}");
    for (key, workflow) in [(&ops, "all.md"), (&eng, "eng.md")] {
        let item = store.get_work_item(key).await.expect("get").expect("item");
        assert_eq!(item.workflow.as_deref(), Some(workflow), "{key}");
    }

    // ENG-1 leaves the tracker's listing: only its own workflow's poll looks it up and
    // settles it; the catch-all's poll does not touch a sibling's item.
    tracker.delete("ENG-1");
    let all = poll("all.md").poll(&tracker).await.expect("poll");
    assert_eq!(all.looked_up, 0, "{all:?}");
    assert!(all.cancelled.is_empty(), "{all:?}");
    let item = store.get_work_item(&eng).await.expect("get").expect("item");
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert!(!item.cancel_requested);
    let scoped = poll("eng.md").poll(&tracker).await.expect("poll");
    assert_eq!(scoped.looked_up, 1, "{scoped:?}");
    assert_eq!(scoped.cancelled, vec![eng], "{scoped:?}");
}
