//! A fake CNB (cnb.cool) OpenAPI for one repository's pull requests, in the shapes of CNB's
//! OpenAPI reference: `api.PullRequest` in listings, `api.Pull` for one pull, string numbers
//! and ids, `refs/heads/…` refs, `api.PullReview` and `api.PullReviewComment`,
//! `api.CommitStatuses`, `api.MergePullResponse`.
//!
//! Requests need `Authorization: Bearer <token>` and `Accept: application/vnd.cnb.api+json`.
//! Listings are numbered pages (`page`, `page_size`) of at most two items and carry no
//! `Link` header. Error bodies (`errcode`, `errmsg`) are an assumption: the reference does
//! not show them.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

mod review;

const PAGE_SIZE: usize = 2;
const MEDIA_TYPE: &str = "application/vnd.cnb.api+json";

#[derive(Debug, Clone)]
pub struct FakePull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    /// `open`, `closed`, `merged`.
    pub state: String,
    pub labels: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FakeReview {
    pub id: String,
    pub pull: u64,
    pub author: String,
    /// `approved`, `changes_requested`, `commented`, `dismissed`, `pending`.
    pub state: String,
    pub body: String,
    /// `(path, line, body)`.
    pub comments: Vec<(String, u64, String)>,
}

#[derive(Debug)]
pub struct CnbRepoState {
    pub repo: String,
    pub token: String,
    pub branches: HashMap<String, String>,
    pub pulls: Vec<FakePull>,
    /// `(pull, id, body)`.
    pub comments: Vec<(u64, String, String)>,
    pub reviews: Vec<FakeReview>,
    /// Commit statuses per pull: `success`, `pending`, `failure`, `error`.
    pub statuses: HashMap<u64, Vec<String>>,
    /// The last `merge_style` asked for.
    pub merge_styles: Vec<String>,
    next_id: u64,
    commits: u64,
}

#[derive(Clone)]
pub struct CnbRepoFake {
    pub state: Arc<Mutex<CnbRepoState>>,
}

impl CnbRepoFake {
    /// A repository `org/name` with a `main` branch, accepting `token`.
    pub fn new(repo: &str, token: &str) -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(CnbRepoState {
                repo: repo.to_owned(),
                token: token.to_owned(),
                branches: HashMap::new(),
                pulls: Vec::new(),
                comments: Vec::new(),
                reviews: Vec::new(),
                statuses: HashMap::new(),
                merge_styles: Vec::new(),
                next_id: 500,
                commits: 0,
            })),
        };
        fake.push("main");
        fake
    }

    pub fn lock(&self) -> MutexGuard<'_, CnbRepoState> {
        self.state.lock().unwrap()
    }

    pub fn push(&self, branch: &str) -> String {
        let mut state = self.lock();
        state.commits += 1;
        let sha = format!("{:040x}", 0x0c0b_0000_u64 + state.commits);
        state.branches.insert(branch.to_owned(), sha.clone());
        sha
    }

    pub fn add_review(
        &self,
        pull: u64,
        state_name: &str,
        body: &str,
        comments: &[(&str, u64, &str)],
    ) {
        let mut state = self.lock();
        let id = state.next_id().to_string();
        state.reviews.push(FakeReview {
            id,
            pull,
            author: "reviewer".into(),
            state: state_name.into(),
            body: body.into(),
            comments: comments
                .iter()
                .map(|(p, l, b)| ((*p).to_owned(), *l, (*b).to_owned()))
                .collect(),
        });
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/{group}/{name}/-/pulls", get(list_pulls).post(create_pull))
            .route(
                "/{group}/{name}/-/pulls/{number}",
                get(get_pull).patch(update_pull),
            )
            .route(
                "/{group}/{name}/-/pulls/{number}/comments",
                post(create_comment),
            )
            .route("/{group}/{name}/-/pulls/{number}/labels", post(add_labels))
            .route(
                "/{group}/{name}/-/pulls/{number}/reviews",
                get(review::list_reviews),
            )
            .route(
                "/{group}/{name}/-/pulls/{number}/reviews/{review}/comments",
                get(review::list_review_comments),
            )
            .route(
                "/{group}/{name}/-/pulls/{number}/commit-statuses",
                get(review::commit_statuses),
            )
            .route("/{group}/{name}/-/pulls/{number}/merge", put(review::merge))
            .with_state(self.clone())
    }
}

impl CnbRepoState {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// `None` when the request may go on; else the refusal.
    fn check(&self, group: &str, name: &str, headers: &HeaderMap) -> Option<Response> {
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
        if header("authorization") != format!("Bearer {}", self.token) {
            return Some(error(StatusCode::UNAUTHORIZED, "unauthorized"));
        }
        if header("accept") != MEDIA_TYPE {
            return Some(error(
                StatusCode::NOT_ACCEPTABLE,
                "unsupported accept header",
            ));
        }
        if format!("{group}/{name}") != self.repo {
            return Some(error(StatusCode::NOT_FOUND, "repo not found"));
        }
        None
    }

    fn user(&self, username: &str) -> Value {
        json!({"email": format!("{username}@example.com"), "freeze": false, "is_npc": false,
               "nickname": username, "username": username})
    }

    fn repo_json(&self) -> Value {
        let name = self.repo.rsplit('/').next().unwrap_or_default();
        json!({"id": "1983", "name": name, "path": self.repo,
               "web_url": format!("https://cnb.cool/{}", self.repo)})
    }

    fn branch_ref(&self, branch: &str) -> Value {
        json!({"ref": format!("refs/heads/{branch}"), "repo": self.repo_json(),
               "sha": self.branches.get(branch).cloned().unwrap_or_default()})
    }

    fn labels_json(&self, pull: &FakePull) -> Vec<Value> {
        pull.labels
            .iter()
            .map(|l| json!({"color": "2f7bde", "description": "", "id": format!("label-{l}"), "name": l}))
            .collect()
    }

    /// `api.Pull`.
    fn pull_json(&self, pull: &FakePull) -> Value {
        json!({
            "author": self.user("baton-bot"), "base": self.branch_ref(&pull.base),
            "blocked_on": "", "body": pull.body, "head": self.branch_ref(&pull.head),
            "is_wip": false, "labels": self.labels_json(pull),
            "merged_by": if pull.state == "merged" { self.user("baton-bot") } else { Value::Null },
            "number": pull.number.to_string(), "reviewers": [], "state": pull.state,
            "title": pull.title,
        })
    }

    /// `api.PullRequest`, as listings show it.
    fn list_json(&self, pull: &FakePull) -> Value {
        json!({
            "assignees": [], "author": self.user("baton-bot"), "base": self.branch_ref(&pull.base),
            "blocked_on": "", "body": pull.body, "comment_count": 0, "created_at": now(),
            "head": self.branch_ref(&pull.head), "is_wip": false, "labels": self.labels_json(pull),
            "last_acted_at": now(),
            "mergeable_state": if pull.state == "open" { "mergeable" } else { "merged" },
            "merged_by": null, "number": pull.number.to_string(), "repo": self.repo_json(),
            "review_count": 0, "state": pull.state, "title": pull.title, "updated_at": now(),
        })
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"errcode": status.as_u16(), "errmsg": message})),
    )
        .into_response()
}

fn page(items: Vec<Value>, params: &HashMap<String, String>) -> Vec<Value> {
    let size = params
        .get("page_size")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, PAGE_SIZE);
    let number = params
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    items
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect()
}

type RepoPath = Path<(String, String)>;
type PullPath = Path<(String, String, u64)>;
type Params = Query<HashMap<String, String>>;

async fn list_pulls(
    State(fake): State<CnbRepoFake>,
    Path((group, name)): RepoPath,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let wanted = params.get("state").map(String::as_str).unwrap_or("open");
    let items: Vec<Value> = state
        .pulls
        .iter()
        .rev()
        .filter(|p| match wanted {
            "all" => true,
            "closed" => p.state != "open",
            other => p.state == other,
        })
        .map(|p| state.list_json(p))
        .collect();
    Json(Value::Array(page(items, &params))).into_response()
}

async fn create_pull(
    State(fake): State<CnbRepoFake>,
    Path((group, name)): RepoPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let field = |n: &str| body.get(n).and_then(Value::as_str).unwrap_or("").to_owned();
    let (head, base) = (field("head"), field("base"));
    if !state.branches.contains_key(&head) || !state.branches.contains_key(&base) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "branch not found");
    }
    if state
        .pulls
        .iter()
        .any(|p| p.head == head && p.state == "open")
    {
        return error(StatusCode::CONFLICT, "pull request already exists");
    }
    let pull = FakePull {
        number: state.pulls.len() as u64 + 1,
        title: field("title"),
        body: field("body"),
        head,
        base,
        state: "open".into(),
        labels: Vec::new(),
    };
    let json = state.pull_json(&pull);
    state.pulls.push(pull);
    (StatusCode::CREATED, Json(json)).into_response()
}

async fn get_pull(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number)): PullPath,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    match state.pulls.iter().find(|p| p.number == number) {
        Some(pull) => Json(state.pull_json(pull)).into_response(),
        None => error(StatusCode::NOT_FOUND, "pull not found"),
    }
}

async fn update_pull(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return error(StatusCode::NOT_FOUND, "pull not found");
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        pull.title = title.to_owned();
    }
    if let Some(text) = body.get("body").and_then(Value::as_str) {
        pull.body = text.to_owned();
    }
    let pull = pull.clone();
    Json(state.pull_json(&pull)).into_response()
}

async fn create_comment(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    if !state.pulls.iter().any(|p| p.number == number) {
        return error(StatusCode::NOT_FOUND, "pull not found");
    }
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "body is required");
    };
    let id = state.next_id().to_string();
    state.comments.push((number, id.clone(), text.to_owned()));
    (
        StatusCode::CREATED,
        Json(
            json!({"author": state.user("baton-bot"), "body": text, "created_at": now(),
                    "id": id, "reactions": [], "updated_at": now()}),
        ),
    )
        .into_response()
}

async fn add_labels(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return error(StatusCode::NOT_FOUND, "pull not found");
    };
    let Some(labels) = body.get("labels").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "labels are required");
    };
    for label in labels.iter().filter_map(Value::as_str) {
        if !pull.labels.iter().any(|l| l == label) {
            pull.labels.push(label.to_owned());
        }
    }
    let first = pull.labels.first().cloned().unwrap_or_default();
    (
        StatusCode::CREATED,
        Json(json!({"color": "2f7bde", "description": "", "id": format!("label-{first}"), "name": first})),
    )
        .into_response()
}
