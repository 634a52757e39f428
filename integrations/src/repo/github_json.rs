//! GitHub's pull request, review and commit-status JSON, and its mapping to baton's model.
//! CNB's OpenAPI mirrors these shapes with a few differences this module absorbs: numbers
//! and ids as strings, `author.username` for `user.login`, `created_at` for `submitted_at`,
//! `refs/heads/…` in `head.ref`, lowercase review states, `state: "merged"`.

use super::checks::{commit_status, CheckTally};
use super::{PullRequest, PullRequestState, Review, ReviewComment, ReviewVerdict};
use crate::http::ApiError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize)]
pub(crate) struct PullJson {
    #[serde(deserialize_with = "number")]
    pub number: u64,
    #[serde(default)]
    pub html_url: Option<String>,
    pub state: String,
    #[serde(default)]
    pub merged: Option<bool>,
    #[serde(default)]
    pub merged_at: Option<String>,
    pub head: RefJson,
    pub base: RefJson,
    #[serde(default)]
    pub mergeable: Option<bool>,
    #[serde(default)]
    pub mergeable_state: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RefJson {
    #[serde(rename = "ref")]
    pub name: String,
    #[serde(default)]
    pub sha: Option<String>,
}

impl RefJson {
    /// The branch name, whether the API says `main` or `refs/heads/main`.
    pub fn branch(&self) -> &str {
        self.name.strip_prefix("refs/heads/").unwrap_or(&self.name)
    }
}

impl PullJson {
    /// The model; `url` stands in when the API has no `html_url` (CNB).
    pub fn into_pull(
        self,
        service: &'static str,
        url: impl FnOnce(u64) -> String,
    ) -> Result<PullRequest, ApiError> {
        let state = match self.state.to_ascii_lowercase().as_str() {
            "open" => PullRequestState::Open,
            "merged" => PullRequestState::Merged,
            "closed" if self.merged == Some(true) || self.merged_at.is_some() => {
                PullRequestState::Merged
            }
            "closed" => PullRequestState::Closed,
            other => {
                return Err(ApiError::malformed(
                    service,
                    "pull request",
                    format!("unknown state `{other}`"),
                ))
            }
        };
        // `mergeable` is null while GitHub computes it; CNB lists only `mergeable_state`.
        let mergeable = self.mergeable.or_else(|| {
            match self
                .mergeable_state
                .as_deref()?
                .to_ascii_lowercase()
                .as_str()
            {
                "mergeable" | "clean" => Some(true),
                "conflict" | "no-merge-base" | "dirty" => Some(false),
                _ => None,
            }
        });
        let number = self.number;
        Ok(PullRequest {
            number,
            url: self.html_url.unwrap_or_else(|| url(number)),
            state,
            head: self.head.branch().to_owned(),
            base: self.base.branch().to_owned(),
            head_sha: self.head.sha.filter(|s| !s.is_empty()),
            mergeable,
            created: false,
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserJson {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
}

fn author(user: Option<UserJson>, fallback: Option<UserJson>) -> String {
    user.or(fallback)
        .and_then(|u| u.login.or(u.username))
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReviewJson {
    #[serde(deserialize_with = "id")]
    pub id: String,
    #[serde(default)]
    pub user: Option<UserJson>,
    #[serde(default)]
    pub author: Option<UserJson>,
    pub state: String,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub submitted_at: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

impl ReviewJson {
    /// The review, or `None` for one that is pending (not submitted) or dismissed: neither
    /// asks anything of the next run.
    pub fn into_review(self, comments: Vec<ReviewComment>) -> Option<Review> {
        let verdict = match self.state.to_ascii_lowercase().as_str() {
            "approved" => ReviewVerdict::Approved,
            "changes_requested" => ReviewVerdict::ChangesRequested,
            "commented" => ReviewVerdict::Commented,
            _ => return None,
        };
        Some(Review {
            id: self.id,
            author: author(self.user, self.author),
            verdict,
            body: self.body.unwrap_or_default(),
            comments,
            submitted_at: self
                .submitted_at
                .or(self.created_at)
                .as_deref()
                .and_then(timestamp),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReviewCommentJson {
    /// GitHub's `pull_request_review_id`; CNB's `review_id`.
    #[serde(default, deserialize_with = "optional_id")]
    pub pull_request_review_id: Option<String>,
    #[serde(default, deserialize_with = "optional_id")]
    pub review_id: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub line: Option<u64>,
    /// Where the comment was made, when later commits moved the line away (`line` is null).
    #[serde(default)]
    pub original_line: Option<u64>,
    /// CNB's name for the line.
    #[serde(default)]
    pub end_line: Option<u64>,
    pub body: String,
}

impl ReviewCommentJson {
    pub fn review(&self) -> Option<&str> {
        self.pull_request_review_id
            .as_deref()
            .or(self.review_id.as_deref())
    }

    pub fn into_comment(self) -> ReviewComment {
        ReviewComment {
            path: self.path.filter(|p| !p.is_empty()),
            line: self
                .line
                .or(self.end_line)
                .or(self.original_line)
                .filter(|l| *l > 0),
            body: self.body,
        }
    }
}

/// A commit's statuses: GitHub's `/commits/{sha}/status`, CNB's `/pulls/{n}/commit-statuses`.
/// The top-level `state` is ignored: GitHub says `pending` when there are no statuses at all.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusesJson {
    #[serde(default)]
    pub statuses: Vec<StatusJson>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatusJson {
    pub state: String,
}

impl StatusesJson {
    pub fn tally(&self, tally: &mut CheckTally) {
        for status in &self.statuses {
            tally.add(commit_status(&status.state));
        }
    }
}

/// Comment creation answers with the new comment; only its id matters.
#[derive(Debug, Deserialize)]
pub(crate) struct CreatedJson {
    #[serde(deserialize_with = "id")]
    pub id: String,
}

pub(crate) fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// A pull request number: GitHub sends a number, CNB a string of digits.
fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(n) => Ok(n),
        NumberOrText::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a number"))),
    }
}

fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match NumberOrText::deserialize(deserializer)? {
        NumberOrText::Number(n) => n.to_string(),
        NumberOrText::Text(text) => text,
    })
}

fn optional_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<NumberOrText>::deserialize(deserializer)? {
        None => None,
        Some(NumberOrText::Number(n)) => Some(n.to_string()),
        Some(NumberOrText::Text(text)) if text.is_empty() => None,
        Some(NumberOrText::Text(text)) => Some(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn github_and_cnb_pulls_map_alike() {
        let github: PullJson = serde_json::from_value(json!({
            "number": 7, "html_url": "https://github.com/o/r/pull/7", "state": "closed",
            "merged": true, "merged_at": "2024-01-01T00:00:00Z", "mergeable": null,
            "head": {"ref": "baton/x", "sha": "abc"}, "base": {"ref": "main", "sha": "def"}
        }))
        .unwrap();
        let pull = github.into_pull("github", |_| unreachable!()).unwrap();
        assert_eq!(pull.state, PullRequestState::Merged);
        assert_eq!((pull.head.as_str(), pull.number), ("baton/x", 7));
        let cnb: PullJson = serde_json::from_value(json!({
            "number": "12", "state": "open", "mergeable_state": "conflict",
            "head": {"ref": "refs/heads/baton/x", "sha": "abc"}, "base": {"ref": "refs/heads/main"}
        }))
        .unwrap();
        let pull = cnb
            .into_pull("cnb", |n| format!("https://cnb.cool/o/r/-/pulls/{n}"))
            .unwrap();
        assert_eq!(pull.number, 12);
        assert_eq!(pull.head, "baton/x");
        assert_eq!(pull.base, "main");
        assert_eq!(pull.mergeable, Some(false));
        assert_eq!(pull.url, "https://cnb.cool/o/r/-/pulls/12");
    }

    #[test]
    fn pending_and_dismissed_reviews_are_left_out() {
        let review = |state: &str| -> ReviewJson {
            serde_json::from_value(
                json!({"id": "r1", "author": {"username": "ann"}, "state": state}),
            )
            .unwrap()
        };
        assert!(review("PENDING").into_review(vec![]).is_none());
        assert!(review("dismissed").into_review(vec![]).is_none());
        let kept = review("changes_requested").into_review(vec![]).unwrap();
        assert_eq!(kept.verdict, ReviewVerdict::ChangesRequested);
        assert_eq!(kept.author, "ann");
    }
}
