//! Per-issue workspaces: a directory under the configured root, holding a clone of the
//! repository on the issue's work branch, prepared and cleaned up by the workflow's hooks.
//!
//! - [`workspace_key`] names an issue's directory; [`WorkspaceManager::path_for_key`] refuses
//!   any key that would leave the root, and every prepared path is canonicalized and checked
//!   to be a directory of its own under the root (a symlink planted there is refused).
//! - [`WorkspaceManager::prepare`] creates the workspace on first use (clone, work branch,
//!   `after_create`), reuses it on later attempts (work branch checked out again), then runs
//!   `before_run`. [`WorkspaceManager::finish`] runs `after_run`;
//!   [`WorkspaceManager::remove`] runs `before_remove` and deletes the directory.
//! - [`sweep`]: once an item has ended for good (issue closed, pull request merged), its
//!   workspace is removed, found through the owner marker written when a run prepared it.
//! - Hooks run as `sh -lc <script>` in the workspace with only `PATH`, `HOME`, `LANG` and
//!   `BATON_ISSUE_IDENTIFIER`, `BATON_WORKSPACE`, `BATON_ATTEMPT` in their environment, and
//!   are killed with their whole process group after `hooks.timeout_ms`.

mod config;
pub(crate) mod git;
mod hooks;
mod key;
mod process;
pub mod sweep;

pub use config::{
    redact_url, resolve_path, url_has_credentials, HooksConfig, RepoConfig, RepoSource,
    WorkspaceConfig, WorkspaceConfigError, DEFAULT_BASE_BRANCH, DEFAULT_HOOK_TIMEOUT_MS,
    DEFAULT_ROOT_DIR_NAME, DEFAULT_WORK_PREFIX,
};
pub use hooks::{run_hook, HookContext, HookKind, HookRun, INHERITED_ENV};
pub use key::{branch_component, identifier_hash, workspace_key};
pub use process::OUTPUT_TAIL_BYTES;

use baton_core::domain::IssueSnapshot;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The time limit of one git command (a clone of a large repository included).
pub const DEFAULT_GIT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// The directory under the root where baton notes which workspaces were fully created.
/// Workspace keys never start with `.`, so it cannot collide with one.
const STATE_DIR: &str = ".baton";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    #[error("workspace_create_failed: {path}: {reason}")]
    CreateFailed { path: PathBuf, reason: String },
    #[error(
        "workspace_outside_root: {path} is not a directory of its own under the workspace \
         root {root}"
    )]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("git_failed: `git {command}`{}: {output}", exit_suffix(*.exit))]
    GitFailed {
        command: String,
        exit: Option<i32>,
        /// The tail of git's output, with the repository URL redacted.
        output: String,
    },
    #[error("hook_failed: `{hook}`{}; output tail:\n{output}", exit_suffix(*.exit))]
    HookFailed {
        hook: HookKind,
        exit: Option<i32>,
        output: String,
    },
    #[error("hook_timed_out: `{hook}` ran longer than {timeout_ms} ms and was killed; output tail:\n{output}")]
    HookTimedOut {
        hook: HookKind,
        timeout_ms: u64,
        output: String,
    },
    #[error("workspace_remove_failed: {path}: {reason}")]
    RemoveFailed { path: PathBuf, reason: String },
}

fn exit_suffix(exit: Option<i32>) -> String {
    match exit {
        Some(code) => format!(" exited with status {code}"),
        None => " was killed or did not start".to_owned(),
    }
}

impl WorkspaceError {
    /// The error class, for run records and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CreateFailed { .. } => "workspace_create_failed",
            Self::OutsideRoot { .. } => "workspace_outside_root",
            Self::GitFailed { .. } => "git_failed",
            Self::HookFailed { .. } => "hook_failed",
            Self::HookTimedOut { .. } => "hook_timed_out",
            Self::RemoveFailed { .. } => "workspace_remove_failed",
        }
    }

    fn create(path: &Path, reason: impl std::fmt::Display) -> Self {
        Self::CreateFailed {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }

    fn from_hook(run: &HookRun, timeout: Duration) -> Self {
        if run.timed_out {
            Self::HookTimedOut {
                hook: run.hook,
                timeout_ms: timeout.as_millis() as u64,
                output: run.output.clone(),
            }
        } else {
            Self::HookFailed {
                hook: run.hook,
                exit: run.exit_code,
                output: run.output.clone(),
            }
        }
    }
}

/// A prepared workspace: where the agent runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub identifier: String,
    pub key: String,
    /// Canonical, under the root.
    pub path: PathBuf,
    pub attempt: Option<u32>,
    /// Whether this `prepare` created it (and ran `after_create`).
    pub created_now: bool,
    /// The checked-out work branch; `None` when no repository is configured.
    pub work_branch: Option<String>,
    /// The hooks run while preparing it, in order.
    pub hooks: Vec<HookRun>,
}

pub struct WorkspaceManager {
    config: WorkspaceConfig,
    git_timeout: Duration,
    /// Text replaced in git's output before it is recorded: the clone URL by its redacted form.
    redactions: Vec<(String, String)>,
}

impl WorkspaceManager {
    pub fn new(config: WorkspaceConfig) -> Self {
        let redactions = match &config.repo.source {
            Some(source @ RepoSource::Remote(url)) => vec![(url.clone(), source.display())],
            _ => Vec::new(),
        };
        Self {
            config,
            git_timeout: DEFAULT_GIT_TIMEOUT,
            redactions,
        }
    }

    pub fn with_git_timeout(mut self, timeout: Duration) -> Self {
        self.git_timeout = timeout;
        self
    }

    pub fn config(&self) -> &WorkspaceConfig {
        &self.config
    }

    /// Creates the root when missing and returns its canonical path.
    async fn root(&self) -> Result<PathBuf, WorkspaceError> {
        let root = &self.config.root;
        tokio::fs::create_dir_all(root)
            .await
            .map_err(|e| WorkspaceError::create(root, format!("cannot create the root: {e}")))?;
        tokio::fs::canonicalize(root)
            .await
            .map_err(|e| WorkspaceError::create(root, format!("cannot resolve the root: {e}")))
    }

    /// The path of workspace `key` under `root`, refusing a key that is empty, `.`, `..`,
    /// hidden or holds a path separator.
    pub fn path_for_key(root: &Path, key: &str) -> Result<PathBuf, WorkspaceError> {
        let valid = !key.is_empty()
            && !key.starts_with('.')
            && !key.contains(['/', '\\', '\0'])
            && Path::new(key).components().count() == 1;
        if valid {
            Ok(root.join(key))
        } else {
            Err(WorkspaceError::OutsideRoot {
                path: root.join(key),
                root: root.to_owned(),
            })
        }
    }

    /// Checks an existing entry at `path`: it must be a real directory whose canonical path
    /// is `path` itself, directly under the canonical `root`. `Ok(false)` when nothing is there.
    async fn check_existing(root: &Path, path: &Path) -> Result<bool, WorkspaceError> {
        let metadata = match tokio::fs::symlink_metadata(path).await {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(WorkspaceError::create(path, e)),
        };
        let outside = || WorkspaceError::OutsideRoot {
            path: path.to_owned(),
            root: root.to_owned(),
        };
        if metadata.file_type().is_symlink() {
            return Err(outside());
        }
        let canonical = tokio::fs::canonicalize(path)
            .await
            .map_err(|e| WorkspaceError::create(path, e))?;
        if canonical.parent() != Some(root) || canonical != path {
            return Err(outside());
        }
        if !metadata.is_dir() {
            return Err(WorkspaceError::create(
                path,
                "exists and is not a directory",
            ));
        }
        Ok(true)
    }

    fn marker(root: &Path, key: &str) -> PathBuf {
        root.join(STATE_DIR).join(format!("{key}.ready"))
    }

    /// Prepares the workspace of `issue` for an attempt (`None` on the first run): creates
    /// it when missing (clone, work branch, `after_create`), else checks out its work branch
    /// again, then runs `before_run`. A failing `after_create` removes the new directory so
    /// the next attempt starts over; a failing `before_run` keeps it.
    pub async fn prepare(
        &self,
        issue: &IssueSnapshot,
        attempt: Option<u32>,
    ) -> Result<Workspace, WorkspaceError> {
        let identifier = issue.identifier.as_str();
        let root = self.root().await?;
        let key = workspace_key(identifier);
        let path = Self::path_for_key(&root, &key)?;
        let marker = Self::marker(&root, &key);

        let mut exists = Self::check_existing(&root, &path).await?;
        if exists && !tokio::fs::try_exists(&marker).await.unwrap_or(false) {
            // A creation that never finished (crash, failed clone): start over.
            tracing::warn!(workspace = %path.display(), "removing an incompletely created workspace");
            tokio::fs::remove_dir_all(&path).await.map_err(|e| {
                WorkspaceError::create(&path, format!("cannot clear a partial workspace: {e}"))
            })?;
            exists = false;
        }

        let hook_ctx = HookContext {
            identifier,
            workspace: &path,
            attempt,
        };
        let mut hook_runs = Vec::new();
        let work_branch = self
            .config
            .repo
            .source
            .as_ref()
            .map(|_| self.config.repo.work_branch(identifier));

        let created_now = !exists;
        if created_now {
            match self
                .create(&root, &path, &hook_ctx, work_branch.as_deref())
                .await
            {
                Ok(run) => hook_runs.extend(run),
                Err(e) => {
                    if let Err(clean) = tokio::fs::remove_dir_all(&path).await {
                        if clean.kind() != io::ErrorKind::NotFound {
                            tracing::warn!(workspace = %path.display(), error = %clean, "cannot remove a failed workspace");
                        }
                    }
                    return Err(e);
                }
            }
            let state_dir = root.join(STATE_DIR);
            let recorded = match tokio::fs::create_dir_all(&state_dir).await {
                Ok(()) => tokio::fs::write(&marker, identifier.as_bytes()).await,
                Err(e) => Err(e),
            };
            recorded.map_err(|e| {
                WorkspaceError::create(&path, format!("cannot record the workspace: {e}"))
            })?;
            tracing::info!(workspace = %path.display(), identifier, "workspace created");
        } else if let Some(branch) = &work_branch {
            if !tokio::fs::try_exists(path.join(".git"))
                .await
                .unwrap_or(false)
            {
                return Err(WorkspaceError::create(
                    &path,
                    "exists but is not a git checkout (was the repository configured later?); \
                     remove it to clone afresh",
                ));
            }
            self.git()
                .checkout_work_branch(&path, branch, &self.config.repo.base_branch)
                .await?;
        }

        if let Some(script) = &self.config.hooks.before_run {
            let run = run_hook(
                HookKind::BeforeRun,
                script,
                &hook_ctx,
                self.config.hooks.timeout,
            )
            .await;
            if !run.success {
                return Err(WorkspaceError::from_hook(&run, self.config.hooks.timeout));
            }
            hook_runs.push(run);
        }

        Ok(Workspace {
            identifier: identifier.to_owned(),
            key,
            path,
            attempt,
            created_now,
            work_branch,
            hooks: hook_runs,
        })
    }

    /// Creates the directory, clones, checks out the work branch and runs `after_create`.
    async fn create(
        &self,
        root: &Path,
        path: &Path,
        hook_ctx: &HookContext<'_>,
        work_branch: Option<&str>,
    ) -> Result<Option<HookRun>, WorkspaceError> {
        tokio::fs::create_dir(path)
            .await
            .map_err(|e| WorkspaceError::create(path, e))?;
        // Re-check after creation: nothing may have been swapped in meanwhile.
        Self::check_existing(root, path).await?;

        if let (Some(source), Some(branch)) = (&self.config.repo.source, work_branch) {
            let git = self.git();
            let clone_source = source.clone_source();
            let target = path.display().to_string();
            git.run(
                root,
                &[
                    "clone",
                    "--quiet",
                    "--origin",
                    "origin",
                    "--",
                    &clone_source,
                    &target,
                ],
            )
            .await?;
            git.checkout_work_branch(path, branch, &self.config.repo.base_branch)
                .await?;
        }

        match &self.config.hooks.after_create {
            None => Ok(None),
            Some(script) => {
                let run = run_hook(
                    HookKind::AfterCreate,
                    script,
                    hook_ctx,
                    self.config.hooks.timeout,
                )
                .await;
                if run.success {
                    Ok(Some(run))
                } else {
                    Err(WorkspaceError::from_hook(&run, self.config.hooks.timeout))
                }
            }
        }
    }

    fn git(&self) -> git::Git<'_> {
        git::Git {
            timeout: self.git_timeout,
            redactions: &self.redactions,
        }
    }

    /// Commits the agent's changes on the work branch; `Ok(None)` when nothing changed or
    /// the workspace has no repository.
    pub async fn commit(
        &self,
        workspace: &Workspace,
        message: &str,
    ) -> Result<Option<String>, WorkspaceError> {
        if workspace.work_branch.is_none() {
            return Ok(None);
        }
        self.git().commit_all(&workspace.path, message).await
    }

    /// Runs `after_run` after an attempt. Its failure is logged and returned for the record,
    /// never an error.
    pub async fn finish(&self, workspace: &Workspace) -> Option<HookRun> {
        let script = self.config.hooks.after_run.as_ref()?;
        let ctx = HookContext {
            identifier: &workspace.identifier,
            workspace: &workspace.path,
            attempt: workspace.attempt,
        };
        Some(run_hook(HookKind::AfterRun, script, &ctx, self.config.hooks.timeout).await)
    }

    /// Removes the workspace of `identifier`: runs `before_remove` (its failure is logged and
    /// ignored) then deletes the directory. Nothing to remove is not an error.
    pub async fn remove(&self, identifier: &str) -> Result<Option<HookRun>, WorkspaceError> {
        let root = self.root().await?;
        let key = workspace_key(identifier);
        let path = Self::path_for_key(&root, &key)?;
        let marker = Self::marker(&root, &key);
        if !Self::check_existing(&root, &path).await? {
            let _ = tokio::fs::remove_file(&marker).await;
            return Ok(None);
        }
        let run = match &self.config.hooks.before_remove {
            None => None,
            Some(script) => {
                let ctx = HookContext {
                    identifier,
                    workspace: &path,
                    attempt: None,
                };
                Some(
                    run_hook(
                        HookKind::BeforeRemove,
                        script,
                        &ctx,
                        self.config.hooks.timeout,
                    )
                    .await,
                )
            }
        };
        // The hook ran inside the workspace: check again before deleting anything.
        Self::check_existing(&root, &path).await?;
        let _ = tokio::fs::remove_file(&marker).await;
        tokio::fs::remove_dir_all(&path)
            .await
            .map_err(|e| WorkspaceError::RemoveFailed {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        tracing::info!(workspace = %path.display(), identifier, "workspace removed");
        Ok(run)
    }
}
