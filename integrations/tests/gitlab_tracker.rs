//! The GitLab issues adapter against a fake GitLab that answers in the REST v4 shapes: the
//! tracker contract, GitLab's particulars (encoded project paths, `opened`, null
//! descriptions, scoped priority labels, label-carried states), and where the token travels.

use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::fake_tracker::{FakeTracker, FakeTrackerHarness};
use baton_integrations::contract::tracker::run_all;
use baton_integrations::http::RetryPolicy;
use baton_integrations::test_support::fakes::gitlab::{GitlabFake, NewIssue};
use baton_integrations::test_support::{FakeApi, Fault, RecordedRequest};
use baton_integrations::tracker::gitlab::GitlabTracker;
use baton_integrations::tracker::{registry, IssueRef, StateMove, Tracker, TrackerError};
use serde_json::{json, Value};

const PROJECT: &str = "acme/platform/app";
const ENCODED_PROJECT: &str = "acme%2Fplatform%2Fapp";
const TOKEN: &str = "glpat-fakeTokenThatMustNeverLeak7";
const TOKEN_VARIABLE: &str = "BATON_TEST_GITLAB_TOKEN";

fn env(name: &str) -> Option<String> {
    (name == TOKEN_VARIABLE).then(|| TOKEN.to_owned())
}

static GITLAB: FakeTracker = FakeTracker {
    kind: "gitlab",
    scope: ("project", PROJECT),
    api_path: "/api/v4",
    token: TOKEN,
    token_variable: TOKEN_VARIABLE,
    env,
    active_state: "opened",
    done_state: "closed",
    missing: 31_337,
};

type GitlabHarness = FakeTrackerHarness<GitlabFake>;

/// A fake GitLab that insists on the token, and the adapter the registry builds for it.
async fn start(extra_options: Value) -> GitlabHarness {
    let fake = GitlabFake::new(PROJECT).require_token(TOKEN);
    GITLAB.start(fake, extra_options).await
}

fn reference(iid: u64) -> IssueRef {
    GITLAB.reference(iid)
}

#[tokio::test]
async fn gitlab_tracker_passes_the_contract() {
    let harness = start(json!({})).await;
    run_all(&harness).await;
}

#[tokio::test]
async fn requests_address_the_encoded_project_with_a_private_token() {
    let h = start(json!({})).await;
    let iid = h.fake.add_issue(NewIssue::new("Addressed"));
    h.tracker.fetch_issue(&reference(iid)).await.expect("fetch");
    let request = h.api.requests().pop().expect("one request");
    assert_eq!(
        request.uri,
        format!("/api/v4/projects/{ENCODED_PROJECT}/issues/{iid}")
    );
    assert_eq!(request.header("private-token"), Some(TOKEN));
    assert_eq!(request.header("authorization"), None);
}

#[tokio::test]
async fn an_issue_is_normalized_from_gitlabs_fields() {
    let h = start(json!({})).await;
    let iid = h.fake.add_issue(NewIssue {
        labels: vec!["Bug".into(), "priority::1".into()],
        assignees: vec!["alice".into(), "bob".into()],
        author: "carol".into(),
        ..NewIssue::new("Normalized")
    });
    let issue = h
        .tracker
        .fetch_issue(&reference(iid))
        .await
        .expect("fetch")
        .expect("found");
    assert_eq!(issue.id, iid.to_string());
    assert_eq!(issue.identifier, format!("{PROJECT}#{iid}"));
    assert_eq!(issue.description, "", "a null description is empty");
    assert_eq!(issue.state, "opened");
    assert_eq!(issue.priority, Some(1));
    let mut labels = issue.labels.clone();
    labels.sort();
    assert_eq!(labels, vec!["bug", "priority::1"]);
    assert_eq!(issue.assignee_id.as_deref(), Some("alice"));
    assert_eq!(issue.author.as_deref(), Some("carol"));
    assert_eq!(issue.repository.as_deref(), Some(PROJECT));
    assert_eq!(
        issue.url.as_deref(),
        Some(format!("https://gitlab.com/{PROJECT}/-/issues/{iid}").as_str())
    );
    assert!(issue.created_at.is_some() && issue.updated_at.is_some());
}

#[tokio::test]
async fn open_is_accepted_for_opened() {
    let h = start(json!({})).await;
    let open = h.fake.add_issue(NewIssue::new("Open one"));
    let closed = h.fake.add_issue(NewIssue {
        state: "closed".into(),
        ..NewIssue::new("Closed one")
    });
    let listed = h
        .tracker
        .fetch_by_states(&["Open".to_owned()])
        .await
        .expect("list");
    let ids: Vec<String> = listed.into_iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![open.to_string()]);
    let list = h.api.requests().pop().expect("a list request");
    assert!(list.uri.contains("state=opened"), "{}", list.uri);

    let both = h
        .tracker
        .fetch_by_states(&["opened".to_owned(), "closed".to_owned()])
        .await
        .expect("list");
    assert_eq!(both.len(), 2);

    let reopened = h
        .tracker
        .move_to_state(&reference(closed), Some("closed"), "open")
        .await
        .expect("reopen");
    assert_eq!(
        reopened,
        StateMove::Moved {
            from: "closed".into(),
            to: "opened".into()
        }
    );
    assert_eq!(h.fake.issue(closed).expect("issue").state, "opened");
    let update = h.api.requests().pop().expect("the update");
    assert_eq!(update.method, "PUT");
    let sent: Value = serde_json::from_str(&update.body).expect("a JSON update");
    assert_eq!(sent, json!({"state_event": "reopen"}));

    let unknown = h
        .tracker
        .move_to_state(&reference(open), None, "Triage")
        .await;
    assert!(
        matches!(unknown, Err(TrackerError::UnknownState { .. })),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn label_carried_states_move_in_one_update() {
    let h = start(json!({
        "state_labels": {
            "Doing": "workflow::doing",
            "Review": "workflow::review",
        }
    }))
    .await;
    let iid = h.fake.add_issue(NewIssue {
        labels: vec!["bug".into(), "workflow::doing".into()],
        ..NewIssue::new("Being worked on")
    });
    let issue = reference(iid);
    let read = h
        .tracker
        .fetch_issue(&issue)
        .await
        .expect("fetch")
        .expect("found");
    assert_eq!(read.state, "Doing");

    let conflict = h
        .tracker
        .move_to_state(&issue, Some("Review"), "closed")
        .await
        .expect("move");
    assert_eq!(
        conflict,
        StateMove::Conflict {
            actual: "Doing".into()
        }
    );
    assert_eq!(h.fake.issue(iid).expect("issue").state, "opened");

    let writes_before = h
        .api
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .count();
    let moved = h
        .tracker
        .move_to_state(&issue, Some("doing"), "Review")
        .await
        .expect("move");
    assert_eq!(
        moved,
        StateMove::Moved {
            from: "Doing".into(),
            to: "Review".into()
        }
    );
    let puts: Vec<RecordedRequest> = h
        .api
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), writes_before + 1, "one update per move");
    let sent: Value = serde_json::from_str(&puts[puts.len() - 1].body).expect("JSON");
    assert_eq!(
        sent,
        json!({"add_labels": "workflow::review", "remove_labels": "workflow::doing"})
    );
    assert_eq!(
        h.fake.issue(iid).expect("issue").labels,
        vec!["bug", "workflow::review"]
    );
    let in_review = h
        .tracker
        .fetch_by_states(&["review".to_owned()])
        .await
        .expect("list");
    assert_eq!(in_review.len(), 1);
    assert_eq!(in_review[0].state, "Review");

    let closed = h
        .tracker
        .move_to_state(&issue, Some("Review"), "closed")
        .await
        .expect("close");
    assert!(matches!(closed, StateMove::Moved { .. }), "{closed:?}");
    let after = h.fake.issue(iid).expect("issue");
    assert_eq!(after.state, "closed");
    assert_eq!(after.labels, vec!["bug"]);
}

#[tokio::test]
async fn the_token_stays_out_of_debug_output_urls_and_errors() {
    let fake = GitlabFake::new(PROJECT).require_token(TOKEN);
    let api = FakeApi::spawn(fake.router()).await;
    let options = GITLAB.options(&api, json!({}));
    let tracker = GitlabTracker::from_config(&GITLAB.config(&options)).expect("build");
    let debug = format!("{tracker:?}");
    assert!(!debug.contains(TOKEN), "token in Debug: {debug}");
    assert!(
        debug.contains(PROJECT),
        "Debug still says which project: {debug}"
    );

    let iid = fake.add_issue(NewIssue::new("Secret keeping"));
    let issue = IssueRef {
        id: iid.to_string(),
        identifier: format!("{PROJECT}#{iid}"),
    };
    let note = tracker.create_comment(&issue, "hello").await.expect("note");
    tracker
        .update_comment(&issue, &note, "hello again")
        .await
        .expect("update");
    assert_eq!(fake.notes(iid)[0].body, "hello again");
    tracker
        .fetch_by_states(&["opened".to_owned()])
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
        GitlabTracker::from_config(&GITLAB.config(&options))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let missing = build(json!({"token": format!("${TOKEN_VARIABLE}")})).unwrap_err();
    assert!(missing.contains("gitlab.project"), "{missing}");
    let bad = build(json!({"project": "acme/../secrets"})).unwrap_err();
    assert!(bad.contains("group/project"), "{bad}");
    let inline = build(json!({"project": PROJECT, "token": "glpat-inline"})).unwrap_err();
    assert!(
        inline.contains("gitlab.token") && !inline.contains("glpat-inline"),
        "{inline}"
    );
    let shadowing = build(json!({
        "project": PROJECT,
        "token": format!("${TOKEN_VARIABLE}"),
        "state_labels": {"closed": "done"},
    }))
    .unwrap_err();
    assert!(shadowing.contains("gitlab.state_labels"), "{shadowing}");
    let default_variable = GitlabTracker::from_config(&AdapterConfig {
        kind: "gitlab",
        options: &json!({"project": PROJECT}),
        env: &|name: &str| (name == "GITLAB_TOKEN").then(|| "t".to_owned()),
        policy: RetryPolicy::fast(),
    });
    assert!(default_variable.is_ok(), "GITLAB_TOKEN is the default");
    assert!(registry::KINDS.contains(&"gitlab"));
}
