//! The TAPD tracker against a stateful fake of TAPD's open API: the tracker contract, then
//! what is particular to TAPD (its envelope, short-page paging, HTML, the status map).

use baton_test_support::fakes::tapd_api;

use async_trait::async_trait;
use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::tracker::{run_all, SeedIssue, TrackerHarness};
use baton_integrations::http::RetryPolicy;
use baton_integrations::test_support::{FakeApi, Fault, RecordedRequest};
use baton_integrations::tracker::{registry, IssueRef, StateMove, Tracker, TrackerError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use tapd_api::{TapdFake, API_PASSWORD, API_USER, WORKSPACE_ID};

struct TapdHarness {
    api: FakeApi,
    fake: TapdFake,
    tracker: Arc<dyn Tracker>,
}

impl TapdHarness {
    async fn start() -> Self {
        let fake = TapdFake::default();
        let api = FakeApi::spawn(fake.router()).await;
        let options = json!({
            "base_url": api.url(),
            "workspace_id": WORKSPACE_ID,
            "api_user": API_USER,
            "api_password": "$TAPD_SECRET",
            "comment_author": "baton-bot",
            "page_size": 2,
        });
        let env = |name: &str| (name == "TAPD_SECRET").then(|| API_PASSWORD.to_owned());
        let tracker = registry::build(&AdapterConfig {
            kind: "tapd",
            options: &options,
            env: &env,
            policy: RetryPolicy::fast(),
        })
        .expect("a valid TAPD configuration");
        Self { api, fake, tracker }
    }

    fn seed_plain(&self, name: &str, status: &str) -> IssueRef {
        let id = self.fake.seed(name, "", status, &[]);
        IssueRef {
            identifier: format!("TAPD-{id}"),
            id,
        }
    }

    /// The query parameters of every listing request (those without an `id`).
    fn listings(&self) -> Vec<HashMap<String, String>> {
        self.api
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.uri.starts_with("/stories?"))
            .map(|r| {
                let query = r.uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
                url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect::<HashMap<_, _>>()
            })
            .filter(|params| !params.contains_key("id"))
            .collect()
    }
}

#[async_trait]
impl TrackerHarness for TapdHarness {
    fn tracker(&self) -> &dyn Tracker {
        self.tracker.as_ref()
    }

    async fn seed(&self, issue: SeedIssue) -> IssueRef {
        let id = self.fake.seed(
            &issue.title,
            &issue.description,
            &issue.state,
            &issue.labels,
        );
        IssueRef {
            identifier: format!("TAPD-{id}"),
            id,
        }
    }

    async fn comments(&self, issue: &IssueRef) -> Vec<String> {
        self.fake.comments(&issue.id)
    }

    async fn state(&self, issue: &IssueRef) -> String {
        self.fake.status(&issue.id)
    }

    fn active_state(&self) -> String {
        "developing".into()
    }

    fn done_state(&self) -> String {
        "resolved".into()
    }

    fn missing_issue(&self) -> IssueRef {
        IssueRef {
            id: "1120355782999999999".into(),
            identifier: "TAPD-1120355782999999999".into(),
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

    /// Account and password travel together, base64-encoded in the Basic header.
    fn credential(&self) -> Option<String> {
        Some(tapd_api::credential())
    }
}

#[tokio::test]
async fn tapd_tracker_passes_the_contract() {
    let harness = TapdHarness::start().await;
    run_all(&harness).await;
    for request in harness.api.requests() {
        assert!(
            !request.uri.contains(API_PASSWORD) && !request.body.contains(API_PASSWORD),
            "the raw password left the header: {} {}",
            request.method,
            request.uri
        );
    }
    assert!(harness
        .fake
        .comment_authors()
        .iter()
        .all(|a| a == "baton-bot"));
}

#[tokio::test]
async fn listings_page_until_a_short_page() {
    let h = TapdHarness::start().await;
    for n in 0..4 {
        h.seed_plain(&format!("Queued {n}"), "developing");
    }
    h.seed_plain("Planned", "planning");
    h.seed_plain("Shipped", "resolved");

    let listed = h
        .tracker
        .fetch_by_states(&["developing".into(), "planning".into()])
        .await
        .unwrap();
    let titles: Vec<&str> = listed.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(
        titles,
        ["Queued 0", "Queued 1", "Queued 2", "Queued 3", "Planned"]
    );

    let pages = h.listings();
    assert_eq!(pages.len(), 3, "five stories at two a page");
    for (n, page) in pages.iter().enumerate() {
        assert_eq!(page["workspace_id"], WORKSPACE_ID);
        assert_eq!(page["status"], "developing|planning");
        assert_eq!(page["limit"], "2");
        assert_eq!(page["page"], (n + 1).to_string());
        assert_eq!(page["order"], "created asc");
    }
}

#[tokio::test]
async fn stories_are_normalized_from_tapd_fields() {
    let h = TapdHarness::start().await;
    let id = h.fake.seed(
        "登录失败",
        "Open the page & log in.\n\nIt fails <sometimes>.",
        "developing",
        &["Bug".into(), "Baton".into()],
    );
    h.fake.set_priority(&id, "High");
    let issue = IssueRef {
        identifier: format!("TAPD-{id}"),
        id: id.clone(),
    };

    let found = h.tracker.fetch_issue(&issue).await.unwrap().unwrap();
    assert_eq!(found.identifier, format!("TAPD-{id}"));
    assert_eq!(found.title, "登录失败");
    assert_eq!(
        found.description,
        "Open the page & log in.\n\nIt fails <sometimes>."
    );
    assert_eq!(found.labels, ["bug", "baton"]);
    assert_eq!(found.priority, Some(1));
    assert_eq!(found.assignee_id.as_deref(), Some("alice"));
    assert_eq!(found.author.as_deref(), Some("mia"));
    assert_eq!(
        found.url,
        Some(format!(
            "https://www.tapd.cn/{WORKSPACE_ID}/prong/stories/view/{id}"
        ))
    );
    // Seeded as 17:00:01 Beijing time.
    assert_eq!(
        found.created_at.unwrap().to_rfc3339(),
        "2024-05-02T09:00:01+00:00"
    );
}

#[tokio::test]
async fn a_move_resolves_display_names_through_the_status_map() {
    let h = TapdHarness::start().await;
    let issue = h.seed_plain("Move me", "developing");
    let unknown = h
        .tracker
        .move_to_state(&issue, Some("developing"), "shipped")
        .await;
    match unknown {
        Err(TrackerError::UnknownState { known, .. }) => assert_eq!(
            known,
            "developing (实现中), planning (规划中), rejected (已拒绝), resolved (已实现)"
        ),
        other => panic!("an unknown target must be refused: {other:?}"),
    }

    // Expected and target by display name: the write uses the status key.
    let moved = h
        .tracker
        .move_to_state(&issue, Some("实现中"), "已实现")
        .await
        .unwrap();
    assert_eq!(
        moved,
        StateMove::Moved {
            from: "developing".into(),
            to: "resolved".into()
        }
    );
    let update = h
        .api
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.uri == "/stories")
        .expect("a story update");
    let sent: Value = serde_json::from_str(&update.body).unwrap();
    assert_eq!(
        sent,
        json!({ "workspace_id": WORKSPACE_ID, "id": issue.id, "status": "resolved" })
    );
    assert_eq!(h.fake.status(&issue.id), "resolved");
}

#[tokio::test]
async fn a_refusal_in_the_envelope_is_an_error_with_its_info() {
    let h = TapdHarness::start().await;
    let issue = h.seed_plain("Refused", "developing");
    h.api.inject(Fault::body(
        r#"{"status":0,"data":[],"info":"workspace_id error"}"#,
    ));
    let error = h.tracker.fetch_issue(&issue).await.unwrap_err();
    assert_eq!(error.code(), "api_error");
    assert!(error.to_string().contains("workspace_id error"), "{error}");
}
