//! The tracker harness shared by adapters tested against the fake of their HTTP API (GitHub,
//! GitLab): the adapter built from its options by the registry, the fake served by
//! [`FakeApi`], and the [`TrackerHarness`] over both. A test file declares only what
//! differs, in a [`FakeTracker`].

use super::tracker::{SeedIssue, TrackerHarness};
use crate::config::AdapterConfig;
use crate::http::RetryPolicy;
use crate::test_support::fakes::{github, gitlab};
use crate::test_support::{FakeApi, Fault, RecordedRequest};
use crate::tracker::{registry, IssueRef, Tracker};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;

/// What the harness needs from a fake: its routes, and issues seeded and read back by the
/// number the fake gave them.
pub trait TrackerFake: Send + Sync {
    fn router(&self) -> axum::Router;
    /// Creates the issue as a person would; returns its number (GitHub) or iid (GitLab).
    fn seed(&self, issue: SeedIssue) -> u64;
    /// The issue's comments (notes), oldest first.
    fn comments(&self, number: u64) -> Vec<String>;
    fn state(&self, number: u64) -> Option<String>;
}

impl TrackerFake for github::GithubFake {
    fn router(&self) -> axum::Router {
        github::GithubFake::router(self)
    }

    fn seed(&self, issue: SeedIssue) -> u64 {
        self.add_issue(github::NewIssue {
            body: Some(issue.description),
            labels: issue.labels,
            state: issue.state,
            ..github::NewIssue::new(&issue.title)
        })
    }

    fn comments(&self, number: u64) -> Vec<String> {
        github::GithubFake::comments(self, number)
            .into_iter()
            .map(|c| c.body)
            .collect()
    }

    fn state(&self, number: u64) -> Option<String> {
        self.issue(number).map(|i| i.state)
    }
}

impl TrackerFake for gitlab::GitlabFake {
    fn router(&self) -> axum::Router {
        gitlab::GitlabFake::router(self)
    }

    fn seed(&self, issue: SeedIssue) -> u64 {
        self.add_issue(gitlab::NewIssue {
            description: Some(issue.description),
            labels: issue.labels,
            state: issue.state,
            ..gitlab::NewIssue::new(&issue.title)
        })
    }

    fn comments(&self, iid: u64) -> Vec<String> {
        self.notes(iid).into_iter().map(|n| n.body).collect()
    }

    fn state(&self, iid: u64) -> Option<String> {
        self.issue(iid).map(|i| i.state)
    }
}

/// How a test file's tracker is configured against its fake.
pub struct FakeTracker {
    /// The registry kind: `github`, `gitlab`.
    pub kind: &'static str,
    /// The option naming the issues' home (`repository`, `project`), and its value.
    pub scope: (&'static str, &'static str),
    /// Where the API lives under the fake's URL: `""`, or `/api/v4` for GitLab.
    pub api_path: &'static str,
    /// The token, and the variable the options name for it.
    pub token: &'static str,
    pub token_variable: &'static str,
    /// The process environment the adapter sees: the token variable only.
    pub env: fn(&str) -> Option<String>,
    /// A state the workflow treats as active, and one as done, in the tracker's names.
    pub active_state: &'static str,
    pub done_state: &'static str,
    /// A number no seeded issue has.
    pub missing: u64,
}

impl FakeTracker {
    /// The adapter's options for the fake served by `api`, with `extra` on top.
    pub fn options(&self, api: &FakeApi, extra: Value) -> Value {
        let mut options = json!({
            "base_url": format!("{}{}", api.url(), self.api_path),
            "token": format!("${}", self.token_variable),
        });
        if let Some(options) = options.as_object_mut() {
            options.insert(self.scope.0.to_owned(), json!(self.scope.1));
            if let Some(extra) = extra.as_object() {
                options.extend(extra.clone());
            }
        }
        options
    }

    pub fn config<'a>(&'a self, options: &'a Value) -> AdapterConfig<'a> {
        AdapterConfig {
            kind: self.kind,
            options,
            env: &self.env,
            policy: RetryPolicy::fast(),
        }
    }

    /// How the adapter addresses issue `number`: `<scope>#<number>`.
    pub fn reference(&self, number: u64) -> IssueRef {
        IssueRef {
            id: number.to_string(),
            identifier: format!("{}#{number}", self.scope.1),
        }
    }

    /// `fake` served, and the adapter the registry builds for it with `extra_options`.
    pub async fn start<F: TrackerFake>(
        &'static self,
        fake: F,
        extra_options: Value,
    ) -> FakeTrackerHarness<F> {
        let api = FakeApi::spawn(fake.router()).await;
        let options = self.options(&api, extra_options);
        let tracker = registry::build(&self.config(&options))
            .unwrap_or_else(|e| panic!("build the {} tracker: {e}", self.kind));
        FakeTrackerHarness {
            fake,
            api,
            tracker,
            adapter: self,
        }
    }
}

/// A fake, the server in front of it, and the adapter talking to it.
pub struct FakeTrackerHarness<F> {
    pub fake: F,
    pub api: FakeApi,
    pub tracker: Arc<dyn Tracker>,
    pub adapter: &'static FakeTracker,
}

impl<F> FakeTrackerHarness<F> {
    pub fn reference(&self, number: u64) -> IssueRef {
        self.adapter.reference(number)
    }

    fn number(issue: &IssueRef) -> u64 {
        issue.id.parse().expect("an issue number")
    }
}

#[async_trait]
impl<F: TrackerFake> TrackerHarness for FakeTrackerHarness<F> {
    fn tracker(&self) -> &dyn Tracker {
        self.tracker.as_ref()
    }

    async fn seed(&self, issue: SeedIssue) -> IssueRef {
        self.reference(self.fake.seed(issue))
    }

    async fn comments(&self, issue: &IssueRef) -> Vec<String> {
        self.fake.comments(Self::number(issue))
    }

    async fn state(&self, issue: &IssueRef) -> String {
        self.fake.state(Self::number(issue)).unwrap_or_default()
    }

    fn active_state(&self) -> String {
        self.adapter.active_state.to_owned()
    }

    fn done_state(&self) -> String {
        self.adapter.done_state.to_owned()
    }

    fn missing_issue(&self) -> IssueRef {
        self.reference(self.adapter.missing)
    }

    fn paginates(&self) -> bool {
        true
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
        Some(self.adapter.token.to_owned())
    }
}
