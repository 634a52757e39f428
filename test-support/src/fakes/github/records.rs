//! The records a test seeds on the fake and reads back.

/// An issue to put on the fake, as a person would have written it.
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub title: String,
    pub body: Option<String>,
    pub labels: Vec<String>,
    /// `open` or `closed`.
    pub state: String,
    pub assignees: Vec<String>,
    pub author: String,
}

impl NewIssue {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            body: None,
            labels: Vec::new(),
            state: "open".to_owned(),
            assignees: Vec::new(),
            author: "octocat".to_owned(),
        }
    }
}

/// An issue, or a pull request's issue side, as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIssue {
    pub number: u64,
    /// GitHub's database id, distinct from the number.
    pub id: u64,
    pub title: String,
    pub body: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    pub state_reason: Option<String>,
    /// Label names as written.
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
    pub is_pull_request: bool,
}

/// A conversation comment, on an issue or a pull request (GitHub keeps them as one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: u64,
    pub issue_number: u64,
    pub body: String,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeLabel {
    pub id: u64,
    pub name: String,
    pub color: String,
}

/// A pull request as a test reads it: its issue side (title, body, state, labels) and its
/// own (branches, merge state, requested reviewers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakePull {
    /// The pull request's database id, distinct from its issue's.
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub merge_commit_sha: Option<String>,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeReview {
    pub id: u64,
    pub pull: u64,
    pub user: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeReviewComment {
    pub id: u64,
    pub pull: u64,
    pub review_id: u64,
    pub user: String,
    pub path: String,
    pub line: u64,
    pub body: String,
}

/// A check run: `status` (`queued`, `in_progress`, `completed`) and its `conclusion`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCheckRun {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
}
