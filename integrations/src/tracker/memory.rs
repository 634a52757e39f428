//! The in-memory tracker: the zero-setup mode's tracker, and the reference the contract suite
//! holds every real adapter to.
//!
//! Its issues are of two kinds. Its own ([`MemoryTracker::upsert`]) are listed by
//! `fetch_by_states`, so the safety poll originates work items from them. Mirrors
//! ([`MemoryTracker::mirror`]) are copies of issues another tracker originated (a GitHub
//! webhook served by a workflow whose tracker is memory): written to like any issue, never
//! listed, so the poll does not originate them a second time.

use super::{same_state, CommentRef, IssueRef, StateMove, Tracker, TrackerError, TrackerIssue};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
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
    /// Ids of the issues that are mirrors.
    mirrored: BTreeSet<String>,
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

    /// Adds or replaces one of the tracker's own issues, keyed by its id.
    pub fn upsert(&self, issue: TrackerIssue) {
        let mut board = self.board();
        board.mirrored.remove(&issue.id);
        board.issues.insert(issue.id.clone(), issue);
    }

    /// Adds a copy of an issue another tracker originated, unless one with its id is here.
    pub fn mirror(&self, issue: TrackerIssue) {
        let mut board = self.board();
        if !board.issues.contains_key(&issue.id) {
            board.mirrored.insert(issue.id.clone());
            board.issues.insert(issue.id.clone(), issue);
        }
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
        let board = self.board();
        Ok(board
            .issues
            .values()
            .filter(|issue| !board.mirrored.contains(&issue.id))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(id: &str, state: &str) -> TrackerIssue {
        TrackerIssue {
            id: id.into(),
            identifier: format!("MEM-{id}"),
            state: state.into(),
            ..TrackerIssue::default()
        }
    }

    #[tokio::test]
    async fn mirrors_are_written_to_but_not_listed() {
        let tracker = MemoryTracker::new();
        tracker.upsert(issue("1", "Todo"));
        tracker.mirror(issue("2", "Todo"));
        // A mirror never replaces one of the tracker's own issues.
        tracker.mirror(issue("1", "Done"));
        let listed = tracker.fetch_by_states(&["todo".into()]).await;
        let ids: Vec<String> = listed.into_iter().flatten().map(|i| i.id).collect();
        assert_eq!(ids, ["1"]);
        let mirror = IssueRef {
            id: "2".into(),
            identifier: "MEM-2".into(),
        };
        assert!(tracker.create_comment(&mirror, "ran").await.is_ok());
        assert_eq!(tracker.comments("2").len(), 1);
        // Filed as its own, a mirror is listed from then on.
        tracker.upsert(issue("2", "Todo"));
        let listed = tracker.fetch_by_states(&["todo".into()]).await;
        assert_eq!(listed.map(|l| l.len()).ok(), Some(2));
    }

    #[test]
    fn clones_share_the_board() {
        let tracker = MemoryTracker::new();
        let shared = tracker.clone();
        shared.upsert(issue("7", "Todo"));
        assert!(tracker.issue("7").is_some());
    }
}
