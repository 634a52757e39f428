//! The `WORKFLOW.md` contract: YAML front matter (a map) and a prompt template.
//!
//! Symphony-compatible: its keys keep their meaning, and so do Maestro's. baton adds
//! `triggers` (who and what starts a run), `webhooks` (where each source's secret lives) and
//! `gates`. Every key is typed in [`schema`]; an unknown one is refused, naming its path.

pub mod gates;
pub mod host_tools;
pub mod profile;
pub mod schema;
mod scope;
mod set;
mod source;
mod states;
mod watch;

pub use gates::{GatesConfig, MergeFacts, MergeGates};
pub use profile::{Profile, ProfileKind};
pub use schema::{
    AgentConfig, AgentProviderConfig, AgentProviderOptions, CodexConfig, HooksSection,
    NotifyConfig, NotifyEvent, PollingConfig, RepoSection, ServerConfig, SlackNotifyConfig,
    SlackTarget, TrackerConfig, TriggerConfig, WebhookSecretConfig, WorkflowConfig,
    WorkspaceSection, SLACK_API_URL,
};
pub use scope::{scope_key, WorkflowScope};
pub use set::{NamedWorkflow, ServedWorkflow, WorkflowSet};
pub use source::{env_lookup, SecretLookup, WorkflowSource, WorkflowStatus};
pub use states::StateRules;
pub use watch::{
    reload_interval, InvalidReloadInterval, Reloader, WorkflowWatch, DEFAULT_RELOAD_INTERVAL,
    RELOAD_INTERVAL_ENV,
};

use crate::domain::SourceKind;
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The prompt used when the file's body is empty.
pub const DEFAULT_PROMPT: &str = "You are working on an issue from the configured tracker.";

/// The workflow `baton dev` runs when no file is given: trigger label `baton`, the mock agent,
/// local repositories. It works offline.
pub const DEV_WORKFLOW: &str = include_str!("dev_workflow.md");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error("missing_workflow_file: cannot read {path}: {reason}")]
    MissingWorkflowFile { path: PathBuf, reason: String },
    #[error("workflow_parse_error: {0}")]
    WorkflowParseError(String),
    #[error("workflow_front_matter_not_a_map: the front matter must be a YAML map")]
    FrontMatterNotAMap,
    /// Two workflows of one deployment serve the same tracker scope.
    #[error("workflow_conflict: {first} and {second} both serve {scope}")]
    Conflict {
        first: String,
        second: String,
        scope: String,
    },
    /// An error of one file among several, naming it.
    #[error("{path}: {error}")]
    InFile {
        path: PathBuf,
        error: Box<WorkflowError>,
    },
}

impl WorkflowError {
    /// The error class named by the WORKFLOW.md contract.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingWorkflowFile { .. } => "missing_workflow_file",
            Self::WorkflowParseError(_) => "workflow_parse_error",
            Self::FrontMatterNotAMap => "workflow_front_matter_not_a_map",
            Self::Conflict { .. } => "workflow_conflict",
            Self::InFile { error, .. } => error.code(),
        }
    }

    /// The error as read from the file at `path`, naming it (a missing file already does).
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            Self::MissingWorkflowFile { .. } | Self::InFile { .. } => self,
            error => Self::InFile {
                path: path.to_owned(),
                error: Box::new(error),
            },
        }
    }
}

/// A parsed workflow file.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub config: WorkflowConfig,
    /// The prompt template, trimmed; [`DEFAULT_PROMPT`] when the body is empty.
    pub prompt_template: String,
    /// Where it was read from; `None` for the built-in development workflow.
    pub path: Option<PathBuf>,
}

impl Workflow {
    pub fn load(path: &Path) -> Result<Self, WorkflowError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| WorkflowError::MissingWorkflowFile {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let mut workflow = Self::parse(&text).map_err(|error| error.in_file(path))?;
        workflow.path = Some(path.to_owned());
        Ok(workflow)
    }

    /// The workflow a process runs: `explicit` when given, else `./WORKFLOW.md` when it
    /// exists, else the built-in development workflow.
    pub fn discover(explicit: Option<&Path>) -> Result<Self, WorkflowError> {
        match explicit {
            Some(path) => Self::load(path),
            None if Path::new("WORKFLOW.md").is_file() => Self::load(Path::new("WORKFLOW.md")),
            None => Ok(Self::development()),
        }
    }

    /// A short name for logs: the file's path, or `built-in development workflow`.
    pub fn describe(&self) -> String {
        self.path.as_ref().map_or_else(
            || "built-in development workflow".to_owned(),
            |path| path.display().to_string(),
        )
    }

    pub fn development() -> Self {
        // The built-in file is tested below; failing here would be a build defect.
        Self::parse(DEV_WORKFLOW).unwrap_or_else(|e| panic!("built-in dev workflow: {e}"))
    }

    pub fn parse(text: &str) -> Result<Self, WorkflowError> {
        let (front_matter, body) = split_front_matter(text);
        let config = match front_matter {
            None => WorkflowConfig::default(),
            Some(yaml) => {
                let value: serde_yaml::Value = serde_yaml::from_str(yaml)
                    .map_err(|e| WorkflowError::WorkflowParseError(e.to_string()))?;
                match value {
                    serde_yaml::Value::Mapping(map) => WorkflowConfig::from_front_matter(map)?,
                    // An empty front matter block is an empty map.
                    serde_yaml::Value::Null => {
                        WorkflowConfig::from_front_matter(serde_yaml::Mapping::new())?
                    }
                    _ => return Err(WorkflowError::FrontMatterNotAMap),
                }
            }
        };
        let body = body.trim();
        Ok(Self {
            config,
            prompt_template: if body.is_empty() {
                DEFAULT_PROMPT.to_owned()
            } else {
                body.to_owned()
            },
            path: None,
        })
    }

    /// The webhook secret of every source, resolved from the environment through `lookup`.
    /// A source whose variable is unset or empty has no secret and refuses every request.
    pub fn webhook_secrets(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> BTreeMap<SourceKind, Secret> {
        crate::sources::webhook_sources()
            .filter_map(|source| {
                let variable = self.config.webhooks.secret_variable(source);
                lookup(variable)
                    .and_then(Secret::new)
                    .map(|secret| (source, secret))
            })
            .collect()
    }
}

/// Splits `---\n<yaml>\n---\n<body>`; a file that does not start with `---` is all body.
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    // No closing fence: the whole remainder is front matter.
    (Some(rest), "")
}

#[cfg(test)]
mod tests;
