//! TAPD stories, through TAPD's open API (`https://api.tapd.cn`).
//!
//! Options (`tracker.provider`):
//! - `base_url`: default `https://api.tapd.cn`.
//! - `workspace_id` (required): the project's numeric id.
//! - `api_user`: the API account, written plainly or as `$VARIABLE`; default variable
//!   `TAPD_API_USER`.
//! - `api_password`: `$VARIABLE` holding the API password, default `TAPD_API_PASSWORD`. Account
//!   and password travel as `Authorization: Basic …` in a header marked sensitive.
//! - `comment_author`: the name comments are posted under (TAPD requires one), default `baton`.
//! - `web_url`: where people open stories, default `https://www.tapd.cn`.
//! - `page_size`: stories per listing request, 1..=200 (TAPD's maximum), default 200.
//!
//! States are the workflow's status keys as the API reports them (`planning`, `developing`,
//! `resolved`, `status_3`). A move also accepts the status's display name (`实现中`): it is
//! resolved through the workspace's status map, which also rejects an unknown target.
//!
//! Every answer is `{"status": 1, "data": …, "info": "success"}`; any other `status` is an
//! error carrying `info`. Writes send JSON bodies (TAPD's documented examples are form posts;
//! its API reads JSON bodies too). A comment is updated through the same `POST /comments`
//! with its `id`, as TAPD documents it. TAPD listings say nothing about further pages, so a
//! listing reads pages in creation order until one comes back short.

mod html;
mod model;

use super::{same_state, CommentRef, IssueRef, StateMove, Tracker, TrackerError, TrackerIssue};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::{ApiClient, ApiError};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use model::{data, parse_timestamp, priority_level, CommentRecord, Story, StoryRecord};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SERVICE: &str = "tapd";
pub const DEFAULT_BASE_URL: &str = "https://api.tapd.cn";
pub const DEFAULT_WEB_URL: &str = "https://www.tapd.cn";
pub const DEFAULT_API_USER_VARIABLE: &str = "TAPD_API_USER";
pub const DEFAULT_API_PASSWORD_VARIABLE: &str = "TAPD_API_PASSWORD";
const DEFAULT_COMMENT_AUTHOR: &str = "baton";
const MAX_PAGE_SIZE: u64 = 200;
/// A listing longer than this is a filter mistake, not a backlog: stop rather than loop.
const MAX_PAGES: u32 = 200;

/// The TAPD tracker. Its `Debug` output shows the endpoint and workspace, never the password.
#[derive(Debug, Clone)]
pub struct TapdTracker {
    api: ApiClient,
    workspace_id: String,
    web_url: String,
    comment_author: String,
    page_size: u64,
}

impl TapdTracker {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let workspace_id = config.required("workspace_id")?;
        if !workspace_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::new(
                "tapd.workspace_id",
                "must be the workspace's numeric id",
            ));
        }
        let user = match config.string("api_user") {
            Some(plain) if !plain.starts_with('$') => plain,
            _ => config.secret("api_user", DEFAULT_API_USER_VARIABLE)?,
        };
        let password = config.secret("api_password", DEFAULT_API_PASSWORD_VARIABLE)?;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let api = ApiClient::new(SERVICE, &config.base_url(DEFAULT_BASE_URL), config.policy)
            .map_err(|e| ConfigError::new("tapd.base_url", e.to_string()))?
            .with_header("authorization", &format!("Basic {basic}"), true)
            .map_err(|e| ConfigError::new("tapd.api_password", e.to_string()))?;
        Ok(Self {
            api,
            workspace_id,
            web_url: config
                .string("web_url")
                .unwrap_or_else(|| DEFAULT_WEB_URL.to_owned())
                .trim_end_matches('/')
                .to_owned(),
            comment_author: config
                .string("comment_author")
                .unwrap_or_else(|| DEFAULT_COMMENT_AUTHOR.to_owned()),
            page_size: page_size(config)?,
        })
    }

    /// `path?workspace_id=…&…`, every value encoded.
    fn query(&self, path: &str, pairs: &[(&str, &str)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("workspace_id", &self.workspace_id);
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
        format!("{path}?{}", query.finish())
    }

    async fn story(&self, issue: &IssueRef) -> Result<Option<Story>, TrackerError> {
        let path = self.query("/stories", &[("id", &issue.id)]);
        let answer = match self.api.get(&path).await {
            Ok(answer) => answer,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let mut stories: Vec<StoryRecord> = data(&answer, "GET", &path)?;
        // Asked by id, TAPD answers a list of at most one.
        Ok(stories.pop().map(|record| record.story))
    }

    /// The workflow's status keys and display names, for the story's type when it has one.
    async fn status_map(
        &self,
        workitem_type_id: Option<&str>,
    ) -> Result<BTreeMap<String, String>, TrackerError> {
        let mut pairs = vec![("system", "story")];
        if let Some(type_id) = workitem_type_id.filter(|t| !t.is_empty() && *t != "0") {
            pairs.push(("workitem_type_id", type_id));
        }
        let path = self.query("/workflows/status_map", &pairs);
        let answer = self.api.get(&path).await?;
        // PHP answers an empty map as `[]`.
        let statuses: Value = data(&answer, "GET", &path)?;
        if statuses.as_array().is_some_and(Vec::is_empty) {
            return Ok(BTreeMap::new());
        }
        serde_json::from_value(statuses)
            .map_err(|e| ApiError::malformed(SERVICE, &path, format!("status map: {e}")).into())
    }

    fn normalize(&self, story: Story, path: &str) -> Result<TrackerIssue, ApiError> {
        let timestamp = |value: Option<String>| -> Result<Option<DateTime<Utc>>, ApiError> {
            value
                .filter(|v| !v.is_empty() && !v.starts_with("0000"))
                .map(|v| parse_timestamp(&v, path))
                .transpose()
        };
        let priority = story
            .priority_label
            .as_deref()
            .and_then(priority_level)
            .or_else(|| story.priority.as_deref().and_then(priority_level));
        Ok(TrackerIssue {
            identifier: format!("TAPD-{}", story.id),
            url: Some(format!(
                "{}/{}/prong/stories/view/{}",
                self.web_url, self.workspace_id, story.id
            )),
            id: story.id,
            title: story.name,
            description: html::to_text(story.description.as_deref().unwrap_or_default()),
            priority,
            state: story.status,
            branch_name: None,
            // `owner` lists people as `alice;bob;`; the first one is the assignee.
            assignee_id: story
                .owner
                .as_deref()
                .and_then(|o| o.split(';').map(str::trim).find(|o| !o.is_empty()))
                .map(str::to_owned),
            labels: story
                .label
                .as_deref()
                .unwrap_or_default()
                .split('|')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_lowercase)
                .collect(),
            blocked_by: Vec::new(),
            created_at: timestamp(story.created)?,
            updated_at: timestamp(story.modified)?,
            repository: None,
            author: story.creator.filter(|c| !c.is_empty()),
        })
    }
}

#[async_trait]
impl Tracker for TapdTracker {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn fetch_issue(&self, issue: &IssueRef) -> Result<Option<TrackerIssue>, TrackerError> {
        let path = "/stories";
        match self.story(issue).await? {
            Some(story) => Ok(Some(self.normalize(story, path)?)),
            None => Ok(None),
        }
    }

    async fn fetch_by_states(&self, states: &[String]) -> Result<Vec<TrackerIssue>, TrackerError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let status = states.join("|");
        let limit = self.page_size.to_string();
        let mut issues = Vec::new();
        for page in 1..=MAX_PAGES {
            let page_number = page.to_string();
            let path = self.query(
                "/stories",
                &[
                    ("status", &status),
                    ("page", &page_number),
                    ("limit", &limit),
                    ("order", "created asc"),
                ],
            );
            let records: Vec<StoryRecord> = data(&self.api.get(&path).await?, "GET", &path)?;
            let short = (records.len() as u64) < self.page_size;
            for record in records {
                let issue = self.normalize(record.story, &path)?;
                if states.iter().any(|s| same_state(s, &issue.state)) {
                    issues.push(issue);
                }
            }
            if short {
                return Ok(issues);
            }
        }
        Err(TrackerError::Invalid {
            tracker: SERVICE,
            message: format!("more than {MAX_PAGES} pages of stories in {states:?}"),
        })
    }

    async fn create_comment(
        &self,
        issue: &IssueRef,
        body: &str,
    ) -> Result<CommentRef, TrackerError> {
        let path = "/comments";
        let request = json!({
            "workspace_id": self.workspace_id,
            "entry_type": "stories",
            "entry_id": issue.id,
            "description": html::from_markdown(body),
            "author": self.comment_author,
        });
        let created: CommentRecord = data(&self.api.post(path, &request).await?, "POST", path)?;
        Ok(CommentRef {
            id: created.comment.id,
            url: None,
        })
    }

    async fn update_comment(
        &self,
        _issue: &IssueRef,
        comment: &CommentRef,
        body: &str,
    ) -> Result<(), TrackerError> {
        let path = "/comments";
        let request = json!({
            "workspace_id": self.workspace_id,
            "id": comment.id,
            "description": html::from_markdown(body),
            "change_creator": self.comment_author,
        });
        let _: CommentRecord = data(&self.api.post(path, &request).await?, "POST", path)?;
        Ok(())
    }

    async fn move_to_state(
        &self,
        issue: &IssueRef,
        expected: Option<&str>,
        target: &str,
    ) -> Result<StateMove, TrackerError> {
        let story = self
            .story(issue)
            .await?
            .ok_or_else(|| TrackerError::NotFound {
                tracker: SERVICE,
                identifier: issue.identifier.clone(),
            })?;
        let statuses = self.status_map(story.workitem_type_id.as_deref()).await?;
        let Some((target_key, _)) = statuses
            .iter()
            .find(|(key, name)| same_state(key, target) || same_state(name, target))
        else {
            let known: Vec<String> = statuses
                .iter()
                .map(|(key, name)| format!("{key} ({name})"))
                .collect();
            return Err(TrackerError::UnknownState {
                tracker: SERVICE,
                state: target.to_owned(),
                known: known.join(", "),
            });
        };
        let current = story.status;
        if same_state(&current, target_key) {
            return Ok(StateMove::AlreadyThere);
        }
        if let Some(expected) = expected {
            let display = statuses.get(&current).map(String::as_str).unwrap_or("");
            if !same_state(&current, expected) && !same_state(display, expected) {
                return Ok(StateMove::Conflict { actual: current });
            }
        }
        let path = "/stories";
        let request = json!({
            "workspace_id": self.workspace_id,
            "id": story.id,
            "status": target_key,
        });
        let _: StoryRecord = data(&self.api.post(path, &request).await?, "POST", path)?;
        Ok(StateMove::Moved {
            from: current,
            to: target_key.clone(),
        })
    }
}

fn page_size(config: &AdapterConfig<'_>) -> Result<u64, ConfigError> {
    let Some(value) = config.options.get("page_size") else {
        return Ok(MAX_PAGE_SIZE);
    };
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
        .ok_or_else(|| {
            ConfigError::new(
                "tapd.page_size",
                format!("must be a number from 1 to {MAX_PAGE_SIZE}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RetryPolicy;

    fn env(name: &str) -> Option<String> {
        match name {
            "TAPD_API_USER" => Some("baton_api".into()),
            "TAPD_API_PASSWORD" => Some("tapd-s3cr3t".into()),
            _ => None,
        }
    }

    fn build(options: Value) -> Result<TapdTracker, ConfigError> {
        TapdTracker::from_config(&AdapterConfig {
            kind: "tapd",
            options: &options,
            env: &env,
            policy: RetryPolicy::fast(),
        })
    }

    #[test]
    fn the_password_stays_out_of_debug_output() {
        let tracker = build(json!({ "workspace_id": "20355782" })).unwrap();
        let printed = format!("{tracker:?}");
        let basic = base64::engine::general_purpose::STANDARD.encode("baton_api:tapd-s3cr3t");
        assert!(printed.contains("20355782"), "{printed}");
        assert!(!printed.contains("tapd-s3cr3t"), "{printed}");
        assert!(!printed.contains(&basic), "{printed}");
    }

    #[test]
    fn options_are_checked() {
        assert_eq!(build(json!({})).unwrap_err().key, "tapd.workspace_id");
        assert_eq!(
            build(json!({ "workspace_id": "1 OR 1" })).unwrap_err().key,
            "tapd.workspace_id"
        );
        let too_big = build(json!({ "workspace_id": "1", "page_size": 500 }));
        assert_eq!(too_big.unwrap_err().key, "tapd.page_size");
        assert_eq!(
            build(json!({ "workspace_id": "1", "page_size": "2" }))
                .unwrap()
                .page_size,
            2
        );
    }
}
