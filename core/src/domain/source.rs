use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a webhook came from. Adding a source is adding a variant here, a file under
/// `webhooks/`, and a line in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Github,
    Linear,
    Jira,
    Gitlab,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [Self::Github, Self::Linear, Self::Jira, Self::Gitlab];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Linear => "linear",
            Self::Jira => "jira",
            Self::Gitlab => "gitlab",
        }
    }

    /// The environment variable holding this source's secret unless the workflow names another.
    pub fn default_secret_env(self) -> &'static str {
        match self {
            Self::Github => "GITHUB_WEBHOOK_SECRET",
            Self::Linear => "LINEAR_WEBHOOK_SECRET",
            Self::Jira => "JIRA_WEBHOOK_SECRET",
            Self::Gitlab => "GITLAB_WEBHOOK_TOKEN",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown webhook source `{0}` (known: github, linear, jira, gitlab)")]
pub struct UnknownSource(pub String);

impl FromStr for SourceKind {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownSource(s.to_owned()))
    }
}
