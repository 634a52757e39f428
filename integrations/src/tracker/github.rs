//! GitHub Issues (REST v3) as a tracker.
//!
//! Settings (`tracker.provider`): `repository` (`owner/repo`, required), `base_url`
//! (default `https://api.github.com`; GitHub Enterprise is `https://HOST/api/v3`), `token`
//! (`$VARIABLE`, default `GITHUB_TOKEN`), and optionally `state_labels`.
//!
//! - An issue's id is its number as text; its identifier is `owner/repo#N`.
//! - GitHub's states are `open` and `closed`. Workflow states beyond those ("In Progress",
//!   "In Review") are labels on open issues, mapped by `state_labels` (see
//!   [`super::open_closed_states`]): `{"In Review": "status: in review"}` makes an open issue
//!   labelled `status: in review` be "In Review", and moving it there adds that label and
//!   takes off the other state labels.
//! - Pull requests share the issue numbering and show up in issue listings; they are not
//!   issues to this tracker, so listings skip them and fetching one finds nothing.
//! - Priority comes from a `priority:N` / `pN` label; `blocked_by` stays empty (GitHub's
//!   REST issue has no blocking relation).
//! - GitHub has no conditional issue update: the expected state is checked on a fresh read
//!   right before the write, which leaves a window of one round trip.

use super::open_closed_states::{IssueState, NativeNames, OpenClosedStates, OpenOrClose};
use super::priority_labels::priority_from_labels;
use super::{CommentRef, IssueRef, StateMove, Tracker, TrackerError, TrackerIssue};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::ApiClient;
use crate::pages::all_pages_up_to;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::{json, Value};

const SERVICE: &str = "github";
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";
pub const DEFAULT_TOKEN_VARIABLE: &str = "GITHUB_TOKEN";
const API_VERSION: &str = "2022-11-28";
/// The most GitHub serves per page.
const PAGE_SIZE: u32 = 100;
/// A listing longer than this many pages is a pagination loop, not a repository.
const MAX_PAGES: usize = 1_000;

const NATIVE: NativeNames = NativeNames {
    open: "open",
    closed: "closed",
    open_aliases: &[],
};

/// Everything but RFC 3986 unreserved characters, for a label name inside a path.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The issues of one GitHub repository. The token lives only in the client's sensitive
/// `Authorization` header, so `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct GithubTracker {
    api: ApiClient,
    /// `owner/repo`, checked to be two plain path segments.
    repository: String,
    states: OpenClosedStates,
}

impl GithubTracker {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let repository = config.required("repository")?;
        if !is_repository(&repository) {
            return Err(ConfigError::new(
                format!("{}.repository", config.kind),
                format!("`{repository}` is not `owner/repo`"),
            ));
        }
        let token = config.secret("token", DEFAULT_TOKEN_VARIABLE)?;
        let api = ApiClient::new(SERVICE, &config.base_url(DEFAULT_BASE_URL), config.policy)
            .and_then(|api| api.with_header("authorization", &format!("Bearer {token}"), true))
            .and_then(|api| api.with_header("accept", "application/vnd.github+json", false))
            .and_then(|api| api.with_header("x-github-api-version", API_VERSION, false))
            .map_err(|error| {
                ConfigError::new(format!("{}.provider", config.kind), error.to_string())
            })?;
        Ok(Self {
            api,
            repository,
            states: OpenClosedStates::from_config(config, NATIVE)?,
        })
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    fn issue_path(&self, number: u64) -> String {
        format!("/repos/{}/issues/{number}", self.repository)
    }

    /// The issue as GitHub has it now; `None` when it does not exist, was deleted, or is a
    /// pull request.
    async fn read(&self, number: u64) -> Result<Option<WireIssue>, TrackerError> {
        let path = self.issue_path(number);
        let response = match self.api.get(&path).await {
            Ok(response) => response,
            // 410: deleted, or issues switched off for the repository.
            Err(error) if matches!(error.status(), Some(404 | 410)) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let issue: WireIssue = response.parse(SERVICE, &path)?;
        Ok((!issue.is_pull_request()).then_some(issue))
    }

    fn normalize(&self, issue: WireIssue) -> TrackerIssue {
        let labels = issue.label_names();
        let state = self
            .states
            .name(self.states.current(issue.is_open(), &labels))
            .to_owned();
        TrackerIssue {
            id: issue.number.to_string(),
            identifier: format!("{}#{}", self.repository, issue.number),
            title: issue.title,
            description: issue.body.unwrap_or_default(),
            priority: priority_from_labels(&labels),
            state,
            branch_name: None,
            url: issue.html_url,
            assignee_id: issue
                .assignees
                .unwrap_or_default()
                .into_iter()
                .next()
                .or(issue.assignee)
                .map(|user| user.login),
            labels: labels.iter().map(|l| l.to_lowercase()).collect(),
            blocked_by: Vec::new(),
            created_at: timestamp(issue.created_at.as_deref()),
            updated_at: timestamp(issue.updated_at.as_deref()),
            repository: Some(self.repository.clone()),
            author: issue.user.map(|user| user.login),
        }
    }

    /// Carries out a move: the target label first, so a reopened issue is never seen bare
    /// open; then open/close; then the other state labels come off.
    async fn apply(
        &self,
        number: u64,
        is_open: bool,
        labels: &[String],
        target: IssueState<'_>,
    ) -> Result<(), TrackerError> {
        let plan = self.states.plan(is_open, labels, target);
        let path = self.issue_path(number);
        if let Some(label) = &plan.add_label {
            self.api
                .post(&format!("{path}/labels"), &json!({ "labels": [label] }))
                .await?;
        }
        match plan.open_or_close {
            Some(OpenOrClose::Close) => {
                self.api
                    .patch(
                        &path,
                        &json!({"state": "closed", "state_reason": "completed"}),
                    )
                    .await?;
            }
            Some(OpenOrClose::Reopen) => {
                self.api.patch(&path, &json!({"state": "open"})).await?;
            }
            None => {}
        }
        for label in &plan.remove_labels {
            let label_path = format!("{path}/labels/{}", utf8_percent_encode(label, PATH_SEGMENT));
            match self.api.delete(&label_path).await {
                // Someone took it off in the meantime: the outcome we wanted.
                Err(error) if error.is_not_found() => {}
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    fn not_found(issue: &IssueRef) -> TrackerError {
        TrackerError::NotFound {
            tracker: SERVICE,
            identifier: issue.identifier.clone(),
        }
    }
}

#[async_trait]
impl Tracker for GithubTracker {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn fetch_issue(&self, issue: &IssueRef) -> Result<Option<TrackerIssue>, TrackerError> {
        let number = issue_number(issue)?;
        Ok(self.read(number).await?.map(|found| self.normalize(found)))
    }

    async fn fetch_by_states(&self, states: &[String]) -> Result<Vec<TrackerIssue>, TrackerError> {
        let Some((filter, wanted)) = self.states.listing(SERVICE, states) else {
            return Ok(Vec::new());
        };
        let path = format!(
            "/repos/{}/issues?state={filter}&per_page={PAGE_SIZE}",
            self.repository
        );
        let listed: Vec<WireIssue> = all_pages_up_to(&self.api, &path, None, MAX_PAGES).await?;
        Ok(listed
            .into_iter()
            // The issues listing holds pull requests too.
            .filter(|issue| !issue.is_pull_request())
            .map(|issue| self.normalize(issue))
            .filter(|issue| self.states.keeps(&wanted, &issue.state))
            .collect())
    }

    async fn create_comment(
        &self,
        issue: &IssueRef,
        body: &str,
    ) -> Result<CommentRef, TrackerError> {
        let number = issue_number(issue)?;
        let path = format!("{}/comments", self.issue_path(number));
        let response = self
            .api
            .post(&path, &json!({ "body": body }))
            .await
            .map_err(|error| match error.is_not_found() {
                true => Self::not_found(issue),
                false => error.into(),
            })?;
        let comment: WireComment = response.parse(SERVICE, &path)?;
        Ok(CommentRef {
            id: comment.id.to_string(),
            url: comment.html_url,
        })
    }

    async fn update_comment(
        &self,
        issue: &IssueRef,
        comment: &CommentRef,
        body: &str,
    ) -> Result<(), TrackerError> {
        let id = super::numeric_id(&comment.id).ok_or_else(|| TrackerError::Invalid {
            tracker: SERVICE,
            message: format!("comment id `{}` is not a GitHub comment id", comment.id),
        })?;
        let path = format!("/repos/{}/issues/comments/{id}", self.repository);
        match self.api.patch(&path, &json!({ "body": body })).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_not_found() => Err(TrackerError::Invalid {
                tracker: SERVICE,
                message: format!("comment `{id}` not found on `{}`", issue.identifier),
            }),
            Err(error) => Err(error.into()),
        }
    }

    async fn move_to_state(
        &self,
        issue: &IssueRef,
        expected: Option<&str>,
        target: &str,
    ) -> Result<StateMove, TrackerError> {
        let target_state =
            self.states
                .resolve(target)
                .ok_or_else(|| TrackerError::UnknownState {
                    tracker: SERVICE,
                    state: target.to_owned(),
                    known: self.states.known(),
                })?;
        let number = issue_number(issue)?;
        let current = self
            .read(number)
            .await?
            .ok_or_else(|| Self::not_found(issue))?;
        let is_open = current.is_open();
        let labels = current.label_names();
        let from = match self
            .states
            .precondition(is_open, &labels, expected, target_state)
        {
            Ok(from) => from,
            Err(unmoved) => return Ok(unmoved),
        };
        self.apply(number, is_open, &labels, target_state).await?;
        Ok(StateMove::Moved {
            from,
            to: self.states.name(target_state).to_owned(),
        })
    }
}

/// An issue as `GET /repos/{owner}/{repo}/issues/{number}` answers it. `number`, `title`
/// and `state` are required: a record without them is malformed, not an empty issue.
#[derive(Debug, Deserialize)]
struct WireIssue {
    number: u64,
    title: String,
    state: String,
    body: Option<String>,
    labels: Option<Vec<WireLabel>>,
    assignee: Option<WireUser>,
    assignees: Option<Vec<WireUser>>,
    user: Option<WireUser>,
    html_url: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    /// Present (an object) only on pull requests.
    pull_request: Option<Value>,
}

impl WireIssue {
    /// GitHub says `open` or `closed`; only `closed` ends an issue.
    fn is_open(&self) -> bool {
        !self.state.eq_ignore_ascii_case("closed")
    }

    fn label_names(&self) -> Vec<String> {
        self.labels
            .iter()
            .flatten()
            .map(|label| match label {
                WireLabel::Object { name } | WireLabel::Name(name) => name.clone(),
            })
            .collect()
    }

    fn is_pull_request(&self) -> bool {
        self.pull_request.as_ref().is_some_and(|v| !v.is_null())
    }
}

/// Issue labels are objects; GitHub also accepts and, in places, returns bare names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireLabel {
    Object { name: String },
    Name(String),
}

#[derive(Debug, Deserialize)]
struct WireUser {
    login: String,
}

#[derive(Debug, Deserialize)]
struct WireComment {
    id: u64,
    html_url: Option<String>,
}

fn issue_number(issue: &IssueRef) -> Result<u64, TrackerError> {
    super::number_of(issue).ok_or_else(|| TrackerError::Invalid {
        tracker: SERVICE,
        message: format!(
            "`{}` (id `{}`) names no a GitHub issue number",
            issue.identifier, issue.id
        ),
    })
}

/// An unreadable timestamp loses the timestamp, not the issue.
fn timestamp(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `owner/repo` with GitHub's name characters only, so it is safe inside a URL path.
fn is_repository(text: &str) -> bool {
    let mut parts = text.split('/');
    let (Some(owner), Some(repo), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    [owner, repo].iter().all(|part| {
        !part.is_empty()
            && *part != "."
            && *part != ".."
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_two_plain_segments() {
        assert!(is_repository("acme/app"));
        assert!(is_repository("acme-inc/app.rs_2"));
        for bad in [
            "acme",
            "acme/app/x",
            "/app",
            "acme/",
            "acme/..",
            "ac me/app",
            "a/b?c",
        ] {
            assert!(!is_repository(bad), "{bad}");
        }
    }
}
