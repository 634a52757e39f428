//! A stateful stand-in for TAPD's open API: stories (listed by id or by `|`-separated
//! statuses, paged by `page`/`limit`), the story workflow's status map, story updates and
//! comments, every answer in TAPD's `{"status", "data", "info"}` envelope with records
//! wrapped as `{"Story": …}` / `{"Comment": …}` and every field a string.

use axum::extract::{Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub const API_USER: &str = "baton_api";
pub const API_PASSWORD: &str = "5E0C8D2B-fake-password";
pub const WORKSPACE_ID: &str = "20355782";
/// The story workflow: status key and display name.
const STATUSES: &[(&str, &str)] = &[
    ("planning", "规划中"),
    ("developing", "实现中"),
    ("resolved", "已实现"),
    ("rejected", "已拒绝"),
];
const WORKITEM_TYPE_ID: &str = "1020355782000035603";

pub fn credential() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{API_USER}:{API_PASSWORD}"))
}

#[derive(Debug, Clone)]
struct FakeStory {
    id: String,
    name: String,
    description: String,
    status: String,
    priority_label: String,
    label: String,
    created: String,
}

#[derive(Debug, Clone)]
struct FakeComment {
    id: String,
    entry_id: String,
    description: String,
    author: String,
}

#[derive(Debug, Default)]
struct Board {
    stories: Vec<FakeStory>,
    comments: Vec<FakeComment>,
    next: u64,
}

/// Cloning shares the board: the harness seeds and inspects what the router serves.
#[derive(Debug, Clone, Default)]
pub struct TapdFake {
    board: Arc<Mutex<Board>>,
}

impl TapdFake {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/stories", get(list_stories).post(update_story))
            .route("/workflows/status_map", get(status_map))
            .route("/comments", post(save_comment))
            .layer(middleware::from_fn(require_basic_auth))
            .with_state(self.clone())
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap()
    }

    /// Adds a story; the description is stored as TAPD's editor stores it, as HTML paragraphs.
    pub fn seed(&self, name: &str, description: &str, status: &str, labels: &[String]) -> String {
        assert!(
            STATUSES.iter().any(|(key, _)| *key == status),
            "no status `{status}` in the fake's workflow"
        );
        let html: String = description
            .split("\n\n")
            .map(|p| format!("<p>{}</p>", p.replace('&', "&amp;").replace('<', "&lt;")))
            .collect();
        let mut board = self.board();
        board.next += 1;
        let n = board.next;
        let story = FakeStory {
            id: format!("11{WORKSPACE_ID}{n:09}"),
            name: name.to_owned(),
            description: html,
            status: status.to_owned(),
            priority_label: "Middle".into(),
            label: labels.join("|"),
            created: format!("2024-05-02 17:{:02}:{:02}", n / 60 % 60, n % 60),
        };
        let id = story.id.clone();
        board.stories.push(story);
        id
    }

    pub fn set_priority(&self, id: &str, label: &str) {
        if let Some(story) = self.board().stories.iter_mut().find(|s| s.id == id) {
            story.priority_label = label.to_owned();
        }
    }

    /// The story's comments as text, oldest first.
    pub fn comments(&self, story_id: &str) -> Vec<String> {
        self.board()
            .comments
            .iter()
            .filter(|c| c.entry_id == story_id)
            .map(|c| html_text(&c.description))
            .collect()
    }

    pub fn comment_authors(&self) -> Vec<String> {
        let board = self.board();
        board.comments.iter().map(|c| c.author.clone()).collect()
    }

    pub fn status(&self, story_id: &str) -> String {
        let board = self.board();
        let story = board.stories.iter().find(|s| s.id == story_id);
        story.map(|s| s.status.clone()).unwrap_or_default()
    }
}

async fn require_basic_auth(request: Request, next: Next) -> Response {
    let expected = format!("Basic {}", credential());
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if given != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "status": 0, "data": [], "info": "Unauthorized" })),
        )
            .into_response();
    }
    next.run(request).await
}

/// Enough of HTML for the paragraphs and breaks the adapter writes.
fn html_text(html: &str) -> String {
    html.replace("</p><p>", "\n\n")
        .replace("<br/>", "\n")
        .replace("<p>", "")
        .replace("</p>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn ok(data: Value) -> Response {
    Json(json!({ "status": 1, "data": data, "info": "success" })).into_response()
}

fn refused(info: &str) -> Response {
    Json(json!({ "status": 0, "data": [], "info": info })).into_response()
}

fn story_json(story: &FakeStory) -> Value {
    json!({ "Story": {
        "id": story.id,
        "workitem_type_id": WORKITEM_TYPE_ID,
        "name": story.name,
        "description": story.description,
        "workspace_id": WORKSPACE_ID,
        "creator": "mia",
        "created": story.created,
        "modified": story.created,
        "status": story.status,
        "owner": "alice;bob;",
        "cc": "",
        "begin": null,
        "due": null,
        "size": null,
        "priority": "",
        "priority_label": story.priority_label,
        "developer": "",
        "iteration_id": "0",
        "test_focus": "",
        "type": "",
        "source": "",
        "module": "",
        "version": "",
        "completed": null,
        "category_id": "-1",
        "parent_id": "0",
        "children_id": "|",
        "ancestor_id": story.id,
        "business_value": null,
        "effort": null,
        "label": story.label,
    }})
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}

async fn list_stories(
    State(fake): State<TapdFake>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |key: &str| query.get(key).map(String::as_str).unwrap_or_default();
    if param("workspace_id") != WORKSPACE_ID {
        return refused("workspace_id error");
    }
    if !matches!(param("order"), "" | "created asc") {
        return refused("order error");
    }
    let limit: usize = match param("limit") {
        "" => 30,
        limit => match limit.parse::<usize>() {
            Ok(limit) if (1..=200).contains(&limit) => limit,
            _ => return refused("limit error"),
        },
    };
    let page: usize = match param("page") {
        "" => 1,
        page => match page.parse::<usize>() {
            Ok(page) if page >= 1 => page,
            _ => return refused("page error"),
        },
    };
    let ids: Vec<&str> = param("id").split(',').filter(|i| !i.is_empty()).collect();
    let statuses: Vec<&str> = param("status")
        .split('|')
        .filter(|s| !s.is_empty())
        .collect();
    let board = fake.board();
    let matching: Vec<Value> = board
        .stories
        .iter()
        .filter(|s| ids.is_empty() || ids.contains(&s.id.as_str()))
        .filter(|s| statuses.is_empty() || statuses.contains(&s.status.as_str()))
        .skip((page - 1) * limit)
        .take(limit)
        .map(story_json)
        .collect();
    ok(Value::Array(matching))
}

async fn status_map(Query(query): Query<HashMap<String, String>>) -> Response {
    if query.get("workspace_id").map(String::as_str) != Some(WORKSPACE_ID)
        || query.get("system").map(String::as_str) != Some("story")
    {
        return refused("workspace_id or system error");
    }
    let map: serde_json::Map<String, Value> = STATUSES
        .iter()
        .map(|(key, name)| ((*key).to_owned(), json!(name)))
        .collect();
    ok(Value::Object(map))
}

async fn update_story(State(fake): State<TapdFake>, Json(request): Json<Value>) -> Response {
    if text(&request, "workspace_id") != WORKSPACE_ID {
        return refused("workspace_id error");
    }
    let status = text(&request, "status");
    if !status.is_empty() && !STATUSES.iter().any(|(key, _)| *key == status) {
        return refused("status error");
    }
    let mut board = fake.board();
    let id = text(&request, "id");
    let Some(story) = board.stories.iter_mut().find(|s| s.id == id) else {
        return refused("story not found");
    };
    if !status.is_empty() {
        story.status = status.to_owned();
    }
    ok(story_json(story))
}

fn comment_json(comment: &FakeComment) -> Value {
    json!({ "Comment": {
        "id": comment.id,
        "title": "在状态 [实现中] 添加",
        "description": comment.description,
        "author": comment.author,
        "entry_type": "stories",
        "entry_id": comment.entry_id,
        "reply_id": "0",
        "root_id": "0",
        "created": "2024-05-02 18:00:00",
        "modified": "2024-05-02 18:00:00",
        "workspace_id": WORKSPACE_ID,
    }})
}

/// Creates a comment, or updates one when the request names its `id`.
async fn save_comment(State(fake): State<TapdFake>, Json(request): Json<Value>) -> Response {
    if text(&request, "workspace_id") != WORKSPACE_ID {
        return refused("workspace_id error");
    }
    let description = text(&request, "description");
    if description.is_empty() {
        return refused("description is required");
    }
    let mut board = fake.board();
    let id = text(&request, "id");
    if !id.is_empty() {
        let Some(comment) = board.comments.iter_mut().find(|c| c.id == id) else {
            return refused("comment not found");
        };
        comment.description = description.to_owned();
        return ok(comment_json(comment));
    }
    let entry_id = text(&request, "entry_id");
    let author = text(&request, "author");
    if text(&request, "entry_type") != "stories" || author.is_empty() {
        return refused("entry_type and author are required");
    }
    if !board.stories.iter().any(|s| s.id == entry_id) {
        return refused("entry not found");
    }
    board.next += 1;
    let comment = FakeComment {
        id: format!("10{WORKSPACE_ID}{:09}", board.next),
        entry_id: entry_id.to_owned(),
        description: description.to_owned(),
        author: author.to_owned(),
    };
    board.comments.push(comment.clone());
    ok(comment_json(&comment))
}
