//! Jira Cloud, through its REST API v3.
//!
//! Options (`tracker.provider`):
//! - `base_url` (required): the site, e.g. `https://acme.atlassian.net`.
//! - `email`: the account the API token belongs to, written plainly or as `$VARIABLE`;
//!   default variable `JIRA_EMAIL`.
//! - `api_token`: `$VARIABLE` holding the API token, default `JIRA_API_TOKEN`. Email and token
//!   travel as `Authorization: Basic …` in a header marked sensitive.
//! - `project`: a project key that limits listings to that project.
//!
//! Jira moves issues through workflow transitions, not by setting a status: a move picks the
//! transition that leads to the target status from where the issue is now. Descriptions and
//! comments are Atlassian Document Format, flattened to text and built from markdown in
//! [`adf`].

mod adf;
mod model;

use super::{
    same_state, BlockerRef, CommentRef, IssueRef, StateMove, Tracker, TrackerError, TrackerIssue,
};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::{ApiClient, ApiError};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use model::{
    parse_timestamp, priority_level, CreatedComment, JiraIssue, SearchPage, StatusOnly, Transitions,
};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;

const SERVICE: &str = "jira";
pub const DEFAULT_EMAIL_VARIABLE: &str = "JIRA_EMAIL";
pub const DEFAULT_API_TOKEN_VARIABLE: &str = "JIRA_API_TOKEN";
const PAGE_SIZE: u32 = 50;
/// A listing longer than this is a filter mistake, not a backlog: stop rather than loop.
const MAX_PAGES: usize = 200;
/// The fields baton reads; asking for them keeps answers small.
const FIELDS: &[&str] = &[
    "summary",
    "description",
    "status",
    "priority",
    "labels",
    "assignee",
    "reporter",
    "created",
    "updated",
    "issuelinks",
];
/// Issue keys and ids are safe in a path, but a work item may carry anything.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The Jira Cloud tracker. Its `Debug` output shows the site, never the credential.
#[derive(Debug, Clone)]
pub struct JiraTracker {
    api: ApiClient,
    project: Option<String>,
}

impl JiraTracker {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let site = config
            .string("base_url")
            .or_else(|| config.string("api_base_url"))
            .or_else(|| config.string("endpoint"))
            .ok_or_else(|| {
                ConfigError::new(
                    "jira.base_url",
                    "is required (your site, e.g. https://acme.atlassian.net)",
                )
            })?;
        let email = match config.string("email") {
            Some(plain) if !plain.starts_with('$') => plain,
            _ => config.secret("email", DEFAULT_EMAIL_VARIABLE)?,
        };
        let token = config.secret("api_token", DEFAULT_API_TOKEN_VARIABLE)?;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{token}"));
        let api = ApiClient::new(SERVICE, &site, config.policy)
            .map_err(|e| ConfigError::new("jira.base_url", e.to_string()))?
            .with_header("authorization", &format!("Basic {basic}"), true)
            .map_err(|e| ConfigError::new("jira.api_token", e.to_string()))?;
        Ok(Self {
            api,
            project: config.string("project"),
        })
    }

    fn issue_path(issue: &IssueRef) -> String {
        // The numeric id survives a move to another project; the key does not.
        let key = if issue.id.is_empty() {
            &issue.identifier
        } else {
            &issue.id
        };
        format!(
            "/rest/api/3/issue/{}",
            utf8_percent_encode(key, PATH_SEGMENT)
        )
    }

    fn browse_url(&self, key: &str) -> String {
        format!(
            "{}/browse/{}",
            self.api.base_url(),
            utf8_percent_encode(key, PATH_SEGMENT)
        )
    }

    fn normalize(&self, issue: JiraIssue, path: &str) -> Result<TrackerIssue, ApiError> {
        let fields = issue.fields;
        let timestamp = |value: Option<String>| -> Result<Option<DateTime<Utc>>, ApiError> {
            value.map(|v| parse_timestamp(&v, path)).transpose()
        };
        Ok(TrackerIssue {
            url: Some(self.browse_url(&issue.key)),
            id: issue.id,
            identifier: issue.key,
            title: fields.summary,
            description: adf::to_text(&fields.description),
            priority: fields.priority.and_then(|p| priority_level(&p.name)),
            state: fields.status.name,
            branch_name: None,
            assignee_id: fields.assignee.and_then(|a| a.account_id),
            labels: fields.labels.iter().map(|l| l.to_lowercase()).collect(),
            blocked_by: fields
                .issuelinks
                .into_iter()
                .filter(|link| link.kind.name.eq_ignore_ascii_case("blocks"))
                .filter_map(|link| link.inward_issue)
                .map(|blocker| BlockerRef {
                    id: blocker.id,
                    identifier: blocker.key,
                    state: blocker.fields.status.name,
                })
                .collect(),
            created_at: timestamp(fields.created)?,
            updated_at: timestamp(fields.updated)?,
            repository: None,
            author: fields
                .reporter
                .and_then(|r| r.display_name.or(r.account_id)),
        })
    }

    async fn current_status(&self, issue: &IssueRef) -> Result<String, TrackerError> {
        let path = format!("{}?fields=status", Self::issue_path(issue));
        let answer = self.api.get(&path).await.map_err(|e| {
            if e.is_not_found() {
                TrackerError::NotFound {
                    tracker: SERVICE,
                    identifier: issue.identifier.clone(),
                }
            } else {
                e.into()
            }
        })?;
        let read: StatusOnly = answer.parse(SERVICE, &path)?;
        Ok(read.fields.status.name)
    }
}

#[async_trait]
impl Tracker for JiraTracker {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn fetch_issue(&self, issue: &IssueRef) -> Result<Option<TrackerIssue>, TrackerError> {
        let path = format!("{}?fields={}", Self::issue_path(issue), FIELDS.join(","));
        let answer = match self.api.get(&path).await {
            Ok(answer) => answer,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let found: JiraIssue = answer.parse(SERVICE, &path)?;
        Ok(Some(self.normalize(found, &path)?))
    }

    async fn fetch_by_states(&self, states: &[String]) -> Result<Vec<TrackerIssue>, TrackerError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let path = "/rest/api/3/search/jql";
        let jql = listing_jql(states, self.project.as_deref());
        let mut issues = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = json!({ "jql": jql, "maxResults": PAGE_SIZE, "fields": FIELDS });
            if let Some(token) = &token {
                request["nextPageToken"] = json!(token);
            }
            let page: SearchPage = self.api.post(path, &request).await?.parse(SERVICE, path)?;
            for found in page.issues {
                let issue = self.normalize(found, path)?;
                if states.iter().any(|s| same_state(s, &issue.state)) {
                    issues.push(issue);
                }
            }
            // Jira leaves the token out on the last page (and may also say `isLast`).
            match page.next_page_token {
                Some(next) if page.is_last != Some(true) => token = Some(next),
                _ => return Ok(issues),
            }
        }
        Err(TrackerError::Invalid {
            tracker: SERVICE,
            message: format!(
                "more than {MAX_PAGES} pages of issues in {states:?}; narrow the listing with `project`"
            ),
        })
    }

    async fn create_comment(
        &self,
        issue: &IssueRef,
        body: &str,
    ) -> Result<CommentRef, TrackerError> {
        let path = format!("{}/comment", Self::issue_path(issue));
        let answer = self
            .api
            .post(&path, &json!({ "body": adf::from_markdown(body) }))
            .await?;
        let created: CreatedComment = answer.parse(SERVICE, &path)?;
        let url = (!issue.identifier.is_empty()).then(|| {
            format!(
                "{}?focusedCommentId={}",
                self.browse_url(&issue.identifier),
                utf8_percent_encode(&created.id, PATH_SEGMENT)
            )
        });
        Ok(CommentRef {
            id: created.id,
            url,
        })
    }

    async fn update_comment(
        &self,
        issue: &IssueRef,
        comment: &CommentRef,
        body: &str,
    ) -> Result<(), TrackerError> {
        let path = format!(
            "{}/comment/{}",
            Self::issue_path(issue),
            utf8_percent_encode(&comment.id, PATH_SEGMENT)
        );
        self.api
            .put(&path, &json!({ "body": adf::from_markdown(body) }))
            .await?;
        Ok(())
    }

    async fn move_to_state(
        &self,
        issue: &IssueRef,
        expected: Option<&str>,
        target: &str,
    ) -> Result<StateMove, TrackerError> {
        let current = self.current_status(issue).await?;
        if let Some(unmoved) = StateMove::precondition(&current, expected, target) {
            return Ok(unmoved);
        }
        let path = format!("{}/transitions", Self::issue_path(issue));
        let offered: Transitions = self.api.get(&path).await?.parse(SERVICE, &path)?;
        let Some(transition) = offered
            .transitions
            .iter()
            .find(|t| same_state(&t.to.name, target))
        else {
            let reachable: Vec<&str> = offered
                .transitions
                .iter()
                .map(|t| t.to.name.as_str())
                .collect();
            return Err(TrackerError::UnknownState {
                tracker: SERVICE,
                state: target.to_owned(),
                known: format!("reachable from `{current}`: {}", reachable.join(", ")),
            });
        };
        self.api
            .post(&path, &json!({ "transition": { "id": transition.id } }))
            .await?;
        Ok(StateMove::Moved {
            from: current,
            to: transition.to.name.clone(),
        })
    }
}

/// `status in ("To Do", "In Progress") [AND project = "PROJ"] ORDER BY created ASC`.
fn listing_jql(states: &[String], project: Option<&str>) -> String {
    let quoted: Vec<String> = states.iter().map(|s| jql_string(s)).collect();
    let mut jql = format!("status in ({})", quoted.join(", "));
    if let Some(project) = project {
        jql.push_str(&format!(" AND project = {}", jql_string(project)));
    }
    jql.push_str(" ORDER BY created ASC");
    jql
}

/// A JQL string literal: double-quoted, with `\` and `"` escaped, so a state name can never
/// end the literal and add a clause of its own.
fn jql_string(value: &str) -> String {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RetryPolicy;

    fn config_env(name: &str) -> Option<String> {
        match name {
            "JIRA_EMAIL" => Some("bot@acme.test".into()),
            "JIRA_API_TOKEN" => Some("ATATT-s3cr3t".into()),
            _ => None,
        }
    }

    #[test]
    fn the_credential_stays_out_of_debug_output() {
        let options = json!({ "base_url": "https://acme.atlassian.net", "project": "PROJ" });
        let tracker = JiraTracker::from_config(&AdapterConfig {
            kind: "jira",
            options: &options,
            env: &config_env,
            policy: RetryPolicy::fast(),
        })
        .unwrap();
        let printed = format!("{tracker:?}");
        let basic = base64::engine::general_purpose::STANDARD.encode("bot@acme.test:ATATT-s3cr3t");
        assert!(printed.contains("acme.atlassian.net"), "{printed}");
        assert!(!printed.contains("ATATT-s3cr3t"), "{printed}");
        assert!(!printed.contains(&basic), "{printed}");
    }

    #[test]
    fn the_site_is_required() {
        let error = JiraTracker::from_config(&AdapterConfig {
            kind: "jira",
            options: &json!({}),
            env: &config_env,
            policy: RetryPolicy::fast(),
        })
        .unwrap_err();
        assert_eq!(error.key, "jira.base_url");
    }

    #[test]
    fn state_names_are_quoted_and_escaped_in_jql() {
        let states = vec!["To Do".to_owned(), r#"Odd "name" \ here"#.to_owned()];
        assert_eq!(
            listing_jql(&states, Some("PROJ")),
            r#"status in ("To Do", "Odd \"name\" \\ here") AND project = "PROJ" ORDER BY created ASC"#
        );
    }
}
