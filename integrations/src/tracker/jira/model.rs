//! The shapes of Jira's REST v3 answers that baton reads, and Jira's conventions for
//! priorities and timestamps. `id`, `key`, `summary` and `status` are required: an answer
//! without them is malformed, never filled with defaults.

use super::SERVICE;
use crate::http::ApiError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Jira's default priority scheme, on Symphony's 1 (urgent) .. 4 (low) scale.
pub(super) fn priority_level(name: &str) -> Option<u8> {
    match name.trim().to_ascii_lowercase().as_str() {
        "highest" => Some(1),
        "high" => Some(2),
        "medium" => Some(3),
        "low" | "lowest" => Some(4),
        _ => None,
    }
}

/// Jira writes `2024-01-02T03:04:05.000+0000`: RFC 3339 but for the colon in the offset.
pub(super) fn parse_timestamp(value: &str, path: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(value))
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError::malformed(SERVICE, path, format!("timestamp `{value}`: {e}")))
}

#[derive(Debug, Deserialize)]
pub(super) struct JiraIssue {
    pub(super) id: String,
    pub(super) key: String,
    pub(super) fields: IssueFields,
}

#[derive(Debug, Deserialize)]
pub(super) struct IssueFields {
    pub(super) summary: String,
    /// ADF, or `null` when empty.
    #[serde(default)]
    pub(super) description: Value,
    pub(super) status: Named,
    pub(super) priority: Option<Named>,
    /// Omitted when the field is not on the project's screens.
    #[serde(default)]
    pub(super) labels: Vec<String>,
    pub(super) assignee: Option<User>,
    pub(super) reporter: Option<User>,
    pub(super) created: Option<String>,
    pub(super) updated: Option<String>,
    #[serde(default)]
    pub(super) issuelinks: Vec<IssueLink>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Named {
    pub(super) name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct User {
    pub(super) account_id: Option<String>,
    pub(super) display_name: Option<String>,
}

/// A link as the issue sees it: `inwardIssue` is set when the other issue is on the inward
/// side, which for `Blocks` means "this issue is blocked by it".
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IssueLink {
    #[serde(rename = "type")]
    pub(super) kind: Named,
    pub(super) inward_issue: Option<LinkedIssue>,
}

#[derive(Debug, Deserialize)]
pub(super) struct LinkedIssue {
    pub(super) id: String,
    pub(super) key: String,
    pub(super) fields: StatusFields,
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusFields {
    pub(super) status: Named,
}

#[derive(Debug, Deserialize)]
pub(super) struct StatusOnly {
    pub(super) fields: StatusFields,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SearchPage {
    pub(super) issues: Vec<JiraIssue>,
    pub(super) next_page_token: Option<String>,
    pub(super) is_last: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct CreatedComment {
    pub(super) id: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Transitions {
    pub(super) transitions: Vec<Transition>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Transition {
    pub(super) id: String,
    pub(super) to: Named,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_and_timestamps_follow_jira_conventions() {
        assert_eq!(priority_level("Highest"), Some(1));
        assert_eq!(priority_level("high"), Some(2));
        assert_eq!(priority_level("Medium"), Some(3));
        assert_eq!(priority_level("Lowest"), Some(4));
        assert_eq!(priority_level("P0 - Blocker"), None);
        let parsed = parse_timestamp("2024-01-02T11:04:05.000+0800", "/p").unwrap();
        assert_eq!(parsed.to_rfc3339(), "2024-01-02T03:04:05+00:00");
        assert!(parse_timestamp("yesterday", "/p").is_err());
    }
}
