//! The safety poll: trackers do not redeliver a webhook that never arrived (GitHub does not
//! retry on its own), so every `polling.interval_ms` each tracker's active issues are read
//! and compared with what baton stored. What a missed webhook would have asked for goes
//! through the same routing and work-item path as a webhook, under a synthetic delivery id.
//!
//! The poll acts on changes only: an issue that is as baton last stored it asks for nothing
//! (see `routing::route` on [`EventAction::Polled`]), so a succeeded issue that stays open
//! is not run again, and an issue that newly became eligible is queued once.

use super::report::{Failed, PollReport};
use crate::clock::Clock;
use crate::domain::{
    Actor, Association, DeliveryKey, EventAction, IssueSnapshot, NormalizedEvent, SourceKind,
    WorkItem, WorkItemKey, WorkItemStatus,
};
use crate::ingress::{Accepted, Ingress, IngressSettings};
use crate::ports::{Queue, Store, StoreError};
use crate::workflow::{StateRules, Workflow, WorkflowSet, WorkflowWatch};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tracing::Instrument;

/// The tracker could not be read; the next poll tries again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TrackerUnavailable(pub String);

/// One tracker, as the safety poll reads it. Adapters over the `baton-integrations` trackers
/// implement it; [`super::MemoryPoller`] is the in-memory one.
#[async_trait]
pub trait IssuePoller: Send + Sync {
    /// The origin whose work items these issues are (for TAPD and memory, which send no
    /// webhooks, the poll is the only way their issues become work items).
    fn source(&self) -> SourceKind;

    /// Every issue in one of the tracker's active states, all pages. An adapter may leave
    /// out issues that cannot be eligible (no trigger label) when its tracker filters on it.
    async fn active_issues(&self) -> Result<Vec<IssueSnapshot>, TrackerUnavailable>;

    /// `issue` as the tracker has it now; `Ok(None)` when it no longer exists.
    async fn fetch_issue(
        &self,
        issue: &IssueSnapshot,
    ) -> Result<Option<IssueSnapshot>, TrackerUnavailable>;
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("{tracker} tracker unavailable: {error}")]
    Tracker {
        tracker: SourceKind,
        error: TrackerUnavailable,
    },
    #[error("cannot list the active work items: {0}")]
    Store(#[from] StoreError),
}

/// Who the synthetic events say acted: nobody in particular, and not a bot (bots' events
/// are ignored by routing).
const POLL_ACTOR: &str = "baton-safety-poll";

/// The safety poll of one workflow's tracker, within its deployment's set: it acts only on
/// the issues and items that workflow serves, as a webhook for them would be routed.
pub struct SafetyPoll {
    ingress: Ingress,
    store: Arc<dyn Store>,
    set: Arc<WorkflowSet>,
    /// The polled workflow's name in `set`.
    workflow: String,
    rules: StateRules,
}

impl SafetyPoll {
    /// The poll of a deployment of one workflow.
    pub fn new(
        workflow: &Workflow,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        // No secrets: polled events are not signed, they come from the tracker's API.
        let set = Arc::new(WorkflowSet::single(
            Arc::new(workflow.clone()),
            BTreeMap::new(),
        ));
        let name = set.iter().next().map(|served| served.name().to_owned());
        Self::in_set(
            set,
            name.as_deref().unwrap_or_default(),
            store,
            queue,
            clock,
        )
    }

    /// The poll of the workflow named `workflow` in `set`. Issues the set gives to another
    /// workflow, and items another workflow accepted, are left to that workflow's poll.
    pub fn in_set(
        set: Arc<WorkflowSet>,
        workflow: &str,
        store: Arc<dyn Store>,
        queue: Arc<dyn Queue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let rules = set
            .get(workflow)
            .map(|served| served.rules().clone())
            // A name the set does not hold serves nothing (see `serves`): any rules do.
            .unwrap_or_else(|| StateRules::new(&Default::default()));
        let ingress = Ingress::with_workflows(
            WorkflowWatch::fixed_shared(Arc::clone(&set)),
            Arc::clone(&store),
            queue,
            clock,
            IngressSettings::default(),
        );
        Self {
            ingress,
            store,
            set,
            workflow: workflow.to_owned(),
            rules,
        }
    }

    /// Announces the runs this poll holds for approval, as a webhook's would be.
    pub fn with_announcer(mut self, announcer: Arc<dyn crate::ports::Announcer>) -> Self {
        self.ingress = self.ingress.with_announcer(announcer);
        self
    }

    /// Whether the set gives `issue` of `source` to the polled workflow.
    fn serves(&self, source: SourceKind, issue: &IssueSnapshot) -> bool {
        self.set
            .select_served(source, issue)
            .is_some_and(|served| served.name() == self.workflow)
    }

    /// Whether `item`'s runs follow the polled workflow.
    fn owns(&self, item: &WorkItem) -> bool {
        match &item.workflow {
            Some(name) => *name == self.workflow,
            None => self.serves(item.source, &item.issue),
        }
    }

    /// Polls one tracker. Fails only when the tracker or the store cannot be listed; what
    /// failed for one issue is in the report's `failed`.
    pub async fn poll(&self, poller: &dyn IssuePoller) -> Result<PollReport, PollError> {
        let source = poller.source();
        let mut active = self.active_items(source).await?;
        let issues = poller
            .active_issues()
            .await
            .map_err(|error| PollError::Tracker {
                tracker: source,
                error,
            })?;
        let mut report = PollReport::new(source);
        for issue in issues {
            report.listed += 1;
            if issue.identifier.trim().is_empty() {
                report.unchanged += 1;
                continue;
            }
            let key = WorkItemKey::new(source, &issue.identifier);
            if !self.serves(source, &issue) {
                // Another workflow's issue: its own poll acts on it.
                active.remove(&key);
                report.unchanged += 1;
                continue;
            }
            let has_active_item = active.remove(&key);
            // Without an active item, only an eligible issue can ask for anything.
            if !has_active_item && !self.rules.is_eligible(source, &issue) {
                report.unchanged += 1;
                continue;
            }
            let span = tracing::info_span!("poll_item", work_item = %key);
            self.offer(source, issue, &key, &mut report)
                .instrument(span)
                .await;
        }
        // Active items the tracker no longer lists: closed, moved or deleted without a word.
        for key in active {
            report.looked_up += 1;
            let span = tracing::info_span!("poll_item", work_item = %key);
            self.look_up(poller, &key, &mut report)
                .instrument(span)
                .await;
        }
        Ok(report)
    }

    async fn active_items(&self, source: SourceKind) -> Result<BTreeSet<WorkItemKey>, StoreError> {
        let mut keys = BTreeSet::new();
        for status in [
            WorkItemStatus::Queued,
            WorkItemStatus::Running,
            WorkItemStatus::Retrying,
        ] {
            let items = self.store.list_work_items(status, usize::MAX).await?;
            keys.extend(
                items
                    .into_iter()
                    .filter(|item| item.source == source && self.owns(item))
                    .map(|item| item.key),
            );
        }
        Ok(keys)
    }

    async fn look_up(&self, poller: &dyn IssuePoller, key: &WorkItemKey, report: &mut PollReport) {
        let item = match self.store.get_work_item(key).await {
            Ok(Some(item)) if item.status.is_active() => item,
            Ok(_) => return,
            Err(error) => return fail(report, key, error.to_string()),
        };
        match poller.fetch_issue(&item.issue).await {
            Ok(Some(issue)) => self.offer(item.source, issue, key, report).await,
            Ok(None) => {
                // Deleted: for baton that is a close.
                let event = synthetic(item.issue.clone(), EventAction::Closed, item.source);
                let delivery = format!(
                    "poll:{}:deleted:{}",
                    short(&item.issue.identifier),
                    item.version
                );
                self.accept(&event, &delivery, key, report).await;
            }
            Err(error) => fail(report, key, error.to_string()),
        }
    }

    /// Routes `issue` as baton knows it now, under a delivery id that is the same for every
    /// poll that sees the same issue over the same stored item.
    async fn offer(
        &self,
        source: SourceKind,
        issue: IssueSnapshot,
        key: &WorkItemKey,
        report: &mut PollReport,
    ) {
        let stored = match self.store.get_work_item(key).await {
            Ok(stored) => stored,
            Err(error) => return fail(report, key, error.to_string()),
        };
        let delivery = delivery_id(&issue, stored.as_ref().map(|item| item.version));
        let previous = stored.map(|item| Box::new(item.issue));
        let event = synthetic(issue, EventAction::Polled { previous }, source);
        self.accept(&event, &delivery, key, report).await;
    }

    async fn accept(
        &self,
        event: &NormalizedEvent,
        delivery: &str,
        key: &WorkItemKey,
        report: &mut PollReport,
    ) {
        match self.ingress.accept_event(event, delivery).await {
            Ok(Accepted::Queued { work_item, job_id }) => {
                tracing::info!(work_item = %work_item, %job_id, delivery_id = delivery,
                    "safety poll queued a run no webhook had asked for");
                report.queued.push(work_item);
            }
            Ok(Accepted::CancelRequested { work_item }) => {
                tracing::info!(work_item = %work_item, delivery_id = delivery,
                    "safety poll requested a cancel no webhook had asked for");
                report.cancelled.push(work_item);
            }
            // Held at the dispatch gate: recorded, waiting for a person, like a webhook would.
            Ok(Accepted::Ignored { .. } | Accepted::AwaitingApproval { .. }) => {
                report.unchanged += 1
            }
            Ok(Accepted::Duplicate) => report.duplicates += 1,
            Err(error) => fail(report, key, error.to_string()),
        }
    }
}

fn fail(report: &mut PollReport, key: &WorkItemKey, error: String) {
    tracing::warn!(work_item = %key, %error, "safety poll could not handle an issue");
    report.failed.push(Failed {
        work_item: key.clone(),
        error,
    });
}

fn synthetic(issue: IssueSnapshot, action: EventAction, source: SourceKind) -> NormalizedEvent {
    NormalizedEvent {
        source,
        event_name: "poll".into(),
        action,
        issue,
        actor: Actor {
            login: POLL_ACTOR.into(),
            association: Association::Unknown,
            is_bot: false,
        },
        comment: None,
    }
}

/// `poll:<identifier>:<hash>`, the hash over what routing looks at (state and labels), the
/// title, and the stored item's version. Unchanged issue and item: the same id, so a second
/// poller racing the first is a duplicate; any write to the item since: a new id, so a
/// later change is not mistaken for one already handled.
pub fn delivery_id(issue: &IssueSnapshot, stored_version: Option<u64>) -> String {
    let mut labels: Vec<String> = issue
        .labels
        .iter()
        .map(|l| l.trim().to_lowercase())
        .collect();
    labels.sort();
    labels.dedup();
    let mut hash = Sha256::new();
    for part in [
        issue.state.trim().to_lowercase().as_str(),
        &labels.join("\n"),
        issue.title.as_str(),
        &stored_version.map_or_else(|| "none".to_owned(), |v| v.to_string()),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let digest = hex::encode(hash.finalize());
    format!("poll:{}:{}", short(&issue.identifier), &digest[..16])
}

/// The identifier when it fits in a delivery id, else a hash of it.
fn short(identifier: &str) -> String {
    const ROOM: usize = DeliveryKey::MAX_ID_LEN - 64;
    if identifier.len() <= ROOM && !identifier.chars().any(char::is_control) {
        identifier.to_owned()
    } else {
        hex::encode(Sha256::digest(identifier.as_bytes()))[..32].to_owned()
    }
}
