//! Workflow states on trackers whose issues are only open or closed (GitHub, GitLab).
//!
//! Teams model states such as "In Progress" or "In Review" there with labels, so a workflow
//! may map state names to labels under `tracker.provider.state_labels`:
//!
//! ```yaml
//! tracker:
//!   kind: github
//!   provider:
//!     repository: acme/app
//!     state_labels:
//!       In Progress: "status: in progress"
//!       In Review: "status: in review"
//! ```
//!
//! A closed issue is closed whatever its labels say; an open issue carrying one of those
//! labels is in that label's state; any other open issue is plainly open. A move adds the
//! target's label, removes the other state labels, and opens or closes the issue as needed.

use super::{same_state, StateMove};
use crate::config::{AdapterConfig, ConfigError};

/// How a tracker spells its two native states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NativeNames {
    pub open: &'static str,
    pub closed: &'static str,
    /// Other names accepted for the open state (GitLab's `opened` is often written `open`).
    pub open_aliases: &'static [&'static str],
}

/// A workflow state carried by a label on an open issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelState {
    /// As the workflow names it, e.g. `In Review`.
    pub state: String,
    pub label: String,
}

/// One state an issue can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueState<'a> {
    Open,
    Closed,
    Labelled(&'a LabelState),
}

/// Whether a move opens or closes the issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenOrClose {
    Reopen,
    Close,
}

/// The writes one move needs, worked out from the issue as just read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovePlan {
    pub open_or_close: Option<OpenOrClose>,
    pub add_label: Option<String>,
    /// State labels to take off, spelled as the issue carries them.
    pub remove_labels: Vec<String>,
}

/// The states one tracker's issues can be in: the native two and the configured labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenClosedStates {
    names: NativeNames,
    labelled: Vec<LabelState>,
}

impl OpenClosedStates {
    /// Only the native states.
    pub fn native(names: NativeNames) -> Self {
        Self {
            names,
            labelled: Vec::new(),
        }
    }

    /// The native states plus the workflow's `state_labels`, checked: a label state must not
    /// shadow a native one, and no label may stand for two states.
    pub fn from_config(
        config: &AdapterConfig<'_>,
        names: NativeNames,
    ) -> Result<Self, ConfigError> {
        let key = format!("{}.state_labels", config.kind);
        let mut states = Self::native(names);
        let Some(raw) = config.options.get("state_labels").filter(|v| !v.is_null()) else {
            return Ok(states);
        };
        let map = raw
            .as_object()
            .ok_or_else(|| ConfigError::new(&key, "must map state names to label names"))?;
        for (state, label) in map {
            let state = state.trim();
            let label = label
                .as_str()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| {
                    ConfigError::new(&key, format!("`{state}` must name a label (a string)"))
                })?;
            if state.is_empty() {
                return Err(ConfigError::new(&key, "a state name is empty"));
            }
            if states.native_state(state).is_some() {
                return Err(ConfigError::new(
                    &key,
                    format!("`{state}` is a native state; it needs no label"),
                ));
            }
            if states.labelled.iter().any(|s| same_state(&s.state, state)) {
                return Err(ConfigError::new(&key, format!("`{state}` appears twice")));
            }
            if states.labelled.iter().any(|s| same_label(&s.label, label)) {
                return Err(ConfigError::new(
                    &key,
                    format!("label `{label}` stands for two states"),
                ));
            }
            states.labelled.push(LabelState {
                state: state.to_owned(),
                label: label.to_owned(),
            });
        }
        Ok(states)
    }

    /// The state an issue is in. When an interrupted move left two state labels, the first
    /// configured one counts, so the answer is stable until the next move tidies up.
    pub fn current(&self, is_open: bool, labels: &[String]) -> IssueState<'_> {
        if !is_open {
            return IssueState::Closed;
        }
        self.labelled
            .iter()
            .find(|s| labels.iter().any(|l| same_label(l, &s.label)))
            .map_or(IssueState::Open, IssueState::Labelled)
    }

    /// The tracker's name for a state.
    pub fn name<'a>(&'a self, state: IssueState<'a>) -> &'a str {
        match state {
            IssueState::Open => self.names.open,
            IssueState::Closed => self.names.closed,
            IssueState::Labelled(s) => &s.state,
        }
    }

    /// What a workflow's state name means here; `None` for a state this tracker cannot have.
    pub fn resolve(&self, name: &str) -> Option<IssueState<'_>> {
        self.native_state(name).or_else(|| {
            self.labelled
                .iter()
                .find(|s| same_state(&s.state, name))
                .map(IssueState::Labelled)
        })
    }

    /// The precondition of a move to `target` for an issue (open or not, with these labels),
    /// on resolved states so aliases count (`open` for GitLab's `opened`): `Err` with
    /// [`StateMove::AlreadyThere`] or [`StateMove::Conflict`], else the state it leaves.
    pub fn precondition(
        &self,
        is_open: bool,
        labels: &[String],
        expected: Option<&str>,
        target: IssueState<'_>,
    ) -> Result<String, StateMove> {
        let current = self.current(is_open, labels);
        if current == target {
            return Err(StateMove::AlreadyThere);
        }
        let from = self.name(current).to_owned();
        match expected {
            Some(expected) if self.resolve(expected) != Some(current) => {
                Err(StateMove::Conflict { actual: from })
            }
            _ => Ok(from),
        }
    }

    /// The API's `state` filter that lists every issue in one of `states` (`all`, or the open
    /// or closed name), with the states to keep from that listing; `None` when no issue can
    /// be in any of them. Names this tracker cannot have are logged and left out.
    pub fn listing(
        &self,
        tracker: &str,
        states: &[String],
    ) -> Option<(&'static str, Vec<IssueState<'_>>)> {
        let wanted: Vec<IssueState<'_>> = states
            .iter()
            .filter_map(|name| {
                let resolved = self.resolve(name);
                if resolved.is_none() {
                    tracing::warn!(tracker, state = %name, known = %self.known(), "no issue can be in this state; ignored");
                }
                resolved
            })
            .collect();
        let wants_closed = wanted.contains(&IssueState::Closed);
        let wants_open = wanted.iter().any(|s| *s != IssueState::Closed);
        let filter = match (wants_open, wants_closed) {
            (true, true) => "all",
            (true, false) => self.names.open,
            (false, true) => self.names.closed,
            (false, false) => return None,
        };
        Some((filter, wanted))
    }

    /// Whether an issue in `state` is one of `wanted` (from [`OpenClosedStates::listing`]).
    pub fn keeps(&self, wanted: &[IssueState<'_>], state: &str) -> bool {
        self.resolve(state).is_some_and(|s| wanted.contains(&s))
    }

    /// Every state name, for error messages.
    pub fn known(&self) -> String {
        let mut names = vec![self.names.open, self.names.closed];
        names.extend(self.labelled.iter().map(|s| s.state.as_str()));
        names.join(", ")
    }

    /// The writes that take an issue (open or not, with these labels) to `target`.
    pub fn plan(&self, is_open: bool, labels: &[String], target: IssueState<'_>) -> MovePlan {
        let keep = match target {
            IssueState::Labelled(s) => Some(s),
            _ => None,
        };
        let open_or_close = match (target, is_open) {
            (IssueState::Closed, true) => Some(OpenOrClose::Close),
            (IssueState::Open | IssueState::Labelled(_), false) => Some(OpenOrClose::Reopen),
            _ => None,
        };
        let add_label = keep
            .filter(|s| !labels.iter().any(|l| same_label(l, &s.label)))
            .map(|s| s.label.clone());
        let remove_labels = labels
            .iter()
            .filter(|l| {
                self.labelled
                    .iter()
                    .filter(|s| Some(*s) != keep)
                    .any(|s| same_label(l, &s.label))
            })
            .cloned()
            .collect();
        MovePlan {
            open_or_close,
            add_label,
            remove_labels,
        }
    }

    fn native_state(&self, name: &str) -> Option<IssueState<'_>> {
        if same_state(name, self.names.open)
            || self.names.open_aliases.iter().any(|a| same_state(name, a))
        {
            Some(IssueState::Open)
        } else if same_state(name, self.names.closed) {
            Some(IssueState::Closed)
        } else {
            None
        }
    }
}

/// Label names compare case-insensitively on GitHub and GitLab.
fn same_label(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::RetryPolicy;
    use serde_json::{json, Value};

    const NAMES: NativeNames = NativeNames {
        open: "opened",
        closed: "closed",
        open_aliases: &["open"],
    };

    fn states(options: Value) -> Result<OpenClosedStates, ConfigError> {
        let env = |_: &str| None;
        OpenClosedStates::from_config(
            &AdapterConfig {
                kind: "gitlab",
                options: &options,
                env: &env,
                policy: RetryPolicy::fast(),
            },
            NAMES,
        )
    }

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn native_names_and_aliases_resolve() {
        let states = states(json!({})).unwrap();
        assert_eq!(states.resolve("Open"), Some(IssueState::Open));
        assert_eq!(states.resolve("OPENED"), Some(IssueState::Open));
        assert_eq!(states.resolve("closed"), Some(IssueState::Closed));
        assert_eq!(states.resolve("In Review"), None);
        assert_eq!(states.name(IssueState::Open), "opened");
    }

    #[test]
    fn an_open_issue_with_a_state_label_is_in_that_state() {
        let states = states(json!({"state_labels": {"In Review": "Status: Review"}})).unwrap();
        let review = states.resolve("in review").unwrap();
        assert_eq!(
            states.current(true, &labels(&["bug", "status: review"])),
            review
        );
        assert_eq!(states.name(review), "In Review");
        assert_eq!(
            states.current(false, &labels(&["status: review"])),
            IssueState::Closed
        );
        assert_eq!(states.current(true, &labels(&["bug"])), IssueState::Open);
    }

    #[test]
    fn a_move_adds_the_target_label_and_removes_the_others() {
        let states =
            states(json!({"state_labels": {"Doing": "doing", "Review": "review"}})).unwrap();
        let review = states.resolve("Review").unwrap();
        let plan = states.plan(true, &labels(&["bug", "Doing"]), review);
        assert_eq!(
            plan,
            MovePlan {
                open_or_close: None,
                add_label: Some("review".into()),
                remove_labels: vec!["Doing".into()],
            }
        );
        let close = states.plan(true, &labels(&["review"]), IssueState::Closed);
        assert_eq!(close.open_or_close, Some(OpenOrClose::Close));
        assert_eq!(close.remove_labels, vec!["review".to_owned()]);
        let reopen = states.plan(false, &labels(&["review"]), review);
        assert_eq!(reopen.open_or_close, Some(OpenOrClose::Reopen));
        assert_eq!(reopen.add_label, None);
        assert!(reopen.remove_labels.is_empty());
    }

    #[test]
    fn bad_state_labels_are_refused() {
        assert!(states(json!({"state_labels": ["review"]})).is_err());
        assert!(states(json!({"state_labels": {"Review": 3}})).is_err());
        assert!(states(json!({"state_labels": {"open": "open-label"}})).is_err());
        let twice = states(json!({"state_labels": {"A": "same", "B": "SAME"}})).unwrap_err();
        assert!(twice.message.contains("two states"), "{twice}");
    }
}
