//! Whole-system tests of the webhook ingress: a real HTTP server and client, with the
//! embedded backends and with DynamoDB and SQS on the emulator.

#[macro_use]
mod common;

use baton_core::domain::{JobReason, SourceKind, WorkItemKey, WorkItemStatus};
use baton_core::ingress::IngressSettings;
use baton_core::workflow::Workflow;
use baton_integrations::notify::ChatAnnouncer;
use baton_integrations::test_support::slack::{SlackFake, WEBHOOK_PATH};
use baton_integrations::test_support::{FakeApi, Fault};
use common::faults::FailingSends;
use common::signing::{self, github_issue};
use common::{spawn_app, spawn_with, Backend, GITHUB_SECRET};
use serde_json::json;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

on_both_backends!(
    a_labelled_issue_is_queued,
    a_redelivery_is_a_duplicate,
    fifty_concurrent_copies_give_one_job,
    bad_signatures_are_refused,
    malformed_payloads_are_refused,
    events_without_a_trigger_are_ignored,
    closing_a_queued_issue_cancels_it,
    closing_a_finished_issue_records_its_state,
    a_failed_enqueue_can_be_retried,
    form_encoded_github_deliveries_are_accepted,
    a_gated_run_waits_for_an_allowed_approval,
    a_held_run_is_announced_once_in_chat,
    a_failing_chat_never_holds_up_the_answer,
    a_reply_answers_the_agents_question_and_queues_the_work,
    of_replies_racing_one_answer_counts,
);

fn delivery_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// What a runner leaves when its agent asked `question`: the item waits for an answer.
async fn leave_waiting(app: &common::TestApp, key: &WorkItemKey, question: &str) {
    let mut item = app
        .store
        .get_work_item(key)
        .await
        .expect("read")
        .expect("stored");
    let expected = item.version;
    item.status = WorkItemStatus::AwaitingInput;
    item.pending_job = None;
    item.input_request = Some(baton_core::domain::InputRequest {
        question: question.into(),
        asked_at: chrono::Utc::now(),
        deadline: None,
        run_id: baton_core::domain::RunId::generate(),
        session_id: None,
        answer: None,
    });
    item.version += 1;
    app.store
        .put_work_item(&item, Some(expected))
        .await
        .expect("write");
}

fn github_key(number: u64) -> WorkItemKey {
    WorkItemKey::new(SourceKind::Github, &format!("acme/app#{number}"))
}

async fn a_labelled_issue_is_queued(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = github_issue(
        "labeled",
        7,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);

    let (status, answer) = app.post("github", &headers, body).await;

    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["status"], "queued");
    assert_eq!(answer["work_item"], "github:acme/app#7");
    let job_id = answer["job_id"].as_str().expect("job id").to_owned();
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].job_id.as_str(), job_id);
    assert_eq!(jobs[0].work_item, github_key(7));
    assert_eq!(jobs[0].reason, JobReason::Labeled);
    assert_eq!(jobs[0].attempt, 1);
    let item = app
        .store
        .get_work_item(&github_key(7))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert_eq!(
        item.pending_job.as_ref().map(|j| j.as_str()),
        Some(job_id.as_str())
    );
    assert_eq!(item.issue.title, "Issue 7");
    assert_eq!(item.issue.labels, vec!["baton".to_string()]);
    assert!(!item.cancel_requested);
}

async fn a_redelivery_is_a_duplicate(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = github_issue(
        "labeled",
        8,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);

    let (first, _) = app.post("github", &headers, body.clone()).await;
    let (second, answer) = app.post("github", &headers, body).await;

    assert_eq!(first, 202);
    assert_eq!(second, 200);
    assert_eq!(answer, json!({ "status": "duplicate" }));
    assert_eq!(app.drain_jobs().await.len(), 1);
}

async fn fifty_concurrent_copies_give_one_job(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    let body = github_issue(
        "labeled",
        9,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);

    let copies = (0..50).map(|_| {
        let (app, headers, body) = (app.clone(), headers.clone(), body.clone());
        tokio::spawn(async move { app.post("github", &headers, body).await })
    });
    let answers: Vec<_> = futures::future::join_all(copies)
        .await
        .into_iter()
        .map(|joined| joined.expect("task"))
        .collect();

    // One copy wins. The others wait for its answer and say `duplicate`, or, if it takes
    // longer than they wait, `delivery_in_progress` (503), which the sender retries.
    let queued = answers.iter().filter(|(status, _)| *status == 202).count();
    let not_queued = answers
        .iter()
        .filter(|(status, body)| {
            (*status == 200 && body["status"] == "duplicate")
                || (*status == 503 && body["error"]["code"] == "delivery_in_progress")
        })
        .count();
    assert_eq!(queued, 1, "{answers:?}");
    assert_eq!(not_queued, 49, "{answers:?}");
    // A retry after the fact is a plain duplicate.
    let (status, answer) = app.post("github", &headers, body).await;
    assert_eq!((status, answer), (200, json!({ "status": "duplicate" })));
    assert_eq!(app.drain_jobs().await.len(), 1);
}

async fn bad_signatures_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = github_issue(
        "labeled",
        10,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );

    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let signed_for_other_body = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
    let wrong_secret = signing::github("not-the-secret", "issues", &delivery_id(), &body);
    let unsigned: Vec<_> = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body)
        .into_iter()
        .filter(|(name, _)| name != "x-hub-signature-256")
        .collect();
    let not_hex: Vec<_> = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body)
        .into_iter()
        .map(|(name, value)| {
            if name == "x-hub-signature-256" {
                (name, "sha256=zz".to_owned())
            } else {
                (name, value)
            }
        })
        .collect();

    for (case, headers, payload) in [
        ("tampered body", &signed_for_other_body, tampered),
        ("wrong secret", &wrong_secret, body.clone()),
        ("missing signature", &unsigned, body.clone()),
        ("signature not hex", &not_hex, body.clone()),
    ] {
        let (status, answer) = app.post("github", headers, payload).await;
        assert_eq!(status, 401, "{case}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_signature", "{case}");
    }
    assert!(app.drain_jobs().await.is_empty());
}

async fn malformed_payloads_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = github_issue(
        "labeled",
        11,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let truncated = body[..body.len() / 2].to_vec();
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &truncated);
    let (status, answer) = app.post("github", &headers, truncated).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "malformed_payload");

    let mut plain_text = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
    plain_text[0].1 = "text/plain".into();
    let (status, answer) = app.post("github", &plain_text, body.clone()).await;
    assert_eq!(status, 415, "{answer}");
    assert_eq!(answer["error"]["code"], "unsupported_media_type");

    let no_delivery: Vec<_> = signing::github(GITHUB_SECRET, "issues", "x", &body)
        .into_iter()
        .filter(|(name, _)| name != "x-github-delivery")
        .collect();
    let (status, answer) = app.post("github", &no_delivery, body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "malformed_payload");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("X-GitHub-Delivery"), "{answer}");
    assert!(app.drain_jobs().await.is_empty());
}

async fn events_without_a_trigger_are_ignored(backend: Backend) {
    let app = spawn_app(backend).await;
    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#.to_vec();
    let headers = signing::github(GITHUB_SECRET, "ping", &delivery_id(), &ping);
    let (status, answer) = app.post("github", &headers, ping).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );

    let push = br#"{"ref":"refs/heads/main"}"#.to_vec();
    let headers = signing::github(GITHUB_SECRET, "push", &delivery_id(), &push);
    let (status, answer) = app.post("github", &headers, push).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );

    let other_label = github_issue(
        "labeled",
        12,
        &["bug"],
        json!({ "label": { "name": "bug" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &other_label);
    let (status, answer) = app.post("github", &headers, other_label).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    assert!(answer["reason"].as_str().is_some_and(|r| !r.is_empty()));

    assert!(app.drain_jobs().await.is_empty());
    assert!(app
        .store
        .get_work_item(&github_key(12))
        .await
        .expect("read")
        .is_none());
}

async fn closing_a_queued_issue_cancels_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let labeled = github_issue(
        "labeled",
        13,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &labeled);
    assert_eq!(app.post("github", &headers, labeled).await.0, 202);

    let closed = github_issue("closed", 13, &["baton"], json!({}));
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &closed);
    let (status, answer) = app.post("github", &headers, closed).await;

    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({ "status": "cancel_requested", "work_item": "github:acme/app#13" })
    );
    let item = app
        .store
        .get_work_item(&github_key(13))
        .await
        .expect("read")
        .expect("stored");
    assert!(item.cancel_requested);
    assert_eq!(item.status, WorkItemStatus::Cancelled);
    assert_eq!(item.pending_job, None);
    assert_eq!(item.issue.state, "closed");
}

async fn closing_a_finished_issue_records_its_state(backend: Backend) {
    let app = spawn_app(backend).await;
    let labeled = github_issue(
        "labeled",
        15,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &labeled);
    assert_eq!(app.post("github", &headers, labeled).await.0, 202);
    // Its run succeeded (as the runner records it).
    let key = github_key(15);
    let mut item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("stored");
    let expected = item.version;
    item.status = WorkItemStatus::Succeeded;
    item.pending_job = None;
    item.version += 1;
    app.store
        .put_work_item(&item, Some(expected))
        .await
        .expect("write");

    for attempt in 0..2 {
        // Two events, so two bodies: a byte-identical body under a fresh id is a replay.
        let closed = github_issue("closed", 15, &["baton"], json!({ "attempt": attempt }));
        let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &closed);
        let (status, answer) = app.post("github", &headers, closed.clone()).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["status"], "ignored", "{answer}");
    }
    let item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.issue.state, "closed", "the closed state is remembered");
    assert_eq!(item.status, WorkItemStatus::Succeeded);
    assert!(!item.cancel_requested);
    assert_eq!(
        item.version,
        expected + 2,
        "the same state again writes nothing"
    );
}

async fn a_failed_enqueue_can_be_retried(backend: Backend) {
    let (store, queue) = common::backends(backend).await;
    let failing = Arc::new(FailingSends {
        inner: queue,
        failures: AtomicU32::new(1),
    });
    let app = spawn_with(
        &Workflow::development(),
        common::all_secrets(),
        store,
        failing.clone(),
        IngressSettings::default(),
    )
    .await;
    let body = github_issue(
        "labeled",
        14,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);

    let (status, answer) = app.post("github", &headers, body.clone()).await;
    assert_eq!(status, 503, "{answer}");
    assert_eq!(answer["error"]["code"], "backend_unavailable");
    assert!(app.drain_jobs().await.is_empty());
    assert_eq!(
        app.store
            .get_work_item(&github_key(14))
            .await
            .expect("read"),
        None,
        "a request whose job was not queued leaves no item behind"
    );

    let (status, answer) = app.post("github", &headers, body).await;
    assert_eq!(status, 202, "the sender's retry must succeed: {answer}");
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].job_id.as_str(),
        answer["job_id"].as_str().expect("job id")
    );
    let item = app
        .store
        .get_work_item(&github_key(14))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        item.pending_job,
        Some(jobs[0].job_id.clone()),
        "the item points at the job sent"
    );

    // A later request that fails to queue puts the item back as it was.
    failing
        .failures
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let body = github_issue("reopened", 14, &["baton"], json!({}));
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
    let (status, answer) = app.post("github", &headers, body).await;
    assert_eq!(status, 503, "{answer}");
    let after = app
        .store
        .get_work_item(&github_key(14))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(after.pending_job, item.pending_job);
    assert_eq!(after.status, item.status);
    assert!(
        after.version > item.version,
        "restored by a versioned write, not blindly"
    );
}

async fn form_encoded_github_deliveries_are_accepted(backend: Backend) {
    let app = spawn_app(backend).await;
    let json_body = github_issue(
        "labeled",
        15,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", std::str::from_utf8(&json_body).expect("utf-8"))
        .finish();
    let mut headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), form.as_bytes());
    headers[0].1 = "application/x-www-form-urlencoded".into();

    let (status, answer) = app.post("github", &headers, form).await;

    assert_eq!(status, 202, "{answer}");
    assert_eq!(app.drain_jobs().await.len(), 1);
}

#[tokio::test]
async fn a_source_without_a_secret_refuses_everything() {
    let (store, queue) = common::memory_backends();
    let mut secrets = common::all_secrets();
    secrets.remove(&SourceKind::Gitlab);
    let app = spawn_with(
        &Workflow::development(),
        secrets,
        store,
        queue,
        IngressSettings::default(),
    )
    .await;
    let body = br#"{"object_kind":"issue"}"#.to_vec();
    let headers = signing::gitlab("", "Issue Hook", &delivery_id());
    let (status, answer) = app.post("gitlab", &headers, body).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "invalid_signature");
    assert!(answer["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("GITLAB_WEBHOOK_TOKEN")));
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let (store, queue) = common::memory_backends();
    let settings = IngressSettings {
        max_body_bytes: 4096,
        ..IngressSettings::default()
    };
    let app = spawn_with(
        &Workflow::development(),
        common::all_secrets(),
        store,
        queue,
        settings,
    )
    .await;
    let body = vec![b'a'; 10_000];
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
    let (status, answer) = app.post("github", &headers, body).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "payload_too_large");

    // Without a Content-Length (chunked), the limit still holds.
    let chunks = futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 1000])));
    let (status, _) = app
        .post("github", &headers, reqwest::Body::wrap_stream(chunks))
        .await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn routes_answer_with_the_error_envelope() {
    let app = spawn_app(Backend::Memory).await;
    // TAPD and memory originate work items through the poll, but send no webhooks.
    for source in ["bitbucket", "tapd", "memory"] {
        let (status, answer) = app.post(source, &[], "{}").await;
        assert_eq!(status, 404, "{source}");
        assert_eq!(answer["error"]["code"], "unknown_source", "{source}");
    }

    for (path, status, code) in [
        ("/webhooks/github", 405, "method_not_allowed"),
        ("/nope", 404, "not_found"),
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .expect("get");
        assert_eq!(response.status().as_u16(), status, "{path}");
        let answer: serde_json::Value = response.json().await.expect("a JSON error envelope");
        assert_eq!(answer["error"]["code"], code, "{path}");
        assert!(answer["error"]["message"].is_string(), "{path}");
    }

    let response = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status().as_u16(), 200);
}

/// `gates.approval_required`: the label records the request but queues nothing; a comment
/// `/baton approve` from someone outside `gates.approvers` changes nothing; one from an
/// approver queues the run.
async fn a_gated_run_waits_for_an_allowed_approval(backend: Backend) {
    let workflow = Workflow::parse(
        "---\ntracker: {kind: github}\ngates: {approval_required: true, approvers: [carol]}\n---\n",
    )
    .expect("workflow");
    let (store, queue) = common::backends(backend).await;
    let app = spawn_with(
        &workflow,
        common::all_secrets(),
        store,
        queue,
        IngressSettings::default(),
    )
    .await;
    let labeled = github_issue(
        "labeled",
        40,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &labeled);
    let (status, answer) = app.post("github", &headers, labeled).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("awaiting_approval")),
        "{answer}"
    );
    let item = app
        .store
        .get_work_item(&github_key(40))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.status, WorkItemStatus::AwaitingApproval);
    assert!(
        app.drain_jobs().await.is_empty(),
        "nothing is queued before approval"
    );

    let approve = |login: &str| {
        github_issue(
            "created",
            40,
            &["baton"],
            json!({
                "comment": { "body": "/baton approve", "user": { "login": login, "type": "User" },
                             "author_association": "OWNER" },
                "sender": { "login": login, "type": "User" }
            }),
        )
    };
    let body = approve("mallory");
    let headers = signing::github(GITHUB_SECRET, "issue_comment", &delivery_id(), &body);
    let (status, answer) = app.post("github", &headers, body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    assert!(
        app.drain_jobs().await.is_empty(),
        "an owner outside gates.approvers cannot approve"
    );

    let body = approve("carol");
    let headers = signing::github(GITHUB_SECRET, "issue_comment", &delivery_id(), &body);
    let (status, answer) = app.post("github", &headers, body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("queued")),
        "{answer}"
    );
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].reason, JobReason::Approved);
    let item = app
        .store
        .get_work_item(&github_key(40))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert_eq!(item.approved_by.as_deref(), Some("carol"));
}

async fn a_reply_answers_the_agents_question_and_queues_the_work(backend: Backend) {
    let app = spawn_app(backend).await;
    let comment = |body: &str, association: &str| {
        github_issue(
            "created",
            41,
            &["baton"],
            json!({
                "comment": { "body": body, "user": { "login": "alice", "type": "User" },
                             "author_association": association },
                "sender": { "login": "alice", "type": "User" }
            }),
        )
    };
    let post = |body: Vec<u8>| {
        let event = if body.windows(9).any(|w| w == b"\"comment\"") {
            "issue_comment"
        } else {
            "issues"
        };
        let headers = signing::github(GITHUB_SECRET, event, &delivery_id(), &body);
        let app = &app;
        async move { app.post("github", &headers, body).await }
    };
    let labeled = github_issue(
        "labeled",
        41,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let (status, _) = post(labeled).await;
    assert_eq!(status, 202);
    // No question waits: a plain comment is nothing, an explicit answer says why.
    let (status, answer) = post(comment("Use Postgres.", "OWNER")).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    let (_, answer) = post(comment("/baton answer Postgres", "OWNER")).await;
    assert!(
        answer["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no question"),
        "{answer}"
    );

    // The runner left the item waiting on its agent's question.
    let key = github_key(41);
    leave_waiting(&app, &key, "Which database?").await;
    app.drain_jobs().await;

    // An outsider's reply is not an answer.
    let (_, answer) = post(comment("Use MongoDB!", "NONE")).await;
    assert_eq!(answer["status"], "ignored", "{answer}");
    assert!(app.drain_jobs().await.is_empty());

    let (status, answer) = post(comment("  Postgres, with SQLite for tests.", "OWNER")).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("queued")),
        "{answer}"
    );
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].reason, JobReason::InputAnswered);
    let item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.status, WorkItemStatus::Queued);
    assert_eq!(item.pending_job.as_ref(), Some(&jobs[0].job_id));
    let answered = item
        .input_request
        .expect("the question stays until a run takes it");
    let given = answered.answer.expect("answer");
    assert_eq!(
        (given.by.as_str(), given.text.as_str()),
        ("alice", "Postgres, with SQLite for tests.")
    );

    // A second reply finds nothing waiting: the first answer is the one taken.
    let (_, answer) = post(comment("/baton answer MySQL", "OWNER")).await;
    assert_eq!(answer["status"], "ignored", "{answer}");
    assert!(app.drain_jobs().await.is_empty());

    // Waiting again, then stopped: the wait ends, nothing is queued.
    let mut item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("stored");
    let expected = item.version;
    item.status = WorkItemStatus::AwaitingInput;
    item.pending_job = None;
    if let Some(input) = item.input_request.as_mut() {
        input.answer = None;
    }
    item.version += 1;
    app.store
        .put_work_item(&item, Some(expected))
        .await
        .expect("write");
    let (status, answer) = post(comment("/baton stop", "OWNER")).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("cancel_requested")),
        "{answer}"
    );
    let item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.status, WorkItemStatus::Cancelled);
    assert!(item.input_request.is_none());
    assert!(app.drain_jobs().await.is_empty());
}

async fn of_replies_racing_one_answer_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    let labeled = github_issue(
        "labeled",
        42,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &labeled);
    assert_eq!(app.post("github", &headers, labeled).await.0, 202);
    app.drain_jobs().await;
    let key = github_key(42);
    leave_waiting(&app, &key, "Which region?").await;

    // Eight members answer at once, each differently.
    let replies = (0..8).map(|n| {
        let body = github_issue(
            "created",
            42,
            &["baton"],
            json!({
                "comment": { "body": format!("/baton answer region-{n}"),
                             "user": { "login": format!("member{n}"), "type": "User" },
                             "author_association": "MEMBER" },
                "sender": { "login": format!("member{n}"), "type": "User" }
            }),
        );
        let headers = signing::github(GITHUB_SECRET, "issue_comment", &delivery_id(), &body);
        let app = &app;
        async move { app.post("github", &headers, body).await }
    });
    let answers = futures::future::join_all(replies).await;
    let queued: Vec<_> = answers
        .iter()
        .filter(|(status, answer)| *status == 202 && answer["status"] == "queued")
        .collect();
    assert_eq!(queued.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status != 202)
            .all(|(status, answer)| *status == 200 && answer["status"] == "ignored"),
        "{answers:?}"
    );
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.pending_job.as_ref(), Some(&jobs[0].job_id));
    let answer = item
        .input_request
        .and_then(|input| input.answer)
        .expect("the answer is recorded");
    // The answer kept is one of the replies, whole: no write overwrote another's.
    let n = answer.text.trim_start_matches("region-");
    assert_eq!(answer.by, format!("member{n}"), "{answer:?}");
}

/// A gated workflow whose `notify.slack` posts to a fake incoming webhook, served by an
/// ingress that announces holds, as every binary wires it.
async fn gated_app_announcing(
    backend: Backend,
    slack: &FakeApi,
    settings: IngressSettings,
) -> common::TestApp {
    let workflow = Workflow::parse(
        "---\ntracker: {kind: github}\ngates: {approval_required: true}\n\
         notify: {slack: {webhook_url: $HELD_SLACK_URL}}\n---\n",
    )
    .expect("workflow");
    let hook = format!("{}{WEBHOOK_PATH}", slack.url());
    let env = move |name: &str| match name {
        "HELD_SLACK_URL" => Some(hook.clone()),
        "BATON_PUBLIC_URL" => Some("https://baton.example/".to_owned()),
        _ => None,
    };
    let (store, queue) = common::backends(backend).await;
    let ingress = baton_core::ingress::Ingress::new(
        &workflow,
        common::all_secrets(),
        Arc::clone(&store),
        Arc::clone(&queue),
        Arc::new(baton_core::clock::SystemClock),
        settings,
    )
    .with_announcer(Arc::new(ChatAnnouncer::new(Arc::new(env))));
    common::serve_router(baton_web::ingress::router(Arc::new(ingress)), store, queue).await
}

async fn label_issue(app: &common::TestApp, number: u64, action: &str) -> (u16, serde_json::Value) {
    let body = github_issue(
        action,
        number,
        &["baton"],
        json!({ "label": { "name": "baton" } }),
    );
    let headers = signing::github(GITHUB_SECRET, "issues", &delivery_id(), &body);
    app.post("github", &headers, body).await
}

/// The ingress decides a hold, so the ingress announces it: one Block Kit message naming
/// the issue, how to approve, and the item's record; a second trigger while it waits, and a
/// redelivery, announce nothing more.
async fn a_held_run_is_announced_once_in_chat(backend: Backend) {
    let fake = SlackFake::default();
    let slack = FakeApi::spawn(fake.router()).await;
    let app = gated_app_announcing(backend, &slack, IngressSettings::default()).await;

    let (status, answer) = label_issue(&app, 41, "labeled").await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("awaiting_approval")),
        "{answer}"
    );
    let posted = fake.posted();
    assert_eq!(posted.len(), 1, "{posted:?}");
    let message = posted[0].to_string();
    for needle in [
        "waiting for approval",
        "acme/app#41",
        "/baton approve",
        "baton:approved",
        "https://baton.example/api/v1/issues/github%3Aacme%2Fapp%2341",
    ] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from {message}"
        );
    }

    // Another trigger for the item already waiting: still held, not announced again.
    let (status, answer) = label_issue(&app, 41, "opened").await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("awaiting_approval")),
        "{answer}"
    );
    assert_eq!(fake.posted().len(), 1, "a hold is announced once");

    // Another issue held is another message.
    label_issue(&app, 42, "labeled").await;
    assert_eq!(fake.posted().len(), 2);
    assert!(
        app.drain_jobs().await.is_empty(),
        "nothing runs before approval"
    );
}

/// Slack failing (or slower than `announce_timeout`) costs the sender nothing: the hold is
/// recorded and answered, and a redelivery is a duplicate, not a second try.
async fn a_failing_chat_never_holds_up_the_answer(backend: Backend) {
    let fake = SlackFake::default();
    let slack = FakeApi::spawn(fake.router()).await;
    slack.inject(Fault::status(500, 1000));
    let settings = IngressSettings {
        announce_timeout: std::time::Duration::from_millis(300),
        ..IngressSettings::default()
    };
    let app = gated_app_announcing(backend, &slack, settings).await;
    let (status, answer) = label_issue(&app, 43, "labeled").await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("awaiting_approval")),
        "{answer}"
    );
    assert!(fake.posted().is_empty());
    assert!(!slack.requests().is_empty(), "the announcement was tried");
    let item = app
        .store
        .get_work_item(&github_key(43))
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(item.status, WorkItemStatus::AwaitingApproval);
}
