//! baton as a Linear agent, at the ingress: a signed `AgentSessionEvent` queues a run of the
//! issue's work item, and the session is acknowledged (a `thought`, and the dashboard link)
//! before the webhook is answered; a follow-up message continues the same work item. Linear
//! is the one fake of its GraphQL API, answering in its shapes.

#[macro_use]
mod common;
#[path = "../integrations/tests/fakes/linear_api.rs"]
mod linear_api;

use baton_core::clock::SystemClock;
use baton_core::domain::{JobReason, WorkItemKey, WorkItemStatus};
use baton_core::ingress::{router, Ingress, IngressSettings};
use baton_core::workflow::Workflow;
use baton_integrations::test_support::FakeApi;
use baton_integrations::wiring::agent_sessions;
use common::{all_secrets, backends, serve_router, signing, Backend, LINEAR_SECRET};
use linear_api::{LinearFake, AGENT_TOKEN};
use std::sync::Arc;

on_both_backends!(a_session_is_acknowledged_before_the_answer_and_a_prompt_continues_the_item);

const CREATED: &str =
    include_str!("../core/src/webhooks/fixtures/linear/agent_session_created.json");
const PROMPTED: &str =
    include_str!("../core/src/webhooks/fixtures/linear/agent_session_prompted.json");
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

    // A stale delivery is refused, and nothing is posted for it.
    let stale = CREATED.as_bytes().to_vec();
    let (status, _) = post(stale).await;
    assert_eq!(status, 401);
    assert_eq!(linear.activities().len(), 2);
}
