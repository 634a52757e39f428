//! The git work a delivery needs (push, diff stat, head commit), through the `git` CLI.
//!
//! The credential travels as an `http.extraHeader` set through git's environment
//! (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`): never in the remote URL, where
//! git would store and print it, and never in argv, which any local user can read from `/proc`.
//! Whatever git prints is redacted before it reaches an error.

use super::RepoError;
use base64::Engine as _;
use std::fmt;
use std::path::Path;
use std::time::Duration;
use tokio::process::Command;

/// Network operations may move a large pack; local ones should never take long.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(600);
const LOCAL_TIMEOUT: Duration = Duration::from_secs(120);

/// An HTTP header git sends to the platform, e.g. `Authorization: Basic …`.
#[derive(Clone)]
pub struct GitCredential {
    header_name: &'static str,
    header_value: String,
    /// `scheme://host[:port]/`: the header goes only to this origin, not to every HTTP
    /// remote the same git process talks to (submodules, redirects to another host).
    scope: Option<String>,
    /// Every form of the secret that could show up in git's output.
    secrets: Vec<String>,
}

impl fmt::Debug for GitCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitCredential")
            .field("header", &format_args!("{}: <redacted>", self.header_name))
            .field("scope", &self.scope)
            .finish()
    }
}

impl GitCredential {
    /// HTTP Basic, the scheme every platform's git endpoint accepts: GitHub takes
    /// `x-access-token:<token>`, GitLab `oauth2:<token>`, CNB `cnb:<token>`.
    /// Base64 cannot carry a line break, so the header cannot be split into two.
    pub fn basic(username: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        Self {
            header_name: "Authorization",
            header_value: format!("Basic {encoded}"),
            scope: None,
            secrets: vec![encoded, password.to_owned()],
        }
    }

    /// Sends the header only to `url`'s origin. A URL that does not parse leaves the
    /// credential unscoped, as built.
    pub fn scoped_to(mut self, url: &str) -> Self {
        if let Ok(parsed) = url::Url::parse(url) {
            if matches!(parsed.scheme(), "http" | "https") {
                if let Some(host) = parsed.host_str() {
                    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
                    self.scope = Some(format!("{}://{host}{port}/", parsed.scheme()));
                }
            }
        }
        self
    }

    /// The origin the header is limited to, if any.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// `text` with every form of the secret replaced.
    pub fn redact(&self, text: &str) -> String {
        self.secrets
            .iter()
            .filter(|s| !s.is_empty())
            .fold(text.to_owned(), |acc, secret| {
                acc.replace(secret.as_str(), "<redacted>")
            })
    }

    fn config_key(&self) -> String {
        match &self.scope {
            Some(origin) => format!("http.{origin}.extraHeader"),
            None => "http.extraHeader".to_owned(),
        }
    }

    fn config_value(&self) -> String {
        format!("{}: {}", self.header_name, self.header_value)
    }
}

/// The environment that hands `credential` to git; add it to the clone's `Command`.
/// Empty without a credential. It replaces any `GIT_CONFIG_COUNT` the process inherited.
pub fn clone_env(credential: Option<&GitCredential>) -> Vec<(String, String)> {
    match credential {
        None => Vec::new(),
        Some(credential) => vec![
            ("GIT_CONFIG_COUNT".to_owned(), "1".to_owned()),
            ("GIT_CONFIG_KEY_0".to_owned(), credential.config_key()),
            ("GIT_CONFIG_VALUE_0".to_owned(), credential.config_value()),
        ],
    }
}

/// One git command, built before it runs so tests can check where the secret goes.
#[derive(Clone, PartialEq, Eq)]
pub struct GitInvocation {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl fmt::Debug for GitInvocation {
    // The environment may hold the credential; only its names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("GitInvocation")
            .field("args", &self.args)
            .field("env", &names)
            .finish()
    }
}

/// What a push did to the remote branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    Created,
    FastForwarded,
    /// Replaced by a forced (leased) update.
    Forced,
    /// The remote already had this commit: nothing sent.
    UpToDate,
}

/// A change summary, from `git diff --numstat` between the merge base and `head`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiffStat {
    pub files_changed: usize,
    pub insertions: u64,
    pub deletions: u64,
    /// Changed paths (the new path of a rename), in git's order.
    pub files: Vec<String>,
}

/// Builds the push of `HEAD` to `refs/heads/<branch>` on `remote_url`. With a lease, the
/// remote branch may only be replaced if it is still at `lease` (`None`: it must not exist).
pub fn push_invocation(
    remote_url: &str,
    branch: &str,
    credential: Option<&GitCredential>,
    lease: Option<Option<&str>>,
) -> GitInvocation {
    let target = format!("refs/heads/{branch}");
    let mut args = vec!["push".to_owned(), "--porcelain".to_owned()];
    if let Some(expected) = lease {
        args.push(format!(
            "--force-with-lease={target}:{}",
            expected.unwrap_or("")
        ));
    }
    // `--` keeps a remote that starts with `-` from being read as an option.
    args.push("--".to_owned());
    args.push(remote_url.to_owned());
    args.push(format!("HEAD:{target}"));
    GitInvocation {
        args,
        env: clone_env(credential),
    }
}

/// Pushes the work tree's `HEAD` to `branch` on `remote_url`. `force_with_lease` (rework
/// runs, which may rewrite the branch) replaces the remote branch only if it is still
/// where this work tree's `origin/<branch>` says, so a person's push in between is never lost.
pub async fn push(
    workdir: &Path,
    remote_url: &str,
    branch: &str,
    credential: Option<&GitCredential>,
    force_with_lease: bool,
) -> Result<PushOutcome, RepoError> {
    check_remote(remote_url)?;
    check_branch(branch)?;
    let tracked = if force_with_lease {
        let reference = format!("refs/remotes/origin/{branch}");
        Some(rev_parse(workdir, &reference).await?)
    } else {
        None
    };
    let lease = tracked.as_ref().map(|sha| sha.as_deref());
    let invocation = push_invocation(remote_url, branch, credential, lease);
    let output = run("push", workdir, &invocation, credential, NETWORK_TIMEOUT).await?;
    let outcome = parse_push(&output, branch).ok_or_else(|| RepoError::Git {
        operation: "push",
        message: redact(
            credential,
            &format!(
                "no status for `{branch}` in git's answer: {}",
                output.trim()
            ),
        ),
    })?;
    remember_pushed(workdir, remote_url, branch).await;
    Ok(outcome)
}

/// Records what was pushed in `origin/<branch>`, as `git push origin` would have: the next
/// leased push from this work tree then expects our own commit, not the one we replaced.
/// Only when `remote_url` is origin's; best effort, the push itself already succeeded.
async fn remember_pushed(workdir: &Path, remote_url: &str, branch: &str) {
    let local = |args: &[&str]| GitInvocation {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        env: Vec::new(),
    };
    let origin = run(
        "config",
        workdir,
        &local(&["config", "--get", "remote.origin.url"]),
        None,
        LOCAL_TIMEOUT,
    )
    .await;
    if origin.as_deref().map(str::trim) != Ok(remote_url) {
        return;
    }
    let tracking = format!("refs/remotes/origin/{branch}");
    let updated = run(
        "update-ref",
        workdir,
        &local(&["update-ref", &tracking, "HEAD"]),
        None,
        LOCAL_TIMEOUT,
    )
    .await;
    if let Err(error) = updated {
        tracing::warn!(%error, branch, "could not record the pushed commit in origin's tracking branch");
    }
}

/// The commit `HEAD` points at.
pub async fn head_sha(workdir: &Path) -> Result<String, RepoError> {
    rev_parse(workdir, "HEAD")
        .await?
        .ok_or_else(|| RepoError::Git {
            operation: "rev-parse",
            message: "HEAD does not point at a commit".to_owned(),
        })
}

/// The commit `reference` points at, or `None` when it does not exist. Works in bare
/// repositories too.
pub async fn rev_parse(dir: &Path, reference: &str) -> Result<Option<String>, RepoError> {
    check_revision(reference)?;
    let invocation = GitInvocation {
        args: vec![
            "rev-parse".to_owned(),
            "--verify".to_owned(),
            "--quiet".to_owned(),
            format!("{reference}^{{commit}}"),
        ],
        env: Vec::new(),
    };
    match run("rev-parse", dir, &invocation, None, LOCAL_TIMEOUT).await {
        Ok(out) => Ok(Some(out.trim().to_owned())),
        // `--verify --quiet` exits 1 without output when the reference does not exist.
        Err(RepoError::Git { message, .. }) if message.starts_with("exit 1:") => Ok(None),
        Err(error) => Err(error),
    }
}

/// What `head` changes relative to its merge base with `base`, as a pull request shows it.
pub async fn diff_stat(workdir: &Path, base: &str, head: &str) -> Result<DiffStat, RepoError> {
    check_revision(base)?;
    check_revision(head)?;
    let invocation = GitInvocation {
        args: vec![
            "diff".to_owned(),
            "--numstat".to_owned(),
            "-z".to_owned(),
            "--no-color".to_owned(),
            "--no-ext-diff".to_owned(),
            format!("{base}...{head}"),
            "--".to_owned(),
        ],
        env: Vec::new(),
    };
    let output = run("diff", workdir, &invocation, None, LOCAL_TIMEOUT).await?;
    parse_numstat(&output).ok_or_else(|| RepoError::Git {
        operation: "diff",
        message: "unexpected `git diff --numstat` output".to_owned(),
    })
}

/// Parses `git diff --numstat -z`: `added\tdeleted\tpath\0`, or for a rename
/// `added\tdeleted\t\0old\0new\0`; binary files count `-` lines.
fn parse_numstat(output: &str) -> Option<DiffStat> {
    let mut stat = DiffStat::default();
    let mut fields = output.split('\0');
    while let Some(record) = fields.next() {
        let record = record.trim_start_matches('\n');
        if record.is_empty() {
            continue;
        }
        let mut parts = record.splitn(3, '\t');
        let added = parts.next()?;
        let deleted = parts.next()?;
        let path = parts.next()?;
        let path = if path.is_empty() {
            let _old = fields.next()?;
            fields.next()?.to_owned()
        } else {
            path.to_owned()
        };
        stat.insertions += added.parse::<u64>().unwrap_or(0);
        stat.deletions += deleted.parse::<u64>().unwrap_or(0);
        stat.files.push(path);
    }
    stat.files_changed = stat.files.len();
    Some(stat)
}

/// Reads the porcelain line for `refs/heads/<branch>`: `<flag>\t<src>:<dst>\t<summary>`.
fn parse_push(output: &str, branch: &str) -> Option<PushOutcome> {
    let target = format!("refs/heads/{branch}");
    output.lines().find_map(|line| {
        let mut parts = line.splitn(3, '\t');
        let flag = parts.next()?;
        let refs = parts.next()?;
        if refs.rsplit(':').next()? != target {
            return None;
        }
        match flag {
            "*" => Some(PushOutcome::Created),
            " " => Some(PushOutcome::FastForwarded),
            "+" => Some(PushOutcome::Forced),
            "=" => Some(PushOutcome::UpToDate),
            _ => None,
        }
    })
}

/// Runs git in `dir` without prompts, pagers or inherited repository overrides; returns
/// stdout on success, and a redacted `exit N: <stderr>` error otherwise.
async fn run(
    operation: &'static str,
    dir: &Path,
    invocation: &GitInvocation,
    credential: Option<&GitCredential>,
    timeout: Duration,
) -> Result<String, RepoError> {
    let mut command = Command::new("git");
    command
        .args(&invocation.args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .env("GIT_TERMINAL_PROMPT", "0")
        // Empty: no askpass helper either, so a refused credential fails instead of waiting.
        .env("GIT_ASKPASS", "")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C");
    // An inherited trace setting would print the extra header to stderr.
    for name in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_TRACE",
        "GIT_TRACE_CURL",
        "GIT_TRACE_PACKET",
        "GIT_CURL_VERBOSE",
    ] {
        command.env_remove(name);
    }
    command.envs(invocation.env.iter().map(|(k, v)| (k, v)));
    let output = match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => {
            return Err(RepoError::Git {
                operation,
                message: format!("timed out after {} s", timeout.as_secs()),
            })
        }
        Ok(Err(error)) => {
            return Err(RepoError::Git {
                operation,
                message: format!("could not run git: {error}"),
            })
        }
        Ok(Ok(output)) => output,
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output
        .status
        .code()
        .map_or_else(|| "signal".to_owned(), |c| c.to_string());
    // The push porcelain reports rejections on stdout; keep both, bounded.
    let detail = format!("{}\n{}", stderr.trim(), stdout.trim());
    Err(RepoError::Git {
        operation,
        message: redact(
            credential,
            &format!("exit {code}: {}", bounded(detail.trim())),
        ),
    })
}

fn redact(credential: Option<&GitCredential>, text: &str) -> String {
    credential.map_or_else(|| text.to_owned(), |c| c.redact(text))
}

fn bounded(text: &str) -> String {
    const LIMIT: usize = 2000;
    if text.chars().count() <= LIMIT {
        return text.to_owned();
    }
    let cut: String = text.chars().take(LIMIT).collect();
    format!("{cut}…")
}

fn check_remote(remote_url: &str) -> Result<(), RepoError> {
    let invalid = |message: &str| RepoError::Git {
        operation: "push",
        message: message.to_owned(),
    };
    if remote_url.trim().is_empty() {
        return Err(invalid("the remote URL is empty"));
    }
    if let Ok(url) = url::Url::parse(remote_url) {
        if url.password().is_some() {
            // Named without the URL itself: it holds the secret.
            return Err(invalid(
                "the remote URL carries a password; pass the credential as a GitCredential",
            ));
        }
    }
    Ok(())
}

fn check_branch(branch: &str) -> Result<(), RepoError> {
    let bad = branch.is_empty()
        || branch.starts_with('-')
        || branch.contains([':', ' ', '\t', '\n', '\\', '~', '^', '?', '*', '['])
        || branch.contains("..");
    if bad {
        return Err(RepoError::Git {
            operation: "push",
            message: format!("`{branch}` is not a branch name git accepts"),
        });
    }
    Ok(())
}

/// Revisions come from configuration and API answers: one that starts with `-` would be
/// read as an option.
fn check_revision(revision: &str) -> Result<(), RepoError> {
    if revision.is_empty() || revision.starts_with('-') || revision.contains(['\n', '\0']) {
        return Err(RepoError::Git {
            operation: "rev-parse",
            message: format!("`{revision}` is not a revision"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
