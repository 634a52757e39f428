//! Where a deployment's workflows come from — one file, a directory of `*.md` files, or the
//! built-in development workflow — and re-reading them: a changed file is picked up, an
//! invalid one keeps its last good version and says why.

use super::{NamedWorkflow, Workflow, WorkflowError, WorkflowScope, WorkflowSet};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Resolves an environment variable by name: where webhook secrets come from.
pub type SecretLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment.
pub fn env_lookup() -> SecretLookup {
    Arc::new(|name| std::env::var(name).ok())
}

/// What one workflow file is doing, for `GET /api/v1/workflows` and the logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowStatus {
    /// The file's name, or `development` for the built-in workflow.
    pub name: String,
    pub path: Option<PathBuf>,
    /// Whether a version of it is being served.
    pub active: bool,
    /// What the served version serves: `github repository acme/app`, `every linear team`.
    pub serves: Option<String>,
    /// The served version's content hash (SHA-256, first 12 hex digits).
    pub version: Option<String>,
    /// When the served version was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the file's current content is not served, with its error class first
    /// (`workflow_parse_error: ...`); `None` when the served version is the file's content.
    pub last_error: Option<String>,
    /// The error class alone (`workflow_parse_error`, `workflow_conflict`, ...).
    pub error_code: Option<String>,
}

#[derive(Debug, Clone)]
enum Layout {
    BuiltIn,
    File(PathBuf),
    Directory(PathBuf),
}

#[derive(Debug, Clone)]
struct Version {
    workflow: Arc<Workflow>,
    hash: String,
    loaded_at: DateTime<Utc>,
}

/// One file as last seen.
#[derive(Debug, Clone)]
struct Tracked {
    name: String,
    path: Option<PathBuf>,
    /// The hash of the text last read, valid or not: unchanged text is not parsed again.
    seen: Option<String>,
    /// The version in the served set.
    good: Option<Version>,
    /// Parsed and valid, but not admitted to the set (it conflicts with another workflow);
    /// tried again on every refresh, so fixing the other file admits it.
    pending: Option<Version>,
    error: Option<WorkflowError>,
}

impl Tracked {
    fn new(name: String, path: Option<PathBuf>) -> Self {
        Self {
            name,
            path,
            seen: None,
            good: None,
            pending: None,
            error: None,
        }
    }

    /// Records `error`, logging it once rather than on every refresh.
    fn fail(&mut self, error: WorkflowError) {
        if self.error.as_ref() != Some(&error) {
            tracing::warn!(
                workflow = %self.describe(),
                error_class = error.code(),
                %error,
                kept_version = self.good.as_ref().map(|good| good.hash.as_str()),
                "workflow not (re)loaded; the last good version stays"
            );
        }
        self.error = Some(error);
    }

    fn describe(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| self.name.clone(), |path| path.display().to_string())
    }

    fn status(&self) -> WorkflowStatus {
        let good = self.good.as_ref();
        WorkflowStatus {
            name: self.name.clone(),
            path: self.path.clone(),
            active: good.is_some(),
            serves: good.map(|good| WorkflowScope::of(&good.workflow.config.tracker).to_string()),
            version: good.map(|good| good.hash.clone()),
            loaded_at: good.map(|good| good.loaded_at),
            last_error: self.error.as_ref().map(ToString::to_string),
            error_code: self.error.as_ref().map(|error| error.code().to_owned()),
        }
    }
}

/// The workflows of a deployment and the files they come from.
pub struct WorkflowSource {
    layout: Layout,
    /// By file name, so a directory's workflows keep a stable order.
    files: BTreeMap<String, Tracked>,
    lookup: SecretLookup,
    set: Arc<WorkflowSet>,
}

impl std::fmt::Debug for WorkflowSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowSource")
            .field("layout", &self.layout)
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl WorkflowSource {
    /// Loads `path`: a workflow file, or a directory whose `*.md` files are each a workflow.
    /// Every file must be valid and the workflows must not conflict: there is no last good
    /// version to fall back on yet.
    pub fn open(path: &Path, lookup: SecretLookup) -> Result<Self, WorkflowError> {
        let layout = if path.is_dir() {
            Layout::Directory(path.to_owned())
        } else {
            Layout::File(path.to_owned())
        };
        let mut source = Self {
            layout,
            files: BTreeMap::new(),
            lookup,
            set: Arc::default(),
        };
        let listed = source.list()?;
        if listed.is_empty() {
            return Err(WorkflowError::MissingWorkflowFile {
                path: path.to_owned(),
                reason: "the directory holds no *.md workflow file".into(),
            });
        }
        let now = Utc::now();
        for (name, path) in listed {
            let (text, hash) = read(&path).map_err(|error| in_file(&path, error))?;
            let workflow = parse(&path, &text).map_err(|error| in_file(&path, error))?;
            let mut tracked = Tracked::new(name.clone(), Some(path));
            tracked.seen = Some(hash.clone());
            tracked.good = Some(Version {
                workflow: Arc::new(workflow),
                hash,
                loaded_at: now,
            });
            source.files.insert(name, tracked);
        }
        source.set = Arc::new(source.build(&source.files)?);
        Ok(source)
    }

    /// `explicit` when given, else `./WORKFLOW.md` when it exists, else the built-in
    /// development workflow.
    pub fn discover(explicit: Option<&Path>, lookup: SecretLookup) -> Result<Self, WorkflowError> {
        match explicit {
            Some(path) => Self::open(path, lookup),
            None if Path::new("WORKFLOW.md").is_file() => {
                Self::open(Path::new("WORKFLOW.md"), lookup)
            }
            None => Ok(Self::built_in(lookup)),
        }
    }

    /// The built-in development workflow alone; it never changes.
    pub fn built_in(lookup: SecretLookup) -> Self {
        let mut tracked = Tracked::new("development".into(), None);
        tracked.good = Some(Version {
            workflow: Arc::new(Workflow::development()),
            hash: hash(super::DEV_WORKFLOW),
            loaded_at: Utc::now(),
        });
        let files = BTreeMap::from([(tracked.name.clone(), tracked)]);
        let mut source = Self {
            layout: Layout::BuiltIn,
            files,
            lookup,
            set: Arc::default(),
        };
        // One workflow cannot conflict with another.
        source.set = Arc::new(source.build(&source.files).unwrap_or_default());
        source
    }

    /// What was opened: the file or directory, or `built-in development workflow`.
    pub fn describe(&self) -> String {
        match &self.layout {
            Layout::BuiltIn => "built-in development workflow".into(),
            Layout::File(path) | Layout::Directory(path) => path.display().to_string(),
        }
    }

    /// The set being served.
    pub fn set(&self) -> Arc<WorkflowSet> {
        Arc::clone(&self.set)
    }

    /// Every file's status, by name.
    pub fn statuses(&self) -> Vec<WorkflowStatus> {
        self.files.values().map(Tracked::status).collect()
    }

    /// Re-reads the files and rebuilds the set from what is valid. Returns whether the set
    /// changed. File reads are blocking: call it off the async workers.
    pub fn refresh(&mut self) -> bool {
        if matches!(self.layout, Layout::BuiltIn) {
            return false;
        }
        let now = Utc::now();
        let listed = self.list().unwrap_or_else(|error| {
            tracing::warn!(workflows = %self.describe(), %error, "cannot list the workflow files");
            Vec::new()
        });
        let mut changed = self.remove_deleted(&listed);
        for (name, path) in listed {
            let tracked = self
                .files
                .entry(name.clone())
                .or_insert_with(|| Tracked::new(name, Some(path.clone())));
            // Files are small: hashing them every time is cheap and, unlike a modification
            // time, cannot miss a rewrite within the clock's resolution.
            let (text, hash) = match read(&path) {
                Ok(read) => read,
                Err(error) => {
                    tracked.seen = None;
                    tracked.pending = None;
                    tracked.fail(error);
                    continue;
                }
            };
            if tracked.seen.as_ref() == Some(&hash) {
                continue;
            }
            tracked.seen = Some(hash.clone());
            tracked.pending = None;
            if tracked.good.as_ref().is_some_and(|good| good.hash == hash) {
                // Back to the served version (an invalid edit undone): nothing to reload.
                tracked.error = None;
                continue;
            }
            match parse(&path, &text) {
                Ok(workflow) => {
                    tracked.pending = Some(Version {
                        workflow: Arc::new(workflow),
                        hash,
                        loaded_at: now,
                    })
                }
                Err(error) => tracked.fail(error),
            }
        }
        changed |= self.admit_pending();
        if changed {
            match self.build(&self.files) {
                Ok(set) => self.set = Arc::new(set),
                // Unreachable in practice: admission only keeps sets that build.
                Err(error) => tracing::error!(%error, "workflow set not rebuilt"),
            }
        }
        changed
    }

    /// Drops the files that are gone, unless that would leave no workflow: then they all
    /// stay, with an error.
    fn remove_deleted(&mut self, listed: &[(String, PathBuf)]) -> bool {
        let gone: Vec<String> = self
            .files
            .keys()
            .filter(|name| !listed.iter().any(|(listed, _)| listed == *name))
            .cloned()
            .collect();
        if gone.is_empty() {
            return false;
        }
        let remaining = self
            .files
            .iter()
            .filter(|(name, tracked)| tracked.good.is_some() && !gone.contains(name))
            .count();
        if remaining == 0 {
            for name in &gone {
                if self
                    .files
                    .get(name)
                    .is_some_and(|tracked| tracked.good.is_none())
                {
                    self.files.remove(name);
                } else if let Some(tracked) = self.files.get_mut(name) {
                    tracked.seen = None;
                    tracked.pending = None;
                    tracked.fail(WorkflowError::MissingWorkflowFile {
                        path: tracked.path.clone().unwrap_or_default(),
                        reason: "the file is gone; its last good version stays because no \
                                 other workflow remains"
                            .into(),
                    });
                }
            }
            return false;
        }
        let mut changed = false;
        for name in gone {
            if let Some(tracked) = self.files.remove(&name) {
                tracing::info!(workflow = %tracked.describe(), "workflow file removed");
                changed |= tracked.good.is_some();
            }
        }
        changed
    }

    /// Moves valid new versions into the set: all at once when they fit together, else one
    /// by one, each kept only if the set still builds. A version that conflicts stays
    /// pending with the conflict as its error.
    fn admit_pending(&mut self) -> bool {
        let pending: Vec<String> = self
            .files
            .iter()
            .filter(|(_, tracked)| tracked.pending.is_some())
            .map(|(name, _)| name.clone())
            .collect();
        if pending.is_empty() {
            return false;
        }
        let promoted = |files: &BTreeMap<String, Tracked>, names: &[String]| {
            let mut files = files.clone();
            for name in names {
                if let Some(tracked) = files.get_mut(name) {
                    tracked.good = tracked.pending.take();
                    tracked.error = None;
                }
            }
            files
        };
        let all = promoted(&self.files, &pending);
        if self.build(&all).is_ok() {
            for name in &pending {
                log_loaded(&all[name]);
            }
            self.files = all;
            return true;
        }
        let mut changed = false;
        for name in &pending {
            let candidate = promoted(&self.files, std::slice::from_ref(name));
            match self.build(&candidate) {
                Ok(_) => {
                    log_loaded(&candidate[name]);
                    self.files = candidate;
                    changed = true;
                }
                Err(error) => {
                    if let Some(tracked) = self.files.get_mut(name) {
                        tracked.fail(error);
                    }
                }
            }
        }
        changed
    }

    /// The set of every good version in `files`.
    fn build(&self, files: &BTreeMap<String, Tracked>) -> Result<WorkflowSet, WorkflowError> {
        let lookup = self.lookup.as_ref();
        let workflows = files
            .values()
            .filter_map(|tracked| {
                let good = tracked.good.as_ref()?;
                Some(NamedWorkflow {
                    name: tracked.name.clone(),
                    workflow: Arc::clone(&good.workflow),
                    version: Some(good.hash.clone()),
                    secrets: good.workflow.webhook_secrets(lookup),
                })
            })
            .collect();
        WorkflowSet::new(workflows)
    }

    /// The workflow files by name: the one file, or the directory's `*.md` files (hidden
    /// ones, such as editors' temporary copies, excluded).
    fn list(&self) -> Result<Vec<(String, PathBuf)>, WorkflowError> {
        match &self.layout {
            Layout::BuiltIn => Ok(Vec::new()),
            Layout::File(path) => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |name| name.to_string_lossy().into_owned(),
                );
                Ok(vec![(name, path.clone())])
            }
            Layout::Directory(dir) => {
                let missing = |error: std::io::Error| WorkflowError::MissingWorkflowFile {
                    path: dir.clone(),
                    reason: error.to_string(),
                };
                let mut files = Vec::new();
                for entry in std::fs::read_dir(dir).map_err(missing)? {
                    let path = entry.map_err(missing)?.path();
                    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                        continue;
                    };
                    if name.ends_with(".md") && !name.starts_with('.') && path.is_file() {
                        files.push((name.to_owned(), path.clone()));
                    }
                }
                files.sort();
                Ok(files)
            }
        }
    }
}

fn log_loaded(tracked: &Tracked) {
    if let Some(good) = &tracked.good {
        tracing::info!(workflow = %tracked.describe(), version = %good.hash, "workflow reloaded");
    }
}

fn read(path: &Path) -> Result<(String, String), WorkflowError> {
    let text = std::fs::read_to_string(path).map_err(|e| WorkflowError::MissingWorkflowFile {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let hash = hash(&text);
    Ok((text, hash))
}

fn parse(path: &Path, text: &str) -> Result<Workflow, WorkflowError> {
    let mut workflow = Workflow::parse(text)?;
    workflow.path = Some(path.to_owned());
    Ok(workflow)
}

fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..6])
}

fn in_file(path: &Path, error: WorkflowError) -> WorkflowError {
    error.in_file(path)
}

#[cfg(test)]
mod tests;
