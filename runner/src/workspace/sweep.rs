//! Removing the workspaces of work items that have ended for good.
//!
//! A workspace is linked to its work item by an owner marker, `.baton/<key>.item` under the
//! root, holding the work item key; it is written when a run prepares the workspace. Only a
//! directory with that marker (and the `.ready` one of a finished creation) is ever removed,
//! and only when its item, read from the store, has ended for good and maps back to the same
//! directory. [`remove_if_ended`] is what a runner does when a run ends; [`sweep`] looks at
//! every marked workspace under one root (at runner start and then periodically), for items
//! that ended while no runner was up.

use super::{
    run_hook, workspace_key, HookContext, HookKind, Workspace, WorkspaceError, WorkspaceManager,
    STATE_DIR,
};
use baton_core::clock::Clock;
use baton_core::domain::{JobReason, RunStatus, WorkItem, WorkItemKey, WorkItemStatus};
use baton_core::ports::{Store, StoreError};
use baton_core::workflow::StateRules;
use chrono::{DateTime, Utc};
use std::future::Future;
use std::io;
use std::path::Path;

const OWNER_SUFFIX: &str = ".item";

/// What one look at a workspace decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Removed, after `before_remove` (whose failure is only logged).
    Removed,
    /// Kept: the item is still wanted, unknown, or does not map to this workspace.
    Kept(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
}

/// What a sweep of one root did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub removed: Vec<WorkItemKey>,
    pub kept: usize,
    pub failed: usize,
}

/// Whether `item` is over and nothing will run in its workspace again: no run queued,
/// running, retrying or held for approval, and the issue is in a terminal state (closed,
/// done, cancelled on the tracker) or its pull request was merged (`last_run_merged`). A
/// cancel alone (an unlabelled issue) is not the end: the label may come back.
pub fn ended_for_good(
    item: &WorkItem,
    last_run_merged: bool,
    rules: &StateRules,
    now: DateTime<Utc>,
) -> bool {
    let idle = !item.status.is_active()
        && item.status != WorkItemStatus::AwaitingApproval
        && item.status != WorkItemStatus::AwaitingInput
        && item.pending_job.is_none()
        && item.lease.as_ref().is_none_or(|lease| !lease.is_live(now));
    idle && (last_run_merged || rules.is_terminal(item.source, &item.issue.state))
}

impl WorkspaceManager {
    /// Notes which work item `workspace` belongs to, so a sweep can find it again.
    pub async fn record_owner(
        &self,
        workspace: &Workspace,
        key: &WorkItemKey,
    ) -> Result<(), WorkspaceError> {
        let root = self.root().await?;
        let state_dir = root.join(STATE_DIR);
        let marker = owner_marker(&root, &workspace.key);
        let written = match tokio::fs::create_dir_all(&state_dir).await {
            Ok(()) => tokio::fs::write(&marker, key.as_str().as_bytes()).await,
            Err(e) => Err(e),
        };
        written.map_err(|e| {
            WorkspaceError::create(&workspace.path, format!("cannot record its work item: {e}"))
        })
    }

    /// The workspaces under the root with an owner marker: (workspace key, marker content).
    async fn owners(&self) -> io::Result<Vec<(String, String)>> {
        let state_dir = self.config.root.join(STATE_DIR);
        let mut entries = match tokio::fs::read_dir(&state_dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut owners = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(key) = name.to_str().and_then(|n| n.strip_suffix(OWNER_SUFFIX)) else {
                continue;
            };
            // A marker is small; anything else was not written by baton.
            let Ok(content) = tokio::fs::read_to_string(entry.path()).await else {
                continue;
            };
            owners.push((key.to_owned(), content.trim().to_owned()));
        }
        Ok(owners)
    }
}

fn owner_marker(root: &Path, key: &str) -> std::path::PathBuf {
    root.join(STATE_DIR).join(format!("{key}{OWNER_SUFFIX}"))
}

/// Whether an item's runs follow the workflow being swept: with several workflows sharing
/// a workspace root, each judges only its own items, by its own terminal states.
pub type Owns<'a> = &'a (dyn Fn(&WorkItem) -> bool + Send + Sync);

/// The item of `key` if it is `owns`'s and has ended for good (see [`ended_for_good`]).
async fn ended_item(
    store: &dyn Store,
    (rules, owns): (&StateRules, Owns<'_>),
    clock: &dyn Clock,
    key: &WorkItemKey,
) -> Result<Option<WorkItem>, StoreError> {
    let Some(item) = store.get_work_item(key).await? else {
        return Ok(None);
    };
    if !owns(&item) {
        return Ok(None);
    }
    let merged = match &item.last_run {
        Some(run_id) => store.get_run(run_id).await?.is_some_and(|run| {
            run.reason == JobReason::PullRequestMerged && run.status == RunStatus::Succeeded
        }),
        None => false,
    };
    Ok(ended_for_good(&item, merged, rules, clock.now()).then_some(item))
}

/// Removes the workspace of `key` under `workspaces` if its item has ended for good and the
/// workspace's owner marker names that item.
pub async fn remove_if_ended(
    store: &dyn Store,
    workspaces: &WorkspaceManager,
    (rules, owns): (&StateRules, Owns<'_>),
    clock: &dyn Clock,
    key: &WorkItemKey,
) -> Result<Removal, SweepError> {
    let Some(item) = ended_item(store, (rules, owns), clock, key).await? else {
        return Ok(Removal::Kept("the work item is unknown or not over".into()));
    };
    let identifier = item.issue.identifier.as_str();
    let workspace = workspace_key(identifier);
    let root = workspaces.root().await?;
    let owner = tokio::fs::read_to_string(owner_marker(&root, &workspace))
        .await
        .unwrap_or_default();
    let ready = tokio::fs::try_exists(WorkspaceManager::marker(&root, &workspace))
        .await
        .unwrap_or(false);
    if owner.trim() != key.as_str() || !ready {
        return Ok(Removal::Kept(
            "no workspace created by baton for this item".into(),
        ));
    }
    // `before_remove` may take a while: a run requested meanwhile keeps the workspace.
    let still_ended = || async {
        matches!(
            ended_item(store, (rules, owns), clock, key).await,
            Ok(Some(_))
        )
    };
    if workspaces
        .remove_unless_wanted(identifier, still_ended)
        .await?
    {
        Ok(Removal::Removed)
    } else {
        Ok(Removal::Kept(
            "a new run was requested while before_remove ran".into(),
        ))
    }
}

impl WorkspaceManager {
    /// Like [`WorkspaceManager::remove`], but asks `still_ended` again after `before_remove`
    /// ran and deletes nothing if it says no. `Ok(true)`: removed (or already gone).
    async fn remove_unless_wanted<F, Fut>(
        &self,
        identifier: &str,
        still_ended: F,
    ) -> Result<bool, WorkspaceError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool>,
    {
        let root = self.root().await?;
        let key = workspace_key(identifier);
        let path = Self::path_for_key(&root, &key)?;
        let forget = || async {
            let _ = tokio::fs::remove_file(Self::marker(&root, &key)).await;
            let _ = tokio::fs::remove_file(owner_marker(&root, &key)).await;
        };
        if !Self::check_existing(&root, &path).await? {
            forget().await;
            return Ok(true);
        }
        if let Some(script) = &self.config.hooks.before_remove {
            let ctx = HookContext {
                identifier,
                workspace: &path,
                attempt: None,
            };
            let timeout = self.config.hooks.timeout;
            let run = run_hook(HookKind::BeforeRemove, script, &ctx, timeout).await;
            if !run.success {
                // The contract: a failing `before_remove` does not keep the workspace.
                tracing::warn!(identifier, exit_code = ?run.exit_code, timed_out = run.timed_out,
                    output = %run.output, "before_remove failed; the workspace is removed anyway");
            }
        }
        if !still_ended().await {
            return Ok(false);
        }
        // The hook ran inside the workspace: check again before deleting anything.
        Self::check_existing(&root, &path).await?;
        forget().await;
        tokio::fs::remove_dir_all(&path)
            .await
            .map_err(|e| WorkspaceError::RemoveFailed {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        tracing::info!(workspace = %path.display(), identifier, "workspace removed");
        Ok(true)
    }
}

/// Looks at every workspace under the root of `workspaces` that names its work item, and
/// removes those whose item has ended for good.
pub async fn sweep(
    store: &dyn Store,
    workspaces: &WorkspaceManager,
    (rules, owns): (&StateRules, Owns<'_>),
    clock: &dyn Clock,
) -> SweepReport {
    let mut report = SweepReport::default();
    let owners = match workspaces.owners().await {
        Ok(owners) => owners,
        Err(error) => {
            tracing::warn!(root = %workspaces.config.root.display(), %error, "cannot list the workspaces to sweep");
            report.failed += 1;
            return report;
        }
    };
    for (workspace, owner) in owners {
        let Ok(key) = WorkItemKey::parse(&owner) else {
            tracing::warn!(
                workspace,
                "a workspace's owner marker holds no work item key; it is left alone"
            );
            report.kept += 1;
            continue;
        };
        match remove_if_ended(store, workspaces, (rules, owns), clock, &key).await {
            Ok(Removal::Removed) => {
                tracing::info!(work_item = %key, workspace, "swept the workspace of an ended work item");
                report.removed.push(key);
            }
            Ok(Removal::Kept(_)) => report.kept += 1,
            Err(error) => {
                tracing::warn!(work_item = %key, workspace, %error, "cannot sweep a workspace");
                report.failed += 1;
            }
        }
    }
    report
}
