//! The workflow's prompt template: Liquid, strict.
//!
//! Parsed once with [`PromptTemplate::parse`], rendered per attempt with
//! [`PromptTemplate::render`]. Strict means a typo fails loudly instead of sending the agent
//! a prompt with a hole in it: an unknown filter fails the parse (`template_parse_error`), an
//! unknown variable or field fails the render (`template_render_error`). The `liquid` crate
//! behaves this way out of the box (it has no lax mode for undefined variables); the tests in
//! `runner/tests/prompt.rs` pin that down.
//!
//! Variables:
//! - `issue`: `id`, `identifier`, `title`, `body`, `description` (= `body`, the name
//!   Symphony's templates use), `state`, `labels` (lowercased), `url`, `repository`,
//!   `author`; and, so Symphony templates render, `priority`, `assignee_id`, `created_at`,
//!   `updated_at` (nil: the webhook snapshot does not carry them), `blocked_by` (empty) and
//!   `branch_name` (the work branch when known, else nil).
//! - `attempt`: nil on the first run, the attempt number after.
//! - `repo`: `url` (credentials redacted), `base_branch`, `work_branch` (each nil when unknown).
//! - `workflow`: `profile` (nil for now).

use crate::workspace::RepoConfig;
use baton_core::domain::IssueSnapshot;
use baton_core::workflow::Workflow;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("template_parse_error: {0}")]
    TemplateParse(String),
    #[error("template_render_error: {0}")]
    TemplateRender(String),
}

impl PromptError {
    /// The error class named by the WORKFLOW.md contract.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TemplateParse(_) => "template_parse_error",
            Self::TemplateRender(_) => "template_render_error",
        }
    }
}

/// The `repo` variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepoVars {
    pub url: Option<String>,
    pub base_branch: Option<String>,
    pub work_branch: Option<String>,
}

impl RepoVars {
    /// From the workflow's `repo` keys, for the issue `identifier`.
    pub fn from_config(repo: &RepoConfig, identifier: &str) -> Self {
        Self {
            url: repo.source.as_ref().map(|s| s.display()),
            base_branch: Some(repo.base_branch.clone()),
            work_branch: Some(repo.work_branch(identifier)),
        }
    }
}

/// The `workflow` variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkflowVars {
    /// `workflow.profile.kind` once profiles exist; nil for now.
    pub profile: Option<String>,
}

/// Everything one render sees.
#[derive(Debug, Clone)]
pub struct PromptInput<'a> {
    pub issue: &'a IssueSnapshot,
    /// `None` on the first run.
    pub attempt: Option<u32>,
    pub repo: RepoVars,
    pub workflow: WorkflowVars,
}

impl<'a> PromptInput<'a> {
    /// An input with `repo` and `workflow` unknown (all nil).
    pub fn new(issue: &'a IssueSnapshot, attempt: Option<u32>) -> Self {
        Self {
            issue,
            attempt,
            repo: RepoVars::default(),
            workflow: WorkflowVars::default(),
        }
    }

    pub fn with_repo(mut self, repo: RepoVars) -> Self {
        self.repo = repo;
        self
    }

    fn globals(&self) -> Value {
        let issue = self.issue;
        json!({
            "issue": {
                "id": issue.id,
                "identifier": issue.identifier,
                "title": issue.title,
                "body": issue.body,
                "description": issue.body,
                "state": issue.state,
                "labels": issue.labels,
                "url": issue.url,
                "repository": issue.repository,
                "author": issue.author,
                "priority": null,
                "assignee_id": null,
                "created_at": null,
                "updated_at": null,
                "blocked_by": [],
                "branch_name": self.repo.work_branch,
            },
            "attempt": self.attempt,
            "repo": self.repo,
            "workflow": self.workflow,
        })
    }
}

/// A parsed prompt template; cheap to render many times and shareable across tasks.
pub struct PromptTemplate {
    template: liquid::Template,
}

impl std::fmt::Debug for PromptTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptTemplate").finish_non_exhaustive()
    }
}

impl PromptTemplate {
    /// Parses `source` with Liquid's standard tags and filters.
    pub fn parse(source: &str) -> Result<Self, PromptError> {
        let parser = liquid::ParserBuilder::with_stdlib()
            .build()
            .map_err(|e| PromptError::TemplateParse(e.to_string()))?;
        let template = parser
            .parse(source)
            .map_err(|e| PromptError::TemplateParse(one_line(&e.to_string())))?;
        Ok(Self { template })
    }

    /// Parses the workflow's template (already [`baton_core::workflow::DEFAULT_PROMPT`] when
    /// the file's body was empty).
    pub fn from_workflow(workflow: &Workflow) -> Result<Self, PromptError> {
        Self::parse(&workflow.prompt_template)
    }

    pub fn render(&self, input: &PromptInput<'_>) -> Result<String, PromptError> {
        let globals = liquid::to_object(&input.globals())
            .map_err(|e| PromptError::TemplateRender(e.to_string()))?;
        self.template
            .render(&globals)
            .map_err(|e| PromptError::TemplateRender(one_line(&e.to_string())))
    }
}

/// Liquid's messages span lines (`with:` context); keep them on one for logs and records.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn template_is_shareable() {
        assert_send_sync::<PromptTemplate>();
    }
}
