//! GitLab issues (REST v4) as a tracker.
//!
//! Settings (`tracker.provider`): `project` (the `group/project` path, required), `base_url`
//! (default `https://gitlab.com/api/v4`; self-managed is `https://HOST/api/v4`), `token`
//! (`$VARIABLE`, default `GITLAB_TOKEN`, sent as `PRIVATE-TOKEN`), and optionally
//! `state_labels`.
//!
//! - An issue's id is its iid (the number shown in the project) as text; its identifier is
//!   `group/project#iid`.
//! - GitLab's states are `opened` and `closed`; `open` is accepted for `opened`. Workflow
//!   states beyond those are labels on open issues, mapped by `state_labels` (see
//!   [`super::open_closed_states`]); GitLab applies a move's state change and label changes
//!   in one update.
//! - Comments are notes. Priority comes from a `priority::N`, `priority:N` or `pN` label;
//!   `blocked_by` stays empty (issue links are a paid feature with their own endpoint).
//! - The expected state is checked on a fresh read right before the update, which leaves a
//!   window of one round trip: GitLab has no conditional issue update.

use super::open_closed_states::{NativeNames, OpenClosedStates, OpenOrClose};
use super::priority_labels::priority_from_labels;
use super::{CommentRef, IssueRef, StateMove, Tracker, TrackerError, TrackerIssue};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::ApiClient;
use crate::pages::all_pages_up_to;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::{Map, Value};

const SERVICE: &str = "gitlab";
pub const DEFAULT_BASE_URL: &str = "https://gitlab.com/api/v4";
pub const DEFAULT_TOKEN_VARIABLE: &str = "GITLAB_TOKEN";
/// The most GitLab serves per page.
const PAGE_SIZE: u32 = 100;
/// A listing longer than this many pages is a pagination loop, not a project.
const MAX_PAGES: usize = 1_000;

const NATIVE: NativeNames = NativeNames {
    open: "opened",
    closed: "closed",
    open_aliases: &["open"],
};

/// Everything but RFC 3986 unreserved characters: the project path becomes one URL segment
/// (`group%2Fproject`), as GitLab expects.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The issues of one GitLab project. The token lives only in the client's sensitive
/// `PRIVATE-TOKEN` header, so `Debug` never shows it.
#[derive(Debug, Clone)]
pub struct GitlabTracker {
    api: ApiClient,
    /// `group/project` (subgroups allowed), as people write it.
    project: String,
    /// The same, encoded as one path segment.
    project_segment: String,
    states: OpenClosedStates,
}

impl GitlabTracker {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let project = config.required("project")?;
        if !is_project_path(&project) {
            return Err(ConfigError::new(
                format!("{}.project", config.kind),
                format!("`{project}` is not a `group/project` path"),
            ));
        }
        let token = config.secret("token", DEFAULT_TOKEN_VARIABLE)?;
        let api = ApiClient::new(SERVICE, &config.base_url(DEFAULT_BASE_URL), config.policy)
            .and_then(|api| api.with_header("private-token", &token, true))
            .map_err(|error| {
                ConfigError::new(format!("{}.provider", config.kind), error.to_string())
            })?;
        Ok(Self {
            api,
            project_segment: utf8_percent_encode(&project, PATH_SEGMENT).to_string(),
            project,
            states: OpenClosedStates::from_config(config, NATIVE)?,
        })
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    fn issue_path(&self, iid: u64) -> String {
        format!("/projects/{}/issues/{iid}", self.project_segment)
    }

    /// The issue as GitLab has it now; `None` when it does not exist.
    async fn read(&self, iid: u64) -> Result<Option<WireIssue>, TrackerError> {
        let path = self.issue_path(iid);
        match self.api.get(&path).await {
            Ok(response) => Ok(Some(response.parse(SERVICE, &path)?)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    fn normalize(&self, issue: WireIssue) -> TrackerIssue {
        let labels = issue.label_names();
        let state = self
            .states
            .name(self.states.current(issue.is_open(), &labels))
            .to_owned();
        TrackerIssue {
            id: issue.iid.to_string(),
            identifier: format!("{}#{}", self.project, issue.iid),
            title: issue.title,
            description: issue.description.unwrap_or_default(),
            priority: priority_from_labels(&labels),
            state,
            branch_name: None,
            url: issue.web_url,
            assignee_id: issue
                .assignees
                .unwrap_or_default()
                .into_iter()
                .next()
                .or(issue.assignee)
                .map(|user| user.username),
            labels: labels.iter().map(|l| l.to_lowercase()).collect(),
            blocked_by: Vec::new(),
            created_at: timestamp(issue.created_at.as_deref()),
            updated_at: timestamp(issue.updated_at.as_deref()),
            repository: Some(self.project.clone()),
            author: issue.author.map(|user| user.username),
        }
    }

    fn not_found(issue: &IssueRef) -> TrackerError {
        TrackerError::NotFound {
            tracker: SERVICE,
            identifier: issue.identifier.clone(),
        }
    }
}

#[async_trait]
impl Tracker for GitlabTracker {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn fetch_issue(&self, issue: &IssueRef) -> Result<Option<TrackerIssue>, TrackerError> {
        let iid = issue_iid(issue)?;
        Ok(self.read(iid).await?.map(|found| self.normalize(found)))
    }

    async fn fetch_by_states(&self, states: &[String]) -> Result<Vec<TrackerIssue>, TrackerError> {
        let Some((filter, wanted)) = self.states.listing(SERVICE, states) else {
            return Ok(Vec::new());
        };
        let path = format!(
            "/projects/{}/issues?state={filter}&per_page={PAGE_SIZE}",
            self.project_segment
        );
        let listed: Vec<WireIssue> = all_pages_up_to(&self.api, &path, None, MAX_PAGES).await?;
        Ok(listed
            .into_iter()
            .map(|issue| self.normalize(issue))
            .filter(|issue| self.states.keeps(&wanted, &issue.state))
            .collect())
    }

    async fn create_comment(
        &self,
        issue: &IssueRef,
        body: &str,
    ) -> Result<CommentRef, TrackerError> {
        let iid = issue_iid(issue)?;
        let path = format!("{}/notes", self.issue_path(iid));
        let response = self
            .api
            .post(&path, &serde_json::json!({ "body": body }))
            .await
            .map_err(|error| match error.is_not_found() {
                true => Self::not_found(issue),
                false => error.into(),
            })?;
        let note: WireNote = response.parse(SERVICE, &path)?;
        // The notes API gives no web address for a note.
        Ok(CommentRef {
            id: note.id.to_string(),
            url: None,
        })
    }

    async fn update_comment(
        &self,
        issue: &IssueRef,
        comment: &CommentRef,
        body: &str,
    ) -> Result<(), TrackerError> {
        let iid = issue_iid(issue)?;
        let note = super::numeric_id(&comment.id).ok_or_else(|| TrackerError::Invalid {
            tracker: SERVICE,
            message: format!("comment id `{}` is not a GitLab note id", comment.id),
        })?;
        let path = format!("{}/notes/{note}", self.issue_path(iid));
        match self
            .api
            .put(&path, &serde_json::json!({ "body": body }))
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.is_not_found() => Err(TrackerError::Invalid {
                tracker: SERVICE,
                message: format!("note `{note}` not found on `{}`", issue.identifier),
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
        let iid = issue_iid(issue)?;
        let current = self
            .read(iid)
            .await?
            .ok_or_else(|| Self::not_found(issue))?;
        let labels = current.label_names();
        let from =
            match self
                .states
                .precondition(current.is_open(), &labels, expected, target_state)
            {
                Ok(from) => from,
                Err(unmoved) => return Ok(unmoved),
            };
        let plan = self.states.plan(current.is_open(), &labels, target_state);
        // One update carries the state change and the label changes together.
        let mut update = Map::new();
        if let Some(event) = plan.open_or_close {
            let event = match event {
                OpenOrClose::Close => "close",
                OpenOrClose::Reopen => "reopen",
            };
            update.insert("state_event".into(), event.into());
        }
        if let Some(label) = plan.add_label {
            update.insert("add_labels".into(), label.into());
        }
        if !plan.remove_labels.is_empty() {
            update.insert("remove_labels".into(), plan.remove_labels.join(",").into());
        }
        self.api
            .put(&self.issue_path(iid), &Value::Object(update))
            .await?;
        Ok(StateMove::Moved {
            from,
            to: self.states.name(target_state).to_owned(),
        })
    }
}

/// An issue as `GET /projects/{id}/issues/{iid}` answers it. `iid`, `title` and `state`
/// are required: a record without them is malformed, not an empty issue.
#[derive(Debug, Deserialize)]
struct WireIssue {
    iid: u64,
    title: String,
    state: String,
    description: Option<String>,
    labels: Option<Vec<WireLabel>>,
    assignee: Option<WireUser>,
    assignees: Option<Vec<WireUser>>,
    author: Option<WireUser>,
    web_url: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

impl WireIssue {
    /// Anything but `closed` is open (GitLab has used `reopened` too).
    fn is_open(&self) -> bool {
        !self.state.eq_ignore_ascii_case("closed")
    }

    fn label_names(&self) -> Vec<String> {
        self.labels
            .iter()
            .flatten()
            .map(|label| match label {
                WireLabel::Name(name) | WireLabel::Detailed { name } => name.clone(),
            })
            .collect()
    }
}

/// Label names, or objects with `with_labels_details=true`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireLabel {
    Name(String),
    Detailed { name: String },
}

#[derive(Debug, Deserialize)]
struct WireUser {
    username: String,
}

#[derive(Debug, Deserialize)]
struct WireNote {
    id: u64,
}

fn issue_iid(issue: &IssueRef) -> Result<u64, TrackerError> {
    super::number_of(issue).ok_or_else(|| TrackerError::Invalid {
        tracker: SERVICE,
        message: format!(
            "`{}` (id `{}`) names no a GitLab issue iid",
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

/// `group/project` or `group/subgroup/project`: no empty, `.` or `..` segment.
fn is_project_path(text: &str) -> bool {
    let segments: Vec<&str> = text.split('/').collect();
    segments.len() >= 2
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && *segment != "."
                && *segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_paths_become_one_segment() {
        assert!(is_project_path("group/project"));
        assert!(is_project_path("group/sub.group/my-project_2"));
        for bad in [
            "project", "group/", "/project", "group//p", "group/..", "a b/c", "a/b?c",
        ] {
            assert!(!is_project_path(bad), "{bad}");
        }
        assert_eq!(
            utf8_percent_encode("group/sub/my-project", PATH_SEGMENT).to_string(),
            "group%2Fsub%2Fmy-project"
        );
    }
}
