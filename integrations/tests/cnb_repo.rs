//! The CNB platform passes the repo contract against a fake CNB OpenAPI.

use baton_test_support::fakes::cnb_repo_api;

use async_trait::async_trait;
use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::repo::{run_all, RepoHarness, SeenPull};
use baton_integrations::http::RetryPolicy;
use baton_integrations::repo::cnb::CnbPlatform;
use baton_integrations::repo::{CheckState, RepoPlatform};
use baton_integrations::test_support::{FakeApi, Fault, RecordedRequest};
use cnb_repo_api::CnbRepoFake;
use serde_json::json;

const TOKEN: &str = "cnb-contractTOKEN789";

struct CnbHarness {
    fake: CnbRepoFake,
    api: FakeApi,
    platform: CnbPlatform,
}

#[async_trait]
impl RepoHarness for CnbHarness {
    fn platform(&self) -> &dyn RepoPlatform {
        &self.platform
    }

    async fn push_commit(&self, branch: &str) -> String {
        self.fake.push(branch)
    }

    async fn request_changes(&self, number: u64, body: &str, path: &str, line: u64, text: &str) {
        // A draft review and a dismissed one must not reach the next run.
        self.fake.add_review(
            number,
            "pending",
            "Draft thoughts",
            &[("src/x.rs", 1, "draft")],
        );
        self.fake.add_review(number, "dismissed", "Outdated", &[]);
        self.fake
            .add_review(number, "changes_requested", body, &[(path, line, text)]);
    }

    async fn approve(&self, number: u64) {
        self.fake.add_review(number, "approved", "LGTM", &[]);
    }

    async fn set_checks(&self, number: u64, state: CheckState) {
        let statuses: &[&str] = match state {
            CheckState::None => &[],
            CheckState::Pending => &["success", "pending"],
            CheckState::Failing => &["pending", "error", "success"],
            CheckState::Passing => &["success", "success"],
        };
        self.fake
            .lock()
            .statuses
            .insert(number, statuses.iter().map(|s| (*s).to_owned()).collect());
    }

    async fn pulls(&self) -> Vec<SeenPull> {
        self.fake
            .lock()
            .pulls
            .iter()
            .map(|p| SeenPull {
                number: p.number,
                head: p.head.clone(),
                base: p.base.clone(),
                title: p.title.clone(),
                body: p.body.clone(),
                labels: p.labels.clone(),
                open: p.state == "open",
                merged: p.state == "merged",
            })
            .collect()
    }

    async fn comments(&self, number: u64) -> Vec<String> {
        self.fake
            .lock()
            .comments
            .iter()
            .filter(|(pull, _, _)| *pull == number)
            .map(|(_, _, body)| body.clone())
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
async fn cnb_platform_passes_the_contract() {
    let fake = CnbRepoFake::new("acme/app", TOKEN);
    let api = FakeApi::spawn(fake.router()).await;
    let options = json!({
        "repository": "acme/app",
        "base_url": api.url(),
        "token": "$TEST_CNB_TOKEN",
        "merge_style": "squash",
    });
    let env = |name: &str| (name == "TEST_CNB_TOKEN").then(|| TOKEN.to_owned());
    let platform = CnbPlatform::from_config(&AdapterConfig {
        kind: "cnb",
        options: &options,
        env: &env,
        policy: RetryPolicy::fast(),
    })
    .expect("CNB platform from config");
    let harness = CnbHarness {
        fake,
        api,
        platform,
    };
    run_all(&harness).await;

    // A stale head is caught before the merge call: only the current sha reached the API.
    assert_eq!(harness.fake.lock().merge_styles, vec!["squash".to_owned()]);
    // Pending reviews are skipped without fetching their comments.
    let pending = harness
        .fake
        .lock()
        .reviews
        .iter()
        .find(|r| r.state == "pending")
        .map(|r| r.id.clone())
        .unwrap();
    assert!(!harness
        .requests()
        .iter()
        .any(|r| r.uri.contains(&format!("/reviews/{pending}/comments"))));
    assert_eq!(
        harness.platform.clone_url(),
        format!("{}/acme/app.git", harness.api.url())
    );
}
