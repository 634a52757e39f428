use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a work item comes from: the tracker that originates it. What each one is like (its
/// states, scope, links and webhook scheme) it says itself: see `crate::sources`, where
/// adding one takes its file and a line in the registry besides the variant here.
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
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown source `{}`", super::preview(.0))]
pub struct UnknownSource(pub String);

/// Parses any origin (`tracker.kind`, work item keys); `crate::sources::webhook_named` for
/// routes.
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
    fn every_origin_parses_by_its_name() {
        for source in SourceKind::ALL {
            assert_eq!(source.as_str().parse::<SourceKind>().ok(), Some(source));
            assert_eq!(source.to_string(), source.as_str());
        }
        for name in ["bitbucket", "", "GitHub"] {
            assert!(name.parse::<SourceKind>().is_err(), "{name}");
        }
    }
}
