use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a work item comes from: the tracker that originates it. Most are also webhook
/// sources (adding one is a variant here, a file under `webhooks/` and a line in the
/// registry); TAPD and the in-memory tracker send no webhooks, so the safety poll is what
/// originates their work items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Github,
    Linear,
    Jira,
    Gitlab,
    Tapd,
    Memory,
}

impl SourceKind {
    /// Every origin of work items.
    pub const ALL: [SourceKind; 6] = [
        Self::Github,
        Self::Linear,
        Self::Jira,
        Self::Gitlab,
        Self::Tapd,
        Self::Memory,
    ];

    /// The origins that post webhooks: the ones with a `/webhooks/{source}` route and a secret.
    pub const WEBHOOK_SOURCES: [SourceKind; 4] =
        [Self::Github, Self::Linear, Self::Jira, Self::Gitlab];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Linear => "linear",
            Self::Jira => "jira",
            Self::Gitlab => "gitlab",
            Self::Tapd => "tapd",
            Self::Memory => "memory",
        }
    }

    /// Whether the source posts webhooks; the others originate work through the poll only.
    pub fn accepts_webhooks(self) -> bool {
        Self::WEBHOOK_SOURCES.contains(&self)
    }

    /// The webhook source named `name`: an origin without webhooks is as unknown here as a
    /// name that is no origin at all.
    pub fn webhook(name: &str) -> Result<Self, UnknownSource> {
        name.parse::<Self>()
            .ok()
            .filter(|source| source.accepts_webhooks())
            .ok_or_else(|| UnknownSource(name.to_owned()))
    }

    /// The environment variable holding this source's webhook secret unless the workflow
    /// names another; `None` for a source without webhooks.
    pub fn default_secret_env(self) -> Option<&'static str> {
        match self {
            Self::Github => Some("GITHUB_WEBHOOK_SECRET"),
            Self::Linear => Some("LINEAR_WEBHOOK_SECRET"),
            Self::Jira => Some("JIRA_WEBHOOK_SECRET"),
            Self::Gitlab => Some("GITLAB_WEBHOOK_TOKEN"),
            Self::Tapd | Self::Memory => None,
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unknown webhook source `{}` (known: github, linear, jira, gitlab)",
    super::preview(.0)
)]
pub struct UnknownSource(pub String);

/// Parses any origin (`tracker.kind`, work item keys); [`SourceKind::webhook`] for routes.
impl FromStr for SourceKind {
    type Err = UnknownSource;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownSource(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_origin_parses_but_only_webhook_sources_have_routes() {
        for source in SourceKind::ALL {
            assert_eq!(source.as_str().parse::<SourceKind>().ok(), Some(source));
            assert_eq!(
                SourceKind::webhook(source.as_str()).is_ok(),
                source.default_secret_env().is_some(),
                "{source}"
            );
        }
        assert!(SourceKind::webhook("github").is_ok());
        for name in ["tapd", "memory", "bitbucket", ""] {
            let refused = SourceKind::webhook(name).map(|_| ());
            assert!(refused.is_err(), "{name}");
        }
        assert!(!SourceKind::Tapd.accepts_webhooks());
        assert!(SourceKind::Gitlab.accepts_webhooks());
    }
}
