//! A human in the loop, end to end: the agent ends its run with a question, baton asks it on
//! the GitHub issue and the item waits; an outsider's comment changes nothing; an allowed
//! person's reply (a signed `issue_comment` webhook) resumes the work, whose prompt carries
//! the question and the answer, and the run delivers a pull request.

#[macro_use]
mod common;

use baton_core::domain::{JobReason, RunStatus, WorkItemKey, WorkItemStatus};
use baton_integrations::test_support::fakes::github::{GithubFake, NewIssue};
use baton_integrations::test_support::FakeApi;
use baton_runner::workspace::RepoConfig;
use common::control_plane::{
    github_delivery_workflow, spawn_control_plane_with, wait_for_item, wait_for_runs,
    GithubDelivery, Scratch,
};
use common::remote::bare_remote;
use common::signing::{self, github_issue};
use common::{Backend, GITHUB_SECRET};
use serde_json::json;

on_both_backends!(a_question_is_asked_on_the_issue_and_a_reply_resumes_the_work);

const TRACKER_TOKEN: &str = "tracker-token-never-logged";
const REPO_TOKEN: &str = "repo-token-never-logged";

fn comment_webhook(body: &str, login: &str, association: &str) -> Vec<u8> {
    github_issue(
        "created",
        1,
        &["baton"],
        json!({
            "comment": { "body": body, "user": { "login": login, "type": "User" },
                         "author_association": association },
            "sender": { "login": login, "type": "User" }
        }),
    )
}

async fn a_question_is_asked_on_the_issue_and_a_reply_resumes_the_work(backend: Backend) {
    let scratch = Scratch::new("baton-questions");
    let remote = bare_remote(&scratch.0);
    // One GitHub: the tracker and the repo platform, each with its own token, see the same
    // issues, pull requests, comments and labels.
    let github = GithubFake::new("acme/app")
        .require_token(TRACKER_TOKEN)
        .require_token(REPO_TOKEN);
    let mut issue = NewIssue::new("Issue 1");
    issue.labels = vec!["baton".into()];
    github.add_issue(issue);
    github.push(&RepoConfig::default().work_branch("acme/app#1"));
    let api = FakeApi::spawn(github.router()).await;

    // The agent asks until the answer is in; then it does the work (`iterate`).
    let asks = scratch.0.join("asks.jsonl");
    std::fs::write(
        &asks,
        "{\"do\":\"message\",\"text\":\"QUESTION: Which database should I use?\"}\n\
         {\"do\":\"complete\",\"status\":\"completed\"}\n",
    )
    .expect("scenario");
    let answered = scratch.0.join("answered");
    let script = format!(
        "if [ -e '{answered}' ]; then exec '{baton}' mock-agent --scenario iterate; \
         else exec '{baton}' mock-agent --scenario '{asks}'; fi",
        answered = answered.display(),
        baton = env!("CARGO_BIN_EXE_baton"),
        asks = asks.display(),
    );
    let env = format!("QUESTIONS_TEST_{backend:?}").to_uppercase();
    std::env::set_var(format!("{env}_TRACKER"), TRACKER_TOKEN);
    std::env::set_var(format!("{env}_REPO"), REPO_TOKEN);
    let text = github_delivery_workflow(&GithubDelivery {
        scratch: &scratch.0,
        remote: &remote,
        issues_url: &api.url(),
        repo_url: &api.url(),
        env_prefix: &env,
        scenario: "iterate",
    })
    .replace(
        "agent_provider: {kind: mock, options: {scenario: iterate}}",
        &format!(
            "agent_provider: {{kind: mock, options: {{command_argv: [/bin/sh, -c, {}]}}}}",
            serde_json::to_string(&script).expect("quoted")
        ),
    );
    assert!(text.contains("command_argv"), "the agent is the wrapper");
    let plane = spawn_control_plane_with(backend, &text, scratch).await;
    let store = &*plane.app.store;
    let post = |event: &str, body: Vec<u8>| {
        let headers = signing::github(
            GITHUB_SECRET,
            event,
            &uuid::Uuid::new_v4().to_string(),
            &body,
        );
        let app = &plane.app;
        async move { app.post("github", &headers, body).await }
    };

    let labeled = github_issue(
        "labeled",
        1,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let (status, answer) = post("issues", labeled).await;
    assert_eq!(status, 202, "{answer}");
    let key = WorkItemKey::parse("github:acme/app#1").expect("key");
    let waiting = wait_for_item(store, &key, "the question", |i| {
        i.status == WorkItemStatus::AwaitingInput
    })
    .await;
    let input = waiting.input_request.expect("the open question");
    assert_eq!(input.question, "Which database should I use?");
    assert!(input.deadline.is_some(), "the default wait is bounded");

    // Asked on the issue, as a new comment people are notified of.
    let comments = github.comments(1);
    let asked = comments
        .iter()
        .find(|c| c.body.contains("<!-- baton:question -->"))
        .unwrap_or_else(|| panic!("no question comment: {comments:#?}"));
    assert!(
        asked.body.contains("> Which database should I use?"),
        "{}",
        asked.body
    );
    assert!(asked.body.contains("/baton answer"), "{}", asked.body);
    let runs = wait_for_runs(store, &key, 1).await;
    assert_eq!(runs[0].status, RunStatus::AwaitingInput);

    // An outsider cannot answer.
    let (_, answer) = post(
        "issue_comment",
        comment_webhook("Use MongoDB!", "mallory", "NONE"),
    )
    .await;
    assert_eq!(answer["status"], "ignored", "{answer}");

    // A member's reply is the answer: the work resumes with it.
    std::fs::write(&answered, "").expect("flag");
    let (status, answer) = post(
        "issue_comment",
        comment_webhook("Postgres, please.", "alice", "MEMBER"),
    )
    .await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("queued")),
        "{answer}"
    );
    let done = wait_for_item(store, &key, "the answered run to deliver", |i| {
        i.status == WorkItemStatus::Succeeded
    })
    .await;
    assert!(done.input_request.is_none(), "the answer was taken");
    assert!(done.pull_request.is_some(), "the resumed run delivered");
    let runs = wait_for_runs(store, &key, 2).await;
    assert_eq!(runs[1].reason, JobReason::InputAnswered);
    assert_eq!(runs[1].status, RunStatus::Succeeded);
    assert_eq!(github.pulls().len(), 1);
}
