//! The GitLab platform passes the repo contract against a fake GitLab API.

use async_trait::async_trait;
use baton_integrations::config::AdapterConfig;
use baton_integrations::contract::repo::{run_all, RepoHarness, SeenPull};
use baton_integrations::http::RetryPolicy;
use baton_integrations::repo::gitlab::GitlabPlatform;
use baton_integrations::repo::{CheckState, RepoPlatform, ReviewVerdict};
use baton_integrations::test_support::fakes::gitlab::GitlabFake;
use baton_integrations::test_support::{FakeApi, Fault, RecordedRequest};
use serde_json::json;

const TOKEN: &str = "glpat-contractTOKEN456";

struct GitlabHarness {
    fake: GitlabFake,
    api: FakeApi,
    platform: GitlabPlatform,
}

#[async_trait]
impl RepoHarness for GitlabHarness {
    fn platform(&self) -> &dyn RepoPlatform {
        &self.platform
    }

    async fn push_commit(&self, branch: &str) -> String {
        let sha = self.fake.push(branch);
        let open: Vec<u64> = self
            .fake
            .merge_requests()
            .iter()
            .filter(|m| m.source_branch == branch && m.state == "opened")
            .map(|m| m.iid)
            .collect();
        for iid in open {
            self.fake.add_system_note(iid, "added 1 commit");
        }
        sha
    }

    async fn request_changes(&self, number: u64, body: &str, path: &str, line: u64, text: &str) {
        self.fake.add_thread(number, "reviewer", body, None, false);
        self.fake
            .add_thread(number, "reviewer", text, Some((path, line)), false);
        // Settled threads ask for nothing.
        self.fake
            .add_thread(number, "reviewer", "Old nit, already fixed.", None, true);
    }

    async fn approve(&self, number: u64) {
        self.fake.approve(number, "lead");
    }

    async fn set_checks(&self, number: u64, state: CheckState) {
        let head = self.fake.head_sha(number);
        let old = "0".repeat(40);
        let pipelines: &[(&str, &str)] = match state {
            // Only an older commit has a pipeline: the head has none.
            CheckState::None => &[(&old, "failed")],
            CheckState::Pending => &[(&head, "failed"), (&head, "running")],
            CheckState::Failing => &[(&head, "success"), (&head, "failed")],
            CheckState::Passing => &[(&head, "failed"), (&old, "failed"), (&head, "success")],
        };
        self.fake.set_pipelines(number, pipelines);
    }

    async fn pulls(&self) -> Vec<SeenPull> {
        self.fake
            .merge_requests()
            .into_iter()
            .map(|m| SeenPull {
                number: m.iid,
                open: m.state == "opened",
                merged: m.state == "merged",
                head: m.source_branch,
                base: m.target_branch,
                title: m.title,
                body: m.description,
                labels: m.labels,
            })
            .collect()
    }

    async fn comments(&self, number: u64) -> Vec<String> {
        self.fake
            .discussions(number)
            .into_iter()
            .filter(|d| d.individual_note)
            .flat_map(|d| d.notes.into_iter().filter(|n| !n.system))
            .map(|n| n.body)
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

async fn harness() -> GitlabHarness {
    let fake = GitlabFake::new("group/sub/app").require_token(TOKEN);
    let api = FakeApi::spawn(fake.router()).await;
    let options = json!({
        "project": "group/sub/app",
        "base_url": format!("{}/api/v4", api.url()),
        "token": "$TEST_GITLAB_TOKEN",
    });
    let env = |name: &str| (name == "TEST_GITLAB_TOKEN").then(|| TOKEN.to_owned());
    let platform = GitlabPlatform::from_config(&AdapterConfig {
        kind: "gitlab",
        options: &options,
        env: &env,
        policy: RetryPolicy::fast(),
    })
    .expect("GitLab platform from config");
    GitlabHarness {
        fake,
        api,
        platform,
    }
}

#[tokio::test]
async fn gitlab_platform_passes_the_contract() {
    let harness = harness().await;
    run_all(&harness).await;
    // The project path travels as one encoded segment.
    assert!(harness
        .requests()
        .iter()
        .all(|r| r.uri.starts_with("/api/v4/projects/group%2Fsub%2Fapp/")));
}

#[tokio::test]
async fn a_diff_thread_keeps_its_replies_and_the_clone_url_follows_the_web_address() {
    let h = harness().await;
    h.fake.push("baton/threads");
    let pull = h
        .platform
        .ensure_pull_request(&baton_integrations::repo::PullRequestSpec {
            head: "baton/threads".into(),
            base: "main".into(),
            title: "Threads".into(),
            body: String::new(),
            labels: vec![],
        })
        .await
        .unwrap();
    let thread = h.fake.add_thread(
        pull.number,
        "ann",
        "Rename this",
        Some(("src/a.rs", 9)),
        false,
    );
    h.fake.add_reply(&thread, "bob", "Agreed");
    let reviews = h.platform.reviews(pull.number).await.unwrap();
    assert_eq!(reviews.len(), 1, "{reviews:?}");
    let review = &reviews[0];
    assert_eq!(review.verdict, ReviewVerdict::ChangesRequested);
    assert_eq!(review.author, "ann");
    assert_eq!(
        review.body, "",
        "a diff thread's opening note is an inline comment"
    );
    let bodies: Vec<&str> = review.comments.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["Rename this", "Agreed"]);
    assert_eq!(review.comments[0].path.as_deref(), Some("src/a.rs"));
    assert_eq!(review.comments[0].line, Some(9));
    assert_eq!(
        h.platform.clone_url(),
        format!("{}/group/sub/app.git", h.api.url())
    );
}
