//! GitHub (and GitHub Enterprise Server) through the REST API: pull requests, their issue
//! comments and labels, reviews with inline comments, check runs plus commit statuses, merge.
//!
//! Workflow options (`repo.provider`):
//! - `repository`: `owner/repo`, required.
//! - `base_url`: default `https://api.github.com` (Enterprise: `https://host/api/v3`).
//! - `token`: `$VARIABLE` holding a token, default `GITHUB_TOKEN`; or a GitHub App:
//!   `app_id`, `private_key` (`$VARIABLE` holding the PEM, default `GITHUB_APP_PRIVATE_KEY`),
//!   optional `installation_id` (looked up from the repository otherwise).
//! - `clone_url`: default `https://github.com/owner/repo.git`, or derived from `base_url`.
//! - `merge_method`: `merge`, `squash` or `rebase`; default: the repository's default.

use super::checks::{CheckOutcome, CheckTally};
use super::github_app::GithubApp;
use super::github_json::{CreatedJson, PullJson, ReviewCommentJson, ReviewJson, StatusesJson};
use super::{
    CheckState, GitCredential, MergeOutcome, PullRequest, PullRequestSpec, RepoError, RepoPlatform,
    Review, ReviewComment,
};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::{ApiClient, ApiError};
use crate::pages::{all_pages, query_value};
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;

const SERVICE: &str = "github";
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";

pub struct GithubPlatform {
    owner: String,
    repo: String,
    /// Unauthenticated: the credential is added per call (it may be a renewed App token).
    api: ApiClient,
    auth: GithubAuth,
    clone_url: String,
    merge_method: Option<String>,
}

enum GithubAuth {
    Token(String),
    App(Box<GithubApp>),
}

impl fmt::Debug for GithubPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.auth {
            GithubAuth::Token(_) => "token",
            GithubAuth::App(_) => "app",
        };
        f.debug_struct("GithubPlatform")
            .field("repository", &format_args!("{}/{}", self.owner, self.repo))
            .field("base_url", &self.api.base_url())
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

impl GithubPlatform {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let repository = config.required("repository")?;
        let (owner, repo) = split_repository(&repository)
            .ok_or_else(|| ConfigError::new("github.repository", "must be `owner/repo`"))?;
        let base_url = config.base_url(DEFAULT_BASE_URL);
        let api = ApiClient::new(SERVICE, &base_url, config.policy)
            .and_then(|c| c.with_header("accept", "application/vnd.github+json", false))
            .and_then(|c| c.with_header("x-github-api-version", "2022-11-28", false))
            .map_err(|e| ConfigError::new("github.base_url", e.to_string()))?;
        let auth = match text_option(config, "app_id") {
            Some(app_id) => {
                let pem = config.secret("private_key", "GITHUB_APP_PRIVATE_KEY")?;
                let installation = match text_option(config, "installation_id") {
                    None => None,
                    Some(id) => Some(id.parse::<u64>().map_err(|_| {
                        ConfigError::new("github.installation_id", "must be a number")
                    })?),
                };
                GithubAuth::App(Box::new(GithubApp::new(
                    &app_id,
                    &pem,
                    installation,
                    owner,
                    repo,
                )?))
            }
            None => {
                let token = config.secret("token", "GITHUB_TOKEN")?;
                // Checked once here, so later calls cannot fail on it.
                bearer(&api, &token)
                    .map_err(|_| ConfigError::new("github.token", "has invalid characters"))?;
                GithubAuth::Token(token)
            }
        };
        let merge_method = config.string("merge_method");
        if let Some(method) = &merge_method {
            if !matches!(method.as_str(), "merge" | "squash" | "rebase") {
                return Err(ConfigError::new(
                    "github.merge_method",
                    "must be `merge`, `squash` or `rebase`",
                ));
            }
        }
        let clone_url = config
            .string("clone_url")
            .unwrap_or_else(|| default_clone_url(&base_url, owner, repo));
        Ok(Self {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            api,
            auth,
            clone_url,
            merge_method,
        })
    }

    /// The client with the current credential.
    async fn client(&self) -> Result<ApiClient, RepoError> {
        match &self.auth {
            GithubAuth::Token(token) => Ok(bearer(&self.api, token)?),
            GithubAuth::App(app) => {
                let token = app.installation_token(&self.api).await?;
                Ok(bearer(&self.api, &token)?)
            }
        }
    }

    async fn token(&self) -> Result<String, RepoError> {
        match &self.auth {
            GithubAuth::Token(token) => Ok(token.clone()),
            GithubAuth::App(app) => app.installation_token(&self.api).await,
        }
    }

    /// An API failure as the trait reports it. A refused App token is dropped so the next
    /// call exchanges a new one instead of failing until it expires.
    fn failed(&self, error: ApiError, number: Option<u64>) -> RepoError {
        if error.status() == Some(401) {
            if let GithubAuth::App(app) = &self.auth {
                app.forget_token();
            }
        }
        match number {
            Some(number) if error.is_not_found() => RepoError::NotFound {
                platform: SERVICE,
                number,
            },
            _ => error.into(),
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    fn pull(&self, answer: &Value, path: &str) -> Result<PullRequest, RepoError> {
        let json: PullJson = serde_json::from_value(answer.clone())
            .map_err(|e| ApiError::malformed(SERVICE, path, e.to_string()))?;
        Ok(json.into_pull(SERVICE, |n| {
            format!("{}/pull/{n}", self.clone_url.trim_end_matches(".git"))
        })?)
    }

    /// Pull requests whose head is `branch` in this repository, in `state`.
    async fn pulls_for(
        &self,
        client: &ApiClient,
        branch: &str,
        state: &str,
    ) -> Result<Vec<PullRequest>, RepoError> {
        let path = self.path(&format!(
            "/pulls?head={}&state={state}&per_page=100",
            query_value(&format!("{}:{branch}", self.owner))
        ));
        let items: Vec<Value> = all_pages(client, &path, None)
            .await
            .map_err(|e| self.failed(e, None))?;
        items.iter().map(|item| self.pull(item, &path)).collect()
    }

    async fn open_pull(
        &self,
        client: &ApiClient,
        branch: &str,
    ) -> Result<Option<PullRequest>, RepoError> {
        Ok(self
            .pulls_for(client, branch, "open")
            .await?
            .into_iter()
            .min_by_key(|p| p.number))
    }

    async fn update(
        &self,
        client: &ApiClient,
        number: u64,
        spec: &PullRequestSpec,
    ) -> Result<PullRequest, RepoError> {
        let path = self.path(&format!("/pulls/{number}"));
        let answer = client
            .patch(&path, &json!({ "title": spec.title, "body": spec.body }))
            .await
            .map_err(|e| self.failed(e, Some(number)))?;
        self.pull(&answer.body, &path)
    }
}

#[async_trait]
impl RepoPlatform for GithubPlatform {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn ensure_pull_request(&self, spec: &PullRequestSpec) -> Result<PullRequest, RepoError> {
        let client = self.client().await?;
        let pull = match self.open_pull(&client, &spec.head).await? {
            Some(existing) => self.update(&client, existing.number, spec).await?,
            None => {
                let path = self.path("/pulls");
                let body = json!({
                    "title": spec.title, "body": spec.body, "head": spec.head, "base": spec.base,
                });
                match client.post(&path, &body).await {
                    Ok(answer) => {
                        let mut created = self.pull(&answer.body, &path)?;
                        created.created = true;
                        created
                    }
                    // 422 "A pull request already exists": another run won the race between
                    // our read and our write. Update theirs; any other 422 stays an error.
                    Err(error) if error.status() == Some(422) => {
                        match self.open_pull(&client, &spec.head).await? {
                            Some(existing) => self.update(&client, existing.number, spec).await?,
                            None => return Err(self.failed(error, None)),
                        }
                    }
                    Err(error) => return Err(self.failed(error, None)),
                }
            }
        };
        if !spec.labels.is_empty() {
            self.add_labels(pull.number, &spec.labels).await?;
        }
        Ok(pull)
    }

    async fn find_pull_request(&self, head: &str) -> Result<Option<PullRequest>, RepoError> {
        let client = self.client().await?;
        Ok(self
            .pulls_for(&client, head, "all")
            .await?
            .into_iter()
            .max_by_key(|p| p.number))
    }

    async fn get_pull_request(&self, number: u64) -> Result<PullRequest, RepoError> {
        let client = self.client().await?;
        let path = self.path(&format!("/pulls/{number}"));
        let answer = client
            .get(&path)
            .await
            .map_err(|e| self.failed(e, Some(number)))?;
        self.pull(&answer.body, &path)
    }

    async fn comment(&self, number: u64, body: &str) -> Result<String, RepoError> {
        let client = self.client().await?;
        // Conversation comments on a pull request are issue comments.
        let path = self.path(&format!("/issues/{number}/comments"));
        let answer = client
            .post(&path, &json!({ "body": body }))
            .await
            .map_err(|e| self.failed(e, Some(number)))?;
        Ok(answer.parse::<CreatedJson>(SERVICE, &path)?.id)
    }

    async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), RepoError> {
        if labels.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let path = self.path(&format!("/issues/{number}/labels"));
        client
            .post(&path, &json!({ "labels": labels }))
            .await
            .map_err(|e| self.failed(e, Some(number)))?;
        Ok(())
    }

    async fn request_reviewers(&self, number: u64, reviewers: &[String]) -> Result<(), RepoError> {
        if reviewers.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let path = self.path(&format!("/pulls/{number}/requested_reviewers"));
        client
            .post(&path, &json!({ "reviewers": reviewers }))
            .await
            .map_err(|e| self.failed(e, Some(number)))?;
        Ok(())
    }

    async fn reviews(&self, number: u64) -> Result<Vec<Review>, RepoError> {
        let client = self.client().await?;
        let reviews: Vec<ReviewJson> = all_pages(
            &client,
            &self.path(&format!("/pulls/{number}/reviews?per_page=100")),
            None,
        )
        .await
        .map_err(|e| self.failed(e, Some(number)))?;
        let comments: Vec<ReviewCommentJson> = all_pages(
            &client,
            &self.path(&format!("/pulls/{number}/comments?per_page=100")),
            None,
        )
        .await
        .map_err(|e| self.failed(e, Some(number)))?;
        let mut by_review: HashMap<String, Vec<ReviewComment>> = HashMap::new();
        for comment in comments {
            if let Some(review) = comment.review().map(str::to_owned) {
                by_review
                    .entry(review)
                    .or_default()
                    .push(comment.into_comment());
            }
        }
        Ok(reviews
            .into_iter()
            .filter_map(|review| {
                let comments = by_review.remove(&review.id).unwrap_or_default();
                review.into_review(comments)
            })
            .collect())
    }

    async fn checks(&self, number: u64) -> Result<CheckState, RepoError> {
        let pull = self.get_pull_request(number).await?;
        let sha = pull.head_sha.ok_or_else(|| {
            ApiError::malformed(SERVICE, "pull request", "no head sha on the pull request")
        })?;
        let client = self.client().await?;
        let runs: Vec<CheckRunJson> = all_pages(
            &client,
            &self.path(&format!("/commits/{sha}/check-runs?per_page=100")),
            Some("check_runs"),
        )
        .await
        .map_err(|e| self.failed(e, None))?;
        let status_path = self.path(&format!("/commits/{sha}/status?per_page=100"));
        let statuses: StatusesJson = client
            .get(&status_path)
            .await
            .map_err(|e| self.failed(e, None))?
            .parse(SERVICE, &status_path)?;
        let mut tally = CheckTally::default();
        runs.iter().for_each(|run| tally.add(run.outcome()));
        statuses.tally(&mut tally);
        Ok(tally.state())
    }

    async fn merge(&self, number: u64, expected_head_sha: &str) -> Result<MergeOutcome, RepoError> {
        let client = self.client().await?;
        let path = self.path(&format!("/pulls/{number}/merge"));
        let mut body = json!({ "sha": expected_head_sha });
        if let Some(method) = &self.merge_method {
            body["merge_method"] = json!(method);
        }
        match client.put(&path, &body).await {
            Ok(answer) => {
                let merged: MergedJson = answer.parse(SERVICE, &path)?;
                Ok(if merged.merged {
                    MergeOutcome::Merged { sha: merged.sha }
                } else {
                    MergeOutcome::NotMergeable {
                        reason: merged.message.unwrap_or_default(),
                    }
                })
            }
            // "Head branch was modified. Review and try the merge again."
            Err(error) if error.status() == Some(409) => Ok(MergeOutcome::HeadChanged),
            // "Pull Request is not mergeable": conflicts, failing required checks, reviews.
            Err(ApiError::Status {
                status: 405,
                message,
                ..
            }) => Ok(MergeOutcome::NotMergeable { reason: message }),
            Err(error) => Err(self.failed(error, Some(number))),
        }
    }

    fn clone_url(&self) -> String {
        self.clone_url.clone()
    }

    async fn git_credential(&self) -> Result<Option<GitCredential>, RepoError> {
        let token = self.token().await?;
        Ok(Some(
            GitCredential::basic("x-access-token", &token).scoped_to(&self.clone_url),
        ))
    }
}

#[derive(Debug, Deserialize)]
struct CheckRunJson {
    status: String,
    #[serde(default)]
    conclusion: Option<String>,
}

impl CheckRunJson {
    fn outcome(&self) -> CheckOutcome {
        if self.status != "completed" {
            return CheckOutcome::Pending;
        }
        match self.conclusion.as_deref() {
            Some("success" | "neutral" | "skipped") => CheckOutcome::Passing,
            Some(
                "failure" | "cancelled" | "timed_out" | "action_required" | "stale"
                | "startup_failure",
            ) => CheckOutcome::Failing,
            _ => CheckOutcome::Pending,
        }
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

fn bearer(api: &ApiClient, token: &str) -> Result<ApiClient, ApiError> {
    api.clone()
        .with_header("authorization", &format!("Bearer {token}"), true)
}

fn split_repository(repository: &str) -> Option<(&str, &str)> {
    let (owner, repo) = repository.trim().split_once('/')?;
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    (valid(owner) && valid(repo)).then_some((owner, repo.trim_end_matches(".git")))
}

/// A string or number option (YAML writes `app_id: 12345` as a number).
fn text_option(config: &AdapterConfig<'_>, key: &str) -> Option<String> {
    match config.options.get(key)? {
        Value::Number(n) => Some(n.to_string()),
        _ => config.string(key),
    }
}

/// `https://github.com/o/r.git` for github.com; `https://host/o/r.git` for an Enterprise
/// `https://host/api/v3`; otherwise beside the API (a local fake).
fn default_clone_url(base_url: &str, owner: &str, repo: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let web = if base == DEFAULT_BASE_URL {
        "https://github.com"
    } else {
        base.strip_suffix("/api/v3").unwrap_or(base)
    };
    format!("{web}/{owner}/{repo}.git")
}

#[cfg(test)]
mod tests;
