//! A fake GitHub REST API for one repository's pull requests, in GitHub's JSON shapes:
//! pulls (list/create/get/update/merge), reviews and review comments, the pull request's
//! issue comments and labels, check runs and the combined commit status, and the GitHub App
//! endpoints (repository installation, installation access tokens) with real RS256 JWT
//! verification against a public key.
//!
//! Listings page two items at a time with `Link` headers, so clients must follow them.
//! Routes shared with the issues fake: `/repos/{o}/{r}/issues/{n}/comments` and `/labels`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

const PAGE_SIZE: usize = 2;

#[derive(Debug, Clone)]
pub struct FakePull {
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
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct FakeIssueComment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct FakeReview {
    pub id: u64,
    pub pull: u64,
    pub user: String,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    pub body: String,
    pub commit_id: String,
}

#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub struct FakeCheckRun {
    pub name: String,
    pub status: String,
    pub conclusion: Option<String>,
}

/// The GitHub App side: who may sign JWTs, and what was exchanged.
#[derive(Debug, Clone)]
pub struct FakeApp {
    pub app_id: String,
    /// PKCS#1 `RSAPublicKey` DER.
    pub public_key_der: Vec<u8>,
    pub installation_id: u64,
    pub token_lifetime: Duration,
    pub installation_lookups: u32,
    /// The `repositories` each exchange asked for.
    pub exchanges: Vec<Value>,
    /// Issued tokens and when they expire.
    pub issued: Vec<(String, DateTime<Utc>)>,
    pub revoked: Vec<String>,
}

#[derive(Debug)]
pub struct GithubRepoState {
    pub owner: String,
    pub repo: String,
    /// Tokens accepted as they are (personal access tokens).
    pub tokens: Vec<String>,
    pub branches: HashMap<String, String>,
    pub pulls: Vec<FakePull>,
    pub issue_comments: Vec<FakeIssueComment>,
    pub reviews: Vec<FakeReview>,
    pub review_comments: Vec<FakeReviewComment>,
    pub check_runs: HashMap<String, Vec<FakeCheckRun>>,
    /// Commit statuses per sha: `success`, `pending`, `failure`, `error`.
    pub statuses: HashMap<String, Vec<String>>,
    pub app: Option<FakeApp>,
    next_id: u64,
    commits: u64,
}

#[derive(Clone)]
pub struct GithubRepoFake {
    pub state: Arc<Mutex<GithubRepoState>>,
}

impl GithubRepoFake {
    /// A repository `owner/repo` with a `main` branch, accepting `token`.
    pub fn new(owner: &str, repo: &str, token: &str) -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(GithubRepoState {
                owner: owner.to_owned(),
                repo: repo.to_owned(),
                tokens: vec![token.to_owned()],
                branches: HashMap::new(),
                pulls: Vec::new(),
                issue_comments: Vec::new(),
                reviews: Vec::new(),
                review_comments: Vec::new(),
                check_runs: HashMap::new(),
                statuses: HashMap::new(),
                app: None,
                next_id: 1000,
                commits: 0,
            })),
        };
        fake.push("main");
        fake
    }

    /// Accepts App JWTs signed by the key whose public half is `public_key_der`.
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

    pub fn lock(&self) -> MutexGuard<'_, GithubRepoState> {
        self.state.lock().unwrap()
    }

    /// A new commit on `branch`; returns its sha.
    pub fn push(&self, branch: &str) -> String {
        let mut state = self.lock();
        state.commits += 1;
        let sha = format!("{:040x}", 0x5eed_0000_u64 + state.commits);
        state.branches.insert(branch.to_owned(), sha.clone());
        sha
    }

    pub fn head_sha(&self, number: u64) -> String {
        let state = self.lock();
        let pull = state.pulls.iter().find(|p| p.number == number).unwrap();
        state.branches[&pull.head].clone()
    }

    /// A submitted review with inline comments `(path, line, body)`.
    pub fn add_review(
        &self,
        number: u64,
        state_name: &str,
        body: &str,
        comments: &[(&str, u64, &str)],
    ) {
        let commit_id = self.head_sha(number);
        let mut state = self.lock();
        let id = state.next_id();
        state.reviews.push(FakeReview {
            id,
            pull: number,
            user: "reviewer".into(),
            state: state_name.into(),
            body: body.into(),
            commit_id,
        });
        for (path, line, text) in comments {
            let comment_id = state.next_id();
            state.review_comments.push(FakeReviewComment {
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

    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/repos/{owner}/{repo}/pulls",
                get(list_pulls).post(create_pull),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}",
                get(get_pull).patch(update_pull),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/merge",
                put(merge_pull),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/reviews",
                get(list_reviews),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/comments",
                get(list_review_comments),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                get(list_issue_comments).post(create_issue_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels",
                post(add_labels),
            )
            .route(
                "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers",
                post(request_reviewers),
            )
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/check-runs",
                get(list_check_runs),
            )
            .route(
                "/repos/{owner}/{repo}/commits/{sha}/status",
                get(combined_status),
            )
            .route("/repos/{owner}/{repo}/installation", get(repo_installation))
            .route(
                "/app/installations/{id}/access_tokens",
                post(create_access_token),
            )
            .with_state(self.clone())
    }
}

impl GithubRepoState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
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
        if self.tokens.iter().any(|t| t == token) {
            return true;
        }
        self.app.as_ref().is_some_and(|app| {
            !app.revoked.iter().any(|r| r == token)
                && app
                    .issued
                    .iter()
                    .any(|(issued, expires)| issued == token && *expires > Utc::now())
        })
    }

    fn is_repo(&self, owner: &str, repo: &str) -> bool {
        self.owner == owner && self.repo == repo
    }

    fn user(&self, login: &str) -> Value {
        json!({"login": login, "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User",
               "site_admin": false, "html_url": format!("https://github.com/{login}")})
    }

    fn repo_json(&self) -> Value {
        json!({"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": self.repo,
               "full_name": format!("{}/{}", self.owner, self.repo), "private": false,
               "owner": self.user(&self.owner)})
    }

    fn branch_ref(&self, branch: &str) -> Value {
        json!({
            "label": format!("{}:{branch}", self.owner), "ref": branch,
            "sha": self.branches.get(branch).cloned().unwrap_or_default(),
            "user": self.user(&self.owner), "repo": self.repo_json(),
        })
    }

    /// A pull request as GitHub renders it; `full` adds what only the single GET carries.
    fn pull_json(&self, pull: &FakePull, full: bool) -> Value {
        let html = format!(
            "https://github.com/{}/{}/pull/{}",
            self.owner, self.repo, pull.number
        );
        let labels: Vec<Value> = pull.labels.iter().map(|l| label_json(l)).collect();
        let mut value = json!({
            "url": format!("https://api.github.com/repos/{}/{}/pulls/{}", self.owner, self.repo, pull.number),
            "id": pull.id, "node_id": format!("PR_kwDO{}", pull.id), "html_url": html,
            "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
            "number": pull.number, "state": pull.state, "locked": false, "title": pull.title,
            "user": self.user("baton-bot"), "body": pull.body, "labels": labels,
            "created_at": stamp(pull.created_at), "updated_at": stamp(Utc::now()),
            "closed_at": if pull.state == "closed" { json!(stamp(Utc::now())) } else { Value::Null },
            "merged_at": if pull.merged { json!(stamp(Utc::now())) } else { Value::Null },
            "merge_commit_sha": pull.merge_commit_sha, "assignee": null, "assignees": [],
            "requested_reviewers": [], "draft": false,
            "head": self.branch_ref(&pull.head), "base": self.branch_ref(&pull.base),
            "author_association": "CONTRIBUTOR", "auto_merge": null,
        });
        if full {
            let extra = json!({
                "merged": pull.merged, "mergeable": pull.state == "open",
                "rebaseable": true, "mergeable_state": if pull.state == "open" { "clean" } else { "unknown" },
                "merged_by": if pull.merged { self.user("baton-bot") } else { Value::Null },
                "comments": self.issue_comments.iter().filter(|c| c.issue == pull.number).count(),
                "review_comments": self.review_comments.iter().filter(|c| c.pull == pull.number).count(),
                "maintainer_can_modify": false, "commits": 1, "additions": 3, "deletions": 1,
                "changed_files": 1,
            });
            if let (Some(object), Value::Object(extra)) = (value.as_object_mut(), extra) {
                object.extend(extra);
            }
        }
        value
    }
}

fn stamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn label_json(name: &str) -> Value {
    json!({"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
           "url": format!("https://api.github.com/repos/o/r/labels/{name}"),
           "name": name, "description": null, "color": "f29513", "default": false})
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(
            json!({"message": message, "documentation_url": "https://docs.github.com/rest",
                    "status": status.as_u16().to_string()}),
        ),
    )
        .into_response()
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "Bad credentials")
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// One page of `items` with GitHub's `Link` header when more follow.
fn page(
    items: Vec<Value>,
    params: &HashMap<String, String>,
    uri: &Uri,
    headers: &HeaderMap,
) -> (Vec<Value>, HeaderMap) {
    let per_page = params
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, PAGE_SIZE);
    let number = params
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let start = (number - 1) * per_page;
    let slice: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut out = HeaderMap::new();
    if start + per_page < items.len() {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let query: Vec<String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("page="))
            .map(str::to_owned)
            .chain([format!("page={}", number + 1)])
            .collect();
        let link = format!(
            "<http://{host}{}?{}>; rel=\"next\"",
            uri.path(),
            query.join("&")
        );
        out.insert("link", HeaderValue::from_str(&link).unwrap());
    }
    (slice, out)
}

type RepoPath = Path<(String, String)>;
type PullPath = Path<(String, String, u64)>;
type Params = Query<HashMap<String, String>>;

async fn list_pulls(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo)): RepoPath,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let wanted = params.get("state").map(String::as_str).unwrap_or("open");
    let head = params.get("head");
    let items: Vec<Value> = state
        .pulls
        .iter()
        .filter(|p| wanted == "all" || p.state == wanted)
        .filter(|p| head.is_none_or(|h| *h == format!("{}:{}", state.owner, p.head)))
        .map(|p| state.pull_json(p, false))
        .collect();
    let (items, link) = page(items, &params, &uri, &headers);
    (link, Json(Value::Array(items))).into_response()
}

async fn create_pull(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo)): RepoPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (head, base) = (field("head"), field("base"));
    let invalid = |message: String| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"message": "Validation Failed",
                        "errors": [{"resource": "PullRequest", "code": "custom", "message": message}],
                        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                        "status": "422"})),
        )
            .into_response()
    };
    if !state.branches.contains_key(&head) || !state.branches.contains_key(&base) {
        return invalid(format!("No commits between {base} and {head}"));
    }
    if state
        .pulls
        .iter()
        .any(|p| p.head == head && p.state == "open")
    {
        return invalid(format!(
            "A pull request already exists for {}:{head}.",
            state.owner
        ));
    }
    let id = state.next_id();
    let pull = FakePull {
        id,
        number: state.pulls.len() as u64 + 1,
        title: field("title"),
        body: field("body"),
        head,
        base,
        state: "open".into(),
        merged: false,
        merge_commit_sha: None,
        labels: Vec::new(),
        requested_reviewers: Vec::new(),
        created_at: Utc::now(),
    };
    let json = state.pull_json(&pull, true);
    state.pulls.push(pull);
    (StatusCode::CREATED, Json(json)).into_response()
}

async fn get_pull(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    match state.pulls.iter().find(|p| p.number == number) {
        Some(pull) if state.is_repo(&owner, &repo) => {
            Json(state.pull_json(pull, true)).into_response()
        }
        _ => not_found(),
    }
}

async fn update_pull(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return not_found();
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        pull.title = title.to_owned();
    }
    if let Some(text) = body.get("body").and_then(Value::as_str) {
        pull.body = text.to_owned();
    }
    if let Some(new_state) = body.get("state").and_then(Value::as_str) {
        pull.state = new_state.to_owned();
    }
    let pull = pull.clone();
    Json(state.pull_json(&pull, true)).into_response()
}

async fn merge_pull(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(index) = state.pulls.iter().position(|p| p.number == number) else {
        return not_found();
    };
    if state.pulls[index].state != "open" {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Pull Request is not mergeable",
        );
    }
    let head = state.branches[&state.pulls[index].head].clone();
    if let Some(expected) = body.get("sha").and_then(Value::as_str) {
        if expected != head {
            return error(
                StatusCode::CONFLICT,
                "Head branch was modified. Review and try the merge again.",
            );
        }
    }
    state.commits += 1;
    let merge_sha = format!("{:040x}", 0xfeed_0000_u64 + state.commits);
    let pull = &mut state.pulls[index];
    pull.state = "closed".into();
    pull.merged = true;
    pull.merge_commit_sha = Some(merge_sha.clone());
    Json(json!({"sha": merge_sha, "merged": true, "message": "Pull Request successfully merged"}))
        .into_response()
}

async fn list_reviews(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) || !state.pulls.iter().any(|p| p.number == number) {
        return not_found();
    }
    let items: Vec<Value> = state
        .reviews
        .iter()
        .filter(|r| r.pull == number)
        .map(|r| {
            json!({
                "id": r.id, "node_id": format!("PRR_kwDO{}", r.id), "user": state.user(&r.user),
                "body": r.body, "state": r.state,
                "html_url": format!("https://github.com/{}/{}/pull/{number}#pullrequestreview-{}", state.owner, state.repo, r.id),
                "pull_request_url": format!("https://api.github.com/repos/{}/{}/pulls/{number}", state.owner, state.repo),
                "author_association": "COLLABORATOR", "submitted_at": stamp(Utc::now()),
                "commit_id": r.commit_id,
            })
        })
        .collect();
    let (items, link) = page(items, &params, &uri, &headers);
    (link, Json(Value::Array(items))).into_response()
}

async fn list_review_comments(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) || !state.pulls.iter().any(|p| p.number == number) {
        return not_found();
    }
    let items: Vec<Value> = state
        .review_comments
        .iter()
        .filter(|c| c.pull == number)
        .map(|c| {
            json!({
                "url": format!("https://api.github.com/repos/{}/{}/pulls/comments/{}", state.owner, state.repo, c.id),
                "pull_request_review_id": c.review_id, "id": c.id, "node_id": format!("PRRC_kwDO{}", c.id),
                "diff_hunk": "@@ -1,3 +1,4 @@", "path": c.path, "position": 4, "original_position": 4,
                "commit_id": "", "original_commit_id": "", "user": state.user(&c.user), "body": c.body,
                "created_at": stamp(Utc::now()), "updated_at": stamp(Utc::now()),
                "html_url": format!("https://github.com/{}/{}/pull/{number}#discussion_r{}", state.owner, state.repo, c.id),
                "pull_request_url": format!("https://api.github.com/repos/{}/{}/pulls/{number}", state.owner, state.repo),
                "author_association": "COLLABORATOR", "start_line": null, "original_start_line": null,
                "start_side": null, "line": c.line, "original_line": c.line, "side": "RIGHT",
                "subject_type": "line",
            })
        })
        .collect();
    let (items, link) = page(items, &params, &uri, &headers);
    (link, Json(Value::Array(items))).into_response()
}

fn issue_comment_json(state: &GithubRepoState, comment: &FakeIssueComment) -> Value {
    json!({
        "id": comment.id, "node_id": format!("IC_kwDO{}", comment.id),
        "url": format!("https://api.github.com/repos/{}/{}/issues/comments/{}", state.owner, state.repo, comment.id),
        "html_url": format!("https://github.com/{}/{}/pull/{}#issuecomment-{}", state.owner, state.repo, comment.issue, comment.id),
        "body": comment.body, "user": state.user("baton-bot"),
        "created_at": stamp(Utc::now()), "updated_at": stamp(Utc::now()),
        "issue_url": format!("https://api.github.com/repos/{}/{}/issues/{}", state.owner, state.repo, comment.issue),
        "author_association": "CONTRIBUTOR",
    })
}

async fn list_issue_comments(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let items: Vec<Value> = state
        .issue_comments
        .iter()
        .filter(|c| c.issue == number)
        .map(|c| issue_comment_json(&state, c))
        .collect();
    let (items, link) = page(items, &params, &uri, &headers);
    (link, Json(Value::Array(items))).into_response()
}

async fn create_issue_comment(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) || !state.pulls.iter().any(|p| p.number == number) {
        return not_found();
    }
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    let comment = FakeIssueComment {
        id: state.next_id(),
        issue: number,
        body: text.to_owned(),
    };
    let json = issue_comment_json(&state, &comment);
    state.issue_comments.push(comment);
    (StatusCode::CREATED, Json(json)).into_response()
}

/// `POST /pulls/{n}/requested_reviewers`: GitHub answers 201 with the pull request.
async fn request_reviewers(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(reviewers) = body.get("reviewers").and_then(Value::as_array) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request.");
    };
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return not_found();
    };
    for login in reviewers.iter().filter_map(Value::as_str) {
        if !pull.requested_reviewers.iter().any(|r| r == login) {
            pull.requested_reviewers.push(login.to_owned());
        }
    }
    let reviewers: Vec<Value> = pull
        .requested_reviewers
        .iter()
        .map(|login| serde_json::json!({ "login": login }))
        .collect();
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "number": number, "requested_reviewers": reviewers })),
    )
        .into_response()
}

async fn add_labels(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return not_found();
    };
    let Some(labels) = body.get("labels").and_then(Value::as_array) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request.");
    };
    for label in labels.iter().filter_map(Value::as_str) {
        if !pull.labels.iter().any(|l| l == label) {
            pull.labels.push(label.to_owned());
        }
    }
    Json(Value::Array(
        pull.labels.iter().map(|l| label_json(l)).collect(),
    ))
    .into_response()
}

async fn list_check_runs(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let runs: Vec<Value> = state
        .check_runs
        .get(&sha)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, run)| {
            json!({
                "id": 4000 + i, "head_sha": sha, "node_id": format!("CR_{i}"), "external_id": "",
                "url": format!("https://api.github.com/repos/{owner}/{repo}/check-runs/{}", 4000 + i),
                "html_url": "https://github.com/", "details_url": "https://ci.example/",
                "status": run.status, "conclusion": run.conclusion,
                "started_at": stamp(Utc::now()),
                "completed_at": if run.status == "completed" { json!(stamp(Utc::now())) } else { Value::Null },
                "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                           "annotations_url": "https://api.github.com/"},
                "name": run.name, "check_suite": {"id": 5}, "app": {"id": 1, "slug": "ci", "name": "CI"},
                "pull_requests": [],
            })
        })
        .collect();
    let total = runs.len();
    let (runs, link) = page(runs, &params, &uri, &headers);
    (
        link,
        Json(json!({"total_count": total, "check_runs": runs})),
    )
        .into_response()
}

async fn combined_status(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    let list: Vec<String> = state.statuses.get(&sha).cloned().unwrap_or_default();
    // GitHub's own rule: no statuses at all reads `pending`.
    let combined = if list.iter().any(|s| s == "failure" || s == "error") {
        "failure"
    } else if list.is_empty() || list.iter().any(|s| s == "pending") {
        "pending"
    } else {
        "success"
    };
    let statuses: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"url": "https://api.github.com/", "avatar_url": null, "id": 7000 + i,
                   "node_id": format!("SC_{i}"), "state": s, "description": "CI",
                   "target_url": "https://ci.example/", "context": format!("ci/{i}"),
                   "created_at": stamp(Utc::now()), "updated_at": stamp(Utc::now())})
        })
        .collect();
    Json(json!({"state": combined, "statuses": statuses, "sha": sha, "total_count": list.len(),
                "repository": state.repo_json(),
                "commit_url": format!("https://api.github.com/repos/{owner}/{repo}/commits/{sha}"),
                "url": format!("https://api.github.com/repos/{owner}/{repo}/commits/{sha}/status")}))
    .into_response()
}

/// Checks an App JWT: RS256 signature with the App's public key, `iss`, and a lifetime of
/// at most ten minutes that covers now.
fn verify_jwt(app: &FakeApp, headers: &HeaderMap) -> Result<(), String> {
    let jwt = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("no bearer token")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("not three parts".into());
    };
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {}", header["alg"]));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &app.public_key_der,
    )
    .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
    .map_err(|_| "bad signature".to_owned())?;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let iss = match &claims["iss"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if iss != app.app_id {
        return Err(format!("iss {iss}"));
    }
    let (iat, exp) = (
        claims["iat"].as_i64().ok_or("iat")?,
        claims["exp"].as_i64().ok_or("exp")?,
    );
    let now = Utc::now().timestamp();
    if iat > now + 60 || exp <= now || exp - iat > 600 {
        return Err(format!("times iat={iat} exp={exp} now={now}"));
    }
    Ok(())
}

fn jwt_refused(reason: String) -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        &format!("A JSON web token could not be decoded ({reason})"),
    )
}

async fn repo_installation(
    State(fake): State<GithubRepoFake>,
    Path((owner, repo)): RepoPath,
    headers: HeaderMap,
) -> Response {
    let mut state = fake.lock();
    let Some(app) = state.app.clone() else {
        return not_found();
    };
    if let Err(reason) = verify_jwt(&app, &headers) {
        return jwt_refused(reason);
    }
    if !state.is_repo(&owner, &repo) {
        return not_found();
    }
    if let Some(app) = state.app.as_mut() {
        app.installation_lookups += 1;
    }
    Json(json!({
        "id": app.installation_id,
        "account": state.user(&owner),
        "repository_selection": "selected",
        "access_tokens_url": format!("https://api.github.com/app/installations/{}/access_tokens", app.installation_id),
        "repositories_url": "https://api.github.com/installation/repositories",
        "html_url": format!("https://github.com/organizations/{owner}/settings/installations/{}", app.installation_id),
        "app_id": app.app_id.parse::<u64>().unwrap_or(0), "target_id": 1, "target_type": "Organization",
        "permissions": {"contents": "write", "pull_requests": "write", "issues": "write", "checks": "read", "statuses": "read"},
        "events": [], "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "single_file_name": null,
    }))
    .into_response()
}

async fn create_access_token(
    State(fake): State<GithubRepoFake>,
    Path(id): Path<u64>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    let repo_name = state.repo.clone();
    let full_name = format!("{}/{}", state.owner, state.repo);
    let Some(app) = state.app.as_mut() else {
        return not_found();
    };
    if let Err(reason) = verify_jwt(app, &headers) {
        return jwt_refused(reason);
    }
    if id != app.installation_id {
        return not_found();
    }
    let repositories = body.get("repositories").cloned().unwrap_or(Value::Null);
    app.exchanges.push(repositories.clone());
    if repositories != json!([repo_name]) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "There is at least one repository that does not exist or is not accessible to the parent installation.");
    }
    let token = format!("ghs_fakeinstallation{:04}", app.exchanges.len());
    let expires_at = Utc::now() + app.token_lifetime;
    app.issued.push((token.clone(), expires_at));
    (
        StatusCode::CREATED,
        Json(json!({
            "token": token, "expires_at": stamp(expires_at),
            "permissions": {"contents": "write", "pull_requests": "write", "issues": "write"},
            "repository_selection": "selected",
            "repositories": [{"id": 1296269, "name": repo_name, "full_name": full_name}],
        })),
    )
        .into_response()
}
