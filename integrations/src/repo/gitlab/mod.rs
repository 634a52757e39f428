//! GitLab (gitlab.com or self-managed) merge requests through the REST API v4.
//!
//! Reviews: GitLab has no review verdicts, so an unresolved thread on the merge request
//! stands for a change request (its notes become the review's comments, diff notes with
//! their file and line) and each approval for an approval. Plain comments (`individual_note`,
//! such as baton's own) and system notes are not reviews. Checks: the newest pipeline of the
//! head commit.
//!
//! Workflow options (`repo.provider`):
//! - `project`: `group/project` path (or numeric id, then `clone_url` is required).
//! - `base_url`: default `https://gitlab.com/api/v4`.
//! - `token`: `$VARIABLE` holding a token, default `GITLAB_TOKEN`; sent as `PRIVATE-TOKEN`.
//! - `clone_url`: default `<web>/<project>.git`, the web address being `base_url` without
//!   `/api/v4`.

use super::checks::CheckTally;
use super::github_json::CreatedJson;
use super::{
    CheckState, GitCredential, MergeOutcome, PullRequest, PullRequestSpec, RepoError, RepoPlatform,
    Review, ReviewVerdict,
};
use crate::config::{AdapterConfig, ConfigError};
use crate::http::{ApiClient, ApiError};
use crate::pages::{all_pages, query_value};
use async_trait::async_trait;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::json;
use std::fmt;

mod json;

use json::{ApprovalsJson, DiscussionJson, MergeRequestJson, PipelineJson};

const SERVICE: &str = "gitlab";
pub const DEFAULT_BASE_URL: &str = "https://gitlab.com/api/v4";

/// A project path is one URL segment in the API: `group/app` → `group%2Fapp`.
const PROJECT_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

pub struct GitlabPlatform {
    /// The project as the API addresses it (encoded path or id).
    project: String,
    api: ApiClient,
    token: String,
    clone_url: String,
}

impl fmt::Debug for GitlabPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitlabPlatform")
            .field("project", &self.project)
            .field("base_url", &self.api.base_url())
            .finish_non_exhaustive()
    }
}

impl GitlabPlatform {
    pub fn from_config(config: &AdapterConfig<'_>) -> Result<Self, ConfigError> {
        let project = config.required("project")?;
        let project = project
            .trim_matches('/')
            .trim_end_matches(".git")
            .to_owned();
        let numeric = project.chars().all(|c| c.is_ascii_digit());
        let base_url = config.base_url(DEFAULT_BASE_URL);
        let token = config.secret("token", "GITLAB_TOKEN")?;
        let api = ApiClient::new(SERVICE, &base_url, config.policy)
            .map_err(|e| ConfigError::new("gitlab.base_url", e.to_string()))?
            .with_header("private-token", &token, true)
            .map_err(|_| ConfigError::new("gitlab.token", "has invalid characters"))?;
        let clone_url = match config.string("clone_url") {
            Some(url) => url,
            None if numeric => {
                return Err(ConfigError::new(
                    "gitlab.clone_url",
                    "is required when `project` is a numeric id",
                ))
            }
            None => {
                let base = base_url.trim_end_matches('/');
                let web = base.strip_suffix("/api/v4").unwrap_or(base);
                format!("{web}/{project}.git")
            }
        };
        Ok(Self {
            project: utf8_percent_encode(&project, PROJECT_SEGMENT).to_string(),
            api,
            token,
            clone_url,
        })
    }

    fn path(&self, rest: &str) -> String {
        format!("/projects/{}{rest}", self.project)
    }

    fn mr_path(&self, iid: u64, rest: &str) -> String {
        self.path(&format!("/merge_requests/{iid}{rest}"))
    }

    fn failed(error: ApiError, iid: Option<u64>) -> RepoError {
        match iid {
            Some(number) if error.is_not_found() => RepoError::NotFound {
                platform: SERVICE,
                number,
            },
            _ => error.into(),
        }
    }

    async fn merge_requests(
        &self,
        branch: &str,
        state: &str,
    ) -> Result<Vec<PullRequest>, RepoError> {
        let path = self.path(&format!(
            "/merge_requests?source_branch={}&state={state}&per_page=100",
            query_value(branch)
        ));
        let items: Vec<MergeRequestJson> = all_pages(&self.api, &path, None)
            .await
            .map_err(|e| Self::failed(e, None))?;
        Ok(items
            .into_iter()
            // The filter is the server's; a branch of the same name in a fork is not ours.
            .filter(|mr| mr.source_branch == branch)
            .map(MergeRequestJson::into_pull)
            .collect())
    }

    async fn open_merge_request(&self, branch: &str) -> Result<Option<PullRequest>, RepoError> {
        Ok(self
            .merge_requests(branch, "opened")
            .await?
            .into_iter()
            .min_by_key(|p| p.number))
    }

    async fn update(&self, iid: u64, spec: &PullRequestSpec) -> Result<PullRequest, RepoError> {
        let path = self.mr_path(iid, "");
        let answer = self
            .api
            .put(
                &path,
                &json!({ "title": spec.title, "description": spec.body }),
            )
            .await
            .map_err(|e| Self::failed(e, Some(iid)))?;
        Ok(answer
            .parse::<MergeRequestJson>(SERVICE, &path)?
            .into_pull())
    }
}

#[async_trait]
impl RepoPlatform for GitlabPlatform {
    fn kind(&self) -> &'static str {
        SERVICE
    }

    async fn ensure_pull_request(&self, spec: &PullRequestSpec) -> Result<PullRequest, RepoError> {
        let pull = match self.open_merge_request(&spec.head).await? {
            Some(existing) => self.update(existing.number, spec).await?,
            None => {
                let path = self.path("/merge_requests");
                let body = json!({
                    "source_branch": spec.head, "target_branch": spec.base,
                    "title": spec.title, "description": spec.body,
                });
                match self.api.post(&path, &body).await {
                    Ok(answer) => {
                        let mut created = answer
                            .parse::<MergeRequestJson>(SERVICE, &path)?
                            .into_pull();
                        created.created = true;
                        created
                    }
                    // 409 "Another open merge request already exists for this source branch":
                    // a concurrent run opened it first.
                    Err(error) if error.status() == Some(409) => {
                        match self.open_merge_request(&spec.head).await? {
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
            .merge_requests(head, "all")
            .await?
            .into_iter()
            .max_by_key(|p| p.number))
    }

    async fn get_pull_request(&self, number: u64) -> Result<PullRequest, RepoError> {
        let path = self.mr_path(number, "");
        let answer = self
            .api
            .get(&path)
            .await
            .map_err(|e| Self::failed(e, Some(number)))?;
        Ok(answer
            .parse::<MergeRequestJson>(SERVICE, &path)?
            .into_pull())
    }

    async fn comment(&self, number: u64, body: &str) -> Result<String, RepoError> {
        let path = self.mr_path(number, "/notes");
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
        let path = self.mr_path(number, "");
        self.api
            .put(&path, &json!({ "add_labels": labels.join(",") }))
            .await
            .map_err(|e| Self::failed(e, Some(number)))?;
        Ok(())
    }

    async fn reviews(&self, number: u64) -> Result<Vec<Review>, RepoError> {
        let discussions: Vec<DiscussionJson> = all_pages(
            &self.api,
            &self.mr_path(number, "/discussions?per_page=100"),
            None,
        )
        .await
        .map_err(|e| Self::failed(e, Some(number)))?;
        let mut reviews: Vec<Review> = discussions
            .into_iter()
            .filter_map(DiscussionJson::into_review)
            .collect();
        let path = self.mr_path(number, "/approvals");
        let approvals: ApprovalsJson = self
            .api
            .get(&path)
            .await
            .map_err(|e| Self::failed(e, Some(number)))?
            .parse(SERVICE, &path)?;
        reviews.extend(approvals.approved_by.into_iter().map(|a| Review {
            id: format!("approval:{}", a.user.username),
            author: a.user.username,
            verdict: ReviewVerdict::Approved,
            body: String::new(),
            comments: Vec::new(),
            submitted_at: None,
        }));
        Ok(reviews)
    }

    async fn checks(&self, number: u64) -> Result<CheckState, RepoError> {
        let pull = self.get_pull_request(number).await?;
        let Some(sha) = pull.head_sha else {
            return Ok(CheckState::None);
        };
        let pipelines: Vec<PipelineJson> = all_pages(
            &self.api,
            &self.mr_path(number, "/pipelines?per_page=100"),
            None,
        )
        .await
        .map_err(|e| Self::failed(e, Some(number)))?;
        // Retries make several pipelines per commit: the newest one decides.
        let newest = pipelines
            .into_iter()
            .filter(|p| p.sha == sha)
            .max_by_key(|p| p.id);
        let mut tally = CheckTally::default();
        if let Some(pipeline) = newest {
            tally.add(pipeline.outcome());
        }
        Ok(tally.state())
    }

    async fn merge(&self, number: u64, expected_head_sha: &str) -> Result<MergeOutcome, RepoError> {
        let path = self.mr_path(number, "/merge");
        match self
            .api
            .put(&path, &json!({ "sha": expected_head_sha }))
            .await
        {
            Ok(answer) => {
                let merged: MergeRequestJson = answer.parse(SERVICE, &path)?;
                Ok(if merged.state == "merged" {
                    MergeOutcome::Merged {
                        sha: merged.merge_commit_sha.or(merged.squash_commit_sha),
                    }
                } else {
                    MergeOutcome::NotMergeable {
                        reason: format!("the merge request is `{}` after merging", merged.state),
                    }
                })
            }
            // "SHA does not match HEAD of source branch".
            Err(error) if error.status() == Some(409) => Ok(MergeOutcome::HeadChanged),
            // 405/406: not mergeable now (conflicts, draft, pipeline, approvals); 422: the
            // merge itself failed.
            Err(ApiError::Status {
                status: 405 | 406 | 422,
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
            GitCredential::basic("oauth2", &self.token).scoped_to(&self.clone_url),
        ))
    }
}

#[cfg(test)]
mod tests;
