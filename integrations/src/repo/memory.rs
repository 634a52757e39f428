//! The zero-setup platform: pull requests kept in memory, git on a local (bare) repository.
//!
//! For `baton dev` and tests. Clones share the same state, so whoever holds one can act as
//! the people on the other side: submit a review, set the checks, merge. A merge here is
//! recorded only; the repository's branches are left as they are.

use super::git::rev_parse;
use super::{
    CheckState, MergeOutcome, PullRequest, PullRequestSpec, PullRequestState, RepoError,
    RepoPlatform, Review, ReviewComment, ReviewVerdict,
};
use async_trait::async_trait;
use chrono::Utc;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

const PLATFORM: &str = "memory";

/// A pull request as the memory platform holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryPull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    /// Logins asked to review, in the order asked.
    pub requested_reviewers: Vec<String>,
    pub state: PullRequestState,
    pub comments: Vec<MemoryComment>,
    pub reviews: Vec<Review>,
    pub checks: CheckState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryComment {
    pub id: String,
    pub body: String,
}

#[derive(Debug, Default)]
struct State {
    pulls: Vec<MemoryPull>,
    /// Branch heads, for a platform without a repository (see [`MemoryPlatform::set_head`]).
    heads: HashMap<String, String>,
    next_id: u64,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryPlatform {
    state: Arc<Mutex<State>>,
    remote: Option<PathBuf>,
}

impl MemoryPlatform {
    /// Without a repository: branch heads come from [`MemoryPlatform::set_head`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Branch heads are read from the repository at `remote` (usually bare), which is also
    /// what git clones and pushes to.
    pub fn with_remote(remote: impl Into<PathBuf>) -> Self {
        Self {
            state: Arc::default(),
            remote: Some(remote.into()),
        }
    }

    pub fn remote(&self) -> Option<&Path> {
        self.remote.as_deref()
    }

    pub fn pulls(&self) -> Vec<MemoryPull> {
        self.lock().pulls.clone()
    }

    pub fn pull(&self, number: u64) -> Option<MemoryPull> {
        self.lock()
            .pulls
            .iter()
            .find(|p| p.number == number)
            .cloned()
    }

    /// Moves `branch` to `sha`, for a platform without a repository.
    pub fn set_head(&self, branch: &str, sha: &str) {
        self.lock().heads.insert(branch.to_owned(), sha.to_owned());
    }

    /// A person's review; returns its id.
    pub fn submit_review(
        &self,
        number: u64,
        verdict: ReviewVerdict,
        body: &str,
        comments: Vec<ReviewComment>,
    ) -> Result<String, RepoError> {
        let mut state = self.lock();
        let id = next_id(&mut state, "review");
        let pull = find_mut(&mut state, number)?;
        pull.reviews.push(Review {
            id: id.clone(),
            author: "reviewer".to_owned(),
            verdict,
            body: body.to_owned(),
            comments,
            submitted_at: Some(Utc::now()),
        });
        Ok(id)
    }

    pub fn set_checks(&self, number: u64, checks: CheckState) -> Result<(), RepoError> {
        find_mut(&mut self.lock(), number)?.checks = checks;
        Ok(())
    }

    /// A person merges from the platform's page, whatever the head.
    pub fn merge_by_person(&self, number: u64) -> Result<(), RepoError> {
        let mut state = self.lock();
        let pull = find_mut(&mut state, number)?;
        if pull.state != PullRequestState::Open {
            return Err(RepoError::Invalid {
                platform: PLATFORM,
                message: format!("pull request #{number} is not open"),
            });
        }
        pull.state = PullRequestState::Merged;
        Ok(())
    }

    // A poisoned lock only means a panic elsewhere mid-update of plain data; carry on.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where `branch` points now.
    async fn head_of(&self, branch: &str) -> Result<Option<String>, RepoError> {
        match &self.remote {
            Some(remote) => rev_parse(remote, &format!("refs/heads/{branch}")).await,
            None => Ok(self.lock().heads.get(branch).cloned()),
        }
    }

    async fn to_pull(&self, pull: &MemoryPull, created: bool) -> Result<PullRequest, RepoError> {
        Ok(PullRequest {
            number: pull.number,
            url: format!("memory://pulls/{}", pull.number),
            state: pull.state,
            head: pull.head.clone(),
            base: pull.base.clone(),
            head_sha: self.head_of(&pull.head).await?,
            mergeable: Some(pull.state == PullRequestState::Open),
            created,
        })
    }
}

fn next_id(state: &mut State, kind: &str) -> String {
    state.next_id += 1;
    format!("{kind}-{}", state.next_id)
}

fn find_mut(state: &mut State, number: u64) -> Result<&mut MemoryPull, RepoError> {
    state
        .pulls
        .iter_mut()
        .find(|p| p.number == number)
        .ok_or(RepoError::NotFound {
            platform: PLATFORM,
            number,
        })
}

fn add_labels(pull: &mut MemoryPull, labels: &[String]) {
    for label in labels {
        if !pull.labels.contains(label) {
            pull.labels.push(label.clone());
        }
    }
}

#[async_trait]
impl RepoPlatform for MemoryPlatform {
    fn kind(&self) -> &'static str {
        PLATFORM
    }

    async fn ensure_pull_request(&self, spec: &PullRequestSpec) -> Result<PullRequest, RepoError> {
        // One lock for the read and the write: two racing runs still make one pull request.
        let (pull, created) = {
            let mut state = self.lock();
            let number = state.pulls.len() as u64 + 1;
            match state
                .pulls
                .iter_mut()
                .find(|p| p.head == spec.head && p.state == PullRequestState::Open)
            {
                Some(existing) => {
                    existing.title = spec.title.clone();
                    existing.body = spec.body.clone();
                    add_labels(existing, &spec.labels);
                    (existing.clone(), false)
                }
                None => {
                    let mut pull = MemoryPull {
                        number,
                        head: spec.head.clone(),
                        base: spec.base.clone(),
                        title: spec.title.clone(),
                        body: spec.body.clone(),
                        labels: Vec::new(),
                        requested_reviewers: Vec::new(),
                        state: PullRequestState::Open,
                        comments: Vec::new(),
                        reviews: Vec::new(),
                        checks: CheckState::None,
                    };
                    add_labels(&mut pull, &spec.labels);
                    state.pulls.push(pull.clone());
                    (pull, true)
                }
            }
        };
        self.to_pull(&pull, created).await
    }

    async fn find_pull_request(&self, head: &str) -> Result<Option<PullRequest>, RepoError> {
        let newest = self
            .lock()
            .pulls
            .iter()
            .filter(|p| p.head == head)
            .max_by_key(|p| p.number)
            .cloned();
        match newest {
            Some(pull) => Ok(Some(self.to_pull(&pull, false).await?)),
            None => Ok(None),
        }
    }

    async fn get_pull_request(&self, number: u64) -> Result<PullRequest, RepoError> {
        let pull = self.pull(number).ok_or(RepoError::NotFound {
            platform: PLATFORM,
            number,
        })?;
        self.to_pull(&pull, false).await
    }

    async fn comment(&self, number: u64, body: &str) -> Result<String, RepoError> {
        let mut state = self.lock();
        let id = next_id(&mut state, "comment");
        find_mut(&mut state, number)?.comments.push(MemoryComment {
            id: id.clone(),
            body: body.to_owned(),
        });
        Ok(id)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), RepoError> {
        add_labels(find_mut(&mut self.lock(), number)?, labels);
        Ok(())
    }

    async fn request_reviewers(&self, number: u64, reviewers: &[String]) -> Result<(), RepoError> {
        let mut state = self.lock();
        let pull = find_mut(&mut state, number)?;
        for reviewer in reviewers {
            if !pull.requested_reviewers.contains(reviewer) {
                pull.requested_reviewers.push(reviewer.clone());
            }
        }
        Ok(())
    }

    async fn reviews(&self, number: u64) -> Result<Vec<Review>, RepoError> {
        Ok(find_mut(&mut self.lock(), number)?.reviews.clone())
    }

    async fn checks(&self, number: u64) -> Result<CheckState, RepoError> {
        Ok(find_mut(&mut self.lock(), number)?.checks)
    }

    async fn merge(&self, number: u64, expected_head_sha: &str) -> Result<MergeOutcome, RepoError> {
        let head = match self.pull(number) {
            Some(pull) => self.head_of(&pull.head).await?,
            None => {
                return Err(RepoError::NotFound {
                    platform: PLATFORM,
                    number,
                })
            }
        };
        let mut state = self.lock();
        let pull = find_mut(&mut state, number)?;
        if pull.state != PullRequestState::Open {
            return Ok(MergeOutcome::NotMergeable {
                reason: format!("pull request #{number} is not open"),
            });
        }
        if head.as_deref() != Some(expected_head_sha) {
            return Ok(MergeOutcome::HeadChanged);
        }
        pull.state = PullRequestState::Merged;
        Ok(MergeOutcome::Merged { sha: None })
    }

    fn clone_url(&self) -> String {
        self.remote
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}
