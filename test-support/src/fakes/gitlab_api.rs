//! A stateful fake of GitLab's REST API (v4) for tests: one project's issues and their notes,
//! answered in GitLab's own JSON shapes, status codes and pagination headers (`Link`,
//! `x-next-page`, ...). Serve [`GitlabFake::router`] with
//! `crate::FakeApi`; the adapter's `base_url` is
//! `<fake url>/api/v4`, as on gitlab.com.
//!
//! The project answers to its numeric id and to its URL-encoded path (`group%2Fproject`).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// GitLab's default page size; the fake serves at most [`GitlabFake::DEFAULT_MAX_PER_PAGE`].
const GITLAB_DEFAULT_PER_PAGE: usize = 20;
const PROJECT_ID: u64 = 4_242;

/// An issue to put on the fake, as a person would have written it.
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub title: String,
    /// GitLab sends `null` for an issue created without one.
    pub description: Option<String>,
    pub labels: Vec<String>,
    /// `opened` or `closed`.
    pub state: String,
    pub assignees: Vec<String>,
    pub author: String,
}

impl NewIssue {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            description: None,
            labels: Vec::new(),
            state: "opened".to_owned(),
            assignees: Vec::new(),
            author: "root".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIssue {
    pub iid: u64,
    /// The instance-wide id, distinct from the iid.
    pub id: u64,
    pub title: String,
    pub description: Option<String>,
    /// `opened` or `closed`.
    pub state: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeNote {
    pub id: u64,
    pub issue_iid: u64,
    pub body: String,
    pub author: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug)]
struct Project {
    path: String,
    /// When set, requests must carry `PRIVATE-TOKEN: <token>` (or `Authorization: Bearer`).
    token: Option<String>,
    /// Who the token belongs to: the author of notes written through the API.
    viewer: String,
    max_per_page: usize,
    issues: BTreeMap<u64, FakeIssue>,
    notes: Vec<FakeNote>,
    next_iid: u64,
    /// Instance-wide ids for issues and notes; far from the iids.
    next_id: u64,
}

/// The fake GitLab. Clones share one project, so a test can inspect what was written.
#[derive(Debug, Clone)]
pub struct GitlabFake {
    project: Arc<Mutex<Project>>,
}

impl GitlabFake {
    pub const DEFAULT_MAX_PER_PAGE: usize = 2;

    /// An empty project at `path` (`group/project`, subgroups allowed) that accepts any
    /// credential.
    pub fn new(path: &str) -> Self {
        Self {
            project: Arc::new(Mutex::new(Project {
                path: path.to_owned(),
                token: None,
                viewer: "baton-bot".to_owned(),
                max_per_page: Self::DEFAULT_MAX_PER_PAGE,
                issues: BTreeMap::new(),
                notes: Vec::new(),
                next_iid: 1,
                next_id: 500_001,
            })),
        }
    }

    /// Answers 401 unless the request carries this token.
    pub fn require_token(self, token: &str) -> Self {
        self.lock().token = Some(token.to_owned());
        self
    }

    pub fn set_max_per_page(&self, max: usize) {
        self.lock().max_per_page = max.max(1);
    }

    /// Creates an issue as a person would; returns its iid.
    pub fn add_issue(&self, issue: NewIssue) -> u64 {
        self.lock().insert_issue(issue)
    }

    pub fn issue(&self, iid: u64) -> Option<FakeIssue> {
        self.lock().issues.get(&iid).cloned()
    }

    /// The issue's notes, oldest first.
    pub fn notes(&self, iid: u64) -> Vec<FakeNote> {
        self.lock()
            .notes
            .iter()
            .filter(|n| n.issue_iid == iid)
            .cloned()
            .collect()
    }

    /// The routes, in GitLab's paths under `/api/v4`.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route(
                "/projects/{project}/issues",
                get(list_issues).post(create_issue),
            )
            .route(
                "/projects/{project}/issues/{iid}",
                get(get_issue).put(update_issue),
            )
            .route(
                "/projects/{project}/issues/{iid}/notes",
                get(list_notes).post(create_note),
            )
            .route(
                "/projects/{project}/issues/{iid}/notes/{note_id}",
                get(get_note).put(update_note),
            );
        Router::new().nest("/api/v4", api).with_state(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, Project> {
        self.project
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Checks the credential and the project (already URL-decoded by the router).
    fn open(
        &self,
        headers: &HeaderMap,
        project_id: &str,
    ) -> Result<(MutexGuard<'_, Project>, Api), Failure> {
        let project = self.lock();
        if let Some(token) = &project.token {
            let private = headers.get("private-token").and_then(|v| v.to_str().ok());
            let bearer = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            if private != Some(token.as_str()) && bearer != Some(token.as_str()) {
                return Err(message(StatusCode::UNAUTHORIZED, "401 Unauthorized"));
            }
        }
        if project_id != project.path && project_id != PROJECT_ID.to_string() {
            return Err(message(StatusCode::NOT_FOUND, "404 Project Not Found"));
        }
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("gitlab.com");
        let api = Api {
            base: format!("http://{host}/api/v4"),
            project_path: project.path.clone(),
        };
        Ok((project, api))
    }
}

impl Project {
    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn insert_issue(&mut self, new: NewIssue) -> u64 {
        let iid = self.next_iid;
        self.next_iid += 1;
        let now = now();
        let mut issue = FakeIssue {
            iid,
            id: self.take_id(),
            title: new.title,
            description: new.description,
            state: "opened".to_owned(),
            labels: Vec::new(),
            assignees: new.assignees,
            author: new.author,
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
        };
        add_labels(&mut issue, &new.labels);
        if new.state == "closed" {
            apply_state_event(&mut issue, "close");
        }
        self.issues.insert(iid, issue);
        iid
    }

    fn issue_json(&self, api: &Api, issue: &FakeIssue) -> Value {
        let self_url = format!("{}/projects/{PROJECT_ID}/issues/{}", api.base, issue.iid);
        let notes = self
            .notes
            .iter()
            .filter(|n| n.issue_iid == issue.iid)
            .count();
        let assignees: Vec<Value> = issue.assignees.iter().map(|a| user_json(a)).collect();
        json!({
            "id": issue.id,
            "iid": issue.iid,
            "project_id": PROJECT_ID,
            "title": issue.title,
            "description": issue.description,
            "state": issue.state,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "closed_by": null,
            "labels": issue.labels,
            "milestone": null,
            "assignees": assignees,
            "assignee": assignees.first().cloned().unwrap_or(Value::Null),
            "author": user_json(&issue.author),
            "type": "ISSUE",
            "issue_type": "issue",
            "user_notes_count": notes,
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": null,
            "confidential": false,
            "discussion_locked": null,
            "web_url": format!("https://gitlab.com/{}/-/issues/{}", api.project_path, issue.iid),
            "time_stats": {
                "time_estimate": 0,
                "total_time_spent": 0,
                "human_time_estimate": null,
                "human_total_time_spent": null,
            },
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_tasks": false,
            "blocking_issues_count": 0,
            "_links": {
                "self": self_url,
                "notes": format!("{self_url}/notes"),
                "award_emoji": format!("{self_url}/award_emoji"),
                "project": format!("{}/projects/{PROJECT_ID}", api.base),
                "closed_as_duplicate_of": null,
            },
            "references": {
                "short": format!("#{}", issue.iid),
                "relative": format!("#{}", issue.iid),
                "full": format!("{}#{}", api.project_path, issue.iid),
            },
            "severity": "UNKNOWN",
            "moved_to_id": null,
            "service_desk_reply_to": null,
        })
    }

    fn note_json(&self, note: &FakeNote) -> Value {
        let noteable_id = self.issues.get(&note.issue_iid).map_or(0, |i| i.id);
        json!({
            "id": note.id,
            "type": null,
            "body": note.body,
            "attachment": null,
            "author": user_json(&note.author),
            "created_at": note.created_at,
            "updated_at": note.updated_at,
            "system": false,
            "noteable_id": noteable_id,
            "noteable_type": "Issue",
            "project_id": PROJECT_ID,
            "noteable_iid": note.issue_iid,
            "resolvable": false,
            "confidential": false,
            "internal": false,
            "imported": false,
            "imported_from": "none",
        })
    }
}

/// Where the client reached the fake, for the URLs inside records and `Link` headers.
struct Api {
    /// `http://127.0.0.1:<port>/api/v4`.
    base: String,
    project_path: String,
}

fn user_json(username: &str) -> Value {
    let id = username.bytes().fold(11_u64, |acc, b| {
        acc.wrapping_mul(37).wrapping_add(u64::from(b))
    }) % 10_000_000;
    json!({
        "id": id,
        "username": username,
        "name": username,
        "state": "active",
        "locked": false,
        "avatar_url": format!("https://secure.gravatar.com/avatar/{id}?s=80&d=identicon"),
        "web_url": format!("https://gitlab.com/{username}"),
    })
}

/// Adds labels not already there; GitLab keeps labels sorted by title.
fn add_labels(issue: &mut FakeIssue, labels: &[String]) {
    for label in labels {
        if !issue.labels.contains(label) {
            issue.labels.push(label.clone());
        }
    }
    issue.labels.sort();
}

fn apply_state_event(issue: &mut FakeIssue, event: &str) {
    match event {
        "close" if issue.state != "closed" => {
            issue.state = "closed".to_owned();
            issue.closed_at = Some(now());
        }
        "reopen" if issue.state == "closed" => {
            issue.state = "opened".to_owned();
            issue.closed_at = None;
        }
        _ => {}
    }
}

/// GitLab's timestamps carry milliseconds.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An error answer in GitLab's shape; handlers return it with `?`.
struct Failure {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

fn message(status: StatusCode, text: &str) -> Failure {
    Failure {
        status,
        body: json!({ "message": text }),
    }
}

fn bad_request(text: &str) -> Failure {
    Failure {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "error": text }),
    }
}

fn issue_not_found() -> Failure {
    message(StatusCode::NOT_FOUND, "404 Not found")
}

fn note_not_found() -> Failure {
    message(StatusCode::NOT_FOUND, "404 Note Not Found")
}

fn json_body(bytes: &Bytes) -> Result<Value, Failure> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|_| {
        bad_request("The provided content-type is not supported or the body is not JSON")
    })
}

/// A comma-separated label parameter, or an array of names: GitLab takes both.
fn label_list(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(text) => Some(
            text.split(',')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

fn parse_number(text: &str) -> Option<u64> {
    text.parse().ok()
}

async fn list_issues(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let (project, api) = fake.open(&headers, &project_id)?;
    // GitLab lists every state unless asked.
    let state = query.get("state").map_or("all", String::as_str);
    if !matches!(state, "opened" | "closed" | "all") {
        return Err(bad_request("state does not have a valid value"));
    }
    let wanted_labels: Vec<String> = query
        .get("labels")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(GITLAB_DEFAULT_PER_PAGE)
        .clamp(1, project.max_per_page);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    // GitLab's default order: newest first.
    let matching: Vec<&FakeIssue> = project
        .issues
        .values()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| wanted_labels.iter().all(|w| i.labels.contains(w)))
        .collect();
    let total_pages = matching.len().div_ceil(per_page).max(1);
    let records: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|issue| project.issue_json(&api, issue))
        .collect();
    let page_url = |n: usize| {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        let mut keys: Vec<&String> = query.keys().filter(|k| *k != "page").collect();
        keys.sort();
        for key in keys {
            params.append_pair(key, &query[key]);
        }
        params.append_pair("page", &n.to_string());
        format!(
            "{}/projects/{}/issues?{}",
            api.base,
            url::form_urlencoded::byte_serialize(project_id.as_bytes()).collect::<String>(),
            params.finish()
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", page_url(page - 1)));
    }
    if page < total_pages {
        links.push(format!("<{}>; rel=\"next\"", page_url(page + 1)));
    }
    links.push(format!("<{}>; rel=\"first\"", page_url(1)));
    links.push(format!("<{}>; rel=\"last\"", page_url(total_pages)));
    let next_page = if page < total_pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev_page = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    let mut response = Json(records).into_response();
    let pagination = [
        ("link", links.join(", ")),
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        ("x-next-page", next_page),
        ("x-prev-page", prev_page),
        ("x-total", matching.len().to_string()),
        ("x-total-pages", total_pages.to_string()),
    ];
    for (name, value) in pagination {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

async fn create_issue(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, api) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let Some(title) = body.get("title").and_then(Value::as_str) else {
        return Err(bad_request("title is missing"));
    };
    let mut new = NewIssue::new(title);
    new.description = body
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    new.labels = label_list(body.get("labels")).unwrap_or_default();
    new.author = project.viewer.clone();
    let iid = project.insert_issue(new);
    let record = project.issue_json(&api, &project.issues[&iid]);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

async fn get_issue(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let (project, api) = fake.open(&headers, &project_id)?;
    let issue = parse_number(&iid)
        .and_then(|iid| project.issues.get(&iid))
        .ok_or_else(issue_not_found)?;
    Ok(Json(project.issue_json(&api, issue)).into_response())
}

async fn update_issue(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, api) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let event = body.get("state_event").and_then(Value::as_str);
    if event.is_some_and(|e| !matches!(e, "close" | "reopen")) {
        return Err(bad_request("state_event does not have a valid value"));
    }
    let iid = parse_number(&iid).ok_or_else(issue_not_found)?;
    let Some(issue) = project.issues.get_mut(&iid) else {
        return Err(issue_not_found());
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        issue.title = title.to_owned();
    }
    if let Some(description) = body.get("description") {
        issue.description = description.as_str().map(str::to_owned);
    }
    if let Some(labels) = label_list(body.get("labels")) {
        issue.labels.clear();
        add_labels(issue, &labels);
    }
    if let Some(added) = label_list(body.get("add_labels")) {
        add_labels(issue, &added);
    }
    if let Some(removed) = label_list(body.get("remove_labels")) {
        issue.labels.retain(|l| !removed.contains(l));
    }
    if let Some(event) = event {
        apply_state_event(issue, event);
    }
    issue.updated_at = now();
    Ok(Json(project.issue_json(&api, &project.issues[&iid])).into_response())
}

async fn list_notes(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let (project, _) = fake.open(&headers, &project_id)?;
    let Some(iid) = parse_number(&iid).filter(|iid| project.issues.contains_key(iid)) else {
        return Err(issue_not_found());
    };
    // GitLab lists notes newest first by default.
    let records: Vec<Value> = project
        .notes
        .iter()
        .rev()
        .filter(|n| n.issue_iid == iid)
        .map(|n| project.note_json(n))
        .collect();
    Ok(Json(records).into_response())
}

async fn create_note(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, _) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let Some(iid) = parse_number(&iid).filter(|iid| project.issues.contains_key(iid)) else {
        return Err(issue_not_found());
    };
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(bad_request("body is missing"));
    };
    let now = now();
    let note = FakeNote {
        id: project.take_id(),
        issue_iid: iid,
        body: text.to_owned(),
        author: project.viewer.clone(),
        created_at: now.clone(),
        updated_at: now,
    };
    project.notes.push(note.clone());
    Ok((StatusCode::CREATED, Json(project.note_json(&note))).into_response())
}

async fn get_note(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid, note_id)): Path<(String, String, String)>,
) -> Result<Response, Failure> {
    let (project, _) = fake.open(&headers, &project_id)?;
    let (iid, note_id) = (parse_number(&iid), parse_number(&note_id));
    let note = project
        .notes
        .iter()
        .find(|n| Some(n.issue_iid) == iid && Some(n.id) == note_id)
        .ok_or_else(note_not_found)?;
    Ok(Json(project.note_json(note)).into_response())
}

async fn update_note(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid, note_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, _) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(bad_request("body is missing"));
    };
    let (iid, note_id) = (parse_number(&iid), parse_number(&note_id));
    let Some(note) = project
        .notes
        .iter_mut()
        .find(|n| Some(n.issue_iid) == iid && Some(n.id) == note_id)
    else {
        return Err(note_not_found());
    };
    note.body = text.to_owned();
    note.updated_at = now();
    let note = note.clone();
    Ok(Json(project.note_json(&note)).into_response())
}
