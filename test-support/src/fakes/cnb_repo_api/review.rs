//! The fake's review side: a pull's reviews and their inline comments, the head commit's
//! statuses, and merging.

use super::*;

pub(super) async fn list_reviews(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number)): PullPath,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let items: Vec<Value> = state
        .reviews
        .iter()
        .filter(|r| r.pull == number)
        .map(|r| {
            json!({"author": state.user(&r.author), "body": r.body, "created_at": now(),
                   "id": r.id, "state": r.state, "updated_at": now()})
        })
        .collect();
    Json(Value::Array(page(items, &params))).into_response()
}

pub(super) async fn list_review_comments(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number, review)): Path<(String, String, u64, String)>,
    Query(params): Params,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let Some(found) = state
        .reviews
        .iter()
        .find(|r| r.pull == number && r.id == review)
    else {
        return error(StatusCode::NOT_FOUND, "review not found");
    };
    let items: Vec<Value> = found
        .comments
        .iter()
        .enumerate()
        .map(|(i, (path, line, body))| {
            json!({
                "author": state.user(&found.author), "body": body, "commit_hash": "",
                "created_at": now(),
                "diff_hunk": [{"content": "fn helper() {}", "left_line_number": 0, "prefix": "+",
                               "right_line_number": line, "type": "addition"}],
                "end_line": line, "end_side": "right", "id": format!("{}-{i}", found.id),
                "path": path, "reactions": [], "reply_to_comment_id": "",
                "review_id": found.id, "review_state": found.state, "start_line": line,
                "start_side": "right", "subject_type": "line", "updated_at": now(),
            })
        })
        .collect();
    Json(Value::Array(page(items, &params))).into_response()
}

pub(super) async fn commit_statuses(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number)): PullPath,
    headers: HeaderMap,
) -> Response {
    let state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let Some(pull) = state.pulls.iter().find(|p| p.number == number) else {
        return error(StatusCode::NOT_FOUND, "pull not found");
    };
    let list = state.statuses.get(&number).cloned().unwrap_or_default();
    let overall = if list.iter().any(|s| s == "failure" || s == "error") {
        "failure"
    } else if list.is_empty() || list.iter().any(|s| s == "pending") {
        "pending"
    } else {
        "success"
    };
    let statuses: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({"context": format!("cnb/build-{i}"), "created_at": now(), "description": "",
                   "state": s, "target_url": "https://cnb.cool/", "updated_at": now()})
        })
        .collect();
    Json(
        json!({"sha": state.branches.get(&pull.head).cloned().unwrap_or_default(),
                "state": overall, "statuses": statuses}),
    )
    .into_response()
}

pub(super) async fn merge(
    State(fake): State<CnbRepoFake>,
    Path((group, name, number)): PullPath,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = fake.lock();
    if let Some(refused) = state.check(&group, &name, &headers) {
        return refused;
    }
    let style = body
        .get("merge_style")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    state.merge_styles.push(style);
    state.commits += 1;
    let sha = format!("{:040x}", 0x3e6e_0000_u64 + state.commits);
    let Some(pull) = state.pulls.iter_mut().find(|p| p.number == number) else {
        return error(StatusCode::NOT_FOUND, "pull not found");
    };
    if pull.state != "open" {
        return Json(json!({"merged": false, "message": "pull request is not open", "sha": ""}))
            .into_response();
    }
    pull.state = "merged".into();
    Json(json!({"merged": true, "message": "merged", "sha": sha})).into_response()
}
