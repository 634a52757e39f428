//! The workspace's tool: what the agent changed so far, as git sees it.

use super::{Answer, BridgeContext};
use crate::agent::ToolSpec;
use baton_core::workflow::host_tools::WORKSPACE_DIFF_SUMMARY;
use serde_json::{json, Value};
use std::path::Path;
use tokio::process::Command;

/// The runner's variables git is given: where it is and how to print, nothing else.
const PASSED_ENV: [&str; 4] = ["PATH", "HOME", "LANG", "LC_ALL"];

/// At most this many changed files are listed.
const MAX_FILES: usize = 200;

pub fn specs() -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: WORKSPACE_DIFF_SUMMARY.into(),
        description: "What this run changed in the workspace so far (baton commits it when \
                      the run ends): each changed file with its added and removed line counts, \
                      and new files."
            .into(),
        input_schema: super::args::no_arguments(),
    }]
}

pub async fn call(context: &BridgeContext, name: &str) -> Option<Answer> {
    (name == WORKSPACE_DIFF_SUMMARY).then_some(())?;
    Some(summary(&context.workspace).await)
}

async fn git(workspace: &Path, args: &[&str]) -> Result<String, String> {
    // The workspace is the agent's: nothing it configured runs, and git sees no secret.
    let mut command = Command::new("git");
    command
        .env_clear()
        .envs(std::env::vars_os().filter(|(name, _)| PASSED_ENV.iter().any(|p| name == p)))
        .env("GIT_TERMINAL_PROMPT", "0")
        .arg("-C")
        .arg(workspace)
        .args(crate::workspace::git::HARDENED)
        .args(args)
        .kill_on_drop(true);
    let output = command
        .output()
        .await
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("git {} failed: {}", args[0], stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `git diff --numstat HEAD` (tracked changes, staged or not) and the untracked files.
async fn summary(workspace: &Path) -> Answer {
    let numstat = git(workspace, &["diff", "--numstat", "HEAD", "--"]).await?;
    let untracked = git(
        workspace,
        &["ls-files", "--others", "--exclude-standard", "--"],
    )
    .await?;
    let mut files: Vec<Value> = numstat
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '\t');
            let added = parts.next()?;
            let removed = parts.next()?;
            let path = parts.next()?;
            Some(json!({
                "path": path,
                // `-` for binary files.
                "added": added.parse::<u64>().ok(),
                "removed": removed.parse::<u64>().ok(),
                "status": "modified",
            }))
        })
        .collect();
    files.extend(
        untracked
            .lines()
            .filter(|path| !path.is_empty())
            .map(|path| json!({"path": path, "status": "new"})),
    );
    let total = files.len();
    files.truncate(MAX_FILES);
    Ok(json!({ "changed_files": total, "files": files, "truncated": total > MAX_FILES }))
}
