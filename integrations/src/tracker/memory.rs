//! The in-memory tracker: the zero-setup mode's tracker, and the reference the contract suite
//! holds every real adapter to.

use super::{same_state, CommentRef, IssueRef, StateMove, Tracker, TrackerError, TrackerIssue};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryComment {
    pub id: String,
    pub body: String,
    /// How many times it was edited after creation.
    pub edits: u32,
}

#[derive(Debug, Default)]
struct Board {
    issues: BTreeMap<String, TrackerIssue>,
    comments: BTreeMap<String, Vec<MemoryComment>>,
    next_comment: u64,
}

/// Cloning shares the board, so a test (or `baton dev`) can look at what was written.
#[derive(Debug, Clone, Default)]
pub struct MemoryTracker {
    board: Arc<Mutex<Board>>,
}

impl MemoryTracker {
    pub fn new() -> Self {
        Self::default()
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        // A panic while holding the lock cannot leave the board half-written: every
        // mutation below is a single insert or push.
        self.board
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds or replaces an issue, keyed by its id.
    pub fn upsert(&self, issue: TrackerIssue) {
        self.board().issues.insert(issue.id.clone(), issue);
    }

    pub fn issue(&self, id: &str) -> Option<TrackerIssue> {
        self.board().issues.get(id).cloned()
    }

    pub fn comments(&self, id: &str) -> Vec<MemoryComment> {
        self.board().comments.get(id).cloned().unwrap_or_default()
    }

    fn not_found(issue: &IssueRef) -> TrackerError {
        TrackerError::NotFound {
            tracker: "memory",
            identifier: issue.identifier.clone(),
        }
    }
}

#[async_trait]
impl Tracker for MemoryTracker {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn fetch_issue(&self, issue: &IssueRef) -> Result<Option<TrackerIssue>, TrackerError> {
        Ok(self.issue(&issue.id))
    }

    async fn fetch_by_states(&self, states: &[String]) -> Result<Vec<TrackerIssue>, TrackerError> {
        Ok(self
            .board()
            .issues
            .values()
            .filter(|issue| states.iter().any(|s| same_state(s, &issue.state)))
            .cloned()
            .collect())
    }

    async fn create_comment(
        &self,
        issue: &IssueRef,
        body: &str,
    ) -> Result<CommentRef, TrackerError> {
        let mut board = self.board();
        if !board.issues.contains_key(&issue.id) {
            return Err(Self::not_found(issue));
        }
        board.next_comment += 1;
        let id = format!("c{}", board.next_comment);
        board
            .comments
            .entry(issue.id.clone())
            .or_default()
            .push(MemoryComment {
                id: id.clone(),
                body: body.to_owned(),
                edits: 0,
            });
        Ok(CommentRef { id, url: None })
    }

    async fn update_comment(
        &self,
        issue: &IssueRef,
        comment: &CommentRef,
        body: &str,
    ) -> Result<(), TrackerError> {
        let mut board = self.board();
        let found = board
            .comments
            .get_mut(&issue.id)
            .and_then(|comments| comments.iter_mut().find(|c| c.id == comment.id))
            .ok_or_else(|| TrackerError::Invalid {
                tracker: "memory",
                message: format!(
                    "comment `{}` not found on `{}`",
                    comment.id, issue.identifier
                ),
            })?;
        found.body = body.to_owned();
        found.edits += 1;
        Ok(())
    }

    async fn move_to_state(
        &self,
        issue: &IssueRef,
        expected: Option<&str>,
        target: &str,
    ) -> Result<StateMove, TrackerError> {
        let mut board = self.board();
        let current = board
            .issues
            .get_mut(&issue.id)
            .ok_or_else(|| Self::not_found(issue))?;
        if let Some(unmoved) = StateMove::precondition(&current.state, expected, target) {
            return Ok(unmoved);
        }
        let from = std::mem::replace(&mut current.state, target.to_owned());
        Ok(StateMove::Moved {
            from,
            to: target.to_owned(),
        })
    }
}
