//! baton as a Linear agent, at the ingress: a signed `AgentSessionEvent` queues a run of the
//! issue's work item, and the session is acknowledged (a `thought`, and the dashboard link)
//! before the webhook is answered; a follow-up message continues the same work item. Linear
//! is the one fake of its GraphQL API, answering in its shapes.

#[macro_use]
mod common;
use baton_integrations::test_support::fakes::linear_api;

use baton_core::clock::SystemClock;
use baton_core::domain::{JobReason, Lease, RunId, RunStatus, WorkItemKey, WorkItemStatus};
use baton_core::ingress::{Ingress, IngressSettings};
use baton_core::workflow::Workflow;
use baton_integrations::test_support::FakeApi;
use baton_integrations::wiring::agent_sessions;
use baton_runner::agent::setup::MockAgentCommand;
use baton_runner::redact::Redactor;
use baton_runner::worker::{RunPlan, Runner};
use baton_web::ingress::router;
use common::{all_secrets, backends, serve_router, signing, Backend, LINEAR_SECRET};
use linear_api::{LinearFake, AGENT_TOKEN};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

on_both_backends!(
    a_session_is_acknowledged_before_the_answer_and_a_prompt_continues_the_item,
    a_run_reports_its_commands_and_its_end_in_the_session,
    stopping_the_session_stops_the_run_and_says_so_last,
);

const CREATED: &str =
    include_str!("../core/src/webhooks/fixtures/linear/agent_session_created.json");
const PROMPTED: &str =
    include_str!("../core/src/webhooks/fixtures/linear/agent_session_prompted.json");
const STOPPED: &str =
    include_str!("../core/src/webhooks/fixtures/linear/agent_session_stopped.json");
const SESSION: &str = "a9e75e55-1010-4c2d-9e8f-000000000042";
const PUBLIC_URL: &str = "https://baton.example.test/";

/// The fixture, sent now.
fn fresh(fixture: &str) -> Vec<u8> {
    let now = chrono::Utc::now().timestamp_millis().to_string();
    fixture.replace("1714640000000", &now).into_bytes()
}

async fn a_session_is_acknowledged_before_the_answer_and_a_prompt_continues_the_item(
    backend: Backend,
) {
    let linear = LinearFake::default();
    let api = FakeApi::spawn(linear.router()).await;
    let endpoint = format!("{}/graphql", api.url());
    let env = move |name: &str| match name {
        "LINEAR_AGENT_TOKEN" => Some(AGENT_TOKEN.to_owned()),
        "LINEAR_AGENT_API_URL" => Some(endpoint.clone()),
        _ => None,
    };
    let sessions = agent_sessions::for_ingress(&env)
        .expect("settings")
        .expect("a token is set");
    let (store, queue) = backends(backend).await;
    let ingress = Ingress::new(
        &Workflow::development(),
        all_secrets(),
        store.clone(),
        queue.clone(),
        Arc::new(SystemClock),
        IngressSettings::default(),
    )
    .with_agent_sessions(sessions, Some(PUBLIC_URL.to_owned()));
    let app = serve_router(router(Arc::new(ingress)), store, queue).await;
    let post = |body: Vec<u8>| {
        let headers = signing::linear(
            LINEAR_SECRET,
            "AgentSessionEvent",
            &uuid::Uuid::new_v4().to_string(),
            &body,
        );
        let app = &app;
        async move { app.post("linear", &headers, body).await }
    };

    let (status, answer) = post(fresh(CREATED)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("queued")),
        "{answer}"
    );
    // Acknowledged before the answer came back: no runner was needed.
    let activities = linear.activities();
    assert_eq!(activities.len(), 1, "{activities:?}");
    assert_eq!(activities[0].session, SESSION);
    assert_eq!(activities[0].content["type"], "thought");
    assert!(activities[0].content["body"]
        .as_str()
        .is_some_and(|b| b.contains("ENG-42")));
    assert_eq!(
        linear.external_urls(SESSION),
        vec!["https://baton.example.test/issues/linear%3AENG%2D42".to_owned()]
    );
    let key = WorkItemKey::parse("linear:ENG-42").expect("key");
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (&jobs[0].work_item, jobs[0].reason),
        (&key, JobReason::AgentSession)
    );
    let item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("item");
    assert_eq!(item.status, WorkItemStatus::Queued);
    let link = item.agent_session.expect("the session is kept on the item");
    assert_eq!(link.id, SESSION);
    assert_eq!(
        link.message.as_deref(),
        Some("@baton can you fix this? The export should stream rows.")
    );

    // A follow-up message: the same work item, a run that carries the message.
    let (status, answer) = post(fresh(PROMPTED)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("queued")),
        "{answer}"
    );
    let jobs = app.drain_jobs().await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (&jobs[0].work_item, jobs[0].reason),
        (&key, JobReason::AgentPrompted)
    );
    let item = app
        .store
        .get_work_item(&key)
        .await
        .expect("read")
        .expect("item");
    let link = item.agent_session.expect("still the session");
    assert_eq!(link.id, SESSION);
    assert_eq!(
        link.message.as_deref(),
        Some("Use Postgres COPY for the export, please.")
    );
    let activities = linear.activities();
    assert_eq!(activities.len(), 2, "{activities:?}");
    assert_eq!(activities[1].content["type"], "thought");

    // Stop, with no run going: the item is cancelled, its queued job with it, and the
    // session's final word comes at once, since no runner will give one.
    let (status, answer) = post(fresh(STOPPED)).await;
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
        .expect("item");
    assert_eq!(item.status, WorkItemStatus::Cancelled);
    assert!(item.pending_job.is_none(), "{item:?}");
    let activities = linear.activities();
    assert_eq!(activities.len(), 3, "{activities:?}");
    assert_eq!(activities[2].content["type"], "response");
    assert!(
        activities[2].content["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("Stopped")),
        "{:?}",
        activities[2]
    );
    // Stopping again finds nothing to stop, and says so.
    let (status, answer) = post(fresh(STOPPED)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("ignored")),
        "{answer}"
    );
    let activities = linear.activities();
    assert_eq!(activities.len(), 4, "{activities:?}");
    assert!(
        activities[3].content["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("Not stopping anything on ENG-42")),
        "{:?}",
        activities[3]
    );

    // A runner that died mid-run leaves the item running under a lease that has run out:
    // no runner will give the final word, so the ingress does.
    hold_as_running(
        &*app.store,
        &key,
        "runner-that-died",
        chrono::Utc::now() - chrono::TimeDelta::minutes(1),
    )
    .await;
    let (status, answer) = post(fresh(STOPPED)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("cancel_requested")),
        "{answer}"
    );
    let activities = linear.activities();
    assert_eq!(activities.len(), 5, "{activities:?}");
    assert_eq!(
        activities[4].content["type"], "response",
        "{:?}",
        activities[4]
    );

    // A stop from another session on the issue, while a live runner works for the first:
    // the runner answers only its own session, so the ingress gives this one its final word.
    hold_as_running(
        &*app.store,
        &key,
        "runner-at-work",
        chrono::Utc::now() + chrono::TimeDelta::minutes(5),
    )
    .await;
    const OTHER: &str = "b0b0b0b0-2020-4c2d-9e8f-000000000077";
    let (status, answer) = post(fresh(&STOPPED.replace(SESSION, OTHER))).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("cancel_requested")),
        "{answer}"
    );
    let activities = linear.activities();
    assert_eq!(activities.len(), 6, "{activities:?}");
    assert_eq!(activities[5].session, OTHER);
    assert_eq!(
        activities[5].content["type"], "response",
        "{:?}",
        activities[5]
    );

    // A stale delivery is refused, and nothing is posted for it.
    let stale = CREATED.as_bytes().to_vec();
    let (status, _) = post(stale).await;
    assert_eq!(status, 401);
    assert_eq!(linear.activities().len(), 6);
}

/// Puts `key` back to running under `owner`'s lease until `expires_at`, as if a run held it
/// (a lease in the past: its runner died).
async fn hold_as_running(
    store: &dyn baton_core::ports::Store,
    key: &WorkItemKey,
    owner: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) {
    let mut item = store.get_work_item(key).await.expect("read").expect("item");
    let expected = Some(item.version);
    item.status = WorkItemStatus::Running;
    item.cancel_requested = false;
    item.lease = Some(Lease {
        owner: owner.to_owned(),
        run_id: RunId::generate(),
        expires_at,
    });
    item.version += 1;
    store.put_work_item(&item, expected).await.expect("written");
}

/// The mock agent's workflow for Linear issues, playing `scenario`, with no write-back.
fn linear_workflow(workspaces: &std::path::Path, scenario: &str) -> Workflow {
    Workflow::parse(&format!(
        "---\ntracker: {{kind: linear}}\n\
         agent_provider: {{kind: mock, options: {{scenario: {scenario}}}}}\n\
         agent: {{max_turns: 1, max_continuations: 0, max_attempts: 1}}\n\
         workspace: {{root: \"{}\"}}\n---\nFix {{{{ issue.identifier }}}}\n",
        workspaces.display()
    ))
    .expect("workflow")
}

/// The ingress and a runner sharing a store and queue, both reporting to one Linear fake,
/// with the mock agent playing `scenario`.
struct AgentDeployment {
    linear: LinearFake,
    app: common::TestApp,
    shutdown: CancellationToken,
    runner: tokio::task::JoinHandle<()>,
    _api: FakeApi,
    _scratch: common::control_plane::Scratch,
}

impl AgentDeployment {
    async fn start(backend: Backend, scenario: &str) -> Self {
        let linear = LinearFake::default();
        let api = FakeApi::spawn(linear.router()).await;
        let endpoint = format!("{}/graphql", api.url());
        let env = move |name: &str| match name {
            "LINEAR_AGENT_TOKEN" => Some(AGENT_TOKEN.to_owned()),
            "LINEAR_AGENT_API_URL" => Some(endpoint.clone()),
            _ => None,
        };
        let scratch = common::control_plane::Scratch::new("baton-linear-agent");
        let workflow = linear_workflow(&scratch.0.join("workspaces"), scenario);
        let (store, queue) = backends(backend).await;
        let plan = RunPlan::from_workflow(
            &workflow,
            Some(&MockAgentCommand(vec![
                env!("CARGO_BIN_EXE_baton").to_owned(),
                "mock-agent".to_owned(),
            ])),
        )
        .expect("plan");
        let runner = Runner::new(
            store.clone(),
            queue.clone(),
            Arc::new(SystemClock),
            common::control_plane::runner_settings("runner-in-linear-test"),
            plan,
            Redactor::default(),
        );
        let for_runner = agent_sessions::for_runner(&env).expect("settings");
        runner.report_agent_sessions_to(for_runner.expect("a token is set"));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(runner.run(shutdown.clone()));
        let sessions = agent_sessions::for_ingress(&env)
            .expect("settings")
            .expect("a token is set");
        let ingress = Ingress::new(
            &workflow,
            all_secrets(),
            store.clone(),
            queue.clone(),
            Arc::new(SystemClock),
            IngressSettings::default(),
        )
        .with_agent_sessions(sessions, Some(PUBLIC_URL.to_owned()));
        let app = serve_router(router(Arc::new(ingress)), store, queue).await;
        Self {
            linear,
            app,
            shutdown,
            runner: task,
            _api: api,
            _scratch: scratch,
        }
    }

    /// Sends `fixture` now, signed; answers the status and the body.
    async fn send(&self, fixture: &str) -> (u16, serde_json::Value) {
        let body = fresh(fixture);
        let headers = signing::linear(
            LINEAR_SECRET,
            "AgentSessionEvent",
            &uuid::Uuid::new_v4().to_string(),
            &body,
        );
        self.app.post("linear", &headers, body).await
    }

    /// The session's activities once one of type `kind` is among them (endings are posted
    /// in the background, after the actions before them), with their types.
    async fn activities_until(&self, kind: &str) -> (Vec<linear_api::FakeActivity>, Vec<String>) {
        let mut activities = self.linear.activities();
        for _ in 0..100 {
            if activities.iter().any(|a| a.content["type"] == kind) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            activities = self.linear.activities();
        }
        assert!(
            activities.iter().all(|a| a.session == SESSION),
            "{activities:?}"
        );
        let kinds = activities
            .iter()
            .map(|a| a.content["type"].as_str().unwrap_or_default().to_owned())
            .collect();
        (activities, kinds)
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.runner.await;
    }
}

/// The activities that end a session's turn: exactly one follows each run.
fn endings(kinds: &[String]) -> usize {
    kinds
        .iter()
        .filter(|k| ["response", "error", "elicitation"].contains(&k.as_str()))
        .count()
}

/// A session's whole run, through the real ingress, runner and mock agent: the session sees
/// the thought, an `action` for each command the agent ran, then a `response` when the run
/// succeeds; a run that fails for good ends with an `error` instead, naming the failure.
async fn a_run_reports_its_commands_and_its_end_in_the_session(backend: Backend) {
    for (scenario, ending) in [("happy_path", "response"), ("failed_turn", "error")] {
        let deployment = AgentDeployment::start(backend, scenario).await;
        let (status, answer) = deployment.send(CREATED).await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (202, Some("queued")),
            "{answer}"
        );

        let store = &*deployment.app.store;
        let key = WorkItemKey::parse("linear:ENG-42").expect("key");
        let done = common::control_plane::wait_for_item(store, &key, "the run's end", |item| {
            matches!(
                item.status,
                WorkItemStatus::Succeeded | WorkItemStatus::Failed | WorkItemStatus::DeadLettered
            )
        })
        .await;
        let (activities, kinds) = deployment.activities_until(ending).await;
        assert_eq!(
            kinds.first().map(String::as_str),
            Some("thought"),
            "{scenario}: {kinds:?}"
        );
        assert_eq!(
            kinds.last().map(String::as_str),
            Some(ending),
            "{scenario}: {kinds:?}"
        );
        assert_eq!(endings(&kinds), 1, "{scenario}: one ending: {kinds:?}");
        let last = &activities[activities.len() - 1].content;
        if scenario == "happy_path" {
            assert_eq!(done.status, WorkItemStatus::Succeeded);
            assert!(
                kinds.iter().any(|k| k == "action"),
                "the agent's commands: {kinds:?}"
            );
            let action = activities
                .iter()
                .find(|a| a.content["type"] == "action")
                .expect("an action");
            assert_eq!(action.content["action"], "Ran", "{activities:?}");
            assert!(
                last["body"].as_str().is_some_and(|b| b.starts_with("Done")),
                "{last}"
            );
            // The agent was given what the person wrote in the session.
            let runs = common::control_plane::wait_for_runs(store, &key, 1).await;
            let timeline = common::control_plane::events(store, &runs[0]).await;
            assert!(
                timeline.iter().any(|e| e.kind == "session_request"),
                "{timeline:?}"
            );
        } else {
            // Its one attempt failed: the job is dead-lettered, and the session told so.
            assert_eq!(done.status, WorkItemStatus::DeadLettered);
            assert!(
                last["body"]
                    .as_str()
                    .is_some_and(|b| b.contains("The run failed")),
                "{last}"
            );
        }
        deployment.stop().await;
    }
}

/// Pressing stop in the session while the agent works: the run is cancelled, the agent
/// process is stopped, and the session's last word is one `response` saying it stopped,
/// after every activity of the run.
async fn stopping_the_session_stops_the_run_and_says_so_last(backend: Backend) {
    let deployment = AgentDeployment::start(backend, "stall").await;
    let (status, answer) = deployment.send(CREATED).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("queued")),
        "{answer}"
    );
    let store = &*deployment.app.store;
    let key = WorkItemKey::parse("linear:ENG-42").expect("key");
    common::control_plane::wait_for_item(store, &key, "the run to start", |item| {
        item.status == WorkItemStatus::Running
    })
    .await;

    let (status, answer) = deployment.send(STOPPED).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (200, Some("cancel_requested")),
        "{answer}"
    );
    let item = common::control_plane::wait_for_item(store, &key, "the run to stop", |item| {
        item.status == WorkItemStatus::Cancelled
    })
    .await;
    assert!(
        item.pending_job.is_none(),
        "nothing runs after a stop: {item:?}"
    );
    let runs = common::control_plane::wait_for_runs(store, &key, 1).await;
    assert_eq!(runs[0].status, RunStatus::Cancelled, "{:?}", runs[0]);

    let (activities, kinds) = deployment.activities_until("response").await;
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("thought"),
        "{kinds:?}"
    );
    let stopping = activities
        .iter()
        .filter(|a| a.content["type"] == "thought")
        .filter_map(|a| a.content["body"].as_str())
        .collect::<Vec<_>>();
    assert!(
        stopping
            .iter()
            .any(|b| b.starts_with("Stopping the run on ENG-42")),
        "{stopping:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("response"),
        "{kinds:?}"
    );
    assert_eq!(endings(&kinds), 1, "one final word: {kinds:?}");
    let last = &activities[activities.len() - 1].content;
    assert!(
        last["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("Stopped")),
        "{last}"
    );
    deployment.stop().await;
}
