//! GitHub's shapes: records as the REST API renders them, its errors, and `Link` pagination.

use super::{FakeComment, FakeIssue, PullSide, Repository};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

/// GitHub's default page size, before the fake's maximum applies.
const GITHUB_DEFAULT_PER_PAGE: usize = 30;
const DOCS: &str = "https://docs.github.com/rest";

/// Where the client reached the fake, for the URLs inside records and `Link` headers.
pub(super) struct Api {
    /// `http://127.0.0.1:<port>`.
    pub(super) base: String,
    /// `owner/name`.
    pub(super) repo: String,
}

impl Api {
    pub(super) fn new(headers: &HeaderMap, owner: &str, name: &str) -> Self {
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("api.github.com");
        Self {
            base: format!("http://{host}"),
            repo: format!("{owner}/{name}"),
        }
    }
}

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An error answer in GitHub's shape; handlers return it with `?`.
pub(super) struct Failure {
    status: StatusCode,
    body: Value,
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub(super) fn error(status: StatusCode, message: &str) -> Failure {
    Failure {
        status,
        body: json!({
            "message": message,
            "documentation_url": DOCS,
            "status": status.as_u16().to_string(),
        }),
    }
}

pub(super) fn not_found() -> Failure {
    error(StatusCode::NOT_FOUND, "Not Found")
}

pub(super) fn validation_failed(resource: &str, field: &str, code: &str) -> Failure {
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

/// A 422 whose error carries a sentence, as pull request creation answers.
pub(super) fn custom_validation(resource: &str, message: &str, docs: &str) -> Failure {
    Failure {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({
            "message": "Validation Failed",
            "errors": [{"resource": resource, "code": "custom", "message": message}],
            "documentation_url": docs,
            "status": "422",
        }),
    }
}

pub(super) fn json_body(bytes: &Bytes) -> Result<Value, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "Problems parsing JSON"))
}

/// A path number; anything else is a path GitHub does not have.
pub(super) fn parse_number(text: &str) -> Result<u64, Failure> {
    text.parse().map_err(|_| not_found())
}

/// Label names from `["a", "b"]`, `[{"name": "a"}]`, or `{"labels": [...]}`.
pub(super) fn label_names(value: &Value) -> Option<Vec<String>> {
    let list = value.get("labels").unwrap_or(value).as_array()?;
    list.iter()
        .map(|item| {
            item.as_str()
                .or_else(|| item.get("name").and_then(Value::as_str))
                .map(str::to_owned)
        })
        .collect()
}

/// Percent-encodes a query component.
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

/// One page of `items` and GitHub's `Link` header (`next`, `last`, `prev`, `first`) when
/// there is more than one: `per_page` (default 30) is capped at the fake's maximum.
pub(super) fn page(
    items: Vec<Value>,
    query: &HashMap<String, String>,
    api: &Api,
    uri: &Uri,
    max_per_page: usize,
) -> (Vec<Value>, HeaderMap) {
    let per_page = query
        .get("per_page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(GITHUB_DEFAULT_PER_PAGE)
        .clamp(1, max_per_page);
    let page = query
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last_page = items.len().div_ceil(per_page).max(1);
    let page_url = |n: usize| {
        let mut keys: Vec<&String> = query.keys().filter(|k| *k != "page").collect();
        keys.sort();
        let mut params: Vec<String> = keys
            .into_iter()
            .map(|key| format!("{}={}", encode_query(key), encode_query(&query[key])))
            .collect();
        params.push(format!("page={n}"));
        format!("{}{}?{}", api.base, uri.path(), params.join("&"))
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
    let mut headers = HeaderMap::new();
    if !links.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
            headers.insert("link", value);
        }
    }
    let slice = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    (slice, headers)
}

pub(super) fn user_json(api: &Api, login: &str) -> Value {
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

impl Repository {
    pub(super) fn comment_json(&self, api: &Api, comment: &FakeComment) -> Value {
        let kind = match self.pulls.contains_key(&comment.issue_number) {
            true => "pull",
            false => "issues",
        };
        json!({
            "id": comment.id,
            "node_id": format!("IC_kw{}", comment.id),
            "url": format!("{}/repos/{}/issues/comments/{}", api.base, api.repo, comment.id),
            "html_url": format!(
                "https://github.com/{}/{kind}/{}#issuecomment-{}",
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

    pub(super) fn label_json(&self, api: &Api, name: &str) -> Value {
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

    pub(super) fn issue_labels_json(&self, api: &Api, issue: &FakeIssue) -> Value {
        Value::Array(
            issue
                .labels
                .iter()
                .map(|name| self.label_json(api, name))
                .collect(),
        )
    }

    fn comment_count(&self, number: u64) -> usize {
        self.comments
            .iter()
            .filter(|c| c.issue_number == number)
            .count()
    }

    pub(super) fn issue_json(&self, api: &Api, issue: &FakeIssue) -> Value {
        let url = format!("{}/repos/{}/issues/{}", api.base, api.repo, issue.number);
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
            "comments": self.comment_count(issue.number),
            "closed_at": issue.closed_at,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_by": null,
            "author_association": "OWNER",
        });
        if issue.is_pull_request {
            let merged = self.pulls.get(&issue.number).is_some_and(|p| p.merged);
            record["pull_request"] = json!({
                "url": format!("{}/repos/{}/pulls/{}", api.base, api.repo, issue.number),
                "html_url": format!("https://github.com/{}/pull/{}", api.repo, issue.number),
                "diff_url": format!("https://github.com/{}/pull/{}.diff", api.repo, issue.number),
                "patch_url": format!("https://github.com/{}/pull/{}.patch", api.repo, issue.number),
                "merged_at": if merged { issue.closed_at.clone() } else { None },
            });
        }
        record
    }

    pub(super) fn repo_json(&self, api: &Api) -> Value {
        json!({"id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": self.name,
               "full_name": api.repo, "private": false, "owner": user_json(api, &self.owner)})
    }

    fn branch_json(&self, api: &Api, branch: &str) -> Value {
        json!({
            "label": format!("{}:{branch}", self.owner), "ref": branch,
            "sha": self.branches.get(branch).cloned().unwrap_or_default(),
            "user": user_json(api, &self.owner), "repo": self.repo_json(api),
        })
    }

    /// A pull request as GitHub renders it; `full` adds what only the single GET carries.
    pub(super) fn pull_json(&self, api: &Api, number: u64, full: bool) -> Option<Value> {
        let (issue, pull) = (self.issues.get(&number)?, self.pulls.get(&number)?);
        Some(self.render_pull(api, issue, pull, full))
    }

    fn render_pull(&self, api: &Api, issue: &FakeIssue, pull: &PullSide, full: bool) -> Value {
        let number = issue.number;
        let html = format!("https://github.com/{}/pull/{number}", api.repo);
        let open = issue.state == "open";
        let reviewers: Vec<Value> = pull
            .requested_reviewers
            .iter()
            .map(|login| user_json(api, login))
            .collect();
        let mut value = json!({
            "url": format!("{}/repos/{}/pulls/{number}", api.base, api.repo),
            "id": pull.id, "node_id": format!("PR_kwDO{}", pull.id), "html_url": html,
            "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
            "issue_url": format!("{}/repos/{}/issues/{number}", api.base, api.repo),
            "number": number, "state": issue.state, "locked": false, "title": issue.title,
            "user": user_json(api, &issue.author), "body": issue.body.clone().unwrap_or_default(),
            "labels": self.issue_labels_json(api, issue),
            "created_at": issue.created_at, "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "merged_at": if pull.merged { issue.closed_at.clone() } else { None },
            "merge_commit_sha": pull.merge_commit_sha, "assignee": null, "assignees": [],
            "requested_reviewers": reviewers, "draft": false,
            "head": self.branch_json(api, &pull.head), "base": self.branch_json(api, &pull.base),
            "author_association": "CONTRIBUTOR", "auto_merge": null,
        });
        if full {
            let extra = json!({
                "merged": pull.merged, "mergeable": open,
                "rebaseable": true, "mergeable_state": if open { "clean" } else { "unknown" },
                "merged_by": if pull.merged { user_json(api, &self.viewer) } else { Value::Null },
                "comments": self.comment_count(number),
                "review_comments": self.review_comments.iter().filter(|c| c.pull == number).count(),
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
