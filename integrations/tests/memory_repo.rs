//! The memory platform passes the repo contract, with a real bare repository as its remote:
//! commits reach it through `git::push`, and head shas are read back from it.

use async_trait::async_trait;
use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::repo::{run_all, RepoHarness, SeenPull};
use baton_integrations::http::RetryPolicy;
use baton_integrations::repo::git;
use baton_integrations::repo::memory::MemoryPlatform;
use baton_integrations::repo::{
    registry, CheckState, PullRequestSpec, PullRequestState, RepoPlatform, ReviewComment,
    ReviewVerdict,
};
use baton_integrations::test_support::{Fault, RecordedRequest};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

fn sh(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

struct MemoryHarness {
    platform: MemoryPlatform,
    work: PathBuf,
    commits: AtomicU64,
    _root: tempfile::TempDir,
}

impl MemoryHarness {
    /// A bare remote with `main`, and a work tree whose commits are pushed to it.
    async fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let remote = root.path().join("remote.git");
        let work = root.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        sh(
            root.path(),
            &["init", "--quiet", "--bare", remote.to_str().unwrap()],
        );
        sh(&work, &["init", "--quiet"]);
        let harness = Self {
            platform: MemoryPlatform::with_remote(&remote),
            work,
            commits: AtomicU64::new(0),
            _root: root,
        };
        harness.push_commit("main").await;
        harness
    }
}

#[async_trait]
impl RepoHarness for MemoryHarness {
    fn platform(&self) -> &dyn RepoPlatform {
        &self.platform
    }

    /// Commits on top of the work tree's history (one line of commits, so every push is
    /// a fast-forward of whatever the branch had) and pushes it to `branch`.
    async fn push_commit(&self, branch: &str) -> String {
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        std::fs::write(self.work.join("log.txt"), format!("commit {n}\n")).unwrap();
        sh(&self.work, &["add", "--all"]);
        sh(
            &self.work,
            &["commit", "--quiet", "-m", &format!("commit {n}")],
        );
        let remote = self.platform.clone_url();
        git::push(&self.work, &remote, branch, None, false)
            .await
            .expect("push to the bare remote");
        git::head_sha(&self.work).await.unwrap()
    }

    async fn request_changes(&self, number: u64, body: &str, path: &str, line: u64, text: &str) {
        let inline = ReviewComment {
            path: Some(path.to_owned()),
            line: Some(line),
            body: text.to_owned(),
        };
        self.platform
            .submit_review(number, ReviewVerdict::ChangesRequested, body, vec![inline])
            .unwrap();
    }

    async fn approve(&self, number: u64) {
        self.platform
            .submit_review(number, ReviewVerdict::Approved, "", vec![])
            .unwrap();
    }

    async fn set_checks(&self, number: u64, state: CheckState) {
        self.platform.set_checks(number, state).unwrap();
    }

    async fn pulls(&self) -> Vec<SeenPull> {
        self.platform
            .pulls()
            .into_iter()
            .map(|p| SeenPull {
                number: p.number,
                head: p.head,
                base: p.base,
                title: p.title,
                body: p.body,
                labels: p.labels,
                open: p.state == PullRequestState::Open,
                merged: p.state == PullRequestState::Merged,
            })
            .collect()
    }

    async fn requested_reviewers(&self, number: u64) -> Option<Vec<String>> {
        self.platform.pull(number).map(|p| p.requested_reviewers)
    }

    async fn comments(&self, number: u64) -> Vec<String> {
        self.platform
            .pull(number)
            .map(|p| p.comments.into_iter().map(|c| c.body).collect())
            .unwrap_or_default()
    }

    fn inject(&self, _: Fault) -> bool {
        false
    }

    fn clear_faults(&self) {}

    fn requests(&self) -> Vec<RecordedRequest> {
        Vec::new()
    }

    fn credential(&self) -> Option<String> {
        None
    }
}

#[tokio::test]
async fn memory_platform_passes_the_contract() {
    let harness = MemoryHarness::new().await;
    run_all(&harness).await;
}

#[tokio::test]
async fn a_person_merges_and_a_memory_platform_without_a_repository_uses_set_heads() {
    let platform = MemoryPlatform::new();
    let spec = PullRequestSpec {
        head: "baton/x".into(),
        base: "main".into(),
        title: "X".into(),
        body: String::new(),
        labels: vec![],
    };
    let pull = platform.ensure_pull_request(&spec).await.unwrap();
    assert_eq!(pull.head_sha, None);
    platform.set_head("baton/x", "abc123");
    let seen = platform.get_pull_request(pull.number).await.unwrap();
    assert_eq!(seen.head_sha.as_deref(), Some("abc123"));
    // Clones share state: what a person does on one is seen through the other.
    let person = platform.clone();
    person.merge_by_person(pull.number).unwrap();
    assert_eq!(
        platform.get_pull_request(pull.number).await.unwrap().state,
        PullRequestState::Merged
    );
    assert!(person.merge_by_person(pull.number).is_err());
    assert_eq!(platform.clone_url(), "");
    assert!(platform.git_credential().await.unwrap().is_none());
}

#[tokio::test]
async fn the_registry_builds_a_memory_platform_on_its_remote() {
    let options = json!({"remote": "/srv/git/app.git"});
    let env = |_: &str| None;
    let platform = registry::build(&AdapterConfig {
        kind: "memory",
        options: &options,
        env: &env,
        policy: RetryPolicy::fast(),
    })
    .map_err(|e| e.to_string())
    .unwrap();
    assert_eq!(platform.kind(), "memory");
    assert_eq!(platform.clone_url(), "/srv/git/app.git");
}
