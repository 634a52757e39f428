//! The GitHub Issues adapter against a fake GitHub that answers in the REST v3 shapes: the
//! tracker contract, GitHub's particulars (headers, pull requests in listings, priority
//! labels, label-carried states), and where the token may travel.

use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::fake_tracker::{FakeTracker, FakeTrackerHarness};
use baton_integrations::contract::tracker::run_all;
use baton_integrations::http::RetryPolicy;
use baton_integrations::test_support::fakes::github::{GithubFake, NewIssue};
use baton_integrations::test_support::{FakeApi, Fault};
use baton_integrations::tracker::github::GithubTracker;
use baton_integrations::tracker::{registry, IssueRef, StateMove, Tracker, TrackerError};
use serde_json::{json, Value};

const REPO: &str = "acme/app";
const TOKEN: &str = "ghp_fakeTokenThatMustNeverLeak42";
const TOKEN_VARIABLE: &str = "BATON_TEST_GITHUB_TOKEN";

fn env(name: &str) -> Option<String> {
    (name == TOKEN_VARIABLE).then(|| TOKEN.to_owned())
}

static GITHUB: FakeTracker = FakeTracker {
    kind: "github",
    scope: ("repository", REPO),
    api_path: "",
    token: TOKEN,
    token_variable: TOKEN_VARIABLE,
    env,
    active_state: "open",
    done_state: "closed",
    missing: 424_242,
};

type GithubHarness = FakeTrackerHarness<GithubFake>;

/// A fake GitHub that insists on the token, and the adapter the registry builds for it.
async fn start(extra_options: Value) -> GithubHarness {
    let fake = GithubFake::new(REPO).require_token(TOKEN);
    GITHUB.start(fake, extra_options).await
}

fn reference(number: u64) -> IssueRef {
    GITHUB.reference(number)
}

#[tokio::test]
async fn github_tracker_passes_the_contract() {
    let harness = start(json!({})).await;
    run_all(&harness).await;
}

#[tokio::test]
async fn requests_carry_githubs_headers() {
    let h = start(json!({})).await;
    let number = h.fake.add_issue(NewIssue::new("Headers"));
    h.tracker
        .fetch_issue(&reference(number))
        .await
        .expect("fetch");
    let request = h.api.requests().pop().expect("one request");
    assert_eq!(request.uri, format!("/repos/{REPO}/issues/{number}"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let accepts: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name == "accept")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(accepts, vec!["application/vnd.github+json"]);
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
}

#[tokio::test]
async fn an_issue_is_normalized_from_githubs_fields() {
    let h = start(json!({})).await;
    let number = h.fake.add_issue(NewIssue {
        labels: vec!["Bug".into(), "P2".into()],
        assignees: vec!["hubot".into(), "octocat".into()],
        author: "monalisa".into(),
        ..NewIssue::new("Normalized")
    });
    let issue = h
        .tracker
        .fetch_issue(&reference(number))
        .await
        .expect("fetch")
        .expect("found");
    assert_eq!(issue.id, number.to_string());
    assert_eq!(issue.identifier, format!("{REPO}#{number}"));
    assert_eq!(issue.description, "", "a null body is an empty description");
    assert_eq!(issue.priority, Some(2));
    assert_eq!(issue.labels, vec!["bug", "p2"]);
    assert_eq!(issue.assignee_id.as_deref(), Some("hubot"));
    assert_eq!(issue.author.as_deref(), Some("monalisa"));
    assert_eq!(issue.repository.as_deref(), Some(REPO));
    assert_eq!(
        issue.url.as_deref(),
        Some(format!("https://github.com/{REPO}/issues/{number}").as_str())
    );
    assert!(issue.created_at.is_some() && issue.updated_at.is_some());
    assert!(issue.blocked_by.is_empty());

    let plain = h.fake.add_issue(NewIssue::new("No priority"));
    let plain = h
        .tracker
        .fetch_issue(&reference(plain))
        .await
        .expect("fetch")
        .expect("found");
    assert_eq!(plain.priority, None);
    assert_eq!(plain.assignee_id, None);
}

#[tokio::test]
async fn pull_requests_are_not_issues() {
    let h = start(json!({})).await;
    let issue = h.fake.add_issue(NewIssue::new("A real issue"));
    let pull = h.fake.add_pull_request_entry("A pull request");
    let listed = h
        .tracker
        .fetch_by_states(&["Open".to_owned()])
        .await
        .expect("list");
    let ids: Vec<&str> = listed.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, vec![issue.to_string()]);
    let fetched = h
        .tracker
        .fetch_issue(&reference(pull))
        .await
        .expect("fetch");
    assert_eq!(fetched, None, "a pull request is not an issue");
}

#[tokio::test]
async fn closed_and_open_issues_are_listed_together_when_asked() {
    let h = start(json!({})).await;
    let open = h.fake.add_issue(NewIssue::new("Open one"));
    let closed = h.fake.add_issue(NewIssue {
        state: "closed".into(),
        ..NewIssue::new("Closed one")
    });
    let listed = h
        .tracker
        .fetch_by_states(&["OPEN".to_owned(), "Closed".to_owned()])
        .await
        .expect("list");
    let mut ids: Vec<String> = listed.into_iter().map(|i| i.id).collect();
    ids.sort();
    assert_eq!(ids, vec![open.to_string(), closed.to_string()]);
    let lists = h
        .api
        .requests()
        .into_iter()
        .filter(|r| r.uri.starts_with(&format!("/repos/{REPO}/issues?")))
        .collect::<Vec<_>>();
    assert!(lists[0].uri.contains("state=all"), "{}", lists[0].uri);
    assert!(lists[0].uri.contains("per_page=100"), "{}", lists[0].uri);

    let none = h
        .tracker
        .fetch_by_states(&["Cancelled".to_owned()])
        .await
        .expect("list");
    assert!(none.is_empty(), "no GitHub issue can be `Cancelled`");
}

#[tokio::test]
async fn closing_sets_the_completed_reason_and_unknown_states_are_refused() {
    let h = start(json!({})).await;
    let number = h.fake.add_issue(NewIssue::new("Finish me"));
    let issue = reference(number);
    let moved = h
        .tracker
        .move_to_state(&issue, None, "Closed")
        .await
        .expect("move");
    assert_eq!(
        moved,
        StateMove::Moved {
            from: "open".into(),
            to: "closed".into()
        }
    );
    let closed = h.fake.issue(number).expect("issue");
    assert_eq!(closed.state, "closed");
    assert_eq!(closed.state_reason.as_deref(), Some("completed"));

    let before = h.api.requests().len();
    let unknown = h.tracker.move_to_state(&issue, None, "In Review").await;
    assert!(
        matches!(unknown, Err(TrackerError::UnknownState { .. })),
        "{unknown:?}"
    );
    assert_eq!(
        h.api.requests().len(),
        before,
        "nothing sent for an unknown state"
    );
}

#[tokio::test]
async fn a_malformed_record_in_a_listing_is_an_error() {
    let h = start(json!({})).await;
    h.fake.add_issue(NewIssue::new("Fine"));
    h.api.inject(Fault::body(
        r#"[{"number": 1, "state": "open", "body": null}]"#,
    ));
    let listed = h.tracker.fetch_by_states(&["open".to_owned()]).await;
    match listed {
        Err(error) => assert_eq!(error.code(), "api_malformed_response", "{error}"),
        Ok(issues) => panic!("a record without a title must not become an issue: {issues:?}"),
    }
}

#[tokio::test]
async fn label_carried_states_move_by_labels() {
    let h = start(json!({
        "state_labels": {
            "In Progress": "status: in progress",
            "In Review": "status: in review",
        }
    }))
    .await;
    let number = h.fake.add_issue(NewIssue {
        labels: vec!["bug".into(), "Status: In Progress".into()],
        ..NewIssue::new("Being worked on")
    });
    let issue = reference(number);
    let read = h
        .tracker
        .fetch_issue(&issue)
        .await
        .expect("fetch")
        .expect("found");
    assert_eq!(read.state, "In Progress");

    // Someone else's expectation: nothing written.
    let conflict = h
        .tracker
        .move_to_state(&issue, Some("open"), "In Review")
        .await
        .expect("move");
    assert_eq!(
        conflict,
        StateMove::Conflict {
            actual: "In Progress".into()
        }
    );

    let moved = h
        .tracker
        .move_to_state(&issue, Some("in progress"), "In Review")
        .await
        .expect("move");
    assert_eq!(
        moved,
        StateMove::Moved {
            from: "In Progress".into(),
            to: "In Review".into()
        }
    );
    let labels = h.fake.issue(number).expect("issue").labels;
    assert_eq!(labels, vec!["bug", "status: in review"]);
    let in_review = h
        .tracker
        .fetch_by_states(&["in review".to_owned()])
        .await
        .expect("list");
    assert_eq!(in_review.len(), 1);
    assert_eq!(in_review[0].id, issue.id);
    let open = h
        .tracker
        .fetch_by_states(&["open".to_owned()])
        .await
        .expect("list");
    assert!(open.is_empty(), "an issue in review is not plainly open");

    let closed = h
        .tracker
        .move_to_state(&issue, Some("In Review"), "closed")
        .await
        .expect("close");
    assert!(matches!(closed, StateMove::Moved { .. }), "{closed:?}");
    let after = h.fake.issue(number).expect("issue");
    assert_eq!(after.state, "closed");
    assert_eq!(after.labels, vec!["bug"], "state labels come off on close");

    // Back into a label state: reopened and labelled.
    let reopened = h
        .tracker
        .move_to_state(&issue, Some("closed"), "In Progress")
        .await
        .expect("reopen");
    assert!(matches!(reopened, StateMove::Moved { .. }), "{reopened:?}");
    let after = h.fake.issue(number).expect("issue");
    assert_eq!(after.state, "open");
    // GitHub reuses the repository label, spelled as it was created.
    assert_eq!(after.labels, vec!["bug", "Status: In Progress"]);
}

#[tokio::test]
async fn the_token_stays_out_of_debug_output_urls_and_errors() {
    let fake = GithubFake::new(REPO).require_token(TOKEN);
    let api = FakeApi::spawn(fake.router()).await;
    let options = GITHUB.options(&api, json!({}));
    let tracker = GithubTracker::from_config(&GITHUB.config(&options)).expect("build");
    let debug = format!("{tracker:?}");
    assert!(!debug.contains(TOKEN), "token in Debug: {debug}");
    assert!(
        debug.contains(REPO),
        "Debug still says which repository: {debug}"
    );

    let number = fake.add_issue(NewIssue::new("Secret keeping"));
    let issue = IssueRef {
        id: number.to_string(),
        identifier: format!("{REPO}#{number}"),
    };
    let comment = tracker
        .create_comment(&issue, "hello")
        .await
        .expect("comment");
    tracker
        .update_comment(&issue, &comment, "hello again")
        .await
        .expect("update");
    tracker
        .fetch_by_states(&["open".to_owned()])
        .await
        .expect("list");
    api.inject(Fault::status(401, 1));
    let refused = tracker
        .move_to_state(&issue, None, "closed")
        .await
        .expect_err("401");
    assert!(
        !refused.to_string().contains(TOKEN),
        "token in error: {refused}"
    );
    assert!(!format!("{refused:?}").contains(TOKEN));

    let requests = api.requests();
    assert!(requests.len() >= 4);
    for request in &requests {
        assert!(
            !request.uri.contains(TOKEN),
            "token in URL: {}",
            request.uri
        );
        assert!(
            !request.body.contains(TOKEN),
            "token in body: {}",
            request.body
        );
    }
}

#[test]
fn configuration_mistakes_name_the_setting() {
    let build = |options: Value| {
        GithubTracker::from_config(&GITHUB.config(&options))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let missing = build(json!({"token": format!("${TOKEN_VARIABLE}")})).unwrap_err();
    assert!(missing.contains("github.repository"), "{missing}");
    let bad = build(json!({"repository": "acme/app/../x"})).unwrap_err();
    assert!(bad.contains("owner/repo"), "{bad}");
    let inline = build(json!({"repository": REPO, "token": "ghp_inline"})).unwrap_err();
    assert!(
        inline.contains("github.token") && !inline.contains("ghp_inline"),
        "{inline}"
    );
    let unset = build(json!({"repository": REPO, "token": "$NOT_SET_ANYWHERE"})).unwrap_err();
    assert!(unset.contains("NOT_SET_ANYWHERE"), "{unset}");
    let default_variable = GithubTracker::from_config(&AdapterConfig {
        kind: "github",
        options: &json!({"repository": REPO}),
        env: &|name: &str| (name == "GITHUB_TOKEN").then(|| "t".to_owned()),
        policy: RetryPolicy::fast(),
    });
    assert!(default_variable.is_ok(), "GITHUB_TOKEN is the default");
    assert!(registry::KINDS.contains(&"github"));
}
