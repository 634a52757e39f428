//! The contract every [`Tracker`] adapter passes, against a harness that seeds issues on a
//! fake server speaking the real API's shapes (or on the memory tracker itself).
//!
//! Call [`run_all`] from one `#[tokio::test]` per adapter.

use crate::test_support::{Fault, RecordedRequest};
use crate::tracker::{same_state, IssueRef, StateMove, Tracker};
use async_trait::async_trait;

/// An issue to create on the fake tracker, in the tracker's own vocabulary.
#[derive(Debug, Clone)]
pub struct SeedIssue {
    pub title: String,
    pub description: String,
    /// As a person would write them; the adapter must lowercase them.
    pub labels: Vec<String>,
    pub state: String,
}

/// What the contract needs from an adapter's test setup.
#[async_trait]
pub trait TrackerHarness: Send + Sync {
    fn tracker(&self) -> &dyn Tracker;
    /// Creates an issue on the fake (the harness numbers them); returns how to address it.
    async fn seed(&self, issue: SeedIssue) -> IssueRef;
    /// The bodies of the issue's comments, oldest first, as the fake holds them.
    async fn comments(&self, issue: &IssueRef) -> Vec<String>;
    /// The issue's state as the fake holds it.
    async fn state(&self, issue: &IssueRef) -> String;
    /// A state the workflow would treat as active, and one as done, in this tracker's names.
    fn active_state(&self) -> String;
    fn done_state(&self) -> String;
    /// How to address an issue that does not exist.
    fn missing_issue(&self) -> IssueRef;
    /// Whether the fake pages its listings (the page size must be below 3).
    fn paginates(&self) -> bool;
    /// Injects a fault in front of the fake; `false` when the harness has no server.
    fn inject(&self, fault: Fault) -> bool;
    fn clear_faults(&self);
    fn requests(&self) -> Vec<RecordedRequest>;
    /// The credential the adapter was configured with, to check where it travels.
    fn credential(&self) -> Option<String>;
}

fn seed(title: &str, state: &str, labels: &[&str]) -> SeedIssue {
    SeedIssue {
        title: title.to_owned(),
        description: format!("Body of {title}.\n\nSteps: none."),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        state: state.to_owned(),
    }
}

/// Runs every case; a failure names the case.
pub async fn run_all(harness: &dyn TrackerHarness) {
    fetch_issue_normalizes(harness).await;
    unknown_issue_is_none(harness).await;
    fetch_by_states_filters_and_reads_every_page(harness).await;
    comment_is_updated_in_place(harness).await;
    move_honours_the_expected_state(harness).await;
    tools_act_on_the_issue(harness).await;
    rate_limits_are_waited_out(harness).await;
    server_errors_get_a_bounded_retry(harness).await;
    client_errors_are_not_retried(harness).await;
    malformed_records_are_errors(harness).await;
    credential_travels_in_a_header(harness).await;
}

async fn fetch_issue_normalizes(h: &dyn TrackerHarness) {
    let active = h.active_state();
    let issue = h
        .seed(seed("Fix the login bug", &active, &["Bug", "Baton"]))
        .await;
    let found = h
        .tracker()
        .fetch_issue(&issue)
        .await
        .expect("fetch_issue: request failed")
        .expect("fetch_issue: seeded issue not found");
    assert_eq!(found.id, issue.id, "fetch_issue: id");
    assert_eq!(
        found.identifier, issue.identifier,
        "fetch_issue: identifier"
    );
    assert_eq!(found.title, "Fix the login bug", "fetch_issue: title");
    assert!(
        found.description.contains("Body of Fix the login bug"),
        "fetch_issue: description"
    );
    assert!(
        same_state(&found.state, &active),
        "fetch_issue: state {}",
        found.state
    );
    let mut labels = found.labels.clone();
    labels.sort();
    assert_eq!(
        labels,
        vec!["baton", "bug"],
        "fetch_issue: labels lowercased"
    );
}

async fn unknown_issue_is_none(h: &dyn TrackerHarness) {
    let found = h.tracker().fetch_issue(&h.missing_issue()).await;
    assert!(matches!(found, Ok(None)), "fetch_issue(missing): {found:?}");
}

async fn fetch_by_states_filters_and_reads_every_page(h: &dyn TrackerHarness) {
    let active = h.active_state();
    let done = h.done_state();
    let mut wanted = Vec::new();
    for n in 0..5 {
        wanted.push(
            h.seed(seed(&format!("Listed active {n}"), &active, &["baton"]))
                .await,
        );
    }
    let finished = h.seed(seed("Listed done", &done, &["baton"])).await;
    let listed = h
        .tracker()
        .fetch_by_states(std::slice::from_ref(&active))
        .await
        .expect("fetch_by_states: request failed");
    for issue in &wanted {
        assert!(
            listed.iter().any(|l| l.id == issue.id),
            "fetch_by_states: `{}` missing (pages read?)",
            issue.identifier
        );
    }
    assert!(
        listed.iter().all(|l| same_state(&l.state, &active)),
        "fetch_by_states: returned an issue in another state"
    );
    assert!(
        !listed.iter().any(|l| l.id == finished.id),
        "fetch_by_states: returned the done issue"
    );
    if h.paginates() {
        let lists = h
            .requests()
            .iter()
            .filter(|r| r.method == "GET" || r.body.contains("issues"))
            .count();
        assert!(
            lists >= 2,
            "fetch_by_states: expected several page requests"
        );
    }
}

async fn comment_is_updated_in_place(h: &dyn TrackerHarness) {
    let issue = h.seed(seed("Living comment", &h.active_state(), &[])).await;
    let comment = h
        .tracker()
        .create_comment(&issue, "baton: run started")
        .await
        .expect("create_comment");
    h.tracker()
        .update_comment(&issue, &comment, "baton: run succeeded")
        .await
        .expect("update_comment");
    assert_eq!(
        h.comments(&issue).await,
        vec!["baton: run succeeded".to_owned()],
        "update_comment: one living comment, edited"
    );
}

async fn move_honours_the_expected_state(h: &dyn TrackerHarness) {
    let active = h.active_state();
    let done = h.done_state();
    let issue = h.seed(seed("Move me", &active, &[])).await;
    let moved = h
        .tracker()
        .move_to_state(&issue, Some(&active), &done)
        .await
        .expect("move_to_state");
    assert!(
        matches!(moved, StateMove::Moved { .. }),
        "move_to_state: {moved:?}"
    );
    assert!(
        same_state(&h.state(&issue).await, &done),
        "move_to_state: state not written"
    );

    let again = h
        .tracker()
        .move_to_state(&issue, Some(&active), &done)
        .await
        .expect("move_to_state again");
    assert_eq!(again, StateMove::AlreadyThere, "move_to_state: second move");

    let other = h.seed(seed("Moved by a person", &done, &[])).await;
    let conflict = h
        .tracker()
        .move_to_state(&other, Some(&active), &active)
        .await;
    // Moving back to active while expecting active: already there is wrong, it is done.
    assert!(
        matches!(conflict, Ok(StateMove::Conflict { .. })),
        "move_to_state: precondition not checked: {conflict:?}"
    );
    assert!(
        same_state(&h.state(&other).await, &done),
        "move_to_state: wrote despite the precondition"
    );
}

async fn tools_act_on_the_issue(h: &dyn TrackerHarness) {
    let issue = h.seed(seed("Tooling", &h.active_state(), &[])).await;
    let names: Vec<String> = h.tracker().tools().into_iter().map(|t| t.name).collect();
    assert!(
        names.contains(&"tracker_get_issue".to_owned()),
        "tools: {names:?}"
    );
    assert!(
        names.contains(&"tracker_comment".to_owned()),
        "tools: {names:?}"
    );
    let read = h
        .tracker()
        .call_tool(&issue, "tracker_get_issue", &serde_json::json!({}))
        .await
        .expect("tracker_get_issue");
    assert_eq!(read["title"], "Tooling");
    h.tracker()
        .call_tool(
            &issue,
            "tracker_comment",
            &serde_json::json!({"body": "from the agent"}),
        )
        .await
        .expect("tracker_comment");
    assert_eq!(h.comments(&issue).await, vec!["from the agent".to_owned()]);
    let bad = h
        .tracker()
        .call_tool(&issue, "tracker_comment", &serde_json::json!({"body": 7}))
        .await;
    assert!(bad.is_err(), "tracker_comment with a bad body must fail");
    assert!(h
        .tracker()
        .call_tool(&issue, "delete_everything", &serde_json::json!({}))
        .await
        .is_err());
}

async fn rate_limits_are_waited_out(h: &dyn TrackerHarness) {
    let issue = h.seed(seed("Rate limited", &h.active_state(), &[])).await;
    if !h.inject(Fault::rate_limited(1)) {
        return;
    }
    let found = h.tracker().fetch_issue(&issue).await;
    assert!(matches!(found, Ok(Some(_))), "429 then success: {found:?}");
}

async fn server_errors_get_a_bounded_retry(h: &dyn TrackerHarness) {
    let issue = h.seed(seed("Server down", &h.active_state(), &[])).await;
    if !h.inject(Fault::status(503, 50)) {
        return;
    }
    let before = h.requests().len();
    let found = h.tracker().fetch_issue(&issue).await;
    let sent = h.requests().len() - before;
    // Later cases need a healthy server.
    h.clear_faults();
    assert!(found.is_err(), "503s must end in an error: {found:?}");
    assert!(
        (2..=6).contains(&sent),
        "503: {sent} requests; want a few retries, bounded"
    );
}

async fn client_errors_are_not_retried(h: &dyn TrackerHarness) {
    let issue = h.seed(seed("Unauthorized", &h.active_state(), &[])).await;
    if !h.inject(Fault::status(401, 1)) {
        return;
    }
    let before = h.requests().len();
    let result = h.tracker().create_comment(&issue, "never").await;
    let sent = h.requests().len() - before;
    match result {
        Err(error) => assert_eq!(error.code(), "api_unauthorized", "401: {error}"),
        Ok(comment) => panic!("401 must fail, got {comment:?}"),
    }
    assert_eq!(sent, 1, "a 401 is not retried");
    assert!(
        h.comments(&issue).await.is_empty(),
        "a refused comment must not exist"
    );
}

async fn malformed_records_are_errors(h: &dyn TrackerHarness) {
    let issue = h.seed(seed("Malformed", &h.active_state(), &[])).await;
    if !h.inject(Fault::body(r#"{"unexpected": true}"#)) {
        return;
    }
    let found = h.tracker().fetch_issue(&issue).await;
    assert!(
        found.is_err(),
        "a record without its fields must be an error: {found:?}"
    );
    if !h.inject(Fault::body("<html>gateway</html>")) {
        return;
    }
    let found = h.tracker().fetch_issue(&issue).await;
    assert!(
        found.is_err(),
        "a non-JSON answer must be an error: {found:?}"
    );
}

async fn credential_travels_in_a_header(h: &dyn TrackerHarness) {
    let Some(credential) = h.credential() else {
        return;
    };
    let requests = h.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert!(
            !request.uri.contains(&credential),
            "credential in a URL: {}",
            request.uri
        );
        assert!(
            request.headers.iter().any(|(_, v)| v.contains(&credential)),
            "request without the credential: {} {}",
            request.method,
            request.uri
        );
    }
}
