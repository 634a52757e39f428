//! The `workspace`, `hooks` and `repo` keys of a workflow file.

use baton_core::workflow::Workflow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default hook time limit (`hooks.timeout_ms`).
pub const DEFAULT_HOOK_TIMEOUT_MS: u64 = 60_000;
/// The default base branch (`repo.base_branch`).
pub const DEFAULT_BASE_BRANCH: &str = "main";
/// The default work-branch prefix (`repo.branch.work_prefix`).
pub const DEFAULT_WORK_PREFIX: &str = "baton/";
/// The root's directory name under the system temporary directory when none is configured.
pub const DEFAULT_ROOT_DIR_NAME: &str = "baton_workspaces";

/// A problem in the `workspace`, `hooks` or `repo` keys; the workflow is unusable as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workflow_parse_error: `{key}`: {message}")]
pub struct WorkspaceConfigError {
    pub key: &'static str,
    pub message: String,
}

impl WorkspaceConfigError {
    pub fn code(&self) -> &'static str {
        "workflow_parse_error"
    }
}

/// Everything the workspace manager needs from the workflow, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceConfig {
    /// Where workspaces live; absolute.
    pub root: PathBuf,
    pub hooks: HooksConfig,
    pub repo: RepoConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HooksConfig {
    pub after_create: Option<String>,
    pub before_run: Option<String>,
    pub after_run: Option<String>,
    pub before_remove: Option<String>,
    pub timeout: Duration,
}

impl Default for HooksConfig {
    fn default() -> Self {
        Self {
            after_create: None,
            before_run: None,
            after_run: None,
            before_remove: None,
            timeout: Duration::from_millis(DEFAULT_HOOK_TIMEOUT_MS),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoConfig {
    /// What a new workspace is cloned from; `None` leaves new workspaces empty.
    pub source: Option<RepoSource>,
    pub base_branch: String,
    pub work_prefix: String,
}

impl Default for RepoConfig {
    fn default() -> Self {
        Self {
            source: None,
            base_branch: DEFAULT_BASE_BRANCH.into(),
            work_prefix: DEFAULT_WORK_PREFIX.into(),
        }
    }
}

impl RepoConfig {
    /// The branch an issue's work goes on: `<work_prefix><identifier, sanitized>`.
    pub fn work_branch(&self, identifier: &str) -> String {
        format!(
            "{}{}",
            self.work_prefix,
            super::branch_component(identifier)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    /// `repo.remote.url`. Never carries credentials (refused when it does); git gets them
    /// from its credential helper or SSH agent.
    Remote(String),
    /// `repo.path`: a local repository, absolute.
    Path(PathBuf),
}

impl RepoSource {
    /// What `git clone` is given.
    pub fn clone_source(&self) -> String {
        match self {
            Self::Remote(url) => url.clone(),
            Self::Path(path) => path.display().to_string(),
        }
    }

    /// A form safe for logs and prompts.
    pub fn display(&self) -> String {
        match self {
            Self::Remote(url) => redact_url(url),
            Self::Path(path) => path.display().to_string(),
        }
    }
}

/// A script that is empty or only whitespace counts as absent.
fn script(value: &Option<String>) -> Option<String> {
    value.clone().filter(|s| !s.trim().is_empty())
}

impl WorkspaceConfig {
    /// Reads the workflow's keys, expanding `~` and `$VAR` from the process environment.
    pub fn from_workflow(workflow: &Workflow) -> Result<Self, WorkspaceConfigError> {
        Self::from_workflow_with(workflow, |name| std::env::var(name).ok())
    }

    /// As [`Self::from_workflow`], with variables looked up through `lookup`.
    pub fn from_workflow_with(
        workflow: &Workflow,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, WorkspaceConfigError> {
        let base = workflow_dir(workflow);
        // Typed and checked when the file was parsed; here paths meet the environment.
        let config = &workflow.config;
        let (raw_hooks, raw_repo) = (&config.hooks, &config.repo);

        let root = match config
            .workspace
            .root
            .clone()
            .filter(|r| !r.trim().is_empty())
        {
            None => std::env::temp_dir().join(DEFAULT_ROOT_DIR_NAME),
            Some(root) => {
                resolve_path(&root, &base, &lookup).map_err(|message| WorkspaceConfigError {
                    key: "workspace.root",
                    message,
                })?
            }
        };

        let timeout_ms = match raw_hooks.timeout_ms {
            Some(ms) if ms > 0 => ms as u64,
            _ => DEFAULT_HOOK_TIMEOUT_MS,
        };
        let hooks = HooksConfig {
            after_create: script(&raw_hooks.after_create),
            before_run: script(&raw_hooks.before_run),
            after_run: script(&raw_hooks.after_run),
            before_remove: script(&raw_hooks.before_remove),
            timeout: Duration::from_millis(timeout_ms),
        };

        let source = match (
            raw_repo.remote.url.clone().filter(|u| !u.trim().is_empty()),
            raw_repo.path.clone().filter(|p| !p.trim().is_empty()),
        ) {
            (Some(url), _) => {
                let url = url.trim().to_owned();
                if url_has_credentials(&url) {
                    return Err(WorkspaceConfigError {
                        key: "repo.remote.url",
                        message: format!(
                            "`{}` carries credentials; give git its credentials through a \
                             credential helper or an SSH key, never in the URL",
                            redact_url(&url)
                        ),
                    });
                }
                Some(RepoSource::Remote(url))
            }
            (None, Some(path)) => Some(RepoSource::Path(
                resolve_path(&path, &base, &lookup).map_err(|message| WorkspaceConfigError {
                    key: "repo.path",
                    message,
                })?,
            )),
            (None, None) => None,
        };
        let base_branch = raw_repo
            .base_branch
            .as_deref()
            .map(|b| b.trim().to_owned())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_BRANCH.into());
        let work_prefix = raw_repo
            .branch
            .work_prefix
            .as_deref()
            .map(|p| p.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_WORK_PREFIX.into());
        for (key, value) in [
            ("repo.base_branch", &base_branch),
            ("repo.branch.work_prefix", &work_prefix),
        ] {
            if value.starts_with('-') || value.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(WorkspaceConfigError {
                    key,
                    message: format!("`{value}` is not a usable branch name"),
                });
            }
        }

        Ok(Self {
            root,
            hooks,
            repo: RepoConfig {
                source,
                base_branch,
                work_prefix,
            },
        })
    }
}

/// The directory relative paths are resolved against: the workflow file's directory, else
/// the current directory.
fn workflow_dir(workflow: &Workflow) -> PathBuf {
    let cwd = || std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    match workflow.path.as_deref().and_then(Path::parent) {
        Some(dir) if dir.as_os_str().is_empty() => cwd(),
        Some(dir) if dir.is_absolute() => dir.to_owned(),
        Some(dir) => cwd().join(dir),
        None => cwd(),
    }
}

/// Expands `~`, `$NAME` and `${NAME}`, then makes the path absolute against `base`.
pub fn resolve_path(
    value: &str,
    base: &Path,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<PathBuf, String> {
    let expanded = expand(value.trim(), lookup)?;
    let path = PathBuf::from(expanded);
    Ok(if path.is_absolute() {
        path
    } else {
        base.join(path)
    })
}

fn expand(value: &str, lookup: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let variable = |name: &str| {
        lookup(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("environment variable `{name}` is not set"))
    };
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    if rest == "~" || rest.starts_with("~/") {
        out.push_str(&variable("HOME")?);
        rest = &rest[1..];
    }
    while let Some(index) = rest.find('$') {
        out.push_str(&rest[..index]);
        let after = &rest[index + 1..];
        if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed `${{` in `{value}`"))?;
            out.push_str(&variable(&braced[..end])?);
            rest = &braced[end + 1..];
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if end == 0 {
                out.push('$');
            } else {
                out.push_str(&variable(&after[..end])?);
            }
            rest = &after[end..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The `user:password@` (or `token@`) part of a URL's authority, if any.
fn userinfo(url: &str) -> Option<(usize, usize)> {
    let scheme_end = url.find("://")? + 3;
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let at = url[scheme_end..authority_end].rfind('@')? + scheme_end;
    Some((scheme_end, at))
}

/// Whether a URL carries a secret: a password, or any user name over HTTP(S) (where tokens
/// are passed as the user name). `ssh://git@host/...` and `git@host:...` are fine.
pub fn url_has_credentials(url: &str) -> bool {
    let Some((start, at)) = userinfo(url) else {
        return false;
    };
    let scheme = url[..start - 3].to_ascii_lowercase();
    url[start..at].contains(':') || scheme == "http" || scheme == "https"
}

/// The URL with any user information replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match userinfo(url) {
        Some((start, at)) => format!("{}***{}", &url[..start], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_home_and_variables() {
        let lookup = |name: &str| match name {
            "HOME" => Some("/home/u".to_owned()),
            "X" => Some("x".to_owned()),
            _ => None,
        };
        let base = Path::new("/wf");
        assert_eq!(
            resolve_path("~/ws", base, &lookup).unwrap(),
            Path::new("/home/u/ws")
        );
        assert_eq!(
            resolve_path("$X/a/${X}", base, &lookup).unwrap(),
            Path::new("/wf/x/a/x")
        );
        assert_eq!(
            resolve_path("rel", base, &lookup).unwrap(),
            Path::new("/wf/rel")
        );
        assert_eq!(
            resolve_path("/a$", base, &lookup).unwrap(),
            Path::new("/a$")
        );
        assert!(resolve_path("$NOPE/a", base, &lookup).is_err());
    }

    #[test]
    fn credentials_in_urls() {
        assert!(url_has_credentials("https://x:tok@github.com/a/b.git"));
        assert!(url_has_credentials("https://tok@github.com/a/b.git"));
        assert!(!url_has_credentials("https://github.com/a/b.git"));
        assert!(!url_has_credentials("ssh://git@github.com/a/b.git"));
        assert!(!url_has_credentials("git@github.com:a/b.git"));
        assert!(!url_has_credentials("https://github.com/a/b@c"));
        assert_eq!(
            redact_url("https://x:tok@github.com/a"),
            "https://***@github.com/a"
        );
    }
}
