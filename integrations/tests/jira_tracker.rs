//! The Jira Cloud tracker against a stateful fake of the REST API v3: the tracker contract,
//! then what is particular to Jira (JQL and page tokens, ADF, transitions, Basic auth).

use baton_test_support::fakes::jira_api;

use async_trait::async_trait;
use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::tracker::{run_all, SeedIssue, TrackerHarness};
use baton_integrations::http::RetryPolicy;
use baton_integrations::test_support::{FakeApi, Fault, RecordedRequest};
use baton_integrations::tracker::{registry, IssueRef, StateMove, Tracker, TrackerError};
use jira_api::{JiraFake, API_TOKEN, EMAIL, PROJECT};
use serde_json::{json, Value};
use std::sync::Arc;

struct JiraHarness {
    api: FakeApi,
    fake: JiraFake,
    tracker: Arc<dyn Tracker>,
}

impl JiraHarness {
    async fn start() -> Self {
        let fake = JiraFake::default();
        let api = FakeApi::spawn(fake.router()).await;
        let options = json!({ "base_url": api.url(), "email": EMAIL, "project": PROJECT });
        let env = |name: &str| (name == "JIRA_API_TOKEN").then(|| API_TOKEN.to_owned());
        let tracker = registry::build(&AdapterConfig {
            kind: "jira",
            options: &options,
            env: &env,
            policy: RetryPolicy::fast(),
        })
        .expect("a valid Jira configuration");
        Self { api, fake, tracker }
    }

    fn seed_plain(&self, summary: &str, status: &str) -> IssueRef {
        let (id, identifier) = self.fake.seed(summary, "", status, &[]);
        IssueRef { id, identifier }
    }

    fn requests_to(&self, method: &str, path_end: &str) -> Vec<RecordedRequest> {
        self.api
            .requests()
            .into_iter()
            .filter(|r| r.method == method && r.uri.split('?').next().unwrap().ends_with(path_end))
            .collect()
    }
}

#[async_trait]
impl TrackerHarness for JiraHarness {
    fn tracker(&self) -> &dyn Tracker {
        self.tracker.as_ref()
    }

    async fn seed(&self, issue: SeedIssue) -> IssueRef {
        let (id, identifier) = self.fake.seed(
            &issue.title,
            &issue.description,
            &issue.state,
            &issue.labels,
        );
        IssueRef { id, identifier }
    }

    async fn comments(&self, issue: &IssueRef) -> Vec<String> {
        self.fake.comments(&issue.id)
    }

    async fn state(&self, issue: &IssueRef) -> String {
        self.fake.status(&issue.id)
    }

    fn active_state(&self) -> String {
        "To Do".into()
    }

    fn done_state(&self) -> String {
        "Done".into()
    }

    fn missing_issue(&self) -> IssueRef {
        IssueRef {
            id: "99999".into(),
            identifier: "PROJ-99999".into(),
        }
    }

    fn paginates(&self) -> bool {
        true
    }

    fn inject(&self, fault: Fault) -> bool {
        self.api.inject(fault);
        true
    }

    fn clear_faults(&self) {
        self.api.clear_faults();
    }

    fn requests(&self) -> Vec<RecordedRequest> {
        self.api.requests()
    }

    /// Email and token travel together, base64-encoded in the Basic header.
    fn credential(&self) -> Option<String> {
        Some(jira_api::credential())
    }
}

#[tokio::test]
async fn jira_tracker_passes_the_contract() {
    let harness = JiraHarness::start().await;
    run_all(&harness).await;
    for request in harness.api.requests() {
        assert!(
            !request.uri.contains(API_TOKEN) && !request.body.contains(API_TOKEN),
            "the raw token left the header: {} {}",
            request.method,
            request.uri
        );
    }
}

#[tokio::test]
async fn listings_send_quoted_jql_and_follow_page_tokens() {
    let h = JiraHarness::start().await;
    for n in 0..3 {
        h.seed_plain(&format!("Queued {n}"), "To Do");
    }
    h.seed_plain("Started", "In Progress");
    h.seed_plain("Shipped", "Done");

    let listed = h
        .tracker
        .fetch_by_states(&["To Do".into(), "in progress".into()])
        .await
        .unwrap();
    let titles: Vec<&str> = listed.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["Queued 0", "Queued 1", "Queued 2", "Started"]);

    let pages: Vec<Value> = h
        .requests_to("POST", "/rest/api/3/search/jql")
        .iter()
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect();
    assert_eq!(pages.len(), 2, "four issues at two a page");
    assert_eq!(
        pages[0]["jql"],
        r#"status in ("To Do", "in progress") AND project = "PROJ" ORDER BY created ASC"#
    );
    assert_eq!(pages[0].get("nextPageToken"), None);
    assert_eq!(pages[1]["nextPageToken"], "CAEaAggC-2");
    assert!(pages[0]["fields"]
        .as_array()
        .unwrap()
        .contains(&json!("status")));
}

#[tokio::test]
async fn issues_are_normalized_from_jira_fields() {
    let h = JiraHarness::start().await;
    let blocker = h.seed_plain("Schema first", "In Progress");
    let (id, key) = h.fake.seed(
        "Then the API",
        "First paragraph.\n\nSecond paragraph.",
        "To Do",
        &["Backend".into()],
    );
    h.fake.block(&id, &blocker.id);
    h.fake.set_priority(&id, "High");
    let issue = IssueRef {
        id,
        identifier: key.clone(),
    };

    let found = h.tracker.fetch_issue(&issue).await.unwrap().unwrap();
    assert_eq!(found.identifier, key);
    assert_eq!(found.description, "First paragraph.\n\nSecond paragraph.");
    assert_eq!(found.priority, Some(2));
    assert_eq!(found.labels, ["backend"]);
    assert_eq!(found.author.as_deref(), Some("Mia Krystof"));
    assert_eq!(found.url, Some(format!("{}/browse/{key}", h.api.url())));
    assert_eq!(found.blocked_by.len(), 1);
    assert_eq!(found.blocked_by[0].identifier, blocker.identifier);
    assert_eq!(found.blocked_by[0].state, "In Progress");
    // Seeded as 11:00:02 at +0200.
    assert_eq!(
        found.created_at.unwrap().to_rfc3339(),
        "2024-05-02T09:00:02+00:00"
    );
}

#[tokio::test]
async fn comments_are_written_as_adf() {
    let h = JiraHarness::start().await;
    let issue = h.seed_plain("Evidence", "To Do");
    let comment = h
        .tracker
        .create_comment(&issue, "baton: run started\nattempt 1\n\nlogs follow")
        .await
        .unwrap();
    assert_eq!(
        comment.url,
        Some(format!(
            "{}/browse/{}?focusedCommentId={}",
            h.api.url(),
            issue.identifier,
            comment.id
        ))
    );
    let sent: Value = serde_json::from_str(&h.requests_to("POST", "/comment")[0].body).unwrap();
    assert_eq!(sent["body"]["type"], "doc");
    assert_eq!(sent["body"]["content"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.fake.comments(&issue.id),
        ["baton: run started\nattempt 1\n\nlogs follow"]
    );
}

#[tokio::test]
async fn a_move_takes_the_transition_to_the_target() {
    let h = JiraHarness::start().await;
    let issue = h.seed_plain("Move me", "To Do");
    let unknown = h
        .tracker
        .move_to_state(&issue, Some("To Do"), "Shipped")
        .await;
    match unknown {
        Err(TrackerError::UnknownState { known, .. }) => {
            assert_eq!(known, "reachable from `To Do`: In Progress, Done")
        }
        other => panic!("an unreachable target must be refused: {other:?}"),
    }
    assert!(h.requests_to("POST", "/transitions").is_empty());

    let moved = h
        .tracker
        .move_to_state(&issue, Some("to do"), "done")
        .await
        .unwrap();
    assert_eq!(
        moved,
        StateMove::Moved {
            from: "To Do".into(),
            to: "Done".into()
        }
    );
    let sent: Value = serde_json::from_str(&h.requests_to("POST", "/transitions")[0].body).unwrap();
    assert_eq!(sent, json!({ "transition": { "id": "31" } }));
    assert_eq!(h.fake.status(&issue.id), "Done");
}

#[tokio::test]
async fn a_move_of_a_missing_issue_is_not_found() {
    let h = JiraHarness::start().await;
    let gone = IssueRef {
        id: "99999".into(),
        identifier: "PROJ-99999".into(),
    };
    let error = h
        .tracker
        .move_to_state(&gone, None, "Done")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "tracker_issue_not_found", "{error}");
}
