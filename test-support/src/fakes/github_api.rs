//! A stateful fake of GitHub's REST API (v3) for tests: one repository's issues, their
//! comments and labels, answered in GitHub's own JSON shapes, status codes and `Link`
//! pagination. Serve [`GithubFake::router`] with `crate::FakeApi`
//! (which records requests and injects faults) and point the adapter's `base_url` at it.
//!
//! Pull requests: GitHub numbers them with issues and lists them among issues (marked by a
//! `pull_request` key). The "Pull requests" sections below are where their state, helpers and
//! routes go; [`GithubFake::add_pull_request_entry`] already puts one in the issue listing.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// GitHub's default page size; the fake serves at most [`GithubFake::DEFAULT_MAX_PER_PAGE`]
/// whatever is asked, so listings always span several pages.
const GITHUB_DEFAULT_PER_PAGE: usize = 30;
const DOCS: &str = "https://docs.github.com/rest";

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

/// An issue (or pull request entry) as the fake holds it.
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

#[derive(Debug)]
struct Repository {
    owner: String,
    name: String,
    /// When set, requests must carry `Authorization: Bearer <token>` (or `token <token>`).
    token: Option<String>,
    /// Who the token belongs to: the author of comments written through the API.
    viewer: String,
    max_per_page: usize,
    issues: BTreeMap<u64, FakeIssue>,
    comments: Vec<FakeComment>,
    /// Repository labels by lowercased name: GitHub label names are case-insensitive.
    labels: BTreeMap<String, FakeLabel>,
    next_number: u64,
    /// Database ids for issues, comments and labels; far from the numbers, so a test that
    /// mixes an id with a number fails.
    next_id: u64,
    // ---- Pull requests: their own records (head, base, merge state) go here. ----
}

/// The fake GitHub. Clones share one repository, so a test can inspect what was written.
#[derive(Debug, Clone)]
pub struct GithubFake {
    repository: Arc<Mutex<Repository>>,
}

impl GithubFake {
    pub const DEFAULT_MAX_PER_PAGE: usize = 2;

    /// An empty repository `owner/name` that accepts any credential.
    pub fn new(repository: &str) -> Self {
        let (owner, name) = repository
            .split_once('/')
            .expect("the fake repository is `owner/name`");
        Self {
            repository: Arc::new(Mutex::new(Repository {
                owner: owner.to_owned(),
                name: name.to_owned(),
                token: None,
                viewer: "baton-bot".to_owned(),
                max_per_page: Self::DEFAULT_MAX_PER_PAGE,
                issues: BTreeMap::new(),
                comments: Vec::new(),
                labels: BTreeMap::new(),
                next_number: 1,
                next_id: 1_000_001,
            })),
        }
    }

    /// Answers 401 "Bad credentials" unless the request carries this token.
    pub fn require_token(self, token: &str) -> Self {
        self.lock().token = Some(token.to_owned());
        self
    }

    pub fn set_max_per_page(&self, max: usize) {
        self.lock().max_per_page = max.max(1);
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        let repository = self.lock();
        format!("{}/{}", repository.owner, repository.name)
    }

    /// Creates an issue as a person would; returns its number.
    pub fn add_issue(&self, issue: NewIssue) -> u64 {
        self.lock().insert_issue(issue, false)
    }

    pub fn issue(&self, number: u64) -> Option<FakeIssue> {
        self.lock().issues.get(&number).cloned()
    }

    /// The issue's comments, oldest first.
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
            set_issue_state(issue, state, None);
        }
    }

    /// Replaces an issue's labels behind the adapter's back.
    pub fn set_labels(&self, number: u64, labels: &[&str]) {
        let mut repository = self.lock();
        let names: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        repository.set_issue_labels(number, &names);
    }

    // ---- Pull requests: helpers ----

    /// A pull request's entry in the issue listing (same numbering, `pull_request` key).
    pub fn add_pull_request_entry(&self, title: &str) -> u64 {
        self.lock().insert_issue(NewIssue::new(title), true)
    }

    /// The routes, in GitHub's paths. Unknown repositories answer 404 as GitHub does.
    pub fn router(&self) -> Router {
        let issues = Router::new()
            .route(
                "/repos/{owner}/{repo}/issues",
                get(list_issues).post(create_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}",
                get(get_issue).patch(update_issue),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/comments",
                get(list_comments).post(create_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues/comments/{comment_id}",
                get(get_comment).patch(update_comment),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels",
                get(list_issue_labels).post(add_issue_labels),
            )
            .route(
                "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
                delete(remove_issue_label),
            );
        issues.merge(pull_request_routes()).with_state(self.clone())
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
        if let Some(token) = &repository.token {
            let given = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if given != format!("Bearer {token}") && given != format!("token {token}") {
                return Err(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
            }
        }
        if !owner.eq_ignore_ascii_case(&repository.owner)
            || !repo.eq_ignore_ascii_case(&repository.name)
        {
            return Err(not_found());
        }
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("api.github.com");
        let api = Api {
            base: format!("http://{host}"),
            repo: format!("{}/{}", repository.owner, repository.name),
        };
        Ok((repository, api))
    }
}

// ---- Pull requests: routes (`/repos/{owner}/{repo}/pulls...`) go here. ----

fn pull_request_routes() -> Router<GithubFake> {
    Router::new()
}

impl Repository {
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn insert_issue(&mut self, new: NewIssue, is_pull_request: bool) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        let id = self.take_id();
        let now = now();
        for label in &new.labels {
            self.ensure_label(label);
        }
        let mut issue = FakeIssue {
            number,
            id,
            title: new.title,
            body: new.body,
            state: "open".to_owned(),
            state_reason: None,
            labels: new.labels,
            assignees: new.assignees,
            author: new.author,
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
            is_pull_request,
        };
        set_issue_state(&mut issue, &new.state, None);
        self.issues.insert(number, issue);
        number
    }

    /// The repository label of that name, created on first use as GitHub does.
    fn ensure_label(&mut self, name: &str) -> FakeLabel {
        let key = name.to_lowercase();
        if let Some(label) = self.labels.get(&key) {
            return label.clone();
        }
        let label = FakeLabel {
            id: self.take_id(),
            name: name.to_owned(),
            color: "ededed".to_owned(),
        };
        self.labels.insert(key, label.clone());
        label
    }

    fn set_issue_labels(&mut self, number: u64, names: &[String]) {
        let mut canonical: Vec<String> = Vec::new();
        for name in names {
            let label = self.ensure_label(name);
            if !canonical
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&label.name))
            {
                canonical.push(label.name);
            }
        }
        if let Some(issue) = self.issues.get_mut(&number) {
            issue.labels = canonical;
            issue.updated_at = now();
        }
    }

    fn label_json(&self, api: &Api, name: &str) -> Value {
        let label = self.labels.get(&name.to_lowercase());
        json!({
            "id": label.map_or(0, |l| l.id),
            "node_id": format!("LA_{}", label.map_or(0, |l| l.id)),
            "url": format!("{}/repos/{}/labels/{}", api.base, api.repo, name),
            "name": label.map_or(name, |l| l.name.as_str()),
            "color": label.map_or("ededed", |l| l.color.as_str()),
            "default": false,
            "description": null,
        })
    }

    fn issue_labels_json(&self, api: &Api, issue: &FakeIssue) -> Value {
        Value::Array(
            issue
                .labels
                .iter()
                .map(|name| self.label_json(api, name))
                .collect(),
        )
    }

    fn issue_json(&self, api: &Api, issue: &FakeIssue) -> Value {
        let url = format!("{}/repos/{}/issues/{}", api.base, api.repo, issue.number);
        let comments = self
            .comments
            .iter()
            .filter(|c| c.issue_number == issue.number)
            .count();
        let assignees: Vec<Value> = issue.assignees.iter().map(|a| user_json(api, a)).collect();
        let mut record = json!({
            "id": issue.id,
            "node_id": format!("I_kw{}", issue.id),
            "url": url,
            "repository_url": format!("{}/repos/{}", api.base, api.repo),
            "labels_url": format!("{url}/labels{{/name}}"),
            "comments_url": format!("{url}/comments"),
            "events_url": format!("{url}/events"),
            "html_url": format!("https://github.com/{}/issues/{}", api.repo, issue.number),
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": user_json(api, &issue.author),
            "labels": self.issue_labels_json(api, issue),
            "assignee": assignees.first().cloned().unwrap_or(Value::Null),
            "assignees": assignees,
            "milestone": null,
            "locked": false,
            "active_lock_reason": null,
            "comments": comments,
            "closed_at": issue.closed_at,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_by": null,
            "author_association": "OWNER",
        });
        if issue.is_pull_request {
            record["pull_request"] = json!({
                "url": format!("{}/repos/{}/pulls/{}", api.base, api.repo, issue.number),
                "html_url": format!("https://github.com/{}/pull/{}", api.repo, issue.number),
                "diff_url": format!("https://github.com/{}/pull/{}.diff", api.repo, issue.number),
                "patch_url": format!("https://github.com/{}/pull/{}.patch", api.repo, issue.number),
                "merged_at": null,
            });
        }
        record
    }
}

/// Where the client reached the fake, for the URLs inside records and `Link` headers.
struct Api {
    /// `http://127.0.0.1:<port>`.
    base: String,
    /// `owner/name`.
    repo: String,
}

fn comment_json(api: &Api, comment: &FakeComment) -> Value {
    json!({
        "id": comment.id,
        "node_id": format!("IC_kw{}", comment.id),
        "url": format!("{}/repos/{}/issues/comments/{}", api.base, api.repo, comment.id),
        "html_url": format!(
            "https://github.com/{}/issues/{}#issuecomment-{}",
            api.repo, comment.issue_number, comment.id
        ),
        "body": comment.body,
        "user": user_json(api, &comment.author),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "issue_url": format!("{}/repos/{}/issues/{}", api.base, api.repo, comment.issue_number),
        "author_association": "OWNER",
    })
}

fn user_json(api: &Api, login: &str) -> Value {
    // A stable id per login, as GitHub's never change.
    let id = login.bytes().fold(7_u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    }) % 100_000_000;
    json!({
        "login": login,
        "id": id,
        "node_id": format!("U_kg{id}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "url": format!("{}/users/{login}", api.base),
        "html_url": format!("https://github.com/{login}"),
        "type": "User",
        "site_admin": false,
    })
}

fn set_issue_state(issue: &mut FakeIssue, state: &str, reason: Option<&str>) {
    let closing = state.eq_ignore_ascii_case("closed");
    let was_closed = issue.state == "closed";
    if closing && !was_closed {
        issue.state = "closed".to_owned();
        issue.state_reason = Some(reason.unwrap_or("completed").to_owned());
        issue.closed_at = Some(now());
    } else if !closing && was_closed {
        issue.state = "open".to_owned();
        issue.state_reason = Some("reopened".to_owned());
        issue.closed_at = None;
    }
    issue.updated_at = now();
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An error answer in GitHub's shape; handlers return it with `?`.
struct Failure {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

fn error(status: StatusCode, message: &str) -> Failure {
    Failure {
        status,
        body: json!({
            "message": message,
            "documentation_url": DOCS,
            "status": status.as_u16().to_string(),
        }),
    }
}

fn not_found() -> Failure {
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn validation_failed(resource: &str, field: &str, code: &str) -> Failure {
    Failure {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": code, "field": field}],
            "documentation_url": DOCS,
            "status": "422",
        }),
    }
}

fn json_body(bytes: &Bytes) -> Result<Value, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// Percent-encodes a query component (kept here so the fake needs no URL crate).
fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A path number; anything else is a path GitHub does not have.
fn parse_number(text: &str) -> Option<u64> {
    text.parse().ok()
}

/// Label names from `["a", "b"]`, `[{"name": "a"}]`, or `{"labels": [...]}`.
fn label_names(value: &Value) -> Option<Vec<String>> {
    let list = value.get("labels").unwrap_or(value).as_array()?;
    list.iter()
        .map(|item| {
            item.as_str()
                .or_else(|| item.get("name").and_then(Value::as_str))
                .map(str::to_owned)
        })
        .collect()
}

async fn list_issues(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let state = query.get("state").map_or("open", String::as_str);
    if !matches!(state, "open" | "closed" | "all") {
        return Err(validation_failed("Issue", "state", "invalid"));
    }
    let wanted_labels: Vec<String> = query
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(GITHUB_DEFAULT_PER_PAGE)
        .clamp(1, repository.max_per_page);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    // GitHub's default order: newest first.
    let matching: Vec<&FakeIssue> = repository
        .issues
        .values()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            wanted_labels
                .iter()
                .all(|w| i.labels.iter().any(|l| l.to_lowercase() == *w))
        })
        .collect();
    let last_page = matching.len().div_ceil(per_page).max(1);
    let records: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|issue| repository.issue_json(&api, issue))
        .collect();
    let mut response = Json(records).into_response();
    let page_url = |n: usize| {
        let mut keys: Vec<&String> = query.keys().filter(|k| *k != "page").collect();
        keys.sort();
        let mut params: Vec<String> = keys
            .into_iter()
            .map(|key| format!("{}={}", encode_query(key), encode_query(&query[key])))
            .collect();
        params.push(format!("page={n}"));
        format!(
            "{}/repos/{}/issues?{}",
            api.base,
            api.repo,
            params.join("&")
        )
    };
    let mut links = Vec::new();
    if page < last_page {
        links.push(format!("<{}>; rel=\"next\"", page_url(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", page_url(last_page)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", page_url(page - 1)));
        links.push(format!("<{}>; rel=\"first\"", page_url(1)));
    }
    if !links.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            response.headers_mut().insert("link", value);
        }
    }
    Ok(response)
}

async fn create_issue(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let body = json_body(&body)?;
    let Some(title) = body.get("title").and_then(Value::as_str) else {
        return Err(validation_failed("Issue", "title", "missing_field"));
    };
    let mut new = NewIssue::new(title);
    new.body = body.get("body").and_then(Value::as_str).map(str::to_owned);
    new.labels = label_names(&body).unwrap_or_default();
    new.author = repository.viewer.clone();
    let number = repository.insert_issue(new, false);
    let record = repository.issue_json(&api, &repository.issues[&number]);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

async fn get_issue(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text)): Path<(String, String, String)>,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text).ok_or_else(not_found)?;
    let issue = repository.issues.get(&number).ok_or_else(not_found)?;
    Ok(Json(repository.issue_json(&api, issue)).into_response())
}

async fn update_issue(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text).ok_or_else(not_found)?;
    let body = json_body(&body)?;
    if !repository.issues.contains_key(&number) {
        return Err(not_found());
    }
    let state = body.get("state").and_then(Value::as_str);
    if state.is_some_and(|s| !matches!(s, "open" | "closed")) {
        return Err(validation_failed("Issue", "state", "invalid"));
    }
    let reason = body.get("state_reason").and_then(Value::as_str);
    if reason.is_some_and(|r| !matches!(r, "completed" | "not_planned" | "reopened")) {
        return Err(validation_failed("Issue", "state_reason", "invalid"));
    }
    if body.get("labels").is_some() {
        let Some(names) = label_names(&body) else {
            return Err(validation_failed("Issue", "labels", "invalid"));
        };
        repository.set_issue_labels(number, &names);
    }
    let Some(issue) = repository.issues.get_mut(&number) else {
        return Err(not_found());
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        issue.title = title.to_owned();
    }
    if let Some(text) = body.get("body") {
        issue.body = text.as_str().map(str::to_owned);
    }
    if let Some(assignees) = body.get("assignees").and_then(Value::as_array) {
        issue.assignees = assignees
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    if let Some(state) = state {
        set_issue_state(issue, state, reason);
    }
    issue.updated_at = now();
    Ok(Json(repository.issue_json(&api, &repository.issues[&number])).into_response())
}

async fn list_comments(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text)): Path<(String, String, String)>,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text).ok_or_else(not_found)?;
    if !repository.issues.contains_key(&number) {
        return Err(not_found());
    }
    let records: Vec<Value> = repository
        .comments
        .iter()
        .filter(|c| c.issue_number == number)
        .map(|c| comment_json(&api, c))
        .collect();
    Ok(Json(records).into_response())
}

async fn create_comment(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text).ok_or_else(not_found)?;
    let body = json_body(&body)?;
    if !repository.issues.contains_key(&number) {
        return Err(not_found());
    }
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(validation_failed("IssueComment", "body", "missing_field"));
    };
    let now = now();
    let comment = FakeComment {
        id: repository.take_id(),
        issue_number: number,
        body: text.to_owned(),
        author: repository.viewer.clone(),
        created_at: now.clone(),
        updated_at: now,
    };
    repository.comments.push(comment.clone());
    Ok((StatusCode::CREATED, Json(comment_json(&api, &comment))).into_response())
}

async fn get_comment(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, id_text)): Path<(String, String, String)>,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let id = parse_number(&id_text).ok_or_else(not_found)?;
    let comment = repository
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(not_found)?;
    Ok(Json(comment_json(&api, comment)).into_response())
}

async fn update_comment(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, id_text)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let id = parse_number(&id_text).ok_or_else(not_found)?;
    let body = json_body(&body)?;
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(validation_failed("IssueComment", "body", "missing_field"));
    };
    let Some(comment) = repository.comments.iter_mut().find(|c| c.id == id) else {
        return Err(not_found());
    };
    comment.body = text.to_owned();
    comment.updated_at = now();
    let record = comment_json(&api, comment);
    Ok(Json(record).into_response())
}

async fn list_issue_labels(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text)): Path<(String, String, String)>,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text).ok_or_else(not_found)?;
    let issue = repository.issues.get(&number).ok_or_else(not_found)?;
    Ok(Json(repository.issue_labels_json(&api, issue)).into_response())
}

async fn add_issue_labels(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text).ok_or_else(not_found)?;
    let body = json_body(&body)?;
    let Some(added) = label_names(&body) else {
        return Err(validation_failed("Label", "labels", "invalid"));
    };
    let Some(issue) = repository.issues.get(&number) else {
        return Err(not_found());
    };
    let mut names = issue.labels.clone();
    names.extend(added);
    repository.set_issue_labels(number, &names);
    Ok(Json(repository.issue_labels_json(&api, &repository.issues[&number])).into_response())
}

async fn remove_issue_label(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text, name)): Path<(String, String, String, String)>,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text).ok_or_else(not_found)?;
    let Some(issue) = repository.issues.get(&number) else {
        return Err(not_found());
    };
    if !issue.labels.iter().any(|l| l.eq_ignore_ascii_case(&name)) {
        return Err(error(StatusCode::NOT_FOUND, "Label does not exist"));
    }
    let remaining: Vec<String> = issue
        .labels
        .iter()
        .filter(|l| !l.eq_ignore_ascii_case(&name))
        .cloned()
        .collect();
    repository.set_issue_labels(number, &remaining);
    Ok(Json(repository.issue_labels_json(&api, &repository.issues[&number])).into_response())
}
