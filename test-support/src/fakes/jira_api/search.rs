//! The enhanced JQL search (`POST /rest/api/3/search/jql`): the JQL baton sends, parsed
//! strictly, and answered in pages of two with `nextPageToken`.

use super::*;

/// The JQL baton writes: `status in ("A", "B") [AND project = "P"] ORDER BY created ASC`.
fn parse_jql(jql: &str) -> Result<(Vec<String>, Option<String>), String> {
    let mut rest = jql
        .strip_prefix("status in (")
        .ok_or("expected `status in (`")?;
    let mut states = Vec::new();
    loop {
        let (state, after) = quoted(rest.trim_start())?;
        states.push(state);
        let after = after.trim_start();
        if let Some(after) = after.strip_prefix(',') {
            rest = after;
        } else if let Some(after) = after.strip_prefix(')') {
            rest = after;
            break;
        } else {
            return Err(format!("expected `,` or `)` before `{after}`"));
        }
    }
    let mut project = None;
    if let Some(after) = rest.strip_prefix(" AND project = ") {
        let (key, after) = quoted(after)?;
        project = Some(key);
        rest = after;
    }
    if rest != " ORDER BY created ASC" {
        return Err(format!("unexpected `{rest}`"));
    }
    Ok((states, project))
}

/// A double-quoted JQL string with `\"` and `\\` escapes; returns it and the text after it.
fn quoted(text: &str) -> Result<(String, &str), String> {
    let body = text
        .strip_prefix('"')
        .ok_or_else(|| format!("expected a quoted value at `{text}`"))?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            '"' => return Ok((value, &body[at + 1..])),
            other => value.push(other),
        }
    }
    Err("unterminated string".into())
}

pub(super) async fn search(State(fake): State<JiraFake>, Json(request): Json<Value>) -> Response {
    let jql = request["jql"].as_str().unwrap_or_default();
    let (states, project) = match parse_jql(jql) {
        Ok(parsed) => parsed,
        Err(why) => {
            return error(
                StatusCode::BAD_REQUEST,
                &[&format!("Error in the JQL Query: {why}")],
            )
        }
    };
    // The enhanced search returns ids only unless fields are named.
    let wanted: Vec<String> = request["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let board = fake.board();
    let matching: Vec<&FakeIssue> = board
        .issues
        .iter()
        .filter(|i| {
            states
                .iter()
                .any(|s| s.eq_ignore_ascii_case(STATUSES[i.status].1))
        })
        .filter(|_| project.as_deref().is_none_or(|p| p == PROJECT))
        .collect();
    let start = match request["nextPageToken"].as_str() {
        Some(token) => match token.strip_prefix("CAEaAggC-").and_then(|n| n.parse().ok()) {
            Some(start) => start,
            None => return error(StatusCode::BAD_REQUEST, &["Invalid nextPageToken."]),
        },
        None => 0,
    };
    let size = request["maxResults"]
        .as_u64()
        .map_or(PAGE_SIZE, |m| (m as usize).min(PAGE_SIZE));
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(size)
        .map(|i| issue_json(&board, i, Some(&wanted)))
        .collect();
    let end = start + page.len();
    let mut answer = json!({ "issues": page, "isLast": end >= matching.len() });
    if end < matching.len() {
        answer["nextPageToken"] = json!(format!("CAEaAggC-{end}"));
    }
    Json(answer).into_response()
}
