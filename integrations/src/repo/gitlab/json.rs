//! GitLab's JSON shapes (merge requests, discussions, approvals, pipelines), read leniently,
//! and what baton makes of them.

use crate::repo::checks::CheckOutcome;
use crate::repo::github_json::timestamp;
use crate::repo::{PullRequest, PullRequestState, Review, ReviewComment, ReviewVerdict};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(super) struct MergeRequestJson {
    pub(super) iid: u64,
    pub(super) web_url: String,
    pub(super) state: String,
    pub(super) source_branch: String,
    pub(super) target_branch: String,
    #[serde(default)]
    pub(super) sha: Option<String>,
    #[serde(default)]
    pub(super) detailed_merge_status: Option<String>,
    #[serde(default)]
    pub(super) merge_status: Option<String>,
    #[serde(default)]
    pub(super) merge_commit_sha: Option<String>,
    #[serde(default)]
    pub(super) squash_commit_sha: Option<String>,
}

impl MergeRequestJson {
    pub(super) fn into_pull(self) -> PullRequest {
        let state = match self.state.as_str() {
            "opened" => PullRequestState::Open,
            "merged" => PullRequestState::Merged,
            // `closed`, `locked`.
            _ => PullRequestState::Closed,
        };
        // `detailed_merge_status` (GitLab 15.6+) over the deprecated `merge_status`.
        let mergeable = match self.detailed_merge_status.as_deref() {
            Some("mergeable") => Some(true),
            Some("checking" | "unchecked" | "preparing" | "approvals_syncing") => None,
            Some(_) => Some(false),
            None => match self.merge_status.as_deref() {
                Some("can_be_merged") => Some(true),
                Some("cannot_be_merged" | "cannot_be_merged_recheck") => Some(false),
                _ => None,
            },
        };
        PullRequest {
            number: self.iid,
            url: self.web_url,
            state,
            head: self.source_branch,
            base: self.target_branch,
            head_sha: self.sha.filter(|s| !s.is_empty()),
            mergeable,
            created: false,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct DiscussionJson {
    pub(super) id: String,
    #[serde(default)]
    pub(super) individual_note: bool,
    #[serde(default)]
    pub(super) notes: Vec<NoteJson>,
}

#[derive(Debug, Deserialize)]
pub(super) struct NoteJson {
    pub(super) body: String,
    pub(super) author: AuthorJson,
    #[serde(default)]
    pub(super) created_at: Option<String>,
    #[serde(default)]
    pub(super) system: bool,
    #[serde(default)]
    pub(super) resolvable: bool,
    #[serde(default)]
    pub(super) resolved: bool,
    #[serde(default)]
    pub(super) position: Option<PositionJson>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AuthorJson {
    pub(super) username: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct PositionJson {
    #[serde(default)]
    pub(super) new_path: Option<String>,
    #[serde(default)]
    pub(super) old_path: Option<String>,
    #[serde(default)]
    pub(super) new_line: Option<u64>,
    #[serde(default)]
    pub(super) old_line: Option<u64>,
}

impl NoteJson {
    pub(super) fn into_comment(self) -> ReviewComment {
        let (path, line) = match self.position {
            Some(p) => (p.new_path.or(p.old_path), p.new_line.or(p.old_line)),
            None => (None, None),
        };
        ReviewComment {
            path,
            line,
            body: self.body,
        }
    }
}

impl DiscussionJson {
    /// An unresolved thread as a change request: the opening note is the review's body, or,
    /// when it sits on a diff line, its first inline comment; replies follow as comments.
    pub(super) fn into_review(self) -> Option<Review> {
        if self.individual_note {
            return None;
        }
        let notes: Vec<NoteJson> = self.notes.into_iter().filter(|n| !n.system).collect();
        if !notes.iter().any(|n| n.resolvable && !n.resolved) {
            return None;
        }
        let mut notes = notes.into_iter();
        let first = notes.next()?;
        let author = first.author.username.clone();
        let submitted_at = first.created_at.as_deref().and_then(timestamp);
        let mut comments = Vec::new();
        let body = if first.position.is_some() {
            comments.push(first.into_comment());
            String::new()
        } else {
            first.body
        };
        comments.extend(notes.map(NoteJson::into_comment));
        Some(Review {
            id: self.id,
            author,
            verdict: ReviewVerdict::ChangesRequested,
            body,
            comments,
            submitted_at,
        })
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ApprovalsJson {
    #[serde(default)]
    pub(super) approved_by: Vec<ApprovalJson>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApprovalJson {
    pub(super) user: AuthorJson,
}

#[derive(Debug, Deserialize)]
pub(super) struct PipelineJson {
    pub(super) id: u64,
    pub(super) sha: String,
    pub(super) status: String,
}

impl PipelineJson {
    pub(super) fn outcome(&self) -> CheckOutcome {
        match self.status.as_str() {
            "success" | "skipped" => CheckOutcome::Passing,
            "failed" | "canceled" => CheckOutcome::Failing,
            // created, waiting_for_resource, preparing, pending, running, manual, scheduled.
            _ => CheckOutcome::Pending,
        }
    }
}
