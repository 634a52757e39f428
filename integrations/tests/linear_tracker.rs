//! The Linear tracker against a stateful fake of Linear's GraphQL API: the tracker contract,
//! then what is particular to Linear (filters and cursors, GraphQL errors, state resolution).

use baton_test_support::fakes::linear_api;

use async_trait::async_trait;
use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::tracker::{run_all, SeedIssue, TrackerHarness};
use baton_integrations::http::RetryPolicy;
use baton_integrations::test_support::{FakeApi, Fault, RecordedRequest};
use baton_integrations::tracker::{registry, IssueRef, StateMove, Tracker, TrackerError};
use linear_api::{LinearFake, API_KEY, TEAM_KEY};
use serde_json::{json, Value};
use std::sync::Arc;

struct LinearHarness {
    api: FakeApi,
    fake: LinearFake,
    tracker: Arc<dyn Tracker>,
}

impl LinearHarness {
    async fn start() -> Self {
        let fake = LinearFake::default();
        let api = FakeApi::spawn(fake.router()).await;
        let options = json!({ "base_url": format!("{}/graphql", api.url()), "team": TEAM_KEY });
        let env = |name: &str| (name == "LINEAR_API_KEY").then(|| API_KEY.to_owned());
        let tracker = registry::build(&AdapterConfig {
            kind: "linear",
            options: &options,
            env: &env,
            policy: RetryPolicy::fast(),
        })
        .expect("a valid Linear configuration");
        Self { api, fake, tracker }
    }

    fn seed_plain(&self, title: &str, state: &str) -> IssueRef {
        let (id, identifier) = self.fake.seed(title, "", state, &[]);
        IssueRef { id, identifier }
    }

    /// The GraphQL requests sent for one operation, as JSON.
    fn operations(&self, name: &str) -> Vec<Value> {
        self.api
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter(|body| body["operationName"] == name)
            .collect()
    }
}

#[async_trait]
impl TrackerHarness for LinearHarness {
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
        self.fake
            .comments(&issue.id)
            .into_iter()
            .map(|c| c.body)
            .collect()
    }

    async fn state(&self, issue: &IssueRef) -> String {
        self.fake.state(&issue.id)
    }

    fn active_state(&self) -> String {
        "Todo".into()
    }

    fn done_state(&self) -> String {
        "Done".into()
    }

    fn missing_issue(&self) -> IssueRef {
        IssueRef {
            id: "ffffffff-0000-4000-8000-ffffffffffff".into(),
            identifier: "ENG-9999".into(),
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

    fn credential(&self) -> Option<String> {
        Some(API_KEY.to_owned())
    }
}

#[tokio::test]
async fn linear_tracker_passes_the_contract() {
    run_all(&LinearHarness::start().await).await;
}

#[tokio::test]
async fn listings_filter_by_state_and_team_and_follow_cursors() {
    let h = LinearHarness::start().await;
    for n in 0..3 {
        h.seed_plain(&format!("Queued {n}"), "Todo");
    }
    h.seed_plain("Started", "In Progress");
    h.seed_plain("Shipped", "Done");

    // Asked in another case than Linear spells it: still found, by the client-side check.
    let listed = h
        .tracker
        .fetch_by_states(&["Todo".into(), "in progress".into()])
        .await
        .unwrap();
    let titles: Vec<&str> = listed.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["Queued 0", "Queued 1", "Queued 2"]);

    let pages = h.operations("BatonIssues");
    assert_eq!(pages.len(), 2, "three issues at two a page");
    let filter = &pages[0]["variables"]["filter"];
    assert_eq!(
        filter["state"]["name"]["in"],
        json!(["Todo", "in progress"])
    );
    assert_eq!(filter["team"]["key"]["eq"], TEAM_KEY);
    assert_eq!(pages[0]["variables"]["after"], Value::Null);
    assert_eq!(
        pages[1]["variables"]["after"], listed[1].id,
        "the second page starts after the first page's end cursor"
    );
    assert!(h.tracker.fetch_by_states(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn issues_are_normalized_with_priority_branch_and_blockers() {
    let h = LinearHarness::start().await;
    let blocker = h.seed_plain("Schema first", "In Progress");
    let issue = h.seed_plain("Then the API", "Todo");
    h.fake.block(&issue.id, &blocker.id);
    h.fake.set_priority(&issue.id, 1);
    h.fake.set_priority(&blocker.id, 0);

    let found = h.tracker.fetch_issue(&issue).await.unwrap().unwrap();
    assert_eq!(found.identifier, issue.identifier);
    assert_eq!(found.priority, Some(1));
    assert_eq!(found.description, "", "a null description is empty");
    assert_eq!(
        found.branch_name.as_deref(),
        Some(format!("baton/{}-then-the-api", issue.identifier.to_lowercase()).as_str())
    );
    assert_eq!(found.blocked_by.len(), 1);
    assert_eq!(found.blocked_by[0].identifier, blocker.identifier);
    assert_eq!(found.blocked_by[0].state, "In Progress");
    assert_eq!(found.author.as_deref(), Some("Alice"));
    assert!(found.created_at.is_some() && found.url.is_some());

    let unprioritized = h.tracker.fetch_issue(&blocker).await.unwrap().unwrap();
    assert_eq!(unprioritized.priority, None, "priority 0 means none");
}

#[tokio::test]
async fn a_move_resolves_the_target_among_the_team_states() {
    let h = LinearHarness::start().await;
    let issue = h.seed_plain("Move me", "Todo");
    let unknown = h
        .tracker
        .move_to_state(&issue, Some("Todo"), "Shipped")
        .await;
    match unknown {
        Err(TrackerError::UnknownState { state, known, .. }) => {
            assert_eq!(state, "Shipped");
            assert_eq!(known, "Backlog, Todo, In Progress, Done, Canceled");
        }
        other => panic!("an unknown target must be refused: {other:?}"),
    }
    assert!(h.operations("BatonIssueUpdateState").is_empty());

    let moved = h
        .tracker
        .move_to_state(&issue, Some("todo"), "in progress")
        .await
        .unwrap();
    assert_eq!(
        moved,
        StateMove::Moved {
            from: "Todo".into(),
            to: "In Progress".into()
        }
    );
    let update = &h.operations("BatonIssueUpdateState")[0];
    assert_eq!(
        update["variables"]["stateId"],
        "5e1f0000-0000-4000-8000-000000000003"
    );
    assert_eq!(h.fake.state(&issue.id), "In Progress");
}

#[tokio::test]
async fn graphql_rate_limits_are_retried_then_reported() {
    let h = LinearHarness::start().await;
    let issue = h.seed_plain("Busy", "Todo");
    let limited = r#"{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED","type":"ratelimited"}}],"data":null}"#;

    h.api.inject(Fault::body(limited));
    let before = h.api.requests().len();
    let found = h.tracker.fetch_issue(&issue).await;
    assert!(
        matches!(found, Ok(Some(_))),
        "RATELIMITED then success: {found:?}"
    );
    assert_eq!(h.api.requests().len() - before, 2);

    // Linear may also send it with a 400; it never stops being limited here.
    h.api.inject(Fault {
        status: 400,
        retry_after_secs: None,
        body: Some(limited.to_owned()),
        times: 10,
    });
    let before = h.api.requests().len();
    let error = h.tracker.fetch_issue(&issue).await.unwrap_err();
    h.api.clear_faults();
    assert_eq!(error.code(), "api_rate_limited", "{error}");
    assert_eq!(
        h.api.requests().len() - before,
        RetryPolicy::fast().max_attempts as usize
    );
}

#[tokio::test]
async fn graphql_errors_become_clear_tracker_errors() {
    let h = LinearHarness::start().await;
    let issue = h.seed_plain("Rejected", "Todo");
    h.api.inject(Fault::body(
        r#"{"errors":[{"message":"Argument Validation Error","extensions":{"code":"INVALID_INPUT","userPresentableMessage":"body must be shorter"}}],"data":null}"#,
    ));
    let error = h
        .tracker
        .create_comment(&issue, "too long")
        .await
        .unwrap_err();
    assert_eq!(error.code(), "tracker_invalid");
    assert!(
        error
            .to_string()
            .contains("body must be shorter (INVALID_INPUT)"),
        "{error}"
    );

    // A comment on an issue that is gone is a not-found, not a crash.
    let gone = IssueRef {
        id: "ffffffff-0000-4000-8000-ffffffffffff".into(),
        identifier: "ENG-404".into(),
    };
    let error = h.tracker.create_comment(&gone, "hello").await.unwrap_err();
    assert_eq!(error.code(), "tracker_issue_not_found", "{error}");
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error() {
    let fake = LinearFake::default();
    let api = FakeApi::spawn(fake.router()).await;
    let options = json!({ "endpoint": format!("{}/graphql", api.url()), "api_key": "$OTHER_KEY" });
    let env = |name: &str| (name == "OTHER_KEY").then(|| "lin_api_wrong".to_owned());
    let tracker = registry::build(&AdapterConfig {
        kind: "linear",
        options: &options,
        env: &env,
        policy: RetryPolicy::fast(),
    })
    .unwrap();
    let (id, identifier) = fake.seed("Locked", "", "Todo", &[]);
    let error = tracker
        .fetch_issue(&IssueRef { id, identifier })
        .await
        .unwrap_err();
    assert_eq!(error.code(), "api_unauthorized", "{error}");
    assert!(!error.to_string().contains("lin_api_wrong"));
}
