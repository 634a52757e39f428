//! The contract's transport cases: how a platform's client meets rate limits, server and
//! client errors and malformed answers, and where its credential travels.

use super::{open, RepoHarness};
use crate::test_support::Fault;

/// Runs every transport case.
pub(super) async fn run_all(h: &dyn RepoHarness) {
    rate_limits_are_waited_out(h).await;
    server_errors_get_a_bounded_retry(h).await;
    client_errors_are_not_retried(h).await;
    malformed_answers_are_errors(h).await;
    credential_travels_in_a_header(h).await;
    git_gets_the_credential_without_showing_it(h).await;
}

async fn rate_limits_are_waited_out(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/rate-limited").await;
    if !h.inject(Fault::rate_limited(1)) {
        return;
    }
    let pull = h.platform().get_pull_request(number).await;
    assert!(pull.is_ok(), "429 then success: {pull:?}");
}

async fn server_errors_get_a_bounded_retry(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/server-down").await;
    if !h.inject(Fault::status(503, 50)) {
        return;
    }
    let before = h.requests().len();
    let pull = h.platform().get_pull_request(number).await;
    let sent = h.requests().len() - before;
    h.clear_faults();
    assert!(pull.is_err(), "503s must end in an error: {pull:?}");
    assert!(
        (2..=6).contains(&sent),
        "503: {sent} requests; want a few retries, bounded"
    );
}

async fn client_errors_are_not_retried(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/unauthorized").await;
    if !h.inject(Fault::status(401, 1)) {
        return;
    }
    let before = h.requests().len();
    let result = h.platform().comment(number, "never").await;
    let sent = h.requests().len() - before;
    match result {
        Err(error) => assert_eq!(error.code(), "api_unauthorized", "401: {error}"),
        Ok(id) => panic!("401 must fail, got comment {id}"),
    }
    assert_eq!(sent, 1, "a 401 is not retried");
    assert!(
        h.comments(number).await.is_empty(),
        "a refused comment must not exist"
    );
}

async fn malformed_answers_are_errors(h: &dyn RepoHarness) {
    let (number, _) = open(h, "baton/malformed").await;
    if !h.inject(Fault::body(r#"{"unexpected": true}"#)) {
        return;
    }
    let pull = h.platform().get_pull_request(number).await;
    assert!(pull.is_err(), "a record without its fields: {pull:?}");
    if !h.inject(Fault::body("<html>gateway</html>")) {
        return;
    }
    let pull = h.platform().get_pull_request(number).await;
    assert!(pull.is_err(), "a non-JSON answer: {pull:?}");
}

async fn credential_travels_in_a_header(h: &dyn RepoHarness) {
    let Some(credential) = h.credential() else {
        return;
    };
    let requests = h.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert!(
            !request.uri.contains(&credential) && !request.body.contains(&credential),
            "credential in a URL or body: {} {}",
            request.method,
            request.uri
        );
        assert!(
            request.headers.iter().any(|(_, v)| v.contains(&credential)),
            "request without the credential: {} {}",
            request.method,
            request.uri
        );
    }
}

async fn git_gets_the_credential_without_showing_it(h: &dyn RepoHarness) {
    let url = h.platform().clone_url();
    let credential = h.platform().git_credential().await.expect("git_credential");
    let Some(secret) = h.credential() else {
        return;
    };
    assert!(!url.contains(&secret), "clone_url carries the credential");
    let credential = credential.expect("git_credential: a platform with a token gives one");
    let shown = format!("{credential:?}");
    assert!(
        !shown.contains(&secret),
        "Debug shows the credential: {shown}"
    );
    let env = crate::repo::git::clone_env(Some(&credential));
    let header = env
        .iter()
        .find(|(k, _)| k == "GIT_CONFIG_VALUE_0")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    assert!(
        header.starts_with("Authorization: Basic "),
        "git header: {}",
        credential.redact(&header)
    );
}
