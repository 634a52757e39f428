//! GitLab's shapes: records as the REST API renders them, its errors, and pagination.

use super::{FakeIssue, FakeMergeRequest, FakeNote, FakeThreadNote, Project, PROJECT_ID};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// GitLab's default page size, before the fake's maximum applies.
const GITLAB_DEFAULT_PER_PAGE: usize = 20;
const WEB: &str = "https://gitlab.com";

/// Where the client reached the fake, for the URLs inside records and `Link` headers.
pub(super) struct Api {
    /// `http://127.0.0.1:<port>`.
    pub(super) host: String,
    /// `http://127.0.0.1:<port>/api/v4`.
    pub(super) base: String,
    pub(super) project_path: String,
}

impl Api {
    pub(super) fn new(headers: &HeaderMap, project_path: &str) -> Self {
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("gitlab.com");
        Self {
            host: format!("http://{host}"),
            base: format!("http://{host}/api/v4"),
            project_path: project_path.to_owned(),
        }
    }
}

/// GitLab's timestamps carry milliseconds.
pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An error answer in GitLab's shape; handlers return it with `?`.
pub(super) struct Failure {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub(super) fn message(status: StatusCode, text: &str) -> Failure {
    messages(status, json!(text))
}

/// `{"message": ...}` where the message may be a list, as validation answers carry.
pub(super) fn messages(status: StatusCode, message: Value) -> Failure {
    Failure {
        status,
        body: json!({ "message": message }),
    }
}

pub(super) fn bad_request(text: &str) -> Failure {
    Failure {
        status: StatusCode::BAD_REQUEST,
        body: json!({ "error": text }),
    }
}

pub(super) fn not_found() -> Failure {
    message(StatusCode::NOT_FOUND, "404 Not found")
}

pub(super) fn json_body(bytes: &Bytes) -> Result<Value, Failure> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes).map_err(|_| {
        bad_request("The provided content-type is not supported or the body is not JSON")
    })
}

/// A comma-separated label parameter, or an array of names: GitLab takes both.
pub(super) fn label_list(value: Option<&Value>) -> Option<Vec<String>> {
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

pub(super) fn parse_number(text: &str) -> Option<u64> {
    text.parse().ok()
}

/// One page of `items` with GitLab's pagination headers: `Link` (`prev`, `next`, `first`,
/// `last`), `x-page`, `x-per-page`, `x-next-page`, `x-prev-page`, `x-total`,
/// `x-total-pages`. `per_page` (default 20) is capped at the fake's maximum.
pub(super) fn page(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    api: &Api,
    uri: &Uri,
    max_per_page: usize,
) -> (HeaderMap, Vec<Value>) {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(GITLAB_DEFAULT_PER_PAGE)
        .clamp(1, max_per_page);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let total_pages = total.div_ceil(per_page).max(1);
    let page_url = |n: usize| {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        let mut keys: Vec<&String> = query.keys().filter(|k| *k != "page").collect();
        keys.sort();
        for key in keys {
            params.append_pair(key, &query[key]);
        }
        params.append_pair("page", &n.to_string());
        format!("{}{}?{}", api.host, uri.path(), params.finish())
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
    let next_page = match page < total_pages {
        true => (page + 1).to_string(),
        false => String::new(),
    };
    let prev_page = match page > 1 {
        true => (page - 1).to_string(),
        false => String::new(),
    };
    let mut headers = HeaderMap::new();
    let pagination = [
        ("link", links.join(", ")),
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        ("x-next-page", next_page),
        ("x-prev-page", prev_page),
        ("x-total", total.to_string()),
        ("x-total-pages", total_pages.to_string()),
    ];
    for (name, value) in pagination {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let slice = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    (headers, slice)
}

pub(super) fn user_json(username: &str) -> Value {
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
        "web_url": format!("{WEB}/{username}"),
    })
}

fn time_stats() -> Value {
    json!({"time_estimate": 0, "total_time_spent": 0,
           "human_time_estimate": null, "human_total_time_spent": null})
}

impl Project {
    pub(super) fn issue_json(&self, api: &Api, issue: &FakeIssue) -> Value {
        let self_url = format!("{}/projects/{PROJECT_ID}/issues/{}", api.base, issue.iid);
        let notes = self
            .notes
            .iter()
            .filter(|n| n.issue_iid == issue.iid)
            .count();
        let assignees: Vec<Value> = issue.assignees.iter().map(|a| user_json(a)).collect();
        let reference = format!("#{}", issue.iid);
        let mut record = json!({
            "id": issue.id, "iid": issue.iid, "project_id": PROJECT_ID,
            "title": issue.title, "description": issue.description, "state": issue.state,
            "created_at": issue.created_at, "updated_at": issue.updated_at,
            "closed_at": issue.closed_at, "closed_by": null,
            "labels": issue.labels, "milestone": null,
            "assignee": assignees.first().cloned().unwrap_or(Value::Null),
            "assignees": assignees,
            "author": user_json(&issue.author),
            "type": "ISSUE", "issue_type": "issue",
            "user_notes_count": notes, "merge_requests_count": 0,
            "upvotes": 0, "downvotes": 0, "due_date": null, "confidential": false,
            "discussion_locked": null,
            "web_url": format!("{WEB}/{}/-/issues/{}", api.project_path, issue.iid),
        });
        // Two halves: one `json!` this size exceeds the macro recursion limit.
        let rest = json!({
            "time_stats": time_stats(),
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
                "short": reference, "relative": reference,
                "full": format!("{}#{}", api.project_path, issue.iid),
            },
            "severity": "UNKNOWN", "moved_to_id": null, "service_desk_reply_to": null,
        });
        if let (Some(object), Value::Object(rest)) = (record.as_object_mut(), rest) {
            object.extend(rest);
        }
        record
    }

    pub(super) fn note_json(&self, note: &FakeNote) -> Value {
        let noteable_id = self.issues.get(&note.issue_iid).map_or(0, |i| i.id);
        json!({
            "id": note.id, "type": null, "body": note.body, "attachment": null,
            "author": user_json(&note.author),
            "created_at": note.created_at, "updated_at": note.updated_at,
            "system": false, "noteable_id": noteable_id, "noteable_type": "Issue",
            "project_id": PROJECT_ID, "noteable_iid": note.issue_iid,
            "resolvable": false, "confidential": false, "internal": false,
            "imported": false, "imported_from": "none",
        })
    }

    pub(super) fn mr_json(&self, mr: &FakeMergeRequest) -> Value {
        let sha = self.branches.get(&mr.source_branch).cloned();
        let detailed = match mr.state.as_str() {
            "opened" => "mergeable",
            _ => "not_open",
        };
        let merged = mr.state == "merged";
        let reference = format!("!{}", mr.iid);
        let references = json!({"short": reference, "relative": reference,
                                "full": format!("{}!{}", self.path, mr.iid)});
        let mut value = json!({
            "id": mr.id, "iid": mr.iid, "project_id": PROJECT_ID, "title": mr.title,
            "description": mr.description, "state": mr.state,
            "created_at": now(), "updated_at": now(),
            "merged_by": if merged { user_json(&self.viewer) } else { Value::Null },
            "merge_user": null, "merged_at": if merged { json!(now()) } else { Value::Null },
            "closed_by": null, "closed_at": null,
            "target_branch": mr.target_branch, "source_branch": mr.source_branch,
            "user_notes_count": 0, "upvotes": 0, "downvotes": 0, "author": user_json(&self.viewer),
            "assignees": [], "assignee": null, "reviewers": [],
        });
        // Two halves: one `json!` this size exceeds the macro recursion limit.
        let rest = json!({
            "source_project_id": PROJECT_ID, "target_project_id": PROJECT_ID,
            "labels": mr.labels, "draft": false, "work_in_progress": false, "milestone": null,
            "merge_when_pipeline_succeeds": false, "merge_status": "can_be_merged",
            "detailed_merge_status": detailed, "sha": sha,
            "merge_commit_sha": mr.merge_commit_sha, "squash_commit_sha": null,
            "discussion_locked": null, "should_remove_source_branch": null,
            "force_remove_source_branch": false, "reference": reference,
            "references": references,
            "web_url": format!("{WEB}/{}/-/merge_requests/{}", self.path, mr.iid),
            "time_stats": time_stats(), "squash": false, "squash_on_merge": false,
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": false, "blocking_discussions_resolved": true,
        });
        if let (Some(object), Value::Object(rest)) = (value.as_object_mut(), rest) {
            object.extend(rest);
        }
        value
    }

    pub(super) fn thread_note_json(&self, note: &FakeThreadNote, iid: u64) -> Value {
        let mr = self.merge_requests.get(&iid);
        let head = mr
            .and_then(|m| self.branches.get(&m.source_branch).cloned())
            .unwrap_or_default();
        let position = note.position.as_ref().map(|(path, line)| {
            json!({"base_sha": "", "start_sha": "", "head_sha": head, "old_path": path,
                   "new_path": path, "position_type": "text", "old_line": null, "new_line": line,
                   "line_range": null})
        });
        let kind = if note.position.is_some() {
            json!("DiffNote")
        } else if note.resolvable && !note.system {
            json!("DiscussionNote")
        } else {
            Value::Null
        };
        let mut value = json!({
            "id": note.id, "type": kind,
            "body": note.body, "attachment": null, "author": user_json(&note.author),
            "created_at": now(), "updated_at": now(), "system": note.system,
            "noteable_id": mr.map_or(0, |m| m.id), "noteable_type": "MergeRequest",
            "project_id": PROJECT_ID, "noteable_iid": iid, "resolvable": note.resolvable,
            "confidential": false, "internal": false, "commands_changes": {},
        });
        if note.resolvable {
            value["resolved"] = json!(note.resolved);
            value["resolved_by"] = match note.resolved {
                true => user_json("reviewer"),
                false => Value::Null,
            };
            value["resolved_at"] = match note.resolved {
                true => json!(now()),
                false => Value::Null,
            };
        }
        if let Some(position) = position {
            value["position"] = position;
        }
        value
    }
}
