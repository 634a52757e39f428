//! Chat notifications against a fake Slack in Slack's shapes: the Block Kit message, the
//! webhook and `chat.postMessage` ways in, retries after 429 `Retry-After`, refusals, and
//! no secret in any error.

use baton_core::workflow::{NotifyEvent, Workflow};
use baton_integrations::test_support::slack::{SlackFake, BOT_TOKEN, CHANNEL, WEBHOOK_PATH};
use baton_integrations::test_support::{FakeApi, Fault};
use baton_runner::notify::{
    blocks, Notice, Notifier, Outcome, SlackClient, SlackError, SlackRetry, SlackTarget,
};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WEBHOOK_SECRET: &str = "fakewebhooksecret";

fn retry() -> SlackRetry {
    SlackRetry {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    }
}

async fn fake() -> (SlackFake, FakeApi) {
    let slack = SlackFake::default();
    let api = FakeApi::spawn(slack.router()).await;
    (slack, api)
}

fn webhook(api: &FakeApi) -> SlackClient {
    let url = format!("{}{WEBHOOK_PATH}", api.url());
    SlackClient::new(SlackTarget::Webhook { url }, retry()).expect("client")
}

fn bot(api: &FakeApi, token: &str, channel: &str) -> SlackClient {
    let target = SlackTarget::Bot {
        api_url: format!("{}/api", api.url()),
        token: token.into(),
        channel: channel.into(),
    };
    SlackClient::new(target, retry()).expect("client")
}

fn notice(outcome: Outcome) -> Notice {
    Notice {
        issue: "acme/app#7".into(),
        title: "Fix <the> parser & lexer".into(),
        issue_url: Some("https://github.com/acme/app/issues/7".into()),
        run_id: "run-123".into(),
        run_link: Some("https://baton.example/api/v1/issues/github%3Aacme%2Fapp%237".into()),
        outcome,
    }
}

/// Every `text` in the message's blocks, joined.
fn texts(message: &Value) -> String {
    let mut out = Vec::new();
    for block in message["blocks"].as_array().expect("blocks") {
        if let Some(text) = block["text"]["text"].as_str() {
            out.push(text.to_owned());
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            out.extend(element["text"].as_str().map(str::to_owned));
        }
    }
    out.join("\n")
}

#[test]
fn the_message_is_block_kit_with_the_outcome_the_issue_and_the_pr_or_error() {
    let succeeded = blocks::message(&notice(Outcome::Succeeded {
        pull_request: Some("https://github.com/acme/app/pull/9".into()),
    }));
    let kinds: Vec<&str> = succeeded["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|b| b["type"].as_str())
        .collect();
    assert_eq!(kinds, ["header", "section", "section", "context"]);
    assert_eq!(
        succeeded["blocks"][0]["text"]["text"],
        ":white_check_mark: Run succeeded: acme/app#7"
    );
    assert!(succeeded["text"]
        .as_str()
        .is_some_and(|t| t.contains("succeeded")));
    let text = texts(&succeeded);
    assert!(
        text.contains("<https://github.com/acme/app/issues/7|acme/app#7>"),
        "{text}"
    );
    assert!(
        text.contains("Fix &lt;the&gt; parser &amp; lexer"),
        "{text}"
    );
    assert!(
        text.contains("<https://github.com/acme/app/pull/9>"),
        "{text}"
    );
    assert!(
        text.contains("run `run-123`") && text.contains("|run record>"),
        "{text}"
    );

    let failed = blocks::message(&notice(Outcome::Failed {
        error: "turn_failed: upstream model error".into(),
        dead_lettered: true,
    }));
    assert!(failed["blocks"][0]["text"]["text"]
        .as_str()
        .is_some_and(|h| h.contains("failed and was dead-lettered")));
    assert!(texts(&failed).contains("```turn_failed: upstream model error```"));

    let asked = blocks::message(&notice(Outcome::AwaitingInput {
        question: "Which branch?\nmain or dev".into(),
    }));
    assert!(texts(&asked).contains("> Which branch?\n> main or dev"));
    assert!(asked["blocks"][0]["text"]["text"]
        .as_str()
        .is_some_and(|h| h.contains("waiting for an answer")));
}

#[tokio::test]
async fn a_webhook_post_is_accepted_and_an_empty_one_refused() {
    let (slack, api) = fake().await;
    let client = webhook(&api);
    let message = blocks::message(&notice(Outcome::Succeeded { pull_request: None }));
    client.post(&message).await.expect("posted");
    assert_eq!(slack.posted(), [message]);
    let request = &api.requests()[0];
    assert_eq!(request.uri, WEBHOOK_PATH);
    assert!(request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));

    let error = client
        .post(&serde_json::json!({ "blocks": [] }))
        .await
        .expect_err("invalid_payload");
    assert!(
        error.to_string().contains("HTTP 400: invalid_payload"),
        "{error}"
    );
    assert!(!error.to_string().contains(WEBHOOK_SECRET), "{error}");
    assert_eq!(api.requests().len(), 2, "a refusal is not retried");
}

#[tokio::test]
async fn chat_post_message_sends_the_token_and_channel_and_reads_ok_false() {
    let (slack, api) = fake().await;
    let message = blocks::message(&notice(Outcome::Failed {
        error: "e".into(),
        dead_lettered: false,
    }));
    bot(&api, BOT_TOKEN, CHANNEL)
        .post(&message)
        .await
        .expect("posted");
    let posted = slack.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["channel"], CHANNEL);
    assert_eq!(posted[0]["blocks"], message["blocks"]);
    let request = &api.requests()[0];
    assert_eq!(request.uri, "/api/chat.postMessage");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );

    for (token, channel, code) in [
        ("xoxb-wrong-sekrit", CHANNEL, "invalid_auth"),
        (BOT_TOKEN, "C-nowhere", "channel_not_found"),
    ] {
        let error = bot(&api, token, channel)
            .post(&message)
            .await
            .expect_err(code);
        assert_eq!(
            error,
            SlackError::Refused {
                endpoint: "slack chat.postMessage",
                reason: code.into()
            }
        );
        assert!(!error.to_string().contains("sekrit") && !error.to_string().contains(BOT_TOKEN));
    }
    assert_eq!(slack.posted().len(), 1);
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_and_given_up_after_the_attempts() {
    let (slack, api) = fake().await;
    let client = webhook(&api);
    let message = blocks::message(&notice(Outcome::Succeeded { pull_request: None }));

    api.inject(Fault::rate_limited(1));
    let started = Instant::now();
    client.post(&message).await.expect("posted on the retry");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(api.requests().len(), 2);
    assert_eq!(slack.posted().len(), 1);

    api.clear_requests();
    api.inject(Fault {
        retry_after_secs: Some(0),
        ..Fault::status(429, 10)
    });
    let error = bot(&api, BOT_TOKEN, CHANNEL)
        .post(&message)
        .await
        .expect_err("still limited");
    assert_eq!(
        error,
        SlackError::RateLimited {
            endpoint: "slack chat.postMessage",
            attempts: 3
        }
    );
    assert_eq!(api.requests().len(), 3, "gives up after max_attempts");
    assert_eq!(slack.posted().len(), 1);
}

#[tokio::test]
async fn an_unreachable_webhook_fails_without_showing_its_url() {
    // A port nothing listens on: bind one, then let it go.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}{WEBHOOK_PATH}");
    let client = SlackClient::new(SlackTarget::Webhook { url }, retry()).expect("client");
    let error = client
        .post(&serde_json::json!({ "text": "hi" }))
        .await
        .expect_err("unreachable");
    assert!(
        matches!(error, SlackError::Unreachable { attempts: 3, .. }),
        "{error:?}"
    );
    let shown = format!("{error} {error:?} {client:?}");
    assert!(!shown.contains(WEBHOOK_SECRET), "{shown}");
}

#[tokio::test]
async fn the_workflow_section_builds_a_notifier_that_posts_only_its_events() {
    let (slack, api) = fake().await;
    let url = format!("{}{WEBHOOK_PATH}", api.url());
    let workflow = Workflow::parse(
        "---\ntracker: {kind: github}\nnotify:\n  slack:\n    webhook_url: $TEST_SLACK_HOOK\n    on: [failed]\n---\nprompt",
    )
    .expect("workflow");
    let config = &workflow.config.notify;
    let unset = |_: &str| None;
    assert!(
        Notifier::from_config(config, &unset).is_none(),
        "no variable, no notifier"
    );
    let env = move |name: &str| (name == "TEST_SLACK_HOOK").then(|| url.clone());
    let notifier: Arc<Notifier> = Notifier::from_config(config, &env).expect("notifier");
    assert!(notifier.posts(NotifyEvent::Failed) && !notifier.posts(NotifyEvent::Succeeded));

    let skipped = notifier.spawn(notice(Outcome::Succeeded { pull_request: None }));
    assert!(skipped.is_none(), "succeeded is not announced here");
    let posted = notifier
        .spawn(notice(Outcome::Failed {
            error: "boom".into(),
            dead_lettered: false,
        }))
        .expect("announced");
    posted.await.expect("task").expect("posted");
    assert_eq!(slack.posted().len(), 1);
    assert!(texts(&slack.posted()[0]).contains("boom"));
}
