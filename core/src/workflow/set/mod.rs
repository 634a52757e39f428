//! Several workflows in one deployment, each serving its tracker scope.
//!
//! Selection for a delivery from `source` looks only at the workflows that may serve it: the
//! ones whose `tracker.kind` is that source, or — when none is — the one workflow without a
//! scope (a lone workflow serves every source, as a single `WORKFLOW.md` always has). Among
//! those, a workflow whose scope contains the issue wins over the unscoped one; no match
//! means no workflow serves the delivery. Two workflows claiming the same kind and scope are
//! refused, so every selection has at most one answer.

use super::{StateRules, Workflow, WorkflowError, WorkflowScope};
use crate::domain::{IssueSnapshot, SourceKind, WorkItem};
use crate::secret::Secret;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A workflow as handed to [`WorkflowSet::new`].
#[derive(Debug, Clone)]
pub struct NamedWorkflow {
    /// Unique in the set: the file's name (`app.md`), or `development` for the built-in one.
    pub name: String,
    pub workflow: Arc<Workflow>,
    /// The file's content hash, when it came from one.
    pub version: Option<String>,
    /// Its webhook secrets, resolved (see [`Workflow::webhook_secrets`]).
    pub secrets: BTreeMap<SourceKind, Secret>,
}

/// One workflow of a set, with what serving it needs precomputed.
#[derive(Debug)]
pub struct ServedWorkflow {
    name: String,
    workflow: Arc<Workflow>,
    version: Option<String>,
    scope: WorkflowScope,
    rules: StateRules,
    /// Per source: where its secret sits in [`WorkflowSet::candidate_secrets`].
    secret_slots: BTreeMap<SourceKind, usize>,
}

impl ServedWorkflow {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn workflow(&self) -> &Arc<Workflow> {
        &self.workflow
    }

    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    pub fn scope(&self) -> &WorkflowScope {
        &self.scope
    }

    /// Its trigger and eligibility rules, compiled once.
    pub fn rules(&self) -> &StateRules {
        &self.rules
    }

    /// The index, in [`WorkflowSet::candidate_secrets`] for `source`, of this workflow's
    /// secret for `source`; `None` when it has none.
    pub fn secret_slot(&self, source: SourceKind) -> Option<usize> {
        self.secret_slots.get(&source).copied()
    }
}

/// The workflows one deployment serves. Immutable: a reload builds a new set.
#[derive(Debug, Default)]
pub struct WorkflowSet {
    workflows: Vec<ServedWorkflow>,
    /// Per source: the indices of the workflows that may serve it.
    serving: BTreeMap<SourceKind, Vec<usize>>,
    /// Per source: the distinct secrets of those workflows.
    secrets: BTreeMap<SourceKind, Vec<Secret>>,
}

impl WorkflowSet {
    /// Builds the set; two workflows with the same name, or serving the same kind and scope,
    /// are a [`WorkflowError::Conflict`] naming both.
    pub fn new(workflows: Vec<NamedWorkflow>) -> Result<Self, WorkflowError> {
        let mut claims: HashMap<(String, Option<String>), usize> = HashMap::new();
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (index, named) in workflows.iter().enumerate() {
            let conflict = |other: usize, scope: String| WorkflowError::Conflict {
                first: workflows[other].workflow.describe(),
                second: named.workflow.describe(),
                scope,
            };
            if let Some(&other) = names.get(named.name.as_str()) {
                return Err(conflict(other, format!("the name `{}`", named.name)));
            }
            names.insert(&named.name, index);
            let scope = WorkflowScope::of(&named.workflow.config.tracker);
            if let Some(other) = claims.insert(scope.claim(), index) {
                return Err(conflict(other, scope.to_string()));
            }
        }

        let scopes: Vec<WorkflowScope> = workflows
            .iter()
            .map(|named| WorkflowScope::of(&named.workflow.config.tracker))
            .collect();
        let unscoped: Vec<usize> = (0..scopes.len())
            .filter(|&i| !scopes[i].is_scoped())
            .collect();
        let mut serving = BTreeMap::new();
        // Every origin, webhook or not: a polled TAPD item is served like a delivered one.
        for source in SourceKind::ALL {
            let named: Vec<usize> = (0..scopes.len())
                .filter(|&i| scopes[i].source() == Some(source))
                .collect();
            let indices = match (named.is_empty(), unscoped.as_slice()) {
                (false, _) => named,
                (true, [only]) => vec![*only],
                // Several unscoped workflows of other kinds: none is more right than another.
                (true, _) => Vec::new(),
            };
            serving.insert(source, indices);
        }

        let mut secrets: BTreeMap<SourceKind, Vec<Secret>> = BTreeMap::new();
        let mut slots: Vec<BTreeMap<SourceKind, usize>> = vec![BTreeMap::new(); workflows.len()];
        for (&source, indices) in &serving {
            let distinct = secrets.entry(source).or_default();
            for &index in indices {
                let Some(secret) = workflows[index].secrets.get(&source) else {
                    continue;
                };
                let slot = match distinct.iter().position(|known| known == secret) {
                    Some(slot) => slot,
                    None => {
                        distinct.push(secret.clone());
                        distinct.len() - 1
                    }
                };
                slots[index].insert(source, slot);
            }
        }

        let workflows = workflows
            .into_iter()
            .zip(scopes)
            .zip(slots)
            .map(|((named, scope), secret_slots)| ServedWorkflow {
                rules: StateRules::new(&named.workflow.config),
                name: named.name,
                workflow: named.workflow,
                version: named.version,
                scope,
                secret_slots,
            })
            .collect();
        Ok(Self {
            workflows,
            serving,
            secrets,
        })
    }

    /// A deployment of one workflow: it serves every delivery, as before sets existed.
    pub fn single(workflow: Arc<Workflow>, secrets: BTreeMap<SourceKind, Secret>) -> Self {
        let name = workflow
            .path
            .as_deref()
            .and_then(|path| path.file_name())
            .map_or_else(
                || "development".to_owned(),
                |name| name.to_string_lossy().into_owned(),
            );
        let named = NamedWorkflow {
            name,
            workflow,
            version: None,
            secrets,
        };
        // One workflow cannot conflict with another.
        Self::new(vec![named]).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.workflows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workflows.is_empty()
    }

    /// The workflows, in the order given (a directory's: by file name).
    pub fn iter(&self) -> impl Iterator<Item = &ServedWorkflow> {
        self.workflows.iter()
    }

    pub fn get(&self, name: &str) -> Option<&ServedWorkflow> {
        self.workflows.iter().find(|served| served.name == name)
    }

    /// The workflow that serves an issue delivered by `source` (see the module docs).
    pub fn select(&self, source: SourceKind, issue: &IssueSnapshot) -> Option<&Arc<Workflow>> {
        self.select_served(source, issue)
            .map(ServedWorkflow::workflow)
    }

    /// [`WorkflowSet::select`], with the workflow's name, rules and secret slots.
    pub fn select_served(
        &self,
        source: SourceKind,
        issue: &IssueSnapshot,
    ) -> Option<&ServedWorkflow> {
        let candidates = self.serving.get(&source)?;
        let served = |index: &usize| &self.workflows[*index];
        candidates
            .iter()
            .map(served)
            .find(|served| served.scope.contains(source, issue))
            .or_else(|| {
                candidates
                    .iter()
                    .map(served)
                    .find(|served| !served.scope.is_scoped())
            })
    }

    /// The workflow a work item's runs follow: the one serving its latest snapshot.
    pub fn select_for_item(&self, item: &WorkItem) -> Option<&Arc<Workflow>> {
        self.select(item.source, &item.issue)
    }

    /// [`WorkflowSet::select_for_item`], with the workflow's name and rules.
    pub fn select_served_for_item(&self, item: &WorkItem) -> Option<&ServedWorkflow> {
        self.select_served(item.source, &item.issue)
    }

    /// The distinct secrets of the workflows that may serve `source`: a delivery's signature
    /// is checked against each before its body is trusted to say which workflow serves it.
    pub fn candidate_secrets(&self, source: SourceKind) -> &[Secret] {
        self.secrets.get(&source).map_or(&[], Vec::as_slice)
    }

    /// The sources that have at least one secret, and so can accept webhooks.
    pub fn configured_sources(&self) -> impl Iterator<Item = SourceKind> + '_ {
        self.secrets
            .iter()
            .filter(|(_, secrets)| !secrets.is_empty())
            .map(|(source, _)| *source)
    }

    /// Every webhook secret of the set, for redaction.
    pub fn all_secrets(&self) -> impl Iterator<Item = &Secret> {
        self.secrets.values().flatten()
    }
}

#[cfg(test)]
mod tests;
