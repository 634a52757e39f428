//! A fake GitLab REST API v4 for one project's merge requests, in GitLab's JSON shapes:
//! merge requests (list/create/get/update/merge), notes, discussions (general and diff
//! threads, resolvable), approvals and merge request pipelines.
//!
//! Served under `/api/v4`; listings page two items at a time with `Link` and `x-next-page`
//! headers. Requests need the `PRIVATE-TOKEN` header.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

const PAGE_SIZE: usize = 2;
const PROJECT_ID: u64 = 3;

#[derive(Debug, Clone)]
pub struct FakeMergeRequest {
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub description: String,
    pub source_branch: String,
    pub target_branch: String,
    /// `opened`, `closed`, `merged`.
    pub state: String,
    pub labels: Vec<String>,
    pub merge_commit_sha: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FakeNote {
    pub id: u64,
    pub body: String,
    pub author: String,
    pub system: bool,
    pub resolvable: bool,
    pub resolved: bool,
    /// `(path, line)` for a diff note.
    pub position: Option<(String, u64)>,
}

#[derive(Debug, Clone)]
pub struct FakeDiscussion {
    pub id: String,
    pub mr: u64,
    pub individual_note: bool,
    pub notes: Vec<FakeNote>,
}

#[derive(Debug, Clone)]
pub struct FakePipeline {
    pub id: u64,
    pub mr: u64,
    pub sha: String,
    /// `created`, `pending`, `running`, `success`, `failed`, `canceled`, `skipped`, `manual`.
    pub status: String,
}

#[derive(Debug)]
pub struct GitlabRepoState {
    pub project: String,
    pub token: String,
    pub branches: HashMap<String, String>,
    pub merge_requests: Vec<FakeMergeRequest>,
    pub discussions: Vec<FakeDiscussion>,
    /// Usernames that approved, per merge request.
    pub approvals: HashMap<u64, Vec<String>>,
    pub pipelines: Vec<FakePipeline>,
    next_id: u64,
    commits: u64,
}

#[derive(Clone)]
pub struct GitlabRepoFake {
    pub state: Arc<Mutex<GitlabRepoState>>,
}

impl GitlabRepoFake {
    /// A project at `path` with a `main` branch, accepting `token`.
    pub fn new(path: &str, token: &str) -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(GitlabRepoState {
                project: path.to_owned(),
                token: token.to_owned(),
                branches: HashMap::new(),
                merge_requests: Vec::new(),
                discussions: Vec::new(),
                approvals: HashMap::new(),
                pipelines: Vec::new(),
                next_id: 100,
                commits: 0,
            })),
        };
        fake.push("main");
        fake
    }

    pub fn lock(&self) -> MutexGuard<'_, GitlabRepoState> {
        self.state.lock().unwrap()
    }

    pub fn push(&self, branch: &str) -> String {
        let mut state = self.lock();
        state.commits += 1;
        let sha = format!("{:040x}", 0x0009_a1ab_0000_u64 + state.commits);
        state.branches.insert(branch.to_owned(), sha.clone());
        sha
    }

    pub fn head_sha(&self, iid: u64) -> String {
        let state = self.lock();
        let mr = state.merge_requests.iter().find(|m| m.iid == iid).unwrap();
        state.branches[&mr.source_branch].clone()
    }

    /// A thread on the merge request; `position` makes it a diff thread.
    pub fn add_thread(
        &self,
        iid: u64,
        author: &str,
        body: &str,
        position: Option<(&str, u64)>,
        resolved: bool,
    ) {
        let mut state = self.lock();
        let note_id = state.next_id();
        let discussion_id = format!("{:040x}", 0xd15c_0000_u64 + note_id);
        state.discussions.push(FakeDiscussion {
            id: discussion_id,
            mr: iid,
            individual_note: false,
            notes: vec![FakeNote {
                id: note_id,
                body: body.to_owned(),
                author: author.to_owned(),
                system: false,
                resolvable: true,
                resolved,
                position: position.map(|(p, l)| (p.to_owned(), l)),
            }],
        });
    }

    /// A system note ("added 1 commit"), as GitLab writes on every push.
    pub fn add_system_note(&self, iid: u64, body: &str) {
        let mut state = self.lock();
        let note_id = state.next_id();
        state.discussions.push(FakeDiscussion {
            id: format!("{:040x}", 0x5157_0000_u64 + note_id),
            mr: iid,
            individual_note: true,
            notes: vec![FakeNote {
                id: note_id,
                body: body.to_owned(),
                author: "baton-bot".into(),
                system: true,
                resolvable: false,
                resolved: false,
                position: None,
            }],
        });
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/api/v4/projects/{project}/merge_requests",
                get(list_merge_requests).post(create_merge_request),
            )
            .route(
                "/api/v4/projects/{project}/merge_requests/{iid}",
                get(get_merge_request).put(update_merge_request),
            )
            .route(
                "/api/v4/projects/{project}/merge_requests/{iid}/merge",
                put(merge),
            )
            .route(
                "/api/v4/projects/{project}/merge_requests/{iid}/notes",
                post(create_note),
            )
            .route(
                "/api/v4/projects/{project}/merge_requests/{iid}/discussions",
                get(list_discussions),
            )
            .route(
                "/api/v4/projects/{project}/merge_requests/{iid}/approvals",
                get(approvals),
            )
            .route(
                "/api/v4/projects/{project}/merge_requests/{iid}/pipelines",
                get(list_pipelines),
            )
            .with_state(self.clone())
    }
}

impl GitlabRepoState {
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get("private-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == self.token)
    }

    fn user(&self, username: &str) -> Value {
        json!({"id": 1, "username": username, "name": username, "state": "active", "locked": false,
               "avatar_url": null, "web_url": format!("https://gitlab.example.com/{username}")})
    }

    fn web_url(&self, iid: u64) -> String {
        format!(
            "https://gitlab.example.com/{}/-/merge_requests/{iid}",
            self.project
        )
    }

    fn mr_json(&self, mr: &FakeMergeRequest) -> Value {
        let sha = self.branches.get(&mr.source_branch).cloned();
        let (merge_status, detailed) = match mr.state.as_str() {
            "opened" => ("can_be_merged", "mergeable"),
            _ => ("can_be_merged", "not_open"),
        };
        let reference = format!("!{}", mr.iid);
        let references = json!({"short": reference, "relative": reference,
                                "full": format!("{}!{}", self.project, mr.iid)});
        let time_stats = json!({"time_estimate": 0, "total_time_spent": 0,
                                "human_time_estimate": null, "human_total_time_spent": null});
        let mut value = json!({
            "id": mr.id, "iid": mr.iid, "project_id": PROJECT_ID, "title": mr.title,
            "description": mr.description, "state": mr.state,
            "created_at": now(), "updated_at": now(),
            "merged_by": if mr.state == "merged" { self.user("baton-bot") } else { Value::Null },
            "merge_user": null, "merged_at": if mr.state == "merged" { json!(now()) } else { Value::Null },
            "closed_by": null, "closed_at": null,
            "target_branch": mr.target_branch, "source_branch": mr.source_branch,
            "user_notes_count": 0, "upvotes": 0, "downvotes": 0, "author": self.user("baton-bot"),
            "assignees": [], "assignee": null, "reviewers": [],
        });
        // Two halves: one `json!` this size exceeds the macro recursion limit.
        let rest = json!({
            "source_project_id": PROJECT_ID, "target_project_id": PROJECT_ID,
            "labels": mr.labels, "draft": false, "work_in_progress": false, "milestone": null,
            "merge_when_pipeline_succeeds": false, "merge_status": merge_status,
            "detailed_merge_status": detailed, "sha": sha,
            "merge_commit_sha": mr.merge_commit_sha, "squash_commit_sha": null,
            "discussion_locked": null, "should_remove_source_branch": null,
            "force_remove_source_branch": false, "reference": reference,
            "references": references, "web_url": self.web_url(mr.iid), "time_stats": time_stats,
            "squash": false, "squash_on_merge": false,
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": false, "blocking_discussions_resolved": true,
        });
        if let (Some(object), Value::Object(rest)) = (value.as_object_mut(), rest) {
            object.extend(rest);
        }
        value
    }

    fn note_json(&self, note: &FakeNote, iid: u64) -> Value {
        let head = self
            .merge_requests
            .iter()
            .find(|m| m.iid == iid)
            .and_then(|m| self.branches.get(&m.source_branch).cloned())
            .unwrap_or_default();
        let position = note.position.as_ref().map(|(path, line)| {
            json!({"base_sha": "", "start_sha": "", "head_sha": head, "old_path": path,
                   "new_path": path, "position_type": "text", "old_line": null, "new_line": line,
                   "line_range": null})
        });
        let mut value = json!({
            "id": note.id,
            "type": if note.position.is_some() { json!("DiffNote") } else if note.resolvable && !note.system { json!("DiscussionNote") } else { Value::Null },
            "body": note.body, "attachment": null, "author": self.user(&note.author),
            "created_at": now(), "updated_at": now(), "system": note.system,
            "noteable_id": 84, "noteable_type": "MergeRequest", "project_id": PROJECT_ID,
            "noteable_iid": iid, "resolvable": note.resolvable,
            "confidential": false, "internal": false, "commands_changes": {},
        });
        if note.resolvable {
            value["resolved"] = json!(note.resolved);
            value["resolved_by"] = if note.resolved {
                self.user("reviewer")
            } else {
                Value::Null
            };
            value["resolved_at"] = if note.resolved {
                json!(now())
            } else {
                Value::Null
            };
        }
        if let Some(position) = position {
            value["position"] = position;
        }
        value
    }

    fn project_matches(&self, project: &str) -> bool {
        project == self.project || project == PROJECT_ID.to_string()
    }
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn message(status: StatusCode, message: Value) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

fn unauthorized() -> Response {
    message(StatusCode::UNAUTHORIZED, json!("401 Unauthorized"))
}

fn not_found(what: &str) -> Response {
    message(
        StatusCode::NOT_FOUND,
        json!(format!("404 {what} Not Found")),
    )
}

/// One page with GitLab's pagination headers.
fn page(
    items: Vec<Value>,
    params: &HashMap<String, String>,
    uri: &Uri,
    headers: &HeaderMap,
) -> (HeaderMap, Vec<Value>) {
    let per_page = params
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, PAGE_SIZE);
    let number = params
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let start = (number - 1) * per_page;
    let slice: Vec<Value> = items.iter().skip(start).take(per_page).cloned().collect();
    let mut out = HeaderMap::new();
    out.insert(
        "x-page",
        HeaderValue::from_str(&number.to_string()).unwrap(),
    );
    out.insert(
        "x-per-page",
        HeaderValue::from_str(&per_page.to_string()).unwrap(),
    );
    out.insert(
        "x-total",
        HeaderValue::from_str(&items.len().to_string()).unwrap(),
    );
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
        out.insert(
            "x-next-page",
            HeaderValue::from_str(&(number + 1).to_string()).unwrap(),
        );
    } else {
        out.insert("x-next-page", HeaderValue::from_static(""));
    }
    (out, slice)
}

type ProjectPath = Path<String>;
type MrPath = Path<(String, u64)>;
type Params = Query<HashMap<String, String>>;

async fn list_merge_requests(
    State(fake): State<GitlabRepoFake>,
    Path(project): ProjectPath,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.project_matches(&project) {
        return not_found("Project");
    }
    let wanted = params.get("state").map(String::as_str).unwrap_or("all");
    let items: Vec<Value> = state
        .merge_requests
        .iter()
        .rev() // newest first, as GitLab orders by created_at desc
        .filter(|m| wanted == "all" || m.state == wanted)
        .filter(|m| {
            params
                .get("source_branch")
                .is_none_or(|b| *b == m.source_branch)
        })
        .map(|m| state.mr_json(m))
        .collect();
    let (link, items) = page(items, &params, &uri, &headers);
    (link, Json(Value::Array(items))).into_response()
}

async fn create_merge_request(
    State(fake): State<GitlabRepoFake>,
    Path(project): ProjectPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.project_matches(&project) {
        return not_found("Project");
    }
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (source, target) = (field("source_branch"), field("target_branch"));
    if !state.branches.contains_key(&source) {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!([format!("Source branch \"{source}\" does not exist")]),
        );
    }
    if let Some(existing) = state
        .merge_requests
        .iter()
        .find(|m| m.source_branch == source && m.state == "opened")
    {
        return message(
            StatusCode::CONFLICT,
            json!([format!(
                "Another open merge request already exists for this source branch: !{}",
                existing.iid
            )]),
        );
    }
    let id = state.next_id();
    let mr = FakeMergeRequest {
        id,
        iid: state.merge_requests.len() as u64 + 1,
        title: field("title"),
        description: field("description"),
        source_branch: source,
        target_branch: target,
        state: "opened".into(),
        labels: Vec::new(),
        merge_commit_sha: None,
    };
    let json = state.mr_json(&mr);
    state.merge_requests.push(mr);
    (StatusCode::CREATED, Json(json)).into_response()
}

async fn get_merge_request(
    State(fake): State<GitlabRepoFake>,
    Path((project, iid)): MrPath,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    match state.merge_requests.iter().find(|m| m.iid == iid) {
        Some(mr) if state.project_matches(&project) => Json(state.mr_json(mr)).into_response(),
        _ => not_found("Not found"),
    }
}

async fn update_merge_request(
    State(fake): State<GitlabRepoFake>,
    Path((project, iid)): MrPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.project_matches(&project) {
        return not_found("Project");
    }
    let Some(mr) = state.merge_requests.iter_mut().find(|m| m.iid == iid) else {
        return not_found("Not found");
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        mr.title = title.to_owned();
    }
    if let Some(description) = body.get("description").and_then(Value::as_str) {
        mr.description = description.to_owned();
    }
    if let Some(labels) = body.get("add_labels").and_then(Value::as_str) {
        for label in labels.split(',').map(str::trim).filter(|l| !l.is_empty()) {
            if !mr.labels.iter().any(|l| l == label) {
                mr.labels.push(label.to_owned());
            }
        }
    }
    let mr = mr.clone();
    Json(state.mr_json(&mr)).into_response()
}

async fn merge(
    State(fake): State<GitlabRepoFake>,
    Path((project, iid)): MrPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.project_matches(&project) {
        return not_found("Project");
    }
    let Some(index) = state.merge_requests.iter().position(|m| m.iid == iid) else {
        return not_found("Not found");
    };
    if state.merge_requests[index].state != "opened" {
        return message(
            StatusCode::METHOD_NOT_ALLOWED,
            json!("405 Method Not Allowed"),
        );
    }
    let head = state.branches[&state.merge_requests[index].source_branch].clone();
    if let Some(sha) = body.get("sha").and_then(Value::as_str) {
        if sha != head {
            return message(
                StatusCode::CONFLICT,
                json!(format!("SHA does not match HEAD of source branch: {head}")),
            );
        }
    }
    state.commits += 1;
    let merge_sha = format!("{:040x}", 0x3e6e_0000_u64 + state.commits);
    let mr = &mut state.merge_requests[index];
    mr.state = "merged".into();
    mr.merge_commit_sha = Some(merge_sha);
    let mr = mr.clone();
    Json(state.mr_json(&mr)).into_response()
}

async fn create_note(
    State(fake): State<GitlabRepoFake>,
    Path((project, iid)): MrPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.project_matches(&project) || !state.merge_requests.iter().any(|m| m.iid == iid) {
        return not_found("Not found");
    }
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return message(
            StatusCode::BAD_REQUEST,
            json!("400 Bad request - body is missing"),
        );
    };
    let note_id = state.next_id();
    // A plain comment on a merge request is resolvable, but stands alone (`individual_note`).
    let note = FakeNote {
        id: note_id,
        body: text.to_owned(),
        author: "baton-bot".into(),
        system: false,
        resolvable: true,
        resolved: false,
        position: None,
    };
    let json = state.note_json(&note, iid);
    state.discussions.push(FakeDiscussion {
        id: format!("{:040x}", 0xc033_0000_u64 + note_id),
        mr: iid,
        individual_note: true,
        notes: vec![note],
    });
    (StatusCode::CREATED, Json(json)).into_response()
}

async fn list_discussions(
    State(fake): State<GitlabRepoFake>,
    Path((project, iid)): MrPath,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    if !state.project_matches(&project) || !state.merge_requests.iter().any(|m| m.iid == iid) {
        return not_found("Not found");
    }
    let items: Vec<Value> = state
        .discussions
        .iter()
        .filter(|d| d.mr == iid)
        .map(|d| {
            json!({"id": d.id, "individual_note": d.individual_note,
                   "notes": d.notes.iter().map(|n| state.note_json(n, iid)).collect::<Vec<_>>()})
        })
        .collect();
    let (link, items) = page(items, &params, &uri, &headers);
    (link, Json(Value::Array(items))).into_response()
}

async fn approvals(
    State(fake): State<GitlabRepoFake>,
    Path((project, iid)): MrPath,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let Some(mr) = state.merge_requests.iter().find(|m| m.iid == iid) else {
        return not_found("Not found");
    };
    if !state.project_matches(&project) {
        return not_found("Project");
    }
    let approved_by: Vec<Value> = state
        .approvals
        .get(&iid)
        .into_iter()
        .flatten()
        .map(|u| json!({ "user": state.user(u) }))
        .collect();
    Json(json!({
        "id": mr.id, "iid": mr.iid, "project_id": PROJECT_ID, "title": mr.title,
        "description": mr.description, "state": mr.state, "created_at": now(), "updated_at": now(),
        "merge_status": "can_be_merged", "approved": !approved_by.is_empty(),
        "approvals_required": 0, "approvals_left": 0, "approved_by": approved_by,
    }))
    .into_response()
}

async fn list_pipelines(
    State(fake): State<GitlabRepoFake>,
    Path((project, iid)): MrPath,
    Query(params): Params,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if !state.authorized(&headers) {
        return unauthorized();
    }
    let Some(mr) = state.merge_requests.iter().find(|m| m.iid == iid) else {
        return not_found("Not found");
    };
    if !state.project_matches(&project) {
        return not_found("Project");
    }
    let mut pipelines: Vec<&FakePipeline> =
        state.pipelines.iter().filter(|p| p.mr == iid).collect();
    pipelines.sort_by_key(|p| std::cmp::Reverse(p.id));
    let items: Vec<Value> = pipelines
        .into_iter()
        .map(|p| {
            json!({"id": p.id, "iid": p.id - 1000, "project_id": PROJECT_ID, "sha": p.sha,
                   "ref": format!("refs/merge-requests/{iid}/head"), "status": p.status,
                   "source": "merge_request_event", "created_at": now(), "updated_at": now(),
                   "web_url": format!("https://gitlab.example.com/{}/-/pipelines/{}", state.project, p.id),
                   "source_branch": mr.source_branch})
        })
        .collect();
    let (link, items) = page(items, &params, &uri, &headers);
    (link, Json(Value::Array(items))).into_response()
}
