//! The workflow's prompt template: Liquid, strict.
//!
//! Parsed once with [`PromptTemplate::parse`], rendered per attempt with
//! [`PromptTemplate::render`]. Strict means a typo fails loudly instead of sending the agent
//! a prompt with a hole in it: an unknown filter fails the parse (`template_parse_error`), an
//! unknown variable or field fails the render (`template_render_error`). The `liquid` crate
//! does this for output (`{{ }}`), filters and loops, but its existence checks
//! (`{% if x %}`, `{% unless x %}`) treat an unknown name as false; so the parse also scans
//! those conditions for names that are neither baton's variables nor defined by the template
//! (`assign`, `capture`, `for`, ...), and rendering such a template fails. The tests in
//! `runner/tests/prompt.rs` pin all of this down.
//!
//! Variables:
//! - `issue`: `id`, `identifier`, `title`, `body`, `description` (= `body`, the name
//!   Symphony's templates use), `state`, `labels` (lowercased), `url`, `repository`,
//!   `author`; and, so Symphony templates render, `priority`, `assignee_id`, `created_at`,
//!   `updated_at` (nil: the webhook snapshot does not carry them), `blocked_by` (empty) and
//!   `branch_name` (the work branch when known, else nil).
//! - `attempt`: nil on the first run, the attempt number after.
//! - `repo`: `url` (credentials redacted), `base_branch`, `work_branch` (each nil when unknown).
//! - `workflow`: `profile` (`kind`, `contract`, `deliverable`, `tools`, `routes`).

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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkflowVars {
    /// The workflow's profile and its contract (nil when the caller did not give one).
    pub profile: Option<Value>,
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

    pub fn with_profile(mut self, profile: Value) -> Self {
        self.workflow.profile = Some(profile);
        self
    }

    fn globals(&self) -> Value {
        let issue = self.issue;
        // Symphony's description is nil when the ticket has none, so
        // `{% if issue.description %}` can tell; an empty string would be truthy in Liquid.
        let description = Some(&issue.body).filter(|body| !body.trim().is_empty());
        json!({
            "issue": {
                "id": issue.id,
                "identifier": issue.identifier,
                "title": issue.title,
                "body": issue.body,
                "description": description,
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
    /// An unknown name in a condition, found when parsing; reported by every render.
    unknown_in_condition: Option<String>,
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
        Ok(Self {
            template,
            unknown_in_condition: unknown_condition_variable(source),
        })
    }

    /// Parses the workflow's template (already [`baton_core::workflow::DEFAULT_PROMPT`] when
    /// the file's body was empty).
    pub fn from_workflow(workflow: &Workflow) -> Result<Self, PromptError> {
        Self::parse(&workflow.prompt_template)
    }

    pub fn render(&self, input: &PromptInput<'_>) -> Result<String, PromptError> {
        if let Some(message) = &self.unknown_in_condition {
            return Err(PromptError::TemplateRender(message.clone()));
        }
        let globals = liquid::to_object(&input.globals())
            .map_err(|e| PromptError::TemplateRender(e.to_string()))?;
        self.template
            .render(&globals)
            .map_err(|e| PromptError::TemplateRender(one_line(&e.to_string())))
    }
}

/// The names every render provides: each root variable with its fields (empty for scalars).
fn known_variables() -> Vec<(String, Vec<String>)> {
    let issue = IssueSnapshot::default();
    let globals = PromptInput::new(&issue, None).globals();
    globals
        .as_object()
        .map(|roots| {
            roots
                .iter()
                .map(|(name, value)| {
                    let fields = value
                        .as_object()
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default();
                    (name.clone(), fields)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Words of Liquid's condition syntax that are not variables.
const CONDITION_WORDS: [&str; 9] = [
    "and", "or", "contains", "nil", "null", "true", "false", "empty", "blank",
];

/// The tags (`{% ... %}`) of a template as `(name, arguments)`, skipping `raw` and `comment`
/// bodies.
fn tags(source: &str) -> Vec<(&str, &str)> {
    let mut tags = Vec::new();
    let mut rest = source;
    let mut skip_until: Option<&str> = None;
    while let Some(start) = rest.find("{%") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("%}") else { break };
        let inner = after[..end]
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        rest = &after[end + 2..];
        let (name, args) = inner
            .split_once(char::is_whitespace)
            .map_or((inner, ""), |(n, a)| (n, a.trim()));
        if let Some(closing) = skip_until {
            if name == closing {
                skip_until = None;
            }
            continue;
        }
        match name {
            "raw" => skip_until = Some("endraw"),
            "comment" => skip_until = Some("endcomment"),
            _ => tags.push((name, args)),
        }
    }
    tags
}

/// Dotted names in a condition (`issue.title`, `attempt`), string literals skipped.
fn condition_names(condition: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let bytes = condition.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += 1;
            }
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || matches!(bytes[i], b'_' | b'.' | b'-' | b'?'))
            {
                i += 1;
            }
            names.push(condition[start..i].trim_end_matches('.'));
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The first name in an `if`, `elsif` or `unless` condition that nothing provides.
fn unknown_condition_variable(source: &str) -> Option<String> {
    let tags = tags(source);
    let known = known_variables();
    let mut defined: Vec<&str> = vec!["forloop", "tablerowloop"];
    for (name, args) in &tags {
        if matches!(
            *name,
            "assign" | "capture" | "for" | "tablerow" | "increment" | "decrement"
        ) {
            if let Some(variable) = args.split(|c: char| c.is_whitespace() || c == '=').next() {
                defined.push(variable);
            }
        }
    }
    for (name, args) in &tags {
        if !matches!(*name, "if" | "elsif" | "unless") {
            continue;
        }
        for path in condition_names(args) {
            if CONDITION_WORDS.contains(&path) {
                continue;
            }
            let mut segments = path.split('.');
            let root = segments.next().unwrap_or_default();
            if defined.contains(&root) {
                continue;
            }
            let unknown = match known.iter().find(|(known_root, _)| known_root == root) {
                None => true,
                Some((_, fields)) => match segments.next() {
                    Some(field) if !fields.is_empty() => !fields.iter().any(|f| f == field),
                    _ => false,
                },
            };
            if unknown {
                return Some(format!(
                    "Unknown variable `{path}` in `{{% {name} {args} %}}` (baton's templates \
                     are strict: conditions may only test defined variables)"
                ));
            }
        }
    }
    None
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
