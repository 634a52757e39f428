//! CNB (cnb.cool) pull requests through its OpenAPI, whose JSON follows GitHub's (the
//! mapping is shared in `github_json`).
//!
//! From CNB's OpenAPI reference (`https://api.cnb.cool`): `Authorization: Bearer <token>`
//! with `Accept: application/vnd.cnb.api+json`; pulls at `/{repo}/-/pulls` (list with
//! `state`, `page`, `page_size`; create with `{title, body, head, base}`),
//! `/{repo}/-/pulls/{number}` (get, PATCH), `/comments`, `/labels` (`{labels: [...]}`),
//! `/reviews` and `/reviews/{id}/comments`, `/commit-statuses`, and `PUT …/merge` with
//! `{merge_style, commit_title}`; numbers and ids are strings. Git over HTTPS takes the
//! user name `cnb` and the token as password.
//!
//! Assumptions where the reference is silent:
//! - The list has no head-branch filter and no `Link` header: pages are read by number
//!   until one comes back empty, and the head is matched here.
//! - Merging takes no head sha, so the head is compared just before the merge call; a push
//!   in the moment between the two is not detected.
//! - A duplicate create is refused with 400, 409 or 422; any of them leads to re-reading
//!   the open pulls before the error is reported.
//! - `/commit-statuses` reports the pull request's head commit.
//!
//! Workflow options (`repo.provider`): `repository` (`group/repo`, required), `base_url`
//! (default `https://api.cnb.cool`), `token` (`$VARIABLE`, default `CNB_TOKEN`), `web_url`
//! (default: `base_url` without its `api.` host prefix), `clone_url` (default
//! `<web_url>/<repository>.git`), `merge_style` (`merge`, `squash`, `rebase`; default `merge`).

use super::checks::CheckTally;
use super::github_json::{CreatedJson, PullJson, ReviewCommentJson, ReviewJson, StatusesJson};
use super::{
    CheckState, GitCredential, MergeOutcome, PullRequest, PullRequestSpec, RepoError, RepoPlatform,
    Review,
};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::{ApiClient, ApiError};
use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::fmt;

const SERVICE: &str = "cnb";
pub const DEFAULT_BASE_URL: &str = "https://api.cnb.cool";
const PAGE_SIZE: usize = 100;
/// At most this many pages per listing (2,000 pull requests at 100 per page).
const MAX_PAGES: usize = 20;

pub struct CnbPlatform {
    repo: String,
    api: ApiClient,
    token: String,
    web_url: String,
    clone_url: String,
    merge_style: String,
}

impl fmt::Debug for CnbPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CnbPlatform")
            .field("repository", &self.repo)
            .field("base_url", &self.api.base_url())
            .finish_non_exhaustive()
    }
}

impl CnbPlatform {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let repo = config.required("repository")?;
        let repo = repo.trim_matches('/').trim_end_matches(".git").to_owned();
        let valid = repo.contains('/')
            && repo.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if !valid {
            return Err(ConfigError::new("cnb.repository", "must be `group/repo`"));
        }
        let base_url = config.base_url(DEFAULT_BASE_URL);
        let token = config.secret("token", "CNB_TOKEN")?;
        let api = ApiClient::new(SERVICE, &base_url, config.policy)
            .and_then(|c| c.with_header("accept", "application/vnd.cnb.api+json", false))
            .map_err(|e| ConfigError::new("cnb.base_url", e.to_string()))?
            .with_header("authorization", &format!("Bearer {token}"), true)
            .map_err(|_| ConfigError::new("cnb.token", "has invalid characters"))?;
        let web_url = config
            .string("web_url")
            .unwrap_or_else(|| default_web_url(&base_url));
        let web_url = web_url.trim_end_matches('/').to_owned();
        let clone_url = config
            .string("clone_url")
            .unwrap_or_else(|| format!("{web_url}/{repo}.git"));
        let merge_style = config
            .string("merge_style")
            .unwrap_or_else(|| "merge".into());
        if !matches!(merge_style.as_str(), "merge" | "squash" | "rebase") {
            return Err(ConfigError::new(
                "cnb.merge_style",
                "must be `merge`, `squash` or `rebase`",
            ));
        }
        Ok(Self {
            repo,
            api,
            token,
            web_url,
            clone_url,
            merge_style,
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/{}/-{rest}", self.repo)
    }

    fn failed(error: ApiError, number: Option<u64>) -> RepoError {
        match number {
            Some(number) if error.is_not_found() => RepoError::NotFound {
                platform: SERVICE,
                number,
            },
            _ => error.into(),
        }
    }

    fn pull(&self, body: &Value, path: &str) -> Result<PullRequest, RepoError> {
        let json: PullJson = serde_json::from_value(body.clone())
            .map_err(|e| ApiError::malformed(SERVICE, path, e.to_string()))?;
        Ok(json.into_pull(SERVICE, |n| {
            format!("{}/{}/-/pulls/{n}", self.web_url, self.repo)
        })?)
    }

    /// Every item of a page-numbered listing.
    async fn numbered_pages<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ApiError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!("{path}{separator}page={page}&page_size={PAGE_SIZE}");
            let answer = self.api.get(&url).await?;
            let batch: Vec<T> = answer.parse(SERVICE, path)?;
            if batch.is_empty() {
                return Ok(items);
            }
            items.extend(batch);
        }
        Ok(items)
    }

    async fn pulls_for(&self, branch: &str, state: &str) -> Result<Vec<PullRequest>, RepoError> {
        let path = self.path(&format!("/pulls?state={state}"));
        let items: Vec<Value> = self
            .numbered_pages(&path)
            .await
            .map_err(|e| Self::failed(e, None))?;
        let mut pulls = Vec::new();
        for item in &items {
            let pull = self.pull(item, &path)?;
            if pull.head == branch {
                pulls.push(pull);
            }
        }
        Ok(pulls)
    }

    async fn open_pull(&self, branch: &str) -> Result<Option<PullRequest>, RepoError> {
        Ok(self
            .pulls_for(branch, "open")
            .await?
            .into_iter()
            .min_by_key(|p| p.number))
    }

    async fn update(&self, number: u64, spec: &PullRequestSpec) -> Result<PullRequest, RepoError> {
        let path = self.path(&format!("/pulls/{number}"));
        let answer = self
            .api
            .patch(&path, &json!({ "title": spec.title, "body": spec.body }))
            .await
            .map_err(|e| Self::failed(e, Some(number)))?;
        self.pull(&answer.body, &path)
    }
}

#[async_trait]
impl RepoPlatform for CnbPlatform {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn ensure_pull_request(&self, spec: &PullRequestSpec) -> Result<PullRequest, RepoError> {
        let pull = match self.open_pull(&spec.head).await? {
            Some(existing) => self.update(existing.number, spec).await?,
            None => {
                let path = self.path("/pulls");
                let body = json!({
                    "title": spec.title, "body": spec.body, "head": spec.head, "base": spec.base,
                });
                match self.api.post(&path, &body).await {
                    Ok(answer) => {
                        let mut created = self.pull(&answer.body, &path)?;
                        created.created = true;
                        created
                    }
                    Err(error) if matches!(error.status(), Some(400 | 409 | 422)) => {
                        match self.open_pull(&spec.head).await? {
                            Some(existing) => self.update(existing.number, spec).await?,
                            None => return Err(error.into()),
                        }
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        };
        if !spec.labels.is_empty() {
            self.add_labels(pull.number, &spec.labels).await?;
        }
        Ok(pull)
    }

    async fn find_pull_request(&self, head: &str) -> Result<Option<PullRequest>, RepoError> {
        Ok(self
            .pulls_for(head, "all")
            .await?
            .into_iter()
            .max_by_key(|p| p.number))
    }

    async fn get_pull_request(&self, number: u64) -> Result<PullRequest, RepoError> {
        let path = self.path(&format!("/pulls/{number}"));
        let answer = self
            .api
            .get(&path)
            .await
            .map_err(|e| Self::failed(e, Some(number)))?;
        self.pull(&answer.body, &path)
    }

    async fn comment(&self, number: u64, body: &str) -> Result<String, RepoError> {
        let path = self.path(&format!("/pulls/{number}/comments"));
        let answer = self
            .api
            .post(&path, &json!({ "body": body }))
            .await
            .map_err(|e| Self::failed(e, Some(number)))?;
        Ok(answer.parse::<CreatedJson>(SERVICE, &path)?.id)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), RepoError> {
        if labels.is_empty() {
            return Ok(());
        }
        let path = self.path(&format!("/pulls/{number}/labels"));
        self.api
            .post(&path, &json!({ "labels": labels }))
            .await
            .map_err(|e| Self::failed(e, Some(number)))?;
        Ok(())
    }

    async fn reviews(&self, number: u64) -> Result<Vec<Review>, RepoError> {
        let path = self.path(&format!("/pulls/{number}/reviews"));
        let listed: Vec<ReviewJson> = self
            .numbered_pages(&path)
            .await
            .map_err(|e| Self::failed(e, Some(number)))?;
        let mut reviews = Vec::new();
        for review in listed {
            // Pending and dismissed reviews are dropped without fetching their comments.
            if matches!(
                review.state.to_ascii_lowercase().as_str(),
                "pending" | "dismissed"
            ) {
                continue;
            }
            let comments_path = self.path(&format!(
                "/pulls/{number}/reviews/{}/comments",
                utf8_percent_encode(&review.id, NON_ALPHANUMERIC)
            ));
            let comments: Vec<ReviewCommentJson> = self
                .numbered_pages(&comments_path)
                .await
                .map_err(|e| Self::failed(e, Some(number)))?;
            let comments = comments.into_iter().map(|c| c.into_comment()).collect();
            reviews.extend(review.into_review(comments));
        }
        Ok(reviews)
    }

    async fn checks(&self, number: u64) -> Result<CheckState, RepoError> {
        let path = self.path(&format!("/pulls/{number}/commit-statuses"));
        let statuses: StatusesJson = self
            .api
            .get(&path)
            .await
            .map_err(|e| Self::failed(e, Some(number)))?
            .parse(SERVICE, &path)?;
        let mut tally = CheckTally::default();
        statuses.tally(&mut tally);
        Ok(tally.state())
    }

    async fn merge(&self, number: u64, expected_head_sha: &str) -> Result<MergeOutcome, RepoError> {
        let current = self.get_pull_request(number).await?;
        if current.head_sha.as_deref() != Some(expected_head_sha) {
            return Ok(MergeOutcome::HeadChanged);
        }
        let path = self.path(&format!("/pulls/{number}/merge"));
        match self
            .api
            .put(&path, &json!({ "merge_style": self.merge_style }))
            .await
        {
            Ok(answer) => {
                let merged: MergedJson = answer.parse(SERVICE, &path)?;
                Ok(if merged.merged {
                    MergeOutcome::Merged {
                        sha: merged.sha.filter(|s| !s.is_empty()),
                    }
                } else {
                    MergeOutcome::NotMergeable {
                        reason: merged.message.unwrap_or_default(),
                    }
                })
            }
            Err(ApiError::Status {
                status: 400 | 405 | 409 | 422,
                message,
                ..
            }) => Ok(MergeOutcome::NotMergeable { reason: message }),
            Err(error) => Err(Self::failed(error, Some(number))),
        }
    }

    fn clone_url(&self) -> String {
        self.clone_url.clone()
    }

    async fn git_credential(&self) -> Result<Option<GitCredential>, RepoError> {
        Ok(Some(
            GitCredential::basic("cnb", &self.token).scoped_to(&self.clone_url),
        ))
    }
}

#[derive(Debug, Deserialize)]
struct MergedJson {
    #[serde(default)]
    merged: bool,
    #[serde(default)]
    sha: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// `https://api.cnb.cool` → `https://cnb.cool`; any other host stays as it is.
fn default_web_url(base_url: &str) -> String {
    match url::Url::parse(base_url) {
        Ok(mut url) => {
            if let Some(web_host) = url.host_str().and_then(|h| h.strip_prefix("api.")) {
                let web_host = web_host.to_owned();
                if url.set_host(Some(&web_host)).is_err() {
                    return base_url.trim_end_matches('/').to_owned();
                }
            }
            url.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => base_url.trim_end_matches('/').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_address_drops_the_api_host_prefix() {
        assert_eq!(default_web_url(DEFAULT_BASE_URL), "https://cnb.cool");
        assert_eq!(
            default_web_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
