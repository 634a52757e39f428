//! Issues and their notes.

use super::json::{bad_request, json_body, label_list, message, now, page, parse_number, Failure};
use super::{FakeIssue, FakeNote, GitlabFake, NewIssue, Project};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::collections::HashMap;

type Params = Query<HashMap<String, String>>;

fn issue_not_found() -> Failure {
    message(StatusCode::NOT_FOUND, "404 Not found")
}

fn note_not_found() -> Failure {
    message(StatusCode::NOT_FOUND, "404 Note Not Found")
}

impl Project {
    pub(super) fn insert_issue(&mut self, new: NewIssue) -> u64 {
        let iid = self.next_issue_iid;
        self.next_issue_iid += 1;
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
        add_labels(&mut issue.labels, &new.labels);
        if new.state == "closed" {
            apply_state_event(&mut issue, "close");
        }
        self.issues.insert(iid, issue);
        iid
    }

    fn existing_issue(&self, iid: &str) -> Result<u64, Failure> {
        parse_number(iid)
            .filter(|iid| self.issues.contains_key(iid))
            .ok_or_else(issue_not_found)
    }
}

/// Adds labels not already there; GitLab keeps labels sorted by title.
pub(super) fn add_labels(labels: &mut Vec<String>, added: &[String]) {
    for label in added {
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    labels.sort();
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

pub(super) async fn list_issues(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(query): Params,
    uri: Uri,
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
    // GitLab's default order: newest first.
    let matching: Vec<Value> = project
        .issues
        .values()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| wanted_labels.iter().all(|w| i.labels.contains(w)))
        .map(|issue| project.issue_json(&api, issue))
        .collect();
    let (pagination, records) = page(matching, &query, &api, &uri, project.max_per_page);
    Ok((pagination, Json(records)).into_response())
}

pub(super) async fn create_issue(
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

pub(super) async fn get_issue(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(String, String)>,
) -> Result<Response, Failure> {
    let (project, api) = fake.open(&headers, &project_id)?;
    let iid = project.existing_issue(&iid)?;
    Ok(Json(project.issue_json(&api, &project.issues[&iid])).into_response())
}

pub(super) async fn update_issue(
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
        add_labels(&mut issue.labels, &labels);
    }
    if let Some(added) = label_list(body.get("add_labels")) {
        add_labels(&mut issue.labels, &added);
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

pub(super) async fn list_notes(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(String, String)>,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (project, api) = fake.open(&headers, &project_id)?;
    let iid = project.existing_issue(&iid)?;
    // GitLab lists notes newest first by default.
    let records: Vec<Value> = project
        .notes
        .iter()
        .rev()
        .filter(|n| n.issue_iid == iid)
        .map(|n| project.note_json(n))
        .collect();
    let (pagination, records) = page(records, &query, &api, &uri, project.max_per_page);
    Ok((pagination, Json(records)).into_response())
}

pub(super) async fn create_note(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, _) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let iid = project.existing_issue(&iid)?;
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

pub(super) async fn get_note(
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

pub(super) async fn update_note(
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
