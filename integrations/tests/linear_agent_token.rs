//! baton's Linear agent credential against the Linear fake's token endpoint: with client
//! credentials, one token is asked for and shared, renewed before it runs out and at once
//! when Linear refuses it; wrong credentials fail with Linear's reason and never show the
//! secret.

use baton_test_support::fakes::linear_api;

use baton_core::ports::{Activity, AgentSessions};
use baton_integrations::test_support::FakeApi;
use baton_integrations::wiring::agent_sessions;
use linear_api::{LinearFake, CLIENT_ID, CLIENT_SECRET};
use std::sync::Arc;
use std::time::Duration;

const SESSION: &str = "a9e75e55-1010-4c2d-9e8f-000000000042";

struct Linear {
    fake: LinearFake,
    _api: FakeApi,
    sessions: Arc<dyn AgentSessions>,
}

/// The runner's client for agent sessions, authenticating with `secret` as the client secret.
async fn with_client_secret(secret: &'static str) -> Linear {
    let fake = LinearFake::default();
    let api = FakeApi::spawn(fake.router()).await;
    let base = api.url().to_owned();
    let env = move |name: &str| match name {
        "LINEAR_AGENT_CLIENT_ID" => Some(CLIENT_ID.to_owned()),
        "LINEAR_AGENT_CLIENT_SECRET" => Some(secret.to_owned()),
        "LINEAR_AGENT_API_URL" => Some(format!("{base}/graphql")),
        "LINEAR_AGENT_TOKEN_URL" => Some(format!("{base}/oauth/token")),
        _ => None,
    };
    let sessions = agent_sessions::for_runner(&env)
        .expect("settings")
        .expect("client credentials are set");
    Linear {
        fake,
        _api: api,
        sessions,
    }
}

fn thought(n: usize) -> Activity {
    Activity::Thought {
        body: format!("step {n}"),
    }
}

#[tokio::test]
async fn one_token_is_asked_for_and_shared_by_every_post() {
    let linear = with_client_secret(CLIENT_SECRET).await;
    // Posts at once wait for the one request for a token.
    let mut posts = tokio::task::JoinSet::new();
    for n in 0..5 {
        let sessions = linear.sessions.clone();
        posts.spawn(async move { sessions.post_activity(SESSION, &thought(n)).await });
    }
    while let Some(posted) = posts.join_next().await {
        posted.expect("joined").expect("posted");
    }
    linear
        .sessions
        .set_external_url(SESSION, "https://baton.example.test/issues/x")
        .await
        .expect("linked");
    assert_eq!(linear.fake.activities().len(), 5);
    assert_eq!(
        linear.fake.token_requests(),
        vec!["read,write,app:assignable,app:mentionable".to_owned()],
        "one request, with the agent's scopes"
    );
}

#[tokio::test]
async fn a_refused_token_is_replaced_at_once_and_the_post_goes_through() {
    let linear = with_client_secret(CLIENT_SECRET).await;
    linear
        .sessions
        .post_activity(SESSION, &thought(1))
        .await
        .expect("posted");
    linear.fake.revoke_tokens();
    linear
        .sessions
        .post_activity(SESSION, &thought(2))
        .await
        .expect("posted with a new token");
    assert_eq!(linear.fake.activities().len(), 2);
    assert_eq!(linear.fake.token_requests().len(), 2);
    // Refused again at once (the app lost its access, say): the post fails, and no token
    // is asked for on every post.
    linear.fake.revoke_tokens();
    for n in 3..6 {
        let error = linear
            .sessions
            .post_activity(SESSION, &thought(n))
            .await
            .expect_err("refused");
        assert!(error.to_string().contains("401"), "{error}");
    }
    assert_eq!(linear.fake.token_requests().len(), 2);
}

#[tokio::test]
async fn a_token_near_the_end_of_its_life_is_renewed_before_use() {
    let linear = with_client_secret(CLIENT_SECRET).await;
    linear.fake.set_token_lifetime(1);
    linear
        .sessions
        .post_activity(SESSION, &thought(1))
        .await
        .expect("posted");
    // Past nine tenths of the token's second: the next post asks for a new one first.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    linear
        .sessions
        .post_activity(SESSION, &thought(2))
        .await
        .expect("posted");
    assert_eq!(linear.fake.token_requests().len(), 2);
}

#[tokio::test]
async fn wrong_client_credentials_fail_with_linears_reason_and_no_secret() {
    const WRONG: &str = "lin_client_secret_wrong9876543210";
    let linear = with_client_secret(WRONG).await;
    let error = linear
        .sessions
        .post_activity(SESSION, &thought(1))
        .await
        .expect_err("refused");
    let said = error.to_string();
    assert!(said.contains("invalid_client"), "{said}");
    assert!(said.contains("401"), "{said}");
    assert!(said.contains("/oauth/token"), "names the endpoint: {said}");
    assert!(!said.contains(WRONG), "{said}");
    assert!(linear.fake.activities().is_empty());
    assert!(linear.fake.token_requests().is_empty());
    assert_eq!(linear.fake.token_attempts(), 1);
    // The next posts fail with the same reason without asking again for a while.
    for n in 2..5 {
        let again = linear
            .sessions
            .post_activity(SESSION, &thought(n))
            .await
            .expect_err("still refused");
        assert_eq!(again.to_string(), said);
    }
    assert_eq!(
        linear.fake.token_attempts(),
        1,
        "one request, not one per post"
    );
}
