//! A stateful fake of GitHub's REST API (v3) for one repository, as one GitHub: its issues
//! and pull requests (numbered together, as GitHub does: a pull request is an issue with a
//! `pull_request` key in the issue listing), one comment store and one label store shared
//! by the issue and pull request routes, reviews and review comments, check runs and the
//! combined commit status, and the GitHub App endpoints (repository installation,
//! installation access tokens) with real RS256 JWT verification.
//!
//! Answers come in GitHub's JSON shapes, status codes and `Link` pagination; listings serve
//! at most [`GithubFake::DEFAULT_MAX_PER_PAGE`] items a page (see
//! [`GithubFake::set_max_per_page`]) so clients must follow the links. Serve
//! [`GithubFake::router`] with `crate::FakeApi` and point the adapters' `base_url` at it:
//! a tracker and a repo platform on the same server see the same comments and labels.
//!
//! - `issues`: issues, their comments and labels (the issue routes pull requests share);
//! - `pulls`: pull requests, merges, reviews, review comments, requested reviewers, checks;
//! - `app`: the GitHub App side;
//! - `json`: the records as GitHub renders them, errors and pagination;
//! - `records`: what tests seed and read.

mod app;
mod issues;
mod json;
mod pulls;
mod records;

pub use app::FakeApp;
pub use records::{
    FakeCheckRun, FakeComment, FakeIssue, FakeLabel, FakePull, FakeReview, FakeReviewComment,
    NewIssue,
};

use axum::http::HeaderMap;
use axum::routing::{delete, get, post, put};
use axum::Router;
use chrono::Duration;
use json::{error, not_found, Api, Failure};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// What only a pull request has; its title, body, state and labels are on its issue.
#[derive(Debug, Clone)]
struct PullSide {
    id: u64,
    head: String,
    base: String,
    merged: bool,
    merge_commit_sha: Option<String>,
    requested_reviewers: Vec<String>,
}

#[derive(Debug)]
struct Repository {
    owner: String,
    name: String,
    /// Tokens accepted as `Authorization: Bearer <token>` (or `token <token>`). With none
    /// and no App, any credential is accepted.
    tokens: Vec<String>,
    /// Who the tokens belong to: the author of what is written through the API.
    viewer: String,
    max_per_page: usize,
    /// Issues and pull requests, by their shared number.
    issues: BTreeMap<u64, FakeIssue>,
    pulls: BTreeMap<u64, PullSide>,
    comments: Vec<FakeComment>,
    /// Repository labels by lowercased name: GitHub label names are case-insensitive.
    labels: BTreeMap<String, FakeLabel>,
    /// Branch heads: the fake does not look into git, tests tell it what was pushed.
    branches: HashMap<String, String>,
    reviews: Vec<FakeReview>,
    review_comments: Vec<FakeReviewComment>,
    check_runs: HashMap<String, Vec<FakeCheckRun>>,
    /// Commit statuses per sha: `success`, `pending`, `failure`, `error`.
    statuses: HashMap<String, Vec<String>>,
    app: Option<FakeApp>,
    next_number: u64,
    /// Database ids for issues, pull requests, comments, reviews and labels; far from the
    /// numbers, so a test that mixes an id with a number fails.
    next_id: u64,
    commits: u64,
}

/// The fake GitHub. Clones share one repository, so a test can inspect what was written.
#[derive(Debug, Clone)]
pub struct GithubFake {
    repository: Arc<Mutex<Repository>>,
}

impl GithubFake {
    /// Below 3, so every contract's listings span several pages.
    pub const DEFAULT_MAX_PER_PAGE: usize = 2;

    /// An empty repository `owner/name` with a `main` branch, accepting any credential
    /// until told which ([`Self::require_token`], [`Self::with_app`]).
    pub fn new(repository: &str) -> Self {
        let (owner, name) = repository
            .split_once('/')
            .expect("the fake repository is `owner/name`");
        let fake = Self {
            repository: Arc::new(Mutex::new(Repository {
                owner: owner.to_owned(),
                name: name.to_owned(),
                tokens: Vec::new(),
                viewer: "baton-bot".to_owned(),
                max_per_page: Self::DEFAULT_MAX_PER_PAGE,
                issues: BTreeMap::new(),
                pulls: BTreeMap::new(),
                comments: Vec::new(),
                labels: BTreeMap::new(),
                branches: HashMap::new(),
                reviews: Vec::new(),
                review_comments: Vec::new(),
                check_runs: HashMap::new(),
                statuses: HashMap::new(),
                app: None,
                next_number: 1,
                next_id: 1_000_001,
                commits: 0,
            })),
        };
        fake.push("main");
        fake
    }

    /// Accepts this token, and refuses with 401 "Bad credentials" what no accepted token or
    /// App installation token signs. Call once per token (a tracker's and a repo's).
    pub fn require_token(self, token: &str) -> Self {
        self.lock().tokens.push(token.to_owned());
        self
    }

    /// Accepts App JWTs signed by the key whose public half is `public_key_der` (PKCS#1
    /// `RSAPublicKey` DER), and the installation tokens they are exchanged for.
    pub fn with_app(self, app_id: &str, public_key_der: Vec<u8>, installation_id: u64) -> Self {
        self.lock().app = Some(FakeApp {
            app_id: app_id.to_owned(),
            public_key_der,
            installation_id,
            token_lifetime: Duration::hours(1),
            installation_lookups: 0,
            exchanges: Vec::new(),
            issued: Vec::new(),
            revoked: Vec::new(),
        });
        self
    }

    /// At most `max` items a page on every listing.
    pub fn set_max_per_page(&self, max: usize) {
        self.lock().max_per_page = max.max(1);
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        let repository = self.lock();
        format!("{}/{}", repository.owner, repository.name)
    }

    // ---- Issues ----

    /// Creates an issue as a person would; returns its number.
    pub fn add_issue(&self, issue: NewIssue) -> u64 {
        self.lock().insert_issue(issue, false)
    }

    /// An issue, or a pull request's issue side.
    pub fn issue(&self, number: u64) -> Option<FakeIssue> {
        self.lock().issues.get(&number).cloned()
    }

    /// The comments on an issue or pull request, oldest first.
    pub fn comments(&self, number: u64) -> Vec<FakeComment> {
        self.lock()
            .comments
            .iter()
            .filter(|c| c.issue_number == number)
            .cloned()
            .collect()
    }

    /// The repository's labels.
    pub fn labels(&self) -> Vec<FakeLabel> {
        self.lock().labels.values().cloned().collect()
    }

    /// Opens or closes an issue behind the adapter's back, as a person would.
    pub fn set_state(&self, number: u64, state: &str) {
        let mut repository = self.lock();
        if let Some(issue) = repository.issues.get_mut(&number) {
            issues::set_issue_state(issue, state, None);
        }
    }

    /// Replaces an issue's labels behind the adapter's back.
    pub fn set_labels(&self, number: u64, labels: &[&str]) {
        let mut repository = self.lock();
        let names: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        repository.set_issue_labels(number, &names);
    }

    // ---- Branches and pull requests ----

    /// A new commit on `branch`; returns its sha.
    pub fn push(&self, branch: &str) -> String {
        let mut repository = self.lock();
        repository.commits += 1;
        let sha = format!("{:040x}", 0x5eed_0000_u64 + repository.commits);
        repository.branches.insert(branch.to_owned(), sha.clone());
        sha
    }

    /// Opens a pull request from `head` (pushed if it is not yet) onto `base`, as a person
    /// would; returns its number, taken from the issues' sequence.
    pub fn add_pull_request(&self, head: &str, base: &str, title: &str, body: &str) -> u64 {
        if !self.lock().branches.contains_key(head) {
            self.push(head);
        }
        let mut repository = self.lock();
        let mut issue = NewIssue::new(title);
        issue.body = Some(body.to_owned());
        repository.insert_pull(issue, head, base)
    }

    /// A pull request opened by someone, as it shows among the issues; returns its number.
    pub fn add_pull_request_entry(&self, title: &str) -> u64 {
        let number = self.lock().next_number;
        self.add_pull_request(&format!("patch-{number}"), "main", title, "")
    }

    /// Every pull request, by number.
    pub fn pulls(&self) -> Vec<FakePull> {
        let repository = self.lock();
        repository
            .pulls
            .keys()
            .filter_map(|number| repository.pull(*number))
            .collect()
    }

    pub fn pull(&self, number: u64) -> Option<FakePull> {
        self.lock().pull(number)
    }

    /// The sha at the head of the pull request's branch.
    pub fn head_sha(&self, number: u64) -> String {
        let repository = self.lock();
        repository
            .pulls
            .get(&number)
            .and_then(|pull| repository.branches.get(&pull.head))
            .cloned()
            .unwrap_or_else(|| panic!("no pull request #{number} on the fake"))
    }

    /// A submitted review by `reviewer`, with inline comments `(path, line, body)`.
    pub fn add_review(
        &self,
        number: u64,
        state_name: &str,
        body: &str,
        comments: &[(&str, u64, &str)],
    ) {
        let commit_id = self.head_sha(number);
        let mut repository = self.lock();
        let id = repository.take_id();
        repository.reviews.push(FakeReview {
            id,
            pull: number,
            user: "reviewer".into(),
            state: state_name.into(),
            body: body.into(),
            commit_id,
        });
        for (path, line, text) in comments {
            let comment_id = repository.take_id();
            repository.review_comments.push(FakeReviewComment {
                id: comment_id,
                pull: number,
                review_id: id,
                user: "reviewer".into(),
                path: (*path).into(),
                line: *line,
                body: (*text).into(),
            });
        }
    }

    /// Replaces the check runs on commit `sha`.
    pub fn set_check_runs(&self, sha: &str, runs: Vec<FakeCheckRun>) {
        self.lock().check_runs.insert(sha.to_owned(), runs);
    }

    /// Replaces the commit statuses on `sha` (`success`, `pending`, `failure`, `error`).
    pub fn set_statuses(&self, sha: &str, statuses: &[&str]) {
        let statuses = statuses.iter().map(|s| (*s).to_owned()).collect();
        self.lock().statuses.insert(sha.to_owned(), statuses);
    }

    // ---- The App ----

    /// The App side as it stands: lookups, exchanges, issued and revoked tokens.
    pub fn app(&self) -> Option<FakeApp> {
        self.lock().app.clone()
    }

    /// Changes the App side behind the adapter's back (revokes a token, shortens lifetimes).
    pub fn update_app(&self, change: impl FnOnce(&mut FakeApp)) {
        if let Some(app) = self.lock().app.as_mut() {
            change(app);
        }
    }

    /// The routes, in GitHub's paths. Unknown repositories answer 404 as GitHub does.
    pub fn router(&self) -> Router {
        const REPO: &str = "/repos/{owner}/{repo}";
        let route = |path: &str| format!("{REPO}{path}");
        Router::new()
            .route(
                &route("/issues"),
                get(issues::list_issues).post(issues::create_issue),
            )
            .route(
                &route("/issues/{number}"),
                get(issues::get_issue).patch(issues::update_issue),
            )
            .route(
                &route("/issues/{number}/comments"),
                get(issues::list_comments).post(issues::create_comment),
            )
            .route(
                &route("/issues/comments/{comment_id}"),
                get(issues::get_comment).patch(issues::update_comment),
            )
            .route(
                &route("/issues/{number}/labels"),
                get(issues::list_issue_labels).post(issues::add_issue_labels),
            )
            .route(
                &route("/issues/{number}/labels/{name}"),
                delete(issues::remove_issue_label),
            )
            .route(
                &route("/pulls"),
                get(pulls::list_pulls).post(pulls::create_pull),
            )
            .route(
                &route("/pulls/{number}"),
                get(pulls::get_pull).patch(pulls::update_pull),
            )
            .route(&route("/pulls/{number}/merge"), put(pulls::merge_pull))
            .route(&route("/pulls/{number}/reviews"), get(pulls::list_reviews))
            .route(
                &route("/pulls/{number}/comments"),
                get(pulls::list_review_comments),
            )
            .route(
                &route("/pulls/{number}/requested_reviewers"),
                post(pulls::request_reviewers),
            )
            .route(
                &route("/commits/{sha}/check-runs"),
                get(pulls::list_check_runs),
            )
            .route(&route("/commits/{sha}/status"), get(pulls::combined_status))
            .route(&route("/installation"), get(app::repo_installation))
            .route(
                "/app/installations/{id}/access_tokens",
                post(app::create_access_token),
            )
            .with_state(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Repository> {
        self.repository
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks the credential and the repository; `api` is the base URL the client used.
    fn open(
        &self,
        headers: &HeaderMap,
        owner: &str,
        repo: &str,
    ) -> Result<(MutexGuard<'_, Repository>, Api), Failure> {
        let repository = self.lock();
        if !repository.authorized(headers) {
            return Err(error(
                axum::http::StatusCode::UNAUTHORIZED,
                "Bad credentials",
            ));
        }
        if !repository.is(owner, repo) {
            return Err(not_found());
        }
        let api = Api::new(headers, &repository.owner, &repository.name);
        Ok((repository, api))
    }
}

impl Repository {
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn is(&self, owner: &str, repo: &str) -> bool {
        owner.eq_ignore_ascii_case(&self.owner) && repo.eq_ignore_ascii_case(&self.name)
    }

    /// A token the fake was told about, or an App installation token still valid.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        if self.tokens.is_empty() && self.app.is_none() {
            return true;
        }
        let Some(token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("token "))
            })
        else {
            return false;
        };
        self.tokens.iter().any(|t| t == token)
            || self.app.as_ref().is_some_and(|app| app.accepts(token))
    }

    fn pull(&self, number: u64) -> Option<FakePull> {
        let side = self.pulls.get(&number)?;
        let issue = self.issues.get(&number)?;
        Some(FakePull {
            id: side.id,
            number,
            title: issue.title.clone(),
            body: issue.body.clone().unwrap_or_default(),
            head: side.head.clone(),
            base: side.base.clone(),
            state: issue.state.clone(),
            merged: side.merged,
            merge_commit_sha: side.merge_commit_sha.clone(),
            labels: issue.labels.clone(),
            requested_reviewers: side.requested_reviewers.clone(),
            created_at: issue.created_at.clone(),
        })
    }

    /// A pull request: an issue entry and its pull request side, under one number.
    fn insert_pull(&mut self, issue: NewIssue, head: &str, base: &str) -> u64 {
        let number = self.insert_issue(issue, true);
        let id = self.take_id();
        self.pulls.insert(
            number,
            PullSide {
                id,
                head: head.to_owned(),
                base: base.to_owned(),
                merged: false,
                merge_commit_sha: None,
                requested_reviewers: Vec::new(),
            },
        );
        number
    }
}
