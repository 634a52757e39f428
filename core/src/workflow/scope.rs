//! A workflow's tracker scope: which work items it serves, delivered or polled.
//!
//! `tracker.kind` names the source; one key of the adapter-owned `tracker.provider` map
//! narrows it to a repository (GitHub, GitLab), a project (Jira), a team (Linear) or a
//! workspace (TAPD). Each source says which key, what a value looks like and what lies
//! within it (`crate::sources::Source`); only what every delivery of that source carries can
//! decide it. The memory tracker has no scope.

use super::{TrackerConfig, WorkflowError};
use crate::domain::{IssueSnapshot, SourceKind};
use std::fmt;

/// The `tracker.provider` key that scopes a workflow whose tracker is `source`; `None` when
/// the tracker cannot be narrowed (memory: one board per workflow).
pub fn scope_key(source: SourceKind) -> Option<&'static str> {
    crate::sources::describe(source).scope_key()
}

/// What a workflow serves: its tracker's source, narrowed to one repository, project or
/// team when the front matter names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowScope {
    /// `tracker.kind` as written.
    kind: String,
    /// The origin `kind` names; `None` when it names none (the tracker registry refuses it).
    source: Option<SourceKind>,
    /// The repository, project, team or workspace, as written; `None`: all of them.
    value: Option<String>,
}

impl WorkflowScope {
    /// Reads the scope; a value that is not a usable string (refused when the file was
    /// parsed, see [`validate`]) counts as no scope.
    pub fn of(tracker: &TrackerConfig) -> Self {
        let source = tracker.kind.parse::<SourceKind>().ok();
        let value = source
            .and_then(scope_key)
            .and_then(|key| tracker.provider_str(key))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned);
        Self {
            kind: tracker.kind.clone(),
            source,
            value,
        }
    }

    pub fn source(&self) -> Option<SourceKind> {
        self.source
    }

    /// The repository, project or team; `None` when the workflow serves all of its source.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    pub fn is_scoped(&self) -> bool {
        self.value.is_some()
    }

    /// Whether an issue delivered by `source` lies within this scope. An unscoped workflow
    /// contains nothing: it is chosen as a fallback, never as a match.
    pub fn contains(&self, source: SourceKind, issue: &IssueSnapshot) -> bool {
        let (Some(own), Some(value)) = (self.source, self.value.as_deref()) else {
            return false;
        };
        own == source && crate::sources::describe(source).in_scope(issue, value)
    }

    /// The identity two workflows may not share: the tracker kind and the scope, compared
    /// the way [`WorkflowScope::contains`] compares them.
    pub(super) fn claim(&self) -> (String, Option<String>) {
        (
            self.kind.trim().to_owned(),
            self.value.as_deref().map(str::to_ascii_lowercase),
        )
    }
}

impl fmt::Display for WorkflowScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.source.and_then(scope_key);
        match (self.source, key, &self.value) {
            (Some(source), Some(key), Some(value)) => write!(f, "{source} {key} {value}"),
            (Some(source), Some(key), None) => write!(f, "every {source} {key}"),
            _ => write!(f, "the {} tracker", self.kind),
        }
    }
}

/// Refuses a scope that could never match, so a typo fails the file instead of silently
/// serving nothing.
pub(super) fn validate(tracker: &TrackerConfig) -> Result<(), WorkflowError> {
    let Some((source, key)) = tracker
        .kind
        .parse::<SourceKind>()
        .ok()
        .and_then(|source| Some((source, scope_key(source)?)))
    else {
        return Ok(());
    };
    let Some(value) = tracker.provider.get(key) else {
        return Ok(());
    };
    let invalid = |expected: &str| {
        Err(WorkflowError::WorkflowParseError(format!(
            "`tracker.provider.{key}` must be {expected}"
        )))
    };
    let Some(value) = value.as_str().map(str::trim) else {
        return invalid("a string");
    };
    crate::sources::describe(source)
        .check_scope(value)
        .or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{NamedWorkflow, Workflow, WorkflowSet};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn named(name: &str, front_matter: &str) -> NamedWorkflow {
        let workflow = Workflow::parse(&format!("---\n{front_matter}\n---\n")).expect("parses");
        NamedWorkflow {
            name: name.to_owned(),
            workflow: Arc::new(workflow),
            version: None,
            secrets: BTreeMap::new(),
        }
    }

    fn story(workspace: &str) -> IssueSnapshot {
        IssueSnapshot {
            identifier: format!("TAPD-11{workspace}000000001"),
            url: Some(format!(
                "https://www.tapd.cn/{workspace}/prong/stories/view/11{workspace}000000001"
            )),
            ..IssueSnapshot::default()
        }
    }

    fn tapd(workspace: &str) -> String {
        format!("tracker: {{kind: tapd, provider: {{workspace_id: \"{workspace}\"}}}}")
    }

    #[test]
    fn tapd_workflows_are_scoped_by_workspace() {
        let set = WorkflowSet::new(vec![
            named("a.md", &tapd("20355782")),
            named("b.md", &tapd("55001234")),
        ])
        .expect("two workspaces, two workflows");
        let chosen = |workspace: &str| {
            set.select_served(SourceKind::Tapd, &story(workspace))
                .map(|served| served.name().to_owned())
        };
        assert_eq!(chosen("20355782").as_deref(), Some("a.md"));
        assert_eq!(chosen("55001234").as_deref(), Some("b.md"));
        assert_eq!(chosen("99999999"), None);
        assert_eq!(
            set.iter().next().map(|served| served.scope().to_string()),
            Some("tapd workspace_id 20355782".to_owned())
        );

        let same = WorkflowSet::new(vec![
            named("a.md", &tapd("20355782")),
            named("c.md", &tapd("20355782")),
        ]);
        assert!(same.is_err(), "one workspace claimed twice");
        for bad in [
            "tracker: {kind: tapd, provider: {workspace_id: 20355782}}",
            "tracker: {kind: tapd, provider: {workspace_id: \"ws-1\"}}",
        ] {
            let error = Workflow::parse(&format!("---\n{bad}\n---\n")).expect_err(bad);
            assert!(error.to_string().contains("workspace_id"), "{error}");
        }
    }

    #[test]
    fn the_memory_tracker_has_no_scope_and_still_serves_every_source_alone() {
        let set = WorkflowSet::single(Arc::new(Workflow::development()), BTreeMap::new());
        let served = set.iter().next().expect("one workflow");
        assert_eq!(served.scope().source(), Some(SourceKind::Memory));
        assert!(!served.scope().is_scoped());
        assert_eq!(served.scope().to_string(), "the memory tracker");
        for source in SourceKind::ALL {
            assert!(
                set.select_served(source, &IssueSnapshot::default())
                    .is_some(),
                "{source}"
            );
        }
    }
}
