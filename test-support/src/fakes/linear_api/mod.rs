//! A stateful stand-in for Linear's GraphQL API: one `POST /graphql` endpoint that answers the
//! operations baton sends, in Linear's shapes (`data`, `errors` with `extensions.code`,
//! connections with `nodes` and `pageInfo`). It pages listings two at a time, whatever `first`
//! asks for, so a client that ignores `pageInfo` misses issues. `POST /oauth/token` issues
//! the agent's tokens (see `oauth`).

mod oauth;

pub use oauth::{CLIENT_ID, CLIENT_SECRET};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, MutexGuard};

pub const API_KEY: &str = "lin_api_fake0123456789abcdef";
/// The app actor's OAuth token (baton as a Linear agent), sent as `Bearer`.
pub const AGENT_TOKEN: &str = "lin_oauth_agent_fake0123456789";
pub const TEAM_KEY: &str = "ENG";
const TEAM_ID: &str = "7d5c2a2e-0000-4000-8000-00000000e000";
const PAGE_SIZE: usize = 2;
/// The ENG team's workflow.
const STATES: &[(&str, &str)] = &[
    ("5e1f0000-0000-4000-8000-000000000001", "Backlog"),
    ("5e1f0000-0000-4000-8000-000000000002", "Todo"),
    ("5e1f0000-0000-4000-8000-000000000003", "In Progress"),
    ("5e1f0000-0000-4000-8000-000000000004", "Done"),
    ("5e1f0000-0000-4000-8000-000000000005", "Canceled"),
];

#[derive(Debug, Clone)]
struct FakeIssue {
    id: String,
    identifier: String,
    title: String,
    description: String,
    priority: u8,
    state_id: String,
    labels: Vec<String>,
    created_at: String,
    /// Ids of the issues that block this one.
    blocked_by: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FakeComment {
    pub id: String,
    pub issue_id: String,
    pub body: String,
}

/// An activity posted to an agent session: its `content` as sent (`type`, `body`, ...).
#[derive(Debug, Clone)]
pub struct FakeActivity {
    pub session: String,
    pub content: Value,
}

#[derive(Debug, Default)]
struct Board {
    issues: Vec<FakeIssue>,
    comments: Vec<FakeComment>,
    activities: Vec<FakeActivity>,
    /// Each session's `externalUrls`, as last set.
    external_urls: Vec<(String, Value)>,
    grants: oauth::Grants,
    next: u64,
}

/// Cloning shares the board: the harness seeds and inspects what the router serves.
#[derive(Debug, Clone, Default)]
pub struct LinearFake {
    board: Arc<Mutex<Board>>,
}

impl LinearFake {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/graphql", post(graphql))
            .route("/oauth/token", post(oauth::token))
            .with_state(self.clone())
    }

    fn board(&self) -> MutexGuard<'_, Board> {
        self.board.lock().unwrap()
    }

    /// Adds an issue in the state named `state`; returns its id and identifier.
    pub fn seed(
        &self,
        title: &str,
        description: &str,
        state: &str,
        labels: &[String],
    ) -> (String, String) {
        let state_id = STATES
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(state))
            .map(|(id, _)| (*id).to_owned())
            .unwrap_or_else(|| panic!("no state `{state}` in the fake's workflow"));
        let mut board = self.board();
        board.next += 1;
        let n = board.next;
        let issue = FakeIssue {
            id: uuid(n),
            identifier: format!("{TEAM_KEY}-{n}"),
            title: title.to_owned(),
            description: description.to_owned(),
            priority: 2,
            state_id,
            labels: labels.to_vec(),
            created_at: format!("2024-05-02T09:{:02}:{:02}.000Z", n / 60 % 60, n % 60),
            blocked_by: Vec::new(),
        };
        let seeded = (issue.id.clone(), issue.identifier.clone());
        board.issues.push(issue);
        seeded
    }

    pub fn set_priority(&self, id: &str, priority: u8) {
        if let Some(issue) = self.board().issues.iter_mut().find(|i| i.id == id) {
            issue.priority = priority;
        }
    }

    /// Records that `blocker` blocks `blocked`.
    pub fn block(&self, blocked: &str, blocker: &str) {
        if let Some(issue) = self.board().issues.iter_mut().find(|i| i.id == blocked) {
            issue.blocked_by.push(blocker.to_owned());
        }
    }

    pub fn comments(&self, issue_id: &str) -> Vec<FakeComment> {
        self.board()
            .comments
            .iter()
            .filter(|c| c.issue_id == issue_id)
            .cloned()
            .collect()
    }

    /// The activities posted, in order.
    pub fn activities(&self) -> Vec<FakeActivity> {
        self.board().activities.clone()
    }

    /// The URLs `session` links to, as last set.
    pub fn external_urls(&self, session: &str) -> Vec<String> {
        let board = self.board();
        let urls = board.external_urls.iter().rev().find(|(s, _)| s == session);
        urls.and_then(|(_, urls)| urls.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|u| u["url"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn state(&self, issue_id: &str) -> String {
        let board = self.board();
        let issue = board.issues.iter().find(|i| i.id == issue_id);
        issue.map(|i| state_name(&i.state_id)).unwrap_or_default()
    }
}

fn uuid(n: u64) -> String {
    format!("{n:08x}-0000-4000-8000-{n:012x}")
}

fn state_name(id: &str) -> String {
    STATES
        .iter()
        .find(|(state_id, _)| *state_id == id)
        .map(|(_, name)| (*name).to_owned())
        .unwrap_or_default()
}

fn state_node(id: &str) -> Value {
    json!({ "id": id, "name": state_name(id) })
}

fn slug(title: &str) -> String {
    title
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

type Answer = (StatusCode, Json<Value>);

fn data(data: Value) -> Answer {
    (StatusCode::OK, Json(json!({ "data": data })))
}

fn graphql_error(status: StatusCode, message: &str, code: &str, user_message: &str) -> Answer {
    (
        status,
        Json(json!({
            "errors": [{
                "message": message,
                "extensions": {
                    "type": code.to_lowercase().replace('_', " "),
                    "code": code,
                    "userError": true,
                    "userPresentableMessage": user_message,
                }
            }],
            "data": null,
        })),
    )
}

fn entity_not_found(kind: &str) -> Answer {
    graphql_error(
        StatusCode::OK,
        &format!("Entity not found: {kind}"),
        "INVALID_INPUT",
        &format!("Could not find referenced {kind}."),
    )
}

async fn graphql(
    State(fake): State<LinearFake>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Answer {
    let operation = request["operationName"].as_str().unwrap_or_default();
    // Personal API keys go bare in `Authorization`; `Bearer` is for OAuth tokens (the app
    // actor's, for agent sessions).
    let agent = operation.starts_with("BatonAgent");
    let sent = headers.get("authorization").and_then(|v| v.to_str().ok());
    let authenticated = match sent {
        Some(sent) if agent => sent
            .strip_prefix("Bearer ")
            .is_some_and(|token| token == AGENT_TOKEN || fake.board().grants.honours(token)),
        Some(sent) => sent == API_KEY,
        None => false,
    };
    if !authenticated {
        return graphql_error(
            StatusCode::BAD_REQUEST,
            "Authentication required, not authenticated",
            "AUTHENTICATION_ERROR",
            "You need to authenticate to access this operation.",
        );
    }
    let document = request["query"].as_str().unwrap_or_default();
    let variables = &request["variables"];
    // Each operation must ask for the root field it is named after.
    let root = match operation {
        "BatonIssue" | "BatonIssueStates" => "issue(id: $id)",
        "BatonIssues" => "issues(filter: $filter",
        "BatonCommentCreate" => "commentCreate(",
        "BatonCommentUpdate" => "commentUpdate(",
        "BatonIssueUpdateState" => "issueUpdate(",
        "BatonAgentActivityCreate" => "agentActivityCreate(input: $input)",
        "BatonAgentSessionUpdate" => "agentSessionUpdate(id: $id, input: $input)",
        _ => "\u{0}",
    };
    if !document.contains(&format!("{operation}(")) || !document.contains(root) {
        return graphql_error(
            StatusCode::BAD_REQUEST,
            &format!("Unknown operation `{operation}`"),
            "GRAPHQL_VALIDATION_FAILED",
            "Invalid query.",
        );
    }
    let mut board = fake.board();
    let text = |key: &str| variables[key].as_str().unwrap_or_default().to_owned();
    match operation {
        "BatonIssue" => match find(&board, &text("id")) {
            Some(issue) => data(json!({ "issue": issue_node(&board, issue) })),
            None => entity_not_found("Issue"),
        },
        "BatonIssues" => list(&board, variables),
        "BatonIssueStates" => match find(&board, &text("id")) {
            Some(issue) => data(json!({ "issue": {
                "id": issue.id,
                "state": state_node(&issue.state_id),
                "team": {
                    "id": TEAM_ID,
                    "states": { "nodes": STATES.iter().map(|(id, _)| state_node(id)).collect::<Vec<_>>() }
                }
            }})),
            None => entity_not_found("Issue"),
        },
        "BatonCommentCreate" => {
            let Some(issue) = find(&board, &text("issueId")) else {
                return entity_not_found("Issue");
            };
            let (issue_id, identifier, title) = (
                issue.id.clone(),
                issue.identifier.clone(),
                issue.title.clone(),
            );
            board.next += 1;
            let id = uuid(1_000_000 + board.next);
            board.comments.push(FakeComment {
                id: id.clone(),
                issue_id,
                body: text("body"),
            });
            let url = format!(
                "https://linear.app/acme/issue/{identifier}/{}#comment-{}",
                slug(&title),
                &id[..8]
            );
            data(json!({ "commentCreate": {
                "success": true,
                "lastSyncId": board.next,
                "comment": { "id": id, "url": url }
            }}))
        }
        "BatonCommentUpdate" => {
            let id = text("id");
            let body = text("body");
            match board.comments.iter_mut().find(|c| c.id == id) {
                Some(comment) => {
                    comment.body = body;
                    data(json!({ "commentUpdate": { "success": true } }))
                }
                None => entity_not_found("Comment"),
            }
        }
        "BatonIssueUpdateState" => {
            let state_id = text("stateId");
            if !STATES.iter().any(|(id, _)| *id == state_id) {
                return entity_not_found("WorkflowState");
            }
            let id = text("id");
            let Some(issue) = board.issues.iter_mut().find(|i| i.id == id) else {
                return entity_not_found("Issue");
            };
            issue.state_id = state_id;
            let state = state_node(&issue.state_id);
            data(json!({ "issueUpdate": { "success": true, "issue": { "state": state } } }))
        }
        "BatonAgentActivityCreate" => {
            let input = &variables["input"];
            let session = input["agentSessionId"].as_str().unwrap_or_default();
            let content = &input["content"];
            let known = ["thought", "action", "elicitation", "response", "error"];
            let kind = content["type"].as_str().unwrap_or_default();
            let complete = if kind == "action" {
                content["action"].is_string() && content["parameter"].is_string()
            } else {
                content["body"].is_string()
            };
            if session.is_empty() || !known.contains(&kind) || !complete {
                return graphql_error(
                    StatusCode::BAD_REQUEST,
                    "Argument Validation Error",
                    "INVALID_INPUT",
                    "The activity's content is not valid.",
                );
            }
            board.next += 1;
            let id = uuid(2_000_000 + board.next);
            board.activities.push(FakeActivity {
                session: session.to_owned(),
                content: content.clone(),
            });
            data(
                json!({ "agentActivityCreate": { "success": true, "agentActivity": { "id": id } } }),
            )
        }
        "BatonAgentSessionUpdate" => {
            let urls = &variables["input"]["externalUrls"];
            if !urls.is_array() {
                return graphql_error(
                    StatusCode::BAD_REQUEST,
                    "Argument Validation Error",
                    "INVALID_INPUT",
                    "externalUrls must be a list.",
                );
            }
            board.external_urls.push((text("id"), urls.clone()));
            data(json!({ "agentSessionUpdate": { "success": true } }))
        }
        _ => unreachable!("checked above"),
    }
}

/// Linear's `issue(id:)` takes the UUID or the identifier.
fn find<'a>(board: &'a Board, id: &str) -> Option<&'a FakeIssue> {
    board
        .issues
        .iter()
        .find(|i| i.id == id || i.identifier == id)
}

fn issue_node(board: &Board, issue: &FakeIssue) -> Value {
    let blockers: Vec<Value> = issue
        .blocked_by
        .iter()
        .filter_map(|id| find(board, id))
        .map(|blocker| {
            json!({
                "type": "blocks",
                "issue": {
                    "id": blocker.id,
                    "identifier": blocker.identifier,
                    "state": { "name": state_name(&blocker.state_id) }
                }
            })
        })
        .collect();
    json!({
        "id": issue.id,
        "identifier": issue.identifier,
        "title": issue.title,
        "description": if issue.description.is_empty() { Value::Null } else { json!(issue.description) },
        "priority": issue.priority,
        "url": format!("https://linear.app/acme/issue/{}/{}", issue.identifier, slug(&issue.title)),
        "branchName": format!("baton/{}-{}", issue.identifier.to_lowercase(), slug(&issue.title)),
        "createdAt": issue.created_at,
        "updatedAt": issue.created_at,
        "state": { "name": state_name(&issue.state_id) },
        "assignee": { "id": "0a11ce00-0000-4000-8000-000000000001" },
        "creator": { "name": "Alice" },
        "labels": { "nodes": issue.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>() },
        "inverseRelations": { "nodes": blockers },
    })
}

/// `issues(filter:, first:, after:)` with the filters baton uses: state name `in`, team key
/// `eq`. Linear compares names exactly.
fn list(board: &Board, variables: &Value) -> Answer {
    let filter = &variables["filter"];
    let Some(names) = filter["state"]["name"]["in"].as_array() else {
        return graphql_error(
            StatusCode::BAD_REQUEST,
            "Argument Validation Error",
            "INVALID_INPUT",
            "The listing has no state filter.",
        );
    };
    let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
    if let Some(team) = filter["team"]["key"]["eq"].as_str() {
        if team != TEAM_KEY {
            return data(
                json!({ "issues": { "nodes": [], "pageInfo": page_info(false, false, None, None) } }),
            );
        }
    }
    let matching: Vec<&FakeIssue> = board
        .issues
        .iter()
        .filter(|i| names.contains(&state_name(&i.state_id).as_str()))
        .collect();
    let start = match variables["after"].as_str() {
        Some(cursor) => match matching.iter().position(|i| i.id == cursor) {
            Some(at) => at + 1,
            None => {
                return graphql_error(
                    StatusCode::BAD_REQUEST,
                    "Argument Validation Error",
                    "INVALID_INPUT",
                    "Invalid cursor.",
                )
            }
        },
        None => 0,
    };
    let first = variables["first"].as_u64().unwrap_or(50) as usize;
    let page: Vec<&FakeIssue> = matching
        .iter()
        .skip(start)
        .take(first.min(PAGE_SIZE))
        .copied()
        .collect();
    let has_next = start + page.len() < matching.len();
    let nodes: Vec<Value> = page.iter().map(|i| issue_node(board, i)).collect();
    let info = page_info(
        has_next,
        start > 0,
        page.first().map(|i| i.id.as_str()),
        page.last().map(|i| i.id.as_str()),
    );
    data(json!({ "issues": { "nodes": nodes, "pageInfo": info } }))
}

fn page_info(has_next: bool, has_previous: bool, start: Option<&str>, end: Option<&str>) -> Value {
    json!({
        "hasNextPage": has_next,
        "hasPreviousPage": has_previous,
        "startCursor": start,
        "endCursor": end,
    })
}
