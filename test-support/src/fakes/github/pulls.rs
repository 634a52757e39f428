//! Pull requests: their own routes (the issue routes serve their comments and labels),
//! merges, reviews and review comments, requested reviewers, check runs and commit status.

use super::issues::set_issue_state;
use super::json::{
    custom_validation, error, json_body, not_found, page, parse_number, user_json,
    validation_failed, Failure,
};
use super::{GithubFake, NewIssue};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

type RepoPath = Path<(String, String)>;
type ItemPath = Path<(String, String, String)>;
type Params = Query<HashMap<String, String>>;

const CREATE_DOCS: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";

pub(super) async fn list_pulls(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo)): RepoPath,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let wanted = query.get("state").map_or("open", String::as_str);
    let head = query.get("head");
    let items: Vec<Value> = repository
        .pulls
        .iter()
        .filter(|(number, _)| {
            wanted == "all"
                || repository
                    .issues
                    .get(number)
                    .is_some_and(|i| i.state == wanted)
        })
        .filter(|(_, p)| head.is_none_or(|h| *h == format!("{}:{}", repository.owner, p.head)))
        .filter_map(|(number, _)| repository.pull_json(&api, *number, false))
        .collect();
    let (items, link) = page(items, &query, &api, &uri, repository.max_per_page);
    Ok((link, Json(items)).into_response())
}

pub(super) async fn create_pull(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo)): RepoPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let body = json_body(&body)?;
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (head, base) = (field("head"), field("base"));
    if !repository.branches.contains_key(&head) || !repository.branches.contains_key(&base) {
        let message = format!("No commits between {base} and {head}");
        return Err(custom_validation("PullRequest", &message, CREATE_DOCS));
    }
    let already = repository.pulls.iter().any(|(number, p)| {
        p.head == head
            && repository
                .issues
                .get(number)
                .is_some_and(|i| i.state == "open")
    });
    if already {
        let message = format!(
            "A pull request already exists for {}:{head}.",
            repository.owner
        );
        return Err(custom_validation("PullRequest", &message, CREATE_DOCS));
    }
    let mut issue = NewIssue::new(&field("title"));
    issue.body = Some(field("body"));
    issue.author = repository.viewer.clone();
    let number = repository.insert_pull(issue, &head, &base);
    let record = repository
        .pull_json(&api, number, true)
        .ok_or_else(not_found)?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

pub(super) async fn get_pull(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    let record = repository
        .pull_json(&api, number, true)
        .ok_or_else(not_found)?;
    Ok(Json(record).into_response())
}

pub(super) async fn update_pull(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    let body = json_body(&body)?;
    if !repository.pulls.contains_key(&number) {
        return Err(not_found());
    }
    let state = body.get("state").and_then(Value::as_str);
    if state.is_some_and(|s| !matches!(s, "open" | "closed")) {
        return Err(validation_failed("PullRequest", "state", "invalid"));
    }
    let Some(issue) = repository.issues.get_mut(&number) else {
        return Err(not_found());
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        issue.title = title.to_owned();
    }
    if let Some(text) = body.get("body").and_then(Value::as_str) {
        issue.body = Some(text.to_owned());
    }
    if let Some(state) = state {
        set_issue_state(issue, state, None);
    }
    let record = repository
        .pull_json(&api, number, true)
        .ok_or_else(not_found)?;
    Ok(Json(record).into_response())
}

pub(super) async fn merge_pull(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, _) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    let body = json_body(&body)?;
    let Some(pull) = repository.pulls.get(&number) else {
        return Err(not_found());
    };
    let open = repository
        .issues
        .get(&number)
        .is_some_and(|i| i.state == "open");
    if !open {
        let status = StatusCode::METHOD_NOT_ALLOWED;
        return Err(error(status, "Pull Request is not mergeable"));
    }
    let head = repository
        .branches
        .get(&pull.head)
        .cloned()
        .unwrap_or_default();
    if let Some(expected) = body.get("sha").and_then(Value::as_str) {
        if expected != head {
            let message = "Head branch was modified. Review and try the merge again.";
            return Err(error(StatusCode::CONFLICT, message));
        }
    }
    repository.commits += 1;
    let merge_sha = format!("{:040x}", 0xfeed_0000_u64 + repository.commits);
    if let Some(pull) = repository.pulls.get_mut(&number) {
        pull.merged = true;
        pull.merge_commit_sha = Some(merge_sha.clone());
    }
    if let Some(issue) = repository.issues.get_mut(&number) {
        set_issue_state(issue, "closed", None);
    }
    let answer =
        json!({"sha": merge_sha, "merged": true, "message": "Pull Request successfully merged"});
    Ok(Json(answer).into_response())
}

pub(super) async fn list_reviews(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    if !repository.pulls.contains_key(&number) {
        return Err(not_found());
    }
    let pull_url = format!("{}/repos/{}/pulls/{number}", api.base, api.repo);
    let items: Vec<Value> = repository
        .reviews
        .iter()
        .filter(|r| r.pull == number)
        .map(|r| {
            json!({
                "id": r.id, "node_id": format!("PRR_kwDO{}", r.id), "user": user_json(&api, &r.user),
                "body": r.body, "state": r.state,
                "html_url": format!("https://github.com/{}/pull/{number}#pullrequestreview-{}", api.repo, r.id),
                "pull_request_url": pull_url,
                "author_association": "COLLABORATOR", "submitted_at": super::json::now(),
                "commit_id": r.commit_id,
            })
        })
        .collect();
    let (items, link) = page(items, &query, &api, &uri, repository.max_per_page);
    Ok((link, Json(items)).into_response())
}

pub(super) async fn list_review_comments(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    if !repository.pulls.contains_key(&number) {
        return Err(not_found());
    }
    let now = super::json::now();
    let pull_url = format!("{}/repos/{}/pulls/{number}", api.base, api.repo);
    let items: Vec<Value> = repository
        .review_comments
        .iter()
        .filter(|c| c.pull == number)
        .map(|c| {
            json!({
                "url": format!("{}/repos/{}/pulls/comments/{}", api.base, api.repo, c.id),
                "pull_request_review_id": c.review_id, "id": c.id, "node_id": format!("PRRC_kwDO{}", c.id),
                "diff_hunk": "@@ -1,3 +1,4 @@", "path": c.path, "position": 4, "original_position": 4,
                "commit_id": "", "original_commit_id": "", "user": user_json(&api, &c.user), "body": c.body,
                "created_at": now, "updated_at": now,
                "html_url": format!("https://github.com/{}/pull/{number}#discussion_r{}", api.repo, c.id),
                "pull_request_url": pull_url,
                "author_association": "COLLABORATOR", "start_line": null, "original_start_line": null,
                "start_side": null, "line": c.line, "original_line": c.line, "side": "RIGHT",
                "subject_type": "line",
            })
        })
        .collect();
    let (items, link) = page(items, &query, &api, &uri, repository.max_per_page);
    Ok((link, Json(items)).into_response())
}

/// `POST /pulls/{n}/requested_reviewers`: GitHub answers 201 with the pull request.
pub(super) async fn request_reviewers(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, number)): ItemPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut repository, api) = fake.open(&headers, &owner, &repo)?;
    let number = parse_number(&number)?;
    let body = json_body(&body)?;
    let Some(reviewers) = body.get("reviewers").and_then(Value::as_array) else {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request."));
    };
    let Some(pull) = repository.pulls.get_mut(&number) else {
        return Err(not_found());
    };
    for login in reviewers.iter().filter_map(Value::as_str) {
        if !pull.requested_reviewers.iter().any(|r| r == login) {
            pull.requested_reviewers.push(login.to_owned());
        }
    }
    let record = repository
        .pull_json(&api, number, true)
        .ok_or_else(not_found)?;
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

pub(super) async fn list_check_runs(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, sha)): ItemPath,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let now = super::json::now();
    let runs: Vec<Value> = repository
        .check_runs
        .get(&sha)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, run)| {
            json!({
                "id": 4000 + i, "head_sha": sha, "node_id": format!("CR_{i}"), "external_id": "",
                "url": format!("{}/repos/{}/check-runs/{}", api.base, api.repo, 4000 + i),
                "html_url": "https://github.com/", "details_url": "https://ci.example/",
                "status": run.status, "conclusion": run.conclusion,
                "started_at": now,
                "completed_at": if run.status == "completed" { json!(now) } else { Value::Null },
                "output": {"title": null, "summary": null, "text": null, "annotations_count": 0,
                           "annotations_url": "https://api.github.com/"},
                "name": run.name, "check_suite": {"id": 5}, "app": {"id": 1, "slug": "ci", "name": "CI"},
                "pull_requests": [],
            })
        })
        .collect();
    let total = runs.len();
    let (runs, link) = page(runs, &query, &api, &uri, repository.max_per_page);
    let answer = json!({"total_count": total, "check_runs": runs});
    Ok((link, Json(answer)).into_response())
}

pub(super) async fn combined_status(
    State(fake): State<GithubFake>,
    headers: HeaderMap,
    Path((owner, repo, sha)): ItemPath,
) -> Result<Response, Failure> {
    let (repository, api) = fake.open(&headers, &owner, &repo)?;
    let list: Vec<String> = repository.statuses.get(&sha).cloned().unwrap_or_default();
    // GitHub's own rule: no statuses at all reads `pending`.
    let combined = if list.iter().any(|s| s == "failure" || s == "error") {
        "failure"
    } else if list.is_empty() || list.iter().any(|s| s == "pending") {
        "pending"
    } else {
        "success"
    };
    let now = super::json::now();
    let statuses: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"url": "https://api.github.com/", "avatar_url": null, "id": 7000 + i,
                   "node_id": format!("SC_{i}"), "state": s, "description": "CI",
                   "target_url": "https://ci.example/", "context": format!("ci/{i}"),
                   "created_at": now, "updated_at": now})
        })
        .collect();
    let commit_url = format!("{}/repos/{}/commits/{sha}", api.base, api.repo);
    Ok(
        Json(json!({"state": combined, "statuses": statuses, "sha": sha,
                   "total_count": list.len(), "repository": repository.repo_json(&api),
                   "url": format!("{commit_url}/status"), "commit_url": commit_url}))
        .into_response(),
    )
}
