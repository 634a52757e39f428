//! The contract every [`RepoPlatform`] passes, against a harness that plays the platform's
//! people (pushing commits, reviewing, running checks) on a fake server speaking the real
//! API's shapes, or on the memory platform itself.
//!
//! Call [`run_all`] from one `#[tokio::test]` per platform.

use crate::repo::{
    CheckState, MergeOutcome, PullRequestSpec, PullRequestState, RepoError, RepoPlatform,
    ReviewVerdict,
};
use crate::test_support::{Fault, RecordedRequest};
use async_trait::async_trait;

mod transport;

/// A pull request as the fake holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenPull {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub open: bool,
    pub merged: bool,
}

/// What the contract needs from a platform's test setup.
#[async_trait]
pub trait RepoHarness: Send + Sync {
    fn platform(&self) -> &dyn RepoPlatform;
    /// The branch pull requests target; it exists on the fake.
    fn base_branch(&self) -> String {
        "main".to_owned()
    }
    /// Puts a new commit on `branch` (creating the branch), as a push would; returns its sha.
    async fn push_commit(&self, branch: &str) -> String;
    /// A reviewer requests changes with a summary and one inline comment.
    async fn request_changes(&self, number: u64, body: &str, path: &str, line: u64, text: &str);
    async fn approve(&self, number: u64);
    /// Makes the head commit's checks add up to `state` (mixing sources where the platform
    /// has several).
    async fn set_checks(&self, number: u64, state: CheckState);
    async fn pulls(&self) -> Vec<SeenPull>;
    /// The bodies of the pull request's conversation comments, oldest first.
    async fn comments(&self, number: u64) -> Vec<String>;
    /// The logins asked to review the pull request; `None` when the adapter cannot ask.
    async fn requested_reviewers(&self, number: u64) -> Option<Vec<String>> {
        let _ = number;
        None
    }
    /// Injects a fault in front of the fake; `false` when the harness has no server.
    fn inject(&self, fault: Fault) -> bool;
    fn clear_faults(&self);
    fn requests(&self) -> Vec<RecordedRequest>;
    /// The credential the platform was configured with, to check where it travels.
    fn credential(&self) -> Option<String>;
}

fn spec(h: &dyn RepoHarness, head: &str, title: &str) -> PullRequestSpec {
    PullRequestSpec {
        head: head.to_owned(),
        base: h.base_branch(),
        title: title.to_owned(),
        body: format!("{title}\n\nEvidence: tests pass."),
        labels: vec!["baton".to_owned()],
    }
}

/// Opens a pull request for a fresh branch; returns its number and head sha.
async fn open(h: &dyn RepoHarness, head: &str) -> (u64, String) {
    let sha = h.push_commit(head).await;
    let pull = h
        .platform()
        .ensure_pull_request(&spec(h, head, &format!("Work on {head}")))
        .await
        .unwrap_or_else(|e| panic!("ensure_pull_request({head}): {e}"));
    (pull.number, sha)
}

/// Runs every case; a failure names the case.
pub async fn run_all(h: &dyn RepoHarness) {
    ensure_is_idempotent(h).await;
    racing_ensures_open_one(h).await;
    find_by_head(h).await;
    get_reports_head_and_url(h).await;
    comments_land(h).await;
    labels_are_added_once(h).await;
    reviewers_are_requested_once_or_refused_clearly(h).await;
    reviews_carry_verdict_body_and_inline_comments(h).await;
    checks_are_combined(h).await;
    merge_honours_the_head(h).await;
    transport::run_all(h).await;
}

async fn ensure_is_idempotent(h: &dyn RepoHarness) {
    let head = "baton/ensure-twice";
    h.push_commit(head).await;
    let first = h
        .platform()
        .ensure_pull_request(&spec(h, head, "First title"))
        .await
        .expect("ensure: first call");
    assert!(first.created, "ensure: the first call opens it");
    assert_eq!(first.state, PullRequestState::Open, "ensure: state");
    assert_eq!(
        (first.head.as_str(), first.base.as_str()),
        (head, h.base_branch().as_str()),
        "ensure: branches"
    );
    assert!(!first.url.is_empty(), "ensure: url");

    let second = h
        .platform()
        .ensure_pull_request(&spec(h, head, "Second title"))
        .await
        .expect("ensure: second call");
    assert!(!second.created, "ensure: the second call updates");
    assert_eq!(second.number, first.number, "ensure: same pull request");
    let seen: Vec<SeenPull> = h
        .pulls()
        .await
        .into_iter()
        .filter(|p| p.head == head)
        .collect();
    assert_eq!(seen.len(), 1, "ensure: one pull request per head: {seen:?}");
    assert_eq!(seen[0].title, "Second title", "ensure: title updated");
    assert!(
        seen[0].body.starts_with("Second title"),
        "ensure: body updated"
    );
    assert!(
        seen[0].labels.contains(&"baton".to_owned()),
        "ensure: spec labels applied: {:?}",
        seen[0].labels
    );
}

async fn racing_ensures_open_one(h: &dyn RepoHarness) {
    let head = "baton/race";
    h.push_commit(head).await;
    let a = spec(h, head, "Run A");
    let b = spec(h, head, "Run B");
    let (a, b) = tokio::join!(
        h.platform().ensure_pull_request(&a),
        h.platform().ensure_pull_request(&b)
    );
    let (a, b) = (a.expect("race: run A"), b.expect("race: run B"));
    assert_eq!(
        a.number, b.number,
        "race: both runs see the same pull request"
    );
    assert!(
        a.created ^ b.created,
        "race: exactly one run opened it ({} / {})",
        a.created,
        b.created
    );
    let open = h
        .pulls()
        .await
        .into_iter()
        .filter(|p| p.head == head && p.open)
        .count();
    assert_eq!(open, 1, "race: one open pull request");
}

async fn find_by_head(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/find-me").await;
    let found = h
        .platform()
        .find_pull_request("baton/find-me")
        .await
        .expect("find_pull_request");
    assert_eq!(found.map(|p| p.number), Some(number), "find: by head");
    let none = h
        .platform()
        .find_pull_request("baton/never-pushed")
        .await
        .expect("find_pull_request(unknown)");
    assert!(none.is_none(), "find: unknown head: {none:?}");
}

async fn get_reports_head_and_url(h: &dyn RepoHarness) {
    let (number, sha) = open(h, "baton/get-me").await;
    let pull = h
        .platform()
        .get_pull_request(number)
        .await
        .expect("get_pull_request");
    assert_eq!(pull.number, number);
    assert_eq!(
        pull.head_sha.as_deref(),
        Some(sha.as_str()),
        "get: head sha"
    );
    assert_eq!(pull.state, PullRequestState::Open);
    assert!(!pull.url.is_empty(), "get: url");
    let missing = h.platform().get_pull_request(987_654).await;
    assert!(
        matches!(
            missing,
            Err(RepoError::NotFound {
                number: 987_654,
                ..
            })
        ),
        "get: unknown number: {missing:?}"
    );
}

async fn comments_land(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/comment").await;
    let id = h
        .platform()
        .comment(number, "baton: evidence — 12 tests pass")
        .await
        .expect("comment");
    assert!(!id.is_empty(), "comment: id");
    assert_eq!(
        h.comments(number).await,
        vec!["baton: evidence — 12 tests pass".to_owned()],
        "comment: stored"
    );
}

async fn labels_are_added_once(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/labels").await;
    h.platform()
        .add_labels(number, &["needs-review".to_owned(), "baton".to_owned()])
        .await
        .expect("add_labels");
    let seen = h
        .pulls()
        .await
        .into_iter()
        .find(|p| p.number == number)
        .expect("labels: pull request on the fake");
    assert!(
        seen.labels.contains(&"needs-review".to_owned()),
        "labels: {:?}",
        seen.labels
    );
    assert_eq!(
        seen.labels.iter().filter(|l| *l == "baton").count(),
        1,
        "labels: no duplicates: {:?}",
        seen.labels
    );
    assert!(h.platform().add_labels(number, &[]).await.is_ok());
}

async fn reviewers_are_requested_once_or_refused_clearly(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/reviewers").await;
    let platform = h.platform();
    let asked = platform
        .request_reviewers(number, &["alice".to_owned(), "bob".to_owned()])
        .await;
    match h.requested_reviewers(number).await {
        Some(_) => {
            asked.expect("request_reviewers");
            platform
                .request_reviewers(number, &["alice".to_owned()])
                .await
                .expect("request_reviewers: again");
            assert_eq!(
                h.requested_reviewers(number).await,
                Some(vec!["alice".to_owned(), "bob".to_owned()]),
                "request_reviewers: each login once"
            );
        }
        None => {
            let error = asked.expect_err("request_reviewers: unsupported must say so");
            assert!(
                matches!(error, RepoError::Invalid { .. }),
                "request_reviewers: {error}"
            );
        }
    }
}

async fn reviews_carry_verdict_body_and_inline_comments(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/reviewed").await;
    let none = h.platform().reviews(number).await.expect("reviews: empty");
    assert!(none.is_empty(), "reviews: none yet: {none:?}");
    // baton's own conversation comment is not a review.
    h.platform()
        .comment(number, "baton: opened this")
        .await
        .expect("reviews: comment");
    h.request_changes(
        number,
        "Please rename the helper.",
        "src/lib.rs",
        3,
        "rename this",
    )
    .await;
    h.approve(number).await;
    let reviews = h.platform().reviews(number).await.expect("reviews");
    let asked: Vec<_> = reviews
        .iter()
        .filter(|r| r.verdict == ReviewVerdict::ChangesRequested)
        .collect();
    assert!(
        !asked.is_empty(),
        "reviews: change request missing: {reviews:?}"
    );
    let text: String = asked
        .iter()
        .flat_map(|r| {
            std::iter::once(r.body.as_str()).chain(r.comments.iter().map(|c| c.body.as_str()))
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("Please rename the helper."),
        "reviews: summary: {reviews:?}"
    );
    assert!(
        !text.contains("baton: opened this"),
        "reviews: a plain comment became a review: {reviews:?}"
    );
    let inline = asked.iter().flat_map(|r| r.comments.iter()).any(|c| {
        c.path.as_deref() == Some("src/lib.rs") && c.line == Some(3) && c.body == "rename this"
    });
    assert!(
        inline,
        "reviews: inline comment with path and line: {reviews:?}"
    );
    assert!(
        reviews.iter().any(|r| r.verdict == ReviewVerdict::Approved),
        "reviews: approval missing: {reviews:?}"
    );
    assert!(
        reviews.iter().all(|r| !r.author.is_empty()),
        "reviews: authors: {reviews:?}"
    );
}

async fn checks_are_combined(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/checked").await;
    for state in [
        CheckState::None,
        CheckState::Pending,
        CheckState::Failing,
        CheckState::Passing,
    ] {
        h.set_checks(number, state).await;
        let seen = h.platform().checks(number).await.expect("checks");
        assert_eq!(seen, state, "checks: set {state:?}");
    }
}

async fn merge_honours_the_head(h: &dyn RepoHarness) {
    let head = "baton/merge-me";
    let (number, stale) = open(h, head).await;
    let fresh = h.push_commit(head).await;
    assert_ne!(stale, fresh, "merge: the harness must make a new commit");
    let outcome = h
        .platform()
        .merge(number, &stale)
        .await
        .expect("merge: stale sha");
    assert_eq!(outcome, MergeOutcome::HeadChanged, "merge: stale sha");
    let seen = h.pulls().await;
    let pull = seen
        .iter()
        .find(|p| p.number == number)
        .expect("merge: pull");
    assert!(
        !pull.merged && pull.open,
        "merge: a stale sha merged: {pull:?}"
    );

    let outcome = h
        .platform()
        .merge(number, &fresh)
        .await
        .expect("merge: current sha");
    assert!(
        matches!(outcome, MergeOutcome::Merged { .. }),
        "merge: {outcome:?}"
    );
    let seen = h.pulls().await;
    let pull = seen
        .iter()
        .find(|p| p.number == number)
        .expect("merge: pull");
    assert!(pull.merged, "merge: not merged on the platform: {pull:?}");
    let after = h
        .platform()
        .get_pull_request(number)
        .await
        .expect("merge: get");
    assert_eq!(after.state, PullRequestState::Merged, "merge: state");
    let found = h
        .platform()
        .find_pull_request(head)
        .await
        .expect("merge: find");
    assert_eq!(
        found.map(|p| (p.number, p.state)),
        Some((number, PullRequestState::Merged)),
        "find: merged pull requests are found too"
    );
}
