use super::{GatesConfig, Profile, WorkflowConfig};
use crate::domain::{Association, IssueSnapshot, SourceKind};
use std::collections::HashSet;

/// The eligibility rules of a workflow, lowercased once so routing a webhook allocates nothing.
#[derive(Debug, Clone)]
pub struct StateRules {
    tracker_source: Option<SourceKind>,
    active: HashSet<String>,
    terminal: HashSet<String>,
    required_labels: Vec<String>,
    pub trigger_label: Option<String>,
    pub command_prefix: String,
    allowed_associations: HashSet<Association>,
    allowed_authors: HashSet<String>,
    pub on_active_state: bool,
    /// Route keys of the workflow's profile, for state changes.
    pub profile: Profile,
    pub gates: GatesConfig,
}

fn lowercase_set<'a>(values: impl IntoIterator<Item = &'a str>) -> HashSet<String> {
    values
        .into_iter()
        .map(|v| v.trim().to_lowercase())
        .collect()
}

/// The states `source` starts with, when the workflow names none (see
/// [`crate::sources::Source::default_active_states`]).
fn default_states(source: SourceKind) -> (&'static [&'static str], &'static [&'static str]) {
    let source = crate::sources::describe(source);
    (
        source.default_active_states(),
        source.default_terminal_states(),
    )
}

impl StateRules {
    pub fn new(config: &WorkflowConfig) -> Self {
        let tracker = &config.tracker;
        let triggers = &config.triggers;
        let profile = &config.profile;
        // A profile's dispatch routes are active states, its stop routes terminal ones.
        let active = tracker
            .active_states
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(profile.dispatch_states());
        let terminal = tracker
            .terminal_states
            .iter()
            .flatten()
            .map(String::as_str)
            .chain(profile.stop_states());
        Self {
            tracker_source: tracker.kind.parse().ok(),
            active: lowercase_set(active),
            terminal: lowercase_set(terminal),
            required_labels: tracker
                .required_labels
                .iter()
                .map(|l| l.trim().to_lowercase())
                .collect(),
            trigger_label: triggers
                .label
                .as_ref()
                .map(|l| l.trim().to_lowercase())
                .filter(|l| !l.is_empty()),
            command_prefix: triggers.command_prefix.clone(),
            allowed_associations: triggers
                .allowed_associations
                .iter()
                .filter_map(|a| Association::from_config(a))
                .collect(),
            allowed_authors: lowercase_set(triggers.allowed_authors.iter().map(String::as_str)),
            on_active_state: triggers.on_active_state,
            profile: config.profile.clone(),
            gates: config.gates.clone(),
        }
    }

    /// Whether the workflow's own tracker lists apply to `source`.
    fn configured_for(&self, source: SourceKind) -> bool {
        self.tracker_source == Some(source)
    }

    pub fn is_active(&self, source: SourceKind, state: &str) -> bool {
        let state = state.trim().to_lowercase();
        if self.configured_for(source) && !self.active.is_empty() {
            self.active.contains(&state)
        } else {
            default_states(source).0.contains(&state.as_str())
        }
    }

    pub fn is_terminal(&self, source: SourceKind, state: &str) -> bool {
        let state = state.trim().to_lowercase();
        if self.configured_for(source) && !self.terminal.is_empty() {
            self.terminal.contains(&state)
        } else {
            default_states(source).1.contains(&state.as_str())
        }
    }

    /// The states that count as active for `source`, as configured or by default (for the
    /// safety poll's listing).
    pub fn active_states(&self, source: SourceKind) -> Vec<String> {
        if self.configured_for(source) && !self.active.is_empty() {
            let mut states: Vec<String> = self.active.iter().cloned().collect();
            states.sort();
            states
        } else {
            default_states(source)
                .0
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        }
    }

    /// Symphony's eligibility: active, not terminal, carrying every required label; plus
    /// baton's trigger label when one is configured.
    pub fn is_eligible(&self, source: SourceKind, issue: &IssueSnapshot) -> bool {
        self.is_active(source, &issue.state)
            && !self.is_terminal(source, &issue.state)
            && self.required_labels.iter().all(|l| issue.has_label(l))
            && self
                .trigger_label
                .as_deref()
                .is_none_or(|l| issue.has_label(l))
    }

    /// Whether a label takes part in eligibility (the trigger label or a required one).
    pub fn is_gating_label(&self, label: &str) -> bool {
        let label = label.trim().to_lowercase();
        self.trigger_label.as_deref() == Some(label.as_str())
            || self.required_labels.contains(&label)
    }

    /// Whether `login` with `association` may run comment commands.
    pub fn may_command(&self, login: &str, association: Association) -> bool {
        self.allowed_associations.contains(&association)
            || self.allowed_authors.contains(&login.to_lowercase())
    }
}
