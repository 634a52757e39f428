//! Issues, and what issues and pull requests share: comments and labels.

use super::json::{
    error, json_body, label_names, now, page, parse_number, validation_failed, Failure,
};
use super::{FakeComment, FakeIssue, FakeLabel, GithubFake, NewIssue, Repository};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;
use std::collections::HashMap;

type RepoPath = Path<(String, String)>;
type ItemPath = Path<(String, String, String)>;
type Params = Query<HashMap<String, String>>;

impl Repository {
    pub(super) fn insert_issue(&mut self, new: NewIssue, is_pull_request: bool) -> u64 {
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

    /// An issue's (or pull request's) labels, spelled as the repository first had them.
    pub(super) fn set_issue_labels(&mut self, number: u64, names: &[String]) {
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

    fn issue(&self, number_text: &str) -> Result<&FakeIssue, Failure> {
        let number = parse_number(number_text)?;
        self.issues.get(&number).ok_or_else(super::not_found)
    }
}

pub(super) fn set_issue_state(issue: &mut FakeIssue, state: &str, reason: Option<&str>) {
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

pub(super) async fn list_issues(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo)): RepoPath,
    Query(query): Params,
    uri: Uri,
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
    // GitHub's default order: newest first; pull requests are listed too.
    let matching: Vec<Value> = repository
        .issues
        .values()
        .rev()
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| {
            wanted_labels
                .iter()
                .all(|w| i.labels.iter().any(|l| l.to_lowercase() == *w))
        })
        .map(|issue| repository.issue_json(&api, issue))
        .collect();
    let (records, link) = page(matching, &query, &api, &uri, repository.max_per_page);
    Ok((link, Json(records)).into_response())
}

pub(super) async fn create_issue(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo)): RepoPath,
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

pub(super) async fn get_issue(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let issue = repository.issue(&number)?;
    Ok(Json(repository.issue_json(&api, issue)).into_response())
}

pub(super) async fn update_issue(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number_text)): ItemPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number_text)?;
    let body = json_body(&body)?;
    if !repository.issues.contains_key(&number) {
        return Err(super::not_found());
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
        return Err(super::not_found());
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

pub(super) async fn list_comments(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = repository.issue(&number)?.number;
    let records: Vec<Value> = repository
        .comments
        .iter()
        .filter(|c| c.issue_number == number)
        .map(|c| repository.comment_json(&api, c))
        .collect();
    let (records, link) = page(records, &query, &api, &uri, repository.max_per_page);
    Ok((link, Json(records)).into_response())
}

pub(super) async fn create_comment(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    let body = json_body(&body)?;
    if !repository.issues.contains_key(&number) {
        return Err(super::not_found());
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
    let record = repository.comment_json(&api, &comment);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

pub(super) async fn get_comment(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, id)): ItemPath,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let id = parse_number(&id)?;
    let comment = repository
        .comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(super::not_found)?;
    Ok(Json(repository.comment_json(&api, comment)).into_response())
}

pub(super) async fn update_comment(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, id)): ItemPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let id = parse_number(&id)?;
    let body = json_body(&body)?;
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        return Err(validation_failed("IssueComment", "body", "missing_field"));
    };
    let Some(comment) = repository.comments.iter_mut().find(|c| c.id == id) else {
        return Err(super::not_found());
    };
    comment.body = text.to_owned();
    comment.updated_at = now();
    let comment = comment.clone();
    Ok(Json(repository.comment_json(&api, &comment)).into_response())
}

pub(super) async fn list_issue_labels(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let issue = repository.issue(&number)?;
    Ok(Json(repository.issue_labels_json(&api, issue)).into_response())
}

/// Adds labels to an issue or a pull request; those it has already stay once.
pub(super) async fn add_issue_labels(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    let body = json_body(&body)?;
    let Some(added) = label_names(&body) else {
        return Err(validation_failed("Label", "labels", "invalid"));
    };
    let Some(issue) = repository.issues.get(&number) else {
        return Err(super::not_found());
    };
    let mut names = issue.labels.clone();
    names.extend(added);
    repository.set_issue_labels(number, &names);
    Ok(Json(repository.issue_labels_json(&api, &repository.issues[&number])).into_response())
}

pub(super) async fn remove_issue_label(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number, name)): Path<(String, String, String, String)>,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let issue = repository.issue(&number)?;
    if !issue.labels.iter().any(|l| l.eq_ignore_ascii_case(&name)) {
        return Err(error(StatusCode::NOT_FOUND, "Label does not exist"));
    }
    let number = issue.number;
    let remaining: Vec<String> = issue
        .labels
        .iter()
        .filter(|l| !l.eq_ignore_ascii_case(&name))
        .cloned()
        .collect();
    repository.set_issue_labels(number, &remaining);
    Ok(Json(repository.issue_labels_json(&api, &repository.issues[&number])).into_response())
}
