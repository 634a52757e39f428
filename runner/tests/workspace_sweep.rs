//! Removing the workspaces of ended work items, with real directories and real hook scripts:
//! what is removed (after `before_remove`), and everything that must be left alone.

use baton_core::clock::SystemClock;
use baton_core::domain::{
    IssueSnapshot, JobId, JobReason, Lease, Run, RunId, RunStatus, SourceKind, WorkItem,
    WorkItemKey, WorkItemStatus,
};
use baton_core::memory::MemoryStore;
use baton_core::ports::Store;
use baton_core::workflow::{StateRules, Workflow};
use baton_runner::workspace::sweep::{self, Removal};
use baton_runner::workspace::{workspace_key, WorkspaceConfig, WorkspaceManager};
use chrono::Utc;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

struct Setup {
    dir: TempDir,
    store: MemoryStore,
    manager: WorkspaceManager,
    rules: StateRules,
}

/// A workflow whose `before_remove` copies the workspace's `note.txt` out of it, to
/// `<dir>/removed/<identifier hash>`: proof that it ran, and ran before the removal.
fn setup(before_remove: &str) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "---\ntracker: {{kind: github}}\nworkspace: {{root: \"{}\"}}\n\
         hooks: {{before_remove: '{before_remove}', timeout_ms: 10000}}\n---\nFix it",
        dir.path().join("workspaces").display()
    );
    let workflow = Workflow::parse(&text).expect("workflow");
    let config = WorkspaceConfig::from_workflow(&workflow).expect("workspace config");
    std::fs::create_dir_all(dir.path().join("removed")).expect("mkdir");
    Setup {
        store: MemoryStore::new(),
        manager: WorkspaceManager::new(config),
        rules: StateRules::new(&workflow.config),
        dir,
    }
}

const COPY_NOTE_OUT: &str =
    "cp note.txt \"$BATON_WORKSPACE/../../removed/$(basename \"$BATON_WORKSPACE\")\"";

fn issue(number: u32, state: &str) -> IssueSnapshot {
    IssueSnapshot {
        id: number.to_string(),
        identifier: format!("acme/app#{number}"),
        title: format!("Issue {number}"),
        state: state.into(),
        labels: vec!["baton".into()],
        ..IssueSnapshot::default()
    }
}

fn item(issue: IssueSnapshot, status: WorkItemStatus) -> WorkItem {
    let now = Utc::now();
    WorkItem {
        key: WorkItemKey::new(SourceKind::Github, &issue.identifier),
        source: SourceKind::Github,
        issue,
        status,
        attempt: 1,
        cancel_requested: status == WorkItemStatus::Cancelled,
        pending_job: None,
        last_delivery: None,
        created_at: now,
        updated_at: now,
        requested_at: Some(now),
        lease: None,
        last_run: None,
        next_retry_at: None,
        last_error: None,
        tokens: Default::default(),
        approved_by: None,
        pull_request: None,
        status_comment: None,
        input_request: None,
        agent_session: None,
        workflow: None,
        version: 1,
    }
}

impl Setup {
    /// Prepares the issue's workspace as a run does, with a note in it; returns its path.
    async fn workspace(&self, issue: &IssueSnapshot) -> PathBuf {
        let workspace = self.manager.prepare(issue, None).await.expect("prepare");
        let key = WorkItemKey::new(SourceKind::Github, &issue.identifier);
        self.manager
            .record_owner(&workspace, &key)
            .await
            .expect("owner marker");
        std::fs::write(workspace.path.join("note.txt"), &issue.identifier).expect("note");
        workspace.path
    }

    async fn put(&self, item: &WorkItem) {
        self.store.put_work_item(item, None).await.expect("put");
    }

    fn copied_note(&self, workspace: &Path) -> Option<String> {
        let name = workspace.file_name().expect("name");
        std::fs::read_to_string(self.dir.path().join("removed").join(name)).ok()
    }

    async fn sweep(&self) -> sweep::SweepReport {
        sweep::sweep(
            &self.store,
            &self.manager,
            (&self.rules, &|_| true),
            &SystemClock,
        )
        .await
    }
}

fn merged_run(key: &WorkItemKey) -> Run {
    let now = Utc::now();
    Run {
        run_id: RunId::generate(),
        work_item: key.clone(),
        job_id: JobId::generate(),
        reason: JobReason::PullRequestMerged,
        attempt: 1,
        runner: "runner-a".into(),
        status: RunStatus::Succeeded,
        received_at: Some(now),
        queued_at: now,
        claimed_at: now,
        agent_started_at: None,
        ended_at: Some(now),
        session_id: None,
        turns: 0,
        tokens: Default::default(),
        error: None,
        workspace: None,
        branch: None,
        commit: None,
        events: 0,
        version: 1,
    }
}

#[tokio::test]
async fn ended_items_lose_their_workspace_after_before_remove_and_nothing_else_is_touched() {
    let setup = setup(COPY_NOTE_OUT);

    // Ended for good: the issue closed while it ran (cancelled), and a merged pull request.
    let closed = issue(1, "closed");
    let closed_path = setup.workspace(&closed).await;
    setup.put(&item(closed, WorkItemStatus::Cancelled)).await;
    let merged = issue(2, "open");
    let merged_path = setup.workspace(&merged).await;
    let run = merged_run(&WorkItemKey::new(SourceKind::Github, &merged.identifier));
    setup.store.put_run(&run, None).await.expect("run");
    let mut merged_item = item(merged, WorkItemStatus::Succeeded);
    merged_item.last_run = Some(run.run_id.clone());
    setup.put(&merged_item).await;

    // Not over: a closed issue whose new run is queued, one still running under a live
    // lease, a succeeded one whose issue is open (a review may ask for rework), one that was
    // only unlabelled (cancelled, still open), and one whose item the store does not know.
    let mut kept = Vec::new();
    let queued = issue(3, "closed");
    kept.push(setup.workspace(&queued).await);
    let mut queued_item = item(queued, WorkItemStatus::Queued);
    queued_item.pending_job = Some(JobId::generate());
    setup.put(&queued_item).await;
    let running = issue(4, "closed");
    kept.push(setup.workspace(&running).await);
    let mut running_item = item(running, WorkItemStatus::Running);
    running_item.lease = Some(Lease {
        owner: "runner-b".into(),
        run_id: RunId::generate(),
        expires_at: Utc::now() + chrono::Duration::seconds(60),
    });
    setup.put(&running_item).await;
    let open = issue(5, "open");
    kept.push(setup.workspace(&open).await);
    setup.put(&item(open, WorkItemStatus::Succeeded)).await;
    let unlabelled = issue(6, "open");
    kept.push(setup.workspace(&unlabelled).await);
    setup
        .put(&item(unlabelled, WorkItemStatus::Cancelled))
        .await;
    let unknown = issue(7, "closed");
    kept.push(setup.workspace(&unknown).await);

    // A directory baton did not create, for an item that has ended: never removed.
    let foreign = issue(8, "closed");
    let foreign_path = setup
        .dir
        .path()
        .join("workspaces")
        .join(workspace_key(&foreign.identifier));
    std::fs::create_dir_all(&foreign_path).expect("mkdir");
    setup.put(&item(foreign, WorkItemStatus::Cancelled)).await;
    kept.push(foreign_path);

    let report = setup.sweep().await;
    let mut removed: Vec<_> = report.removed.iter().map(|k| k.to_string()).collect();
    removed.sort();
    assert_eq!(removed, ["github:acme/app#1", "github:acme/app#2"]);
    assert_eq!(report.kept, 5, "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    for (path, identifier) in [(&closed_path, "acme/app#1"), (&merged_path, "acme/app#2")] {
        assert!(!path.exists(), "{} is removed", path.display());
        assert_eq!(
            setup.copied_note(path).as_deref(),
            Some(identifier),
            "before_remove ran while the workspace was still there"
        );
    }
    for path in &kept {
        assert!(
            path.join("note.txt").exists() || path.is_dir(),
            "{} is kept",
            path.display()
        );
        assert_eq!(
            setup.copied_note(path),
            None,
            "no hook ran for {}",
            path.display()
        );
    }

    // A second sweep finds nothing more to do.
    let again = setup.sweep().await;
    assert!(again.removed.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_failing_or_hanging_before_remove_does_not_keep_the_workspace() {
    for script in ["echo nope >&2; exit 3", "sleep 30"] {
        let setup = setup(script);
        let mut hook_timeout = setup.manager.config().clone();
        hook_timeout.hooks.timeout = std::time::Duration::from_millis(500);
        let setup = Setup {
            manager: WorkspaceManager::new(hook_timeout),
            ..setup
        };
        let closed = issue(9, "closed");
        let path = setup.workspace(&closed).await;
        let key = WorkItemKey::new(SourceKind::Github, &closed.identifier);
        setup.put(&item(closed, WorkItemStatus::Cancelled)).await;
        let started = std::time::Instant::now();
        let removal = sweep::remove_if_ended(
            &setup.store,
            &setup.manager,
            (&setup.rules, &|_| true),
            &SystemClock,
            &key,
        )
        .await
        .expect("removal");
        assert_eq!(removal, Removal::Removed, "{script}");
        assert!(!path.exists(), "{script}: removed anyway");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{script}: the hook's time limit holds"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_marker_never_leads_outside_the_root() {
    let setup = setup(COPY_NOTE_OUT);
    let outside = setup.dir.path().join("precious");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(outside.join("keep.txt"), "keep").expect("write");

    // A planted symlink where an ended item's workspace would be, with forged markers.
    let closed = issue(10, "closed");
    let key = WorkItemKey::new(SourceKind::Github, &closed.identifier);
    let root = setup.dir.path().join("workspaces");
    let state = root.join(".baton");
    std::fs::create_dir_all(&state).expect("mkdir");
    let name = workspace_key(&closed.identifier);
    std::os::unix::fs::symlink(&outside, root.join(&name)).expect("symlink");
    std::fs::write(state.join(format!("{name}.item")), key.as_str()).expect("marker");
    std::fs::write(state.join(format!("{name}.ready")), &closed.identifier).expect("marker");
    // And a marker naming an item whose identifier would climb out of the root.
    let climbing = issue(11, "closed");
    let climbing = IssueSnapshot {
        identifier: "../../precious".into(),
        ..climbing
    };
    let climbing_key = WorkItemKey::new(SourceKind::Github, &climbing.identifier);
    std::fs::write(state.join("x.item"), climbing_key.as_str()).expect("marker");
    setup.put(&item(climbing, WorkItemStatus::Cancelled)).await;
    setup.put(&item(closed, WorkItemStatus::Cancelled)).await;

    let report = setup.sweep().await;
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(report.failed, 1, "the symlink is refused: {report:?}");
    assert_eq!(
        std::fs::read_to_string(outside.join("keep.txt"))
            .ok()
            .as_deref(),
        Some("keep")
    );
    assert!(
        root.join(&name).exists(),
        "the symlink itself is left alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_requested_while_before_remove_runs_keeps_the_workspace() {
    // The hook says it started, then takes its time.
    let setup = setup("touch ../../removed/started; sleep 2");
    let closed = issue(12, "closed");
    let path = setup.workspace(&closed).await;
    let key = WorkItemKey::new(SourceKind::Github, &closed.identifier);
    let item = item(closed, WorkItemStatus::Cancelled);
    setup.put(&item).await;

    let removal = async {
        sweep::remove_if_ended(
            &setup.store,
            &setup.manager,
            (&setup.rules, &|_| true),
            &SystemClock,
            &key,
        )
        .await
        .expect("removal")
    };
    let reopen = async {
        let started = setup.dir.path().join("removed/started");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !started.exists() {
            assert!(std::time::Instant::now() < deadline, "the hook never ran");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // The issue is reopened and a run requested, as the ingress writes it.
        let mut reopened = item.clone();
        reopened.issue.state = "open".into();
        reopened.status = WorkItemStatus::Queued;
        reopened.pending_job = Some(JobId::generate());
        reopened.version += 1;
        setup
            .store
            .put_work_item(&reopened, Some(item.version))
            .await
            .expect("reopen");
    };
    let (removal, ()) = tokio::join!(removal, reopen);
    assert!(matches!(removal, Removal::Kept(_)), "{removal:?}");
    assert!(
        path.join("note.txt").exists(),
        "the workspace is still there"
    );
}

#[tokio::test]
async fn a_sweep_leaves_the_items_of_another_workflow_sharing_the_root_alone() {
    let setup = setup(COPY_NOTE_OUT);
    let closed = issue(11, "closed");
    let path = setup.workspace(&closed).await;
    let key = WorkItemKey::new(SourceKind::Github, &closed.identifier);
    let mut other = item(closed, WorkItemStatus::Cancelled);
    other.workflow = Some("other.md".into());
    setup.put(&other).await;

    // The workflow being swept is not the item's: its rules do not judge it.
    let not_ours = |item: &WorkItem| item.workflow.as_deref() == Some("this.md");
    let report = sweep::sweep(
        &setup.store,
        &setup.manager,
        (&setup.rules, &not_ours),
        &SystemClock,
    )
    .await;
    assert!(report.removed.is_empty(), "{report:?}");
    assert!(path.exists(), "another workflow's workspace is kept");

    let ours = |item: &WorkItem| item.workflow.as_deref() == Some("other.md");
    let report = sweep::sweep(
        &setup.store,
        &setup.manager,
        (&setup.rules, &ours),
        &SystemClock,
    )
    .await;
    assert_eq!(
        report.removed,
        vec![key],
        "its own workflow's sweep removes it"
    );
    assert!(!path.exists());
}
