//! The GitHub platform passes the repo contract against a fake GitHub API, with a token and
//! with GitHub App authentication.

use async_trait::async_trait;
use base64::Engine as _;
use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::repo::{run_all, RepoHarness, SeenPull};
use baton_integrations::http::RetryPolicy;
use baton_integrations::repo::github::GithubPlatform;
use baton_integrations::repo::{CheckState, RepoError, RepoPlatform};
use baton_integrations::test_support::fakes::github::{FakeCheckRun, GithubFake};
use baton_integrations::test_support::{FakeApi, Fault, RecordedRequest};
use serde_json::{json, Value};

const TOKEN: &str = "ghp_contractTOKEN123";
const PRIVATE_KEY: &str = include_str!("fixtures/test_only_github_app_key.pem");
const PUBLIC_KEY: &str = include_str!("fixtures/test_only_github_app_key.pub.pem");

struct GithubHarness {
    fake: GithubFake,
    api: FakeApi,
    platform: GithubPlatform,
}

fn platform(url: &str, options: Value) -> GithubPlatform {
    let mut options = options;
    options["base_url"] = json!(url);
    let env = |name: &str| match name {
        "TEST_GITHUB_TOKEN" => Some(TOKEN.to_owned()),
        "TEST_APP_KEY" => Some(PRIVATE_KEY.to_owned()),
        _ => None,
    };
    GithubPlatform::from_config(&AdapterConfig {
        kind: "github",
        options: &options,
        env: &env,
        policy: RetryPolicy::fast(),
    })
    .expect("GitHub platform from config")
}

fn run(status: &str, conclusion: Option<&str>) -> FakeCheckRun {
    FakeCheckRun {
        name: "build".into(),
        status: status.into(),
        conclusion: conclusion.map(Into::into),
    }
}

#[async_trait]
impl RepoHarness for GithubHarness {
    fn platform(&self) -> &dyn RepoPlatform {
        &self.platform
    }

    async fn push_commit(&self, branch: &str) -> String {
        self.fake.push(branch)
    }

    async fn request_changes(&self, number: u64, body: &str, path: &str, line: u64, text: &str) {
        self.fake
            .add_review(number, "CHANGES_REQUESTED", body, &[(path, line, text)]);
    }

    async fn approve(&self, number: u64) {
        self.fake.add_review(number, "APPROVED", "", &[]);
    }

    async fn set_checks(&self, number: u64, state: CheckState) {
        let sha = self.fake.head_sha(number);
        // Each non-empty state mixes check runs and commit statuses, so the adapter must
        // read and combine both.
        let (runs, statuses) = match state {
            CheckState::None => (vec![], vec![]),
            CheckState::Pending => (
                vec![run("completed", Some("success")), run("in_progress", None)],
                vec!["success"],
            ),
            CheckState::Failing => (
                vec![
                    run("completed", Some("success")),
                    run("completed", Some("skipped")),
                ],
                vec!["success", "failure"],
            ),
            CheckState::Passing => (
                vec![
                    run("completed", Some("success")),
                    run("completed", Some("neutral")),
                    run("completed", Some("success")),
                ],
                vec!["success"],
            ),
        };
        self.fake.set_check_runs(&sha, runs);
        self.fake.set_statuses(&sha, &statuses);
    }

    async fn pulls(&self) -> Vec<SeenPull> {
        self.fake
            .pulls()
            .into_iter()
            .map(|p| SeenPull {
                number: p.number,
                open: p.state == "open",
                merged: p.merged,
                head: p.head,
                base: p.base,
                title: p.title,
                body: p.body,
                labels: p.labels,
            })
            .collect()
    }

    async fn requested_reviewers(&self, number: u64) -> Option<Vec<String>> {
        Some(self.fake.pull(number)?.requested_reviewers)
    }

    async fn comments(&self, number: u64) -> Vec<String> {
        self.fake
            .comments(number)
            .into_iter()
            .map(|c| c.body)
            .collect()
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

    fn credential(&self) -> Option<String> {
        Some(TOKEN.to_owned())
    }
}

#[tokio::test]
async fn github_platform_passes_the_contract() {
    let fake = GithubFake::new("acme/app").require_token(TOKEN);
    let api = FakeApi::spawn(fake.router()).await;
    let platform = platform(
        &api.url(),
        json!({"repository": "acme/app", "token": "$TEST_GITHUB_TOKEN"}),
    );
    let harness = GithubHarness {
        fake,
        api,
        platform,
    };
    run_all(&harness).await;
}

/// The public key's PKCS#1 DER, from the test-only fixture.
fn public_key_der() -> Vec<u8> {
    let body: String = PUBLIC_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

async fn app_setup(installation_id: Option<u64>) -> (GithubFake, FakeApi, GithubPlatform) {
    let fake = GithubFake::new("acme/app")
        .require_token("unused-static-token")
        .with_app("4242", public_key_der(), 77);
    let api = FakeApi::spawn(fake.router()).await;
    let mut options =
        json!({"repository": "acme/app", "app_id": 4242, "private_key": "$TEST_APP_KEY"});
    if let Some(id) = installation_id {
        options["installation_id"] = json!(id);
    }
    let platform = platform(&api.url(), options);
    (fake, api, platform)
}

fn exchanges(api: &FakeApi) -> Vec<RecordedRequest> {
    api.requests()
        .into_iter()
        .filter(|r| r.uri.ends_with("/access_tokens"))
        .collect()
}

#[tokio::test]
async fn a_github_app_exchanges_a_signed_jwt_for_a_repository_token_once() {
    let (fake, api, platform) = app_setup(None).await;
    fake.push("baton/app");
    let spec = baton_integrations::repo::PullRequestSpec {
        head: "baton/app".into(),
        base: "main".into(),
        title: "App".into(),
        body: "Opened as an App.".into(),
        labels: vec![],
    };
    let pull = platform
        .ensure_pull_request(&spec)
        .await
        .expect("ensure as an App");
    platform
        .comment(pull.number, "evidence")
        .await
        .expect("comment as an App");
    let credential = platform
        .git_credential()
        .await
        .expect("git credential")
        .expect("an App gives git a credential");

    let app = fake.app().unwrap();
    assert_eq!(
        app.installation_lookups, 1,
        "the installation is looked up once"
    );
    assert_eq!(
        app.exchanges,
        vec![json!(["app"])],
        "one exchange, scoped to the one repository"
    );
    assert_eq!(exchanges(&api).len(), 1);
    let (token, _) = app.issued[0].clone();
    // Every repository call used the installation token, never the JWT.
    for request in api.requests() {
        if request.uri.starts_with("/repos/acme/app/") && !request.uri.ends_with("/installation") {
            assert_eq!(
                request.header("authorization"),
                Some(format!("Bearer {token}").as_str()),
                "{}",
                request.uri
            );
        }
    }
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    let env = baton_integrations::repo::git::clone_env(Some(&credential));
    assert!(
        env.iter().any(|(_, v)| v.ends_with(&encoded)),
        "git gets the installation token"
    );
    assert!(!format!("{credential:?} {platform:?}").contains(&token));
}

#[tokio::test]
async fn a_configured_installation_is_not_looked_up_and_short_lived_tokens_are_renewed() {
    let (fake, api, platform) = app_setup(Some(77)).await;
    // Shorter than the renewal margin: every call must exchange again.
    fake.update_app(|app| app.token_lifetime = chrono::Duration::minutes(2));
    fake.push("baton/renew");
    platform.find_pull_request("baton/renew").await.unwrap();
    platform.find_pull_request("baton/renew").await.unwrap();
    let app = fake.app().unwrap();
    assert_eq!(app.installation_lookups, 0);
    assert_eq!(
        exchanges(&api).len(),
        2,
        "a token about to expire is renewed"
    );
}

#[tokio::test]
async fn a_revoked_installation_token_is_replaced_on_the_next_call() {
    let (fake, api, platform) = app_setup(Some(77)).await;
    platform.find_pull_request("baton/x").await.unwrap();
    let token = fake.app().unwrap().issued[0].0.clone();
    fake.update_app(|app| app.revoked.push(token));
    let refused = platform.find_pull_request("baton/x").await;
    assert!(
        matches!(&refused, Err(RepoError::Api(e)) if e.status() == Some(401)),
        "{refused:?}"
    );
    platform
        .find_pull_request("baton/x")
        .await
        .expect("a new token after the 401");
    assert_eq!(exchanges(&api).len(), 2);
}

#[tokio::test]
async fn a_jwt_from_another_app_is_refused() {
    let (fake, _api, platform) = app_setup(Some(77)).await;
    fake.update_app(|app| app.app_id = "9999".into());
    let refused = platform.find_pull_request("baton/x").await;
    assert!(
        matches!(&refused, Err(RepoError::Api(e)) if e.status() == Some(401)),
        "{refused:?}"
    );
}
