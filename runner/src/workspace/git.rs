//! The few git operations a workspace needs, through the `git` CLI.

use super::process;
use super::WorkspaceError;
use std::path::Path;
use std::time::Duration;
use tokio::process::Command;

/// The agent can write the repository's `.git/config` and `.git/hooks`: git must run
/// nothing they name, since baton's git runs with the runner's environment.
pub(crate) const HARDENED: [&str; 4] = [
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
];

/// Runs git non-interactively (no credential prompts, no pager); failures become
/// `git_failed` errors with the redactions applied to the command and its output.
pub(crate) struct Git<'a> {
    pub timeout: Duration,
    /// (raw, shown): text in git's output replaced before it is recorded, e.g. the clone URL
    /// by its redacted form.
    pub redactions: &'a [(String, String)],
}

impl Git<'_> {
    fn redact(&self, text: &str) -> String {
        self.redactions
            .iter()
            .filter(|(raw, _)| !raw.is_empty())
            .fold(text.to_owned(), |acc, (raw, shown)| acc.replace(raw, shown))
    }

    fn command(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .args(["-c", "advice.detachedHead=false"])
            .args(HARDENED)
            .args(args)
            .current_dir(cwd)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_OBJECT_DIRECTORY");
        command
    }

    /// Runs `git <args>` in `cwd`; `Ok(true)` on success, `Ok(false)` on a non-zero exit.
    async fn status(&self, cwd: &Path, args: &[&str]) -> Result<bool, WorkspaceError> {
        let outcome = process::run(self.command(cwd, args), self.timeout)
            .await
            .map_err(|e| self.failed(args, None, format!("could not run git: {e}")))?;
        if outcome.timed_out {
            return Err(self.failed(
                args,
                None,
                format!(
                    "timed out after {} ms\n{}",
                    self.timeout.as_millis(),
                    outcome.output
                ),
            ));
        }
        Ok(outcome.success())
    }

    /// Runs `git <args>` in `cwd` and requires success.
    pub async fn run(&self, cwd: &Path, args: &[&str]) -> Result<(), WorkspaceError> {
        let outcome = process::run(self.command(cwd, args), self.timeout)
            .await
            .map_err(|e| self.failed(args, None, format!("could not run git: {e}")))?;
        if outcome.success() {
            return Ok(());
        }
        let exit = outcome.exit_code();
        let output = if outcome.timed_out {
            format!(
                "timed out after {} ms\n{}",
                self.timeout.as_millis(),
                outcome.output
            )
        } else {
            outcome.output
        };
        Err(self.failed(args, exit, output))
    }

    fn failed(&self, args: &[&str], exit: Option<i32>, output: String) -> WorkspaceError {
        WorkspaceError::GitFailed {
            command: self.redact(&args.join(" ")),
            exit,
            output: self.redact(output.trim()),
        }
    }

    pub async fn ref_exists(&self, cwd: &Path, reference: &str) -> Result<bool, WorkspaceError> {
        self.status(cwd, &["rev-parse", "--verify", "--quiet", reference])
            .await
    }

    /// Checks out `branch`: the local branch when it exists, else the remote's `branch`
    /// when it exists (continuing earlier pushed work), else a new branch from `base`.
    pub async fn checkout_work_branch(
        &self,
        cwd: &Path,
        branch: &str,
        base: &str,
    ) -> Result<(), WorkspaceError> {
        if self
            .ref_exists(cwd, &format!("refs/heads/{branch}"))
            .await?
        {
            return self.run(cwd, &["checkout", "--quiet", branch]).await;
        }
        let remote_branch = format!("refs/remotes/origin/{branch}");
        if self.ref_exists(cwd, &remote_branch).await? {
            return self
                .run(
                    cwd,
                    &[
                        "checkout",
                        "--quiet",
                        "-b",
                        branch,
                        "--track",
                        &format!("origin/{branch}"),
                    ],
                )
                .await;
        }
        let remote_base = format!("refs/remotes/origin/{base}");
        let start = if self.ref_exists(cwd, &remote_base).await? {
            format!("origin/{base}")
        } else if self.ref_exists(cwd, &format!("refs/heads/{base}")).await? {
            base.to_owned()
        } else {
            return Err(WorkspaceError::GitFailed {
                command: format!("checkout -b {branch}"),
                exit: None,
                output: format!("base branch `{base}` does not exist in the repository"),
            });
        };
        self.run(
            cwd,
            &["checkout", "--quiet", "--no-track", "-b", branch, &start],
        )
        .await
    }

    /// Runs `git <args>` in `cwd`, requires success and returns its output, trimmed.
    pub async fn output(&self, cwd: &Path, args: &[&str]) -> Result<String, WorkspaceError> {
        let outcome = process::run(self.command(cwd, args), self.timeout)
            .await
            .map_err(|e| self.failed(args, None, format!("could not run git: {e}")))?;
        if outcome.success() {
            return Ok(outcome.output.trim().to_owned());
        }
        Err(self.failed(args, outcome.exit_code(), outcome.output))
    }

    /// Commits every change in the work tree as baton; `None` when there was nothing to
    /// commit. Returns the new commit's id.
    pub async fn commit_all(
        &self,
        cwd: &Path,
        message: &str,
    ) -> Result<Option<String>, WorkspaceError> {
        self.run(cwd, &["add", "--all"]).await?;
        if self.status(cwd, &["diff", "--cached", "--quiet"]).await? {
            return Ok(None);
        }
        self.run(
            cwd,
            &[
                "-c",
                "user.name=baton",
                "-c",
                "user.email=baton@localhost",
                "commit",
                "--quiet",
                "--no-verify",
                "-m",
                message,
            ],
        )
        .await?;
        self.output(cwd, &["rev-parse", "HEAD"]).await.map(Some)
    }
}
