//! A stateful stand-in for Jira Cloud's REST API v3: issues with ADF descriptions, comments,
//! a three-status workflow moved through transitions, and the enhanced JQL search with
//! `nextPageToken` pages of two. It parses the JQL baton sends, so a state name that is not
//! quoted properly fails the way Jira would fail it, and it returns only the fields asked for.

use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

mod search;

pub const EMAIL: &str = "bot@acme.test";
pub const API_TOKEN: &str = "ATATT3xFfGF0-fake-token";
pub const PROJECT: &str = "PROJ";
const SITE: &str = "https://acme.atlassian.net";
const PAGE_SIZE: usize = 2;
/// The workflow: (status id, name, category key). Every status is reachable from every other.
const STATUSES: &[(&str, &str, &str)] = &[
    ("10000", "To Do", "new"),
    ("3", "In Progress", "indeterminate"),
    ("10001", "Done", "done"),
];
/// (transition id, target status index).
const TRANSITIONS: &[(&str, usize)] = &[("11", 0), ("21", 1), ("31", 2)];

pub fn credential() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}:{API_TOKEN}"))
}

#[derive(Debug, Clone)]
struct FakeIssue {
    id: String,
    key: String,
    summary: String,
    description: Value,
    status: usize,
    labels: Vec<String>,
    priority: String,
    created: String,
    /// Ids of the issues that block this one.
    blocked_by: Vec<String>,
}

#[derive(Debug, Clone)]
struct FakeComment {
    id: String,
    issue_id: String,
    body: Value,
}

#[derive(Debug, Default)]
struct Board {
    issues: Vec<FakeIssue>,
    comments: Vec<FakeComment>,
    next: u64,
}

/// Cloning shares the board: the harness seeds and inspects what the router serves.
#[derive(Debug, Clone, Default)]
pub struct JiraFake {
    board: Arc<Mutex<Board>>,
}

impl JiraFake {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/rest/api/3/issue/{key}", get(get_issue))
            .route("/rest/api/3/search/jql", post(search::search))
            .route("/rest/api/3/issue/{key}/comment", post(add_comment))
            .route("/rest/api/3/issue/{key}/comment/{id}", put(update_comment))
            .route(
                "/rest/api/3/issue/{key}/transitions",
                get(list_transitions).post(transition),
            )
            .layer(middleware::from_fn(require_basic_auth))
            .with_state(self.clone())
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap()
    }

    /// Adds an issue in the status named `status`; returns its id and key.
    pub fn seed(
        &self,
        summary: &str,
        description: &str,
        status: &str,
        labels: &[String],
    ) -> (String, String) {
        let status = STATUSES
            .iter()
            .position(|(_, name, _)| name.eq_ignore_ascii_case(status))
            .unwrap_or_else(|| panic!("no status `{status}` in the fake's workflow"));
        let mut board = self.board();
        board.next += 1;
        let n = board.next;
        let issue = FakeIssue {
            id: (10_000 + n).to_string(),
            key: format!("{PROJECT}-{n}"),
            summary: summary.to_owned(),
            description: adf_document(description),
            status,
            labels: labels.to_vec(),
            priority: "Medium".into(),
            created: format!("2024-05-02T11:{:02}:{:02}.000+0200", n / 60 % 60, n % 60),
            blocked_by: Vec::new(),
        };
        let seeded = (issue.id.clone(), issue.key.clone());
        board.issues.push(issue);
        seeded
    }

    pub fn set_priority(&self, id: &str, priority: &str) {
        if let Some(issue) = self.board().issues.iter_mut().find(|i| i.id == id) {
            issue.priority = priority.to_owned();
        }
    }

    /// Links the two issues with `blocker` blocks `blocked`.
    pub fn block(&self, blocked: &str, blocker: &str) {
        if let Some(issue) = self.board().issues.iter_mut().find(|i| i.id == blocked) {
            issue.blocked_by.push(blocker.to_owned());
        }
    }

    /// The issue's comments as plain text, oldest first.
    pub fn comments(&self, issue_id: &str) -> Vec<String> {
        self.board()
            .comments
            .iter()
            .filter(|c| c.issue_id == issue_id)
            .map(|c| adf_text(&c.body))
            .collect()
    }

    pub fn status(&self, issue_id: &str) -> String {
        let board = self.board();
        let issue = board.issues.iter().find(|i| i.id == issue_id);
        issue
            .map(|i| STATUSES[i.status].1.to_owned())
            .unwrap_or_default()
    }
}

/// Jira answers an unauthenticated REST call with a 401 and a sentence.
async fn require_basic_auth(request: Request, next: Next) -> Response {
    let expected = format!("Basic {}", credential());
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
            .into_response();
    }
    next.run(request).await
}

/// A paragraph per blank-line-separated block, as Jira's editor would store the text.
fn adf_document(text: &str) -> Value {
    if text.trim().is_empty() {
        return Value::Null;
    }
    let paragraphs: Vec<Value> = text
        .split("\n\n")
        .map(|p| json!({ "type": "paragraph", "content": [{ "type": "text", "text": p.trim() }] }))
        .collect();
    json!({ "type": "doc", "version": 1, "content": paragraphs })
}

fn adf_text(document: &Value) -> String {
    let paragraphs = document["content"].as_array().cloned().unwrap_or_default();
    paragraphs
        .iter()
        .map(|block| {
            let inline = block["content"].as_array().cloned().unwrap_or_default();
            inline
                .iter()
                .map(|node| match node["type"].as_str() {
                    Some("hardBreak") => "\n".to_owned(),
                    _ => node["text"].as_str().unwrap_or_default().to_owned(),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// What Jira checks of a comment body: an ADF document whose text nodes are not empty.
fn valid_adf(body: &Value) -> bool {
    fn nodes_ok(node: &Value) -> bool {
        if node["type"] == "text" && node["text"].as_str().is_none_or(str::is_empty) {
            return false;
        }
        node["content"]
            .as_array()
            .is_none_or(|children| children.iter().all(nodes_ok))
    }
    body["type"] == "doc" && body["version"] == 1 && body["content"].is_array() && nodes_ok(body)
}

fn error(status: StatusCode, messages: &[&str]) -> Response {
    (
        status,
        Json(json!({ "errorMessages": messages, "errors": {} })),
    )
        .into_response()
}

fn no_such_issue() -> Response {
    error(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
    )
}

/// Jira takes the numeric id or the key wherever an issue is named.
fn find<'a>(board: &'a Board, id_or_key: &str) -> Option<&'a FakeIssue> {
    board
        .issues
        .iter()
        .find(|i| i.id == id_or_key || i.key == id_or_key)
}

fn status_json(index: usize) -> Value {
    let (id, name, category) = STATUSES[index];
    json!({
        "self": format!("{SITE}/rest/api/3/status/{id}"),
        "description": "",
        "iconUrl": format!("{SITE}/images/icons/statuses/generic.png"),
        "name": name,
        "id": id,
        "statusCategory": { "key": category, "name": name },
    })
}

fn user(account_id: &str, name: &str) -> Value {
    json!({ "accountId": account_id, "displayName": name, "active": true, "accountType": "atlassian" })
}

/// The issue with only the `fields` asked for (all of them when `None`).
fn issue_json(board: &Board, issue: &FakeIssue, wanted: Option<&[String]>) -> Value {
    let links: Vec<Value> = issue
        .blocked_by
        .iter()
        .filter_map(|id| find(board, id))
        .map(|blocker| {
            json!({
                "id": format!("2{}", blocker.id),
                "type": { "id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks" },
                "inwardIssue": {
                    "id": blocker.id,
                    "key": blocker.key,
                    "self": format!("{SITE}/rest/api/3/issue/{}", blocker.id),
                    "fields": { "summary": blocker.summary, "status": status_json(blocker.status) }
                }
            })
        })
        .collect();
    let all = json!({
        "summary": issue.summary,
        "description": issue.description,
        "status": status_json(issue.status),
        "priority": { "name": issue.priority, "id": "3" },
        "labels": issue.labels,
        "assignee": null,
        "reporter": user("5b10a2844c20165700ede21g", "Mia Krystof"),
        "created": issue.created,
        "updated": issue.created,
        "issuelinks": links,
        "project": { "key": PROJECT, "name": "Project" },
    });
    let fields: Map<String, Value> = match (all, wanted) {
        (Value::Object(all), Some(wanted)) => all
            .into_iter()
            .filter(|(name, _)| wanted.iter().any(|w| w == name))
            .collect(),
        (Value::Object(all), None) => all,
        _ => Map::new(),
    };
    json!({
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue.id,
        "self": format!("{SITE}/rest/api/3/issue/{}", issue.id),
        "key": issue.key,
        "fields": fields,
    })
}

async fn get_issue(
    State(fake): State<JiraFake>,
    Path(key): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let board = fake.board();
    let Some(issue) = find(&board, &key) else {
        return no_such_issue();
    };
    let wanted: Option<Vec<String>> = query
        .get("fields")
        .map(|f| f.split(',').map(str::to_owned).collect());
    Json(issue_json(&board, issue, wanted.as_deref())).into_response()
}

fn comment_json(issue: &FakeIssue, comment: &FakeComment) -> Value {
    let author = user("557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", "baton bot");
    json!({
        "self": format!("{SITE}/rest/api/3/issue/{}/comment/{}", issue.id, comment.id),
        "id": comment.id,
        "author": author,
        "body": comment.body,
        "updateAuthor": author,
        "created": "2024-05-02T12:00:00.000+0000",
        "updated": "2024-05-02T12:00:00.000+0000",
        "jsdPublic": true,
    })
}

async fn add_comment(
    State(fake): State<JiraFake>,
    Path(key): Path<String>,
    Json(request): Json<Value>,
) -> Response {
    if !valid_adf(&request["body"]) {
        return error(StatusCode::BAD_REQUEST, &["Comment body is not valid ADF."]);
    }
    let mut board = fake.board();
    let Some(issue) = find(&board, &key).cloned() else {
        return no_such_issue();
    };
    board.next += 1;
    let comment = FakeComment {
        id: (20_000 + board.next).to_string(),
        issue_id: issue.id.clone(),
        body: request["body"].clone(),
    };
    board.comments.push(comment.clone());
    (StatusCode::CREATED, Json(comment_json(&issue, &comment))).into_response()
}

async fn update_comment(
    State(fake): State<JiraFake>,
    Path((key, id)): Path<(String, String)>,
    Json(request): Json<Value>,
) -> Response {
    if !valid_adf(&request["body"]) {
        return error(StatusCode::BAD_REQUEST, &["Comment body is not valid ADF."]);
    }
    let mut board = fake.board();
    let Some(issue) = find(&board, &key).cloned() else {
        return no_such_issue();
    };
    let Some(comment) = board
        .comments
        .iter_mut()
        .find(|c| c.id == id && c.issue_id == issue.id)
    else {
        return error(
            StatusCode::NOT_FOUND,
            &["Can not find a comment for the id."],
        );
    };
    comment.body = request["body"].clone();
    let comment = comment.clone();
    Json(comment_json(&issue, &comment)).into_response()
}

async fn list_transitions(State(fake): State<JiraFake>, Path(key): Path<String>) -> Response {
    let board = fake.board();
    let Some(issue) = find(&board, &key) else {
        return no_such_issue();
    };
    let transitions: Vec<Value> = TRANSITIONS
        .iter()
        .filter(|(_, to)| *to != issue.status)
        .map(|(id, to)| {
            json!({
                "id": id,
                "name": format!("Move to {}", STATUSES[*to].1),
                "to": status_json(*to),
                "hasScreen": false,
                "isGlobal": true,
                "isInitial": false,
                "isAvailable": true,
                "isConditional": false,
                "isLooped": false,
            })
        })
        .collect();
    Json(json!({ "expand": "transitions", "transitions": transitions })).into_response()
}

async fn transition(
    State(fake): State<JiraFake>,
    Path(key): Path<String>,
    Json(request): Json<Value>,
) -> Response {
    let wanted = request["transition"]["id"].as_str().unwrap_or_default();
    let mut board = fake.board();
    let Some(at) = board
        .issues
        .iter()
        .position(|i| i.id == key || i.key == key)
    else {
        return no_such_issue();
    };
    let issue = &mut board.issues[at];
    match TRANSITIONS
        .iter()
        .find(|(id, to)| *id == wanted && *to != issue.status)
    {
        Some((_, to)) => {
            issue.status = *to;
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(
            StatusCode::BAD_REQUEST,
            &[&format!(
                "Transition id '{wanted}' is not valid for this issue."
            )],
        ),
    }
}
