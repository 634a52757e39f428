//! Code platforms, one file each behind [`RepoPlatform`]: pull (merge) requests, their
//! comments, labels, reviews and checks on GitHub, GitLab, CNB and the memory platform.
//! Git itself (clone, commit, push) goes through the `git` CLI with the credential passed as
//! a header in git's environment, never in a URL or an argument.
//!
//! Build one with [`registry::build`].

mod checks;
pub mod cnb;
pub mod git;
pub mod github;
pub mod github_app;
mod github_json;
pub mod gitlab;
pub mod memory;
pub mod registry;

pub use git::GitCredential;

use crate::http::ApiError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What baton asks for when a run delivered commits on its work branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestSpec {
    /// The work branch.
    pub head: String,
    /// The branch to merge into.
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullRequestState {
    Open,
    Closed,
    Merged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// GitHub's number, GitLab's iid.
    pub number: u64,
    pub url: String,
    pub state: PullRequestState,
    pub head: String,
    pub base: String,
    pub head_sha: Option<String>,
    /// `None` while the platform is still computing it.
    pub mergeable: Option<bool>,
    /// Whether this call opened it (false: it existed and was updated).
    #[serde(default)]
    pub created: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    Approved,
    ChangesRequested,
    Commented,
}

/// A submitted review with its inline comments, for the rework prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub id: String,
    pub author: String,
    pub verdict: ReviewVerdict,
    pub body: String,
    pub comments: Vec<ReviewComment>,
    pub submitted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewComment {
    pub path: Option<String>,
    pub line: Option<u64>,
    pub body: String,
}

/// The combined state of a head commit's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    Passing,
    Pending,
    Failing,
    /// No checks are configured.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MergeOutcome {
    Merged {
        sha: Option<String>,
    },
    /// The head moved since it was checked: nothing merged.
    HeadChanged,
    NotMergeable {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepoError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{platform}: pull request #{number} not found")]
    NotFound { platform: &'static str, number: u64 },
    #[error("{platform}: {message}")]
    Invalid {
        platform: &'static str,
        message: String,
    },
    #[error("git {operation} failed: {message}")]
    Git {
        operation: &'static str,
        message: String,
    },
}

impl RepoError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Api(error) => error.code(),
            Self::NotFound { .. } => "pull_request_not_found",
            Self::Invalid { .. } => "repo_invalid",
            Self::Git { .. } => "git_failed",
        }
    }
}

/// One repository on one platform. Jobs run at least once, so `ensure_pull_request` is
/// idempotent: one pull request per head branch.
#[async_trait]
pub trait RepoPlatform: Send + Sync {
    /// `github`, `gitlab`, `cnb`, `memory`.
    fn kind(&self) -> &'static str;

    /// The open pull request for `spec.head`, updated to `spec`, or a new one.
    async fn ensure_pull_request(&self, spec: &PullRequestSpec) -> Result<PullRequest, RepoError>;

    /// The newest pull request (any state) whose head is `head`.
    async fn find_pull_request(&self, head: &str) -> Result<Option<PullRequest>, RepoError>;

    async fn get_pull_request(&self, number: u64) -> Result<PullRequest, RepoError>;

    /// Adds a comment to the pull request; returns its id.
    async fn comment(&self, number: u64, body: &str) -> Result<String, RepoError>;

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), RepoError>;

    /// Asks `reviewers` (platform logins) to review the pull request.
    async fn request_reviewers(&self, number: u64, reviewers: &[String]) -> Result<(), RepoError> {
        let _ = (number, reviewers);
        Err(RepoError::Invalid {
            platform: self.kind(),
            message: "this platform's adapter cannot request reviewers".into(),
        })
    }

    /// Submitted reviews, oldest first, with their inline comments.
    async fn reviews(&self, number: u64) -> Result<Vec<Review>, RepoError>;

    /// The combined check state of the pull request's head commit.
    async fn checks(&self, number: u64) -> Result<CheckState, RepoError>;

    /// Merges if the head is still `expected_head_sha`.
    async fn merge(&self, number: u64, expected_head_sha: &str) -> Result<MergeOutcome, RepoError>;

    /// Where git clones from and pushes to; never carries a credential.
    fn clone_url(&self) -> String;

    /// The credential git needs for [`RepoPlatform::clone_url`], valid for a while from now
    /// (short-lived tokens are fetched or renewed here). `None`: git needs none.
    async fn git_credential(&self) -> Result<Option<GitCredential>, RepoError> {
        Ok(None)
    }
}
