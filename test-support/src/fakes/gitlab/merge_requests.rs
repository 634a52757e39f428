//! Merge requests: list/create/get/update/merge, notes and discussions, approvals and
//! merge request pipelines. A merge request's labels and notes are its own, apart from the
//! issues'.

use super::issues::add_labels;
use super::json::{
    json_body, label_list, message, messages, not_found, now, page, parse_number, user_json,
    Failure,
};
use super::{FakeDiscussion, FakeMergeRequest, FakePipeline, FakeThreadNote, GitlabFake};
use super::{Project, PROJECT_ID};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

type MrPath = Path<(String, String)>;
type Params = Query<HashMap<String, String>>;

impl Project {
    fn existing_mr(&self, iid: &str) -> Result<u64, Failure> {
        parse_number(iid)
            .filter(|iid| self.merge_requests.contains_key(iid))
            .ok_or_else(not_found)
    }
}

pub(super) async fn list(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (project, api) = fake.open(&headers, &project_id)?;
    let wanted = query.get("state").map_or("all", String::as_str);
    let items: Vec<Value> = project
        .merge_requests
        .values()
        .rev() // newest first, as GitLab orders by created_at desc
        .filter(|m| wanted == "all" || m.state == wanted)
        .filter(|m| {
            query
                .get("source_branch")
                .is_none_or(|b| *b == m.source_branch)
        })
        .map(|m| project.mr_json(m))
        .collect();
    let (pagination, items) = page(items, &query, &api, &uri, project.max_per_page);
    Ok((pagination, Json(items)).into_response())
}

pub(super) async fn create(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, _) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (source, target) = (field("source_branch"), field("target_branch"));
    if !project.branches.contains_key(&source) {
        return Err(messages(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!([format!("Source branch \"{source}\" does not exist")]),
        ));
    }
    if let Some(existing) = project
        .merge_requests
        .values()
        .find(|m| m.source_branch == source && m.state == "opened")
    {
        return Err(messages(
            StatusCode::CONFLICT,
            json!([format!(
                "Another open merge request already exists for this source branch: !{}",
                existing.iid
            )]),
        ));
    }
    let iid = project.next_mr_iid;
    project.next_mr_iid += 1;
    let mr = FakeMergeRequest {
        id: project.take_id(),
        iid,
        title: field("title"),
        description: field("description"),
        source_branch: source,
        target_branch: target,
        state: "opened".into(),
        labels: label_list(body.get("labels")).unwrap_or_default(),
        merge_commit_sha: None,
    };
    let record = project.mr_json(&mr);
    project.merge_requests.insert(iid, mr);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

pub(super) async fn get(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): MrPath,
) -> Result<Response, Failure> {
    let (project, _) = fake.open(&headers, &project_id)?;
    let iid = project.existing_mr(&iid)?;
    Ok(Json(project.mr_json(&project.merge_requests[&iid])).into_response())
}

pub(super) async fn update(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): MrPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, _) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let iid = project.existing_mr(&iid)?;
    let Some(mr) = project.merge_requests.get_mut(&iid) else {
        return Err(not_found());
    };
    if let Some(title) = body.get("title").and_then(Value::as_str) {
        mr.title = title.to_owned();
    }
    if let Some(description) = body.get("description").and_then(Value::as_str) {
        mr.description = description.to_owned();
    }
    if let Some(added) = label_list(body.get("add_labels")) {
        // A merge request keeps its labels in the order they came.
        for label in added {
            if !mr.labels.contains(&label) {
                mr.labels.push(label);
            }
        }
    }
    if let Some(removed) = label_list(body.get("remove_labels")) {
        mr.labels.retain(|l| !removed.contains(l));
    }
    if let Some(labels) = label_list(body.get("labels")) {
        mr.labels.clear();
        add_labels(&mut mr.labels, &labels);
    }
    match body.get("state_event").and_then(Value::as_str) {
        Some("close") if mr.state == "opened" => mr.state = "closed".into(),
        Some("reopen") if mr.state == "closed" => mr.state = "opened".into(),
        _ => {}
    }
    Ok(Json(project.mr_json(&project.merge_requests[&iid])).into_response())
}

pub(super) async fn merge(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): MrPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, _) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let iid = project.existing_mr(&iid)?;
    let mr = &project.merge_requests[&iid];
    if mr.state != "opened" {
        let status = StatusCode::METHOD_NOT_ALLOWED;
        return Err(message(status, "405 Method Not Allowed"));
    }
    let head = project
        .branches
        .get(&mr.source_branch)
        .cloned()
        .unwrap_or_default();
    if let Some(sha) = body.get("sha").and_then(Value::as_str) {
        if sha != head {
            let text = format!("SHA does not match HEAD of source branch: {head}");
            return Err(message(StatusCode::CONFLICT, &text));
        }
    }
    project.commits += 1;
    let merge_sha = format!("{:040x}", 0x3e6e_0000_u64 + project.commits);
    let Some(mr) = project.merge_requests.get_mut(&iid) else {
        return Err(not_found());
    };
    mr.state = "merged".into();
    mr.merge_commit_sha = Some(merge_sha);
    Ok(Json(project.mr_json(&project.merge_requests[&iid])).into_response())
}

pub(super) async fn create_note(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): MrPath,
    body: Bytes,
) -> Result<Response, Failure> {
    let (mut project, _) = fake.open(&headers, &project_id)?;
    let body = json_body(&body)?;
    let iid = project.existing_mr(&iid)?;
    let Some(text) = body.get("body").and_then(Value::as_str) else {
        let status = StatusCode::BAD_REQUEST;
        return Err(message(status, "400 Bad request - body is missing"));
    };
    let note_id = project.take_id();
    // A plain comment on a merge request is resolvable, but stands alone (`individual_note`).
    let note = FakeThreadNote {
        id: note_id,
        body: text.to_owned(),
        author: project.viewer.clone(),
        system: false,
        resolvable: true,
        resolved: false,
        position: None,
    };
    let record = project.thread_note_json(&note, iid);
    project.discussions.push(FakeDiscussion {
        id: format!("{:040x}", 0xc033_0000_u64 + note_id),
        mr: iid,
        individual_note: true,
        notes: vec![note],
    });
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

pub(super) async fn list_discussions(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): MrPath,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (project, api) = fake.open(&headers, &project_id)?;
    let iid = project.existing_mr(&iid)?;
    let items: Vec<Value> = project
        .discussions
        .iter()
        .filter(|d| d.mr == iid)
        .map(|d| {
            let notes: Vec<Value> = d
                .notes
                .iter()
                .map(|n| project.thread_note_json(n, iid))
                .collect();
            json!({"id": d.id, "individual_note": d.individual_note, "notes": notes})
        })
        .collect();
    let (pagination, items) = page(items, &query, &api, &uri, project.max_per_page);
    Ok((pagination, Json(items)).into_response())
}

pub(super) async fn approvals(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): MrPath,
) -> Result<Response, Failure> {
    let (project, _) = fake.open(&headers, &project_id)?;
    let iid = project.existing_mr(&iid)?;
    let mr = &project.merge_requests[&iid];
    let approved_by: Vec<Value> = project
        .approvals
        .get(&iid)
        .into_iter()
        .flatten()
        .map(|u| json!({ "user": user_json(u) }))
        .collect();
    Ok(Json(json!({
        "id": mr.id, "iid": mr.iid, "project_id": PROJECT_ID, "title": mr.title,
        "description": mr.description, "state": mr.state, "created_at": now(), "updated_at": now(),
        "merge_status": "can_be_merged", "approved": !approved_by.is_empty(),
        "approvals_required": 0, "approvals_left": 0, "approved_by": approved_by,
    }))
    .into_response())
}

pub(super) async fn list_pipelines(
    State(fake): State<GitlabFake>,
    headers: HeaderMap,
    Path((project_id, iid)): MrPath,
    Query(query): Params,
    uri: Uri,
) -> Result<Response, Failure> {
    let (project, api) = fake.open(&headers, &project_id)?;
    let iid = project.existing_mr(&iid)?;
    let mr = &project.merge_requests[&iid];
    let mut pipelines: Vec<&FakePipeline> =
        project.pipelines.iter().filter(|p| p.mr == iid).collect();
    // Newest first.
    pipelines.sort_by_key(|p| std::cmp::Reverse(p.id));
    let items: Vec<Value> = pipelines
        .into_iter()
        .map(|p| {
            json!({"id": p.id, "iid": p.id % 100_000, "project_id": PROJECT_ID, "sha": p.sha,
                   "ref": format!("refs/merge-requests/{iid}/head"), "status": p.status,
                   "source": "merge_request_event", "created_at": now(), "updated_at": now(),
                   "web_url": format!("https://gitlab.com/{}/-/pipelines/{}", project.path, p.id),
                   "source_branch": mr.source_branch})
        })
        .collect();
    let (pagination, items) = page(items, &query, &api, &uri, project.max_per_page);
    Ok((pagination, Json(items)).into_response())
}
