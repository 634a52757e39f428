//! Workflow profiles (`workflow.profile.kind`, Maestro's vocabulary): what a kind of work
//! means. Each profile names its route keys and what a tracker state mapped to each one asks
//! for (dispatch, transition then dispatch, wait, stop), what a finished run must deliver, and
//! which host tools the agent may call.
//!
//! ```yaml
//! workflow:
//!   profile:
//!     kind: coding_pr_delivery
//!     routes:                 # route key -> the tracker states that mean it
//!       planning: [Todo]
//!       developing: [In Progress]
//!       review: [In Review]
//!       resolved: [Done]
//! ```
//!
//! Routes are optional: without them the tracker's active and terminal states apply as in
//! Symphony. With them, a state mapped to a `wait` route neither starts nor stops work, and
//! a finished run moves the issue to its profile's next route.

use super::host_tools;
use super::schema::ProfileSection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use RouteAction::{Dispatch, Stop, TransitionThenDispatch, Wait};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    #[default]
    CodingPrDelivery,
    RequirementAnalysis,
    RequirementRefinement,
    ReviewRouting,
    Triage,
}

impl ProfileKind {
    pub const ALL: [ProfileKind; 5] = [
        Self::CodingPrDelivery,
        Self::RequirementAnalysis,
        Self::RequirementRefinement,
        Self::ReviewRouting,
        Self::Triage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CodingPrDelivery => "coding_pr_delivery",
            Self::RequirementAnalysis => "requirement_analysis",
            Self::RequirementRefinement => "requirement_refinement",
            Self::ReviewRouting => "review_routing",
            Self::Triage => "triage",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value.trim())
    }
}

/// What a tracker state mapped to a route asks baton to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteAction {
    Dispatch,
    /// Move the issue to the named route's state, then run (planning → developing).
    TransitionThenDispatch {
        to: &'static str,
    },
    Wait,
    Stop,
}

/// What a finished run must leave behind for the profile's contract to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deliverable {
    /// Commits on the work branch, pushed, with a pull request.
    PullRequest,
    /// The agent's final message, posted as the analysis.
    AnalysisComment,
    /// A final message with an acceptance-criteria checklist.
    AcceptanceCriteria,
    /// `.baton/result.json` naming one or more reviewers.
    ReviewerAssignment,
    /// `.baton/result.json` with labels and a priority (1..4).
    LabelsAndPriority,
}

/// The file in the workspace where structured deliverables are written.
pub const RESULT_FILE: &str = ".baton/result.json";

mod specs;

/// One kind of work, as a contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileSpec {
    pub kind: ProfileKind,
    /// Route keys in their natural order, with their actions.
    pub routes: &'static [(&'static str, RouteAction)],
    pub deliverable: Deliverable,
    /// The route a successfully delivered run moves the issue to, if mapped.
    pub after_delivery: Option<&'static str>,
    /// The route a merged pull request moves the issue to, if mapped.
    pub after_merge: Option<&'static str>,
    /// Host tools the agent may call, unless the workflow lists its own.
    pub tools: &'static [&'static str],
    /// What the agent is told it must deliver (rendered into the prompt).
    pub contract: &'static str,
}

/// A workflow's profile: the spec plus the tracker states the workflow mapped to its routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub spec: &'static ProfileSpec,
    /// Route key → tracker state names as written (first one is where baton moves issues).
    pub routes: BTreeMap<&'static str, Vec<String>>,
    /// `workflow.profile.tools`: the host tools offered, replacing the spec's list.
    pub tools: Option<Vec<&'static str>>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            spec: ProfileKind::default().spec(),
            routes: BTreeMap::new(),
            tools: None,
        }
    }
}

impl Profile {
    /// Resolves `workflow.profile` as written (absent → coding).
    pub fn from_config(section: Option<&ProfileSection>) -> Result<Self, String> {
        let Some(section) = section else {
            return Ok(Self::default());
        };
        let kind = match &section.kind {
            None => ProfileKind::default(),
            Some(value) => ProfileKind::parse(value).ok_or_else(|| {
                format!(
                    "`workflow.profile.kind` must be one of {}",
                    ProfileKind::ALL.map(ProfileKind::as_str).join(", ")
                )
            })?,
        };
        let spec = kind.spec();
        let mut routes = BTreeMap::new();
        for (key, states) in &section.routes {
            let known = spec.routes.iter().find(|(k, _)| k == key).ok_or_else(|| {
                format!(
                    "`workflow.profile.routes.{key}`: `{}` has no such route (its routes: {})",
                    kind.as_str(),
                    spec.routes
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
            routes.insert(known.0, states.0.clone());
        }
        let tools = match &section.tools {
            Some(names) => Some(host_tools::parse_tool_list(names)?),
            None => None,
        };
        let profile = Self {
            spec,
            routes,
            tools,
        };
        profile.check_unique_states()?;
        Ok(profile)
    }

    fn check_unique_states(&self) -> Result<(), String> {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (key, states) in &self.routes {
            for state in states {
                if let Some(other) = seen.insert(state.trim().to_lowercase(), key) {
                    return Err(format!(
                        "`workflow.profile.routes`: state `{state}` is mapped to both `{other}` and `{key}`"
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn kind(&self) -> ProfileKind {
        self.spec.kind
    }

    /// The route a tracker state is mapped to, with its action.
    pub fn route_of(&self, state: &str) -> Option<(&'static str, RouteAction)> {
        let state = state.trim().to_lowercase();
        let key = self.routes.iter().find_map(|(key, states)| {
            states
                .iter()
                .any(|s| s.trim().to_lowercase() == state)
                .then_some(*key)
        })?;
        self.spec.routes.iter().find(|(k, _)| *k == key).copied()
    }

    /// The tracker state baton moves an issue to for `route`, when the workflow mapped it.
    pub fn state_for(&self, route: &str) -> Option<&str> {
        self.routes
            .get(route)
            .and_then(|s| s.first())
            .map(String::as_str)
    }

    /// States whose route starts work (dispatch or transition then dispatch).
    pub fn dispatch_states(&self) -> impl Iterator<Item = &str> {
        self.states_where(|a| matches!(a, Dispatch | TransitionThenDispatch { .. }))
    }

    pub fn stop_states(&self) -> impl Iterator<Item = &str> {
        self.states_where(|a| matches!(a, Stop))
    }

    pub fn wait_states(&self) -> impl Iterator<Item = &str> {
        self.states_where(|a| matches!(a, Wait))
    }

    fn states_where(&self, wanted: impl Fn(RouteAction) -> bool) -> impl Iterator<Item = &str> {
        self.spec
            .routes
            .iter()
            .filter(move |(_, action)| wanted(*action))
            .flat_map(|(key, _)| self.routes.get(key).into_iter().flatten())
            .map(String::as_str)
    }

    /// The host tools the agent is offered: the workflow's list, else the profile's.
    pub fn tools(&self) -> &[&'static str] {
        self.tools.as_deref().unwrap_or(self.spec.tools)
    }

    pub fn allows_tool(&self, name: &str) -> bool {
        self.tools().contains(&name)
    }

    /// What the prompt sees as `workflow.profile`.
    pub fn prompt_value(&self) -> Value {
        serde_json::json!({
            "kind": self.spec.kind.as_str(),
            "contract": format!(
                "{} If you cannot go on without a person's answer, stop and make your final \
                 message start with `{}` followed by the question; baton asks on the issue and \
                 the work resumes with the answer.",
                self.spec.contract,
                crate::domain::input::QUESTION_MARKER
            ),
            "deliverable": self.spec.deliverable,
            "tools": self.tools(),
            "routes": self.spec.routes.iter().map(|(key, action)| serde_json::json!({
                "key": key,
                "action": action_name(*action),
                "states": self.routes.get(key).cloned().unwrap_or_default(),
            })).collect::<Vec<_>>(),
        })
    }

    /// Checks what a finished run left behind against the profile's contract.
    pub fn check_deliverable(&self, output: &RunOutput) -> Result<Delivered, String> {
        match self.spec.deliverable {
            Deliverable::PullRequest => match &output.commit {
                Some(_) => Ok(Delivered::PullRequest),
                None => Err(
                    "coding_pr_delivery needs changes for a pull request; the agent left none"
                        .into(),
                ),
            },
            Deliverable::AnalysisComment => {
                let text = final_text(output)?;
                if text.chars().filter(|c| !c.is_whitespace()).count() < 20 {
                    return Err(
                        "requirement_analysis needs an analysis; the final message is too short"
                            .into(),
                    );
                }
                Ok(Delivered::Comment(text))
            }
            Deliverable::AcceptanceCriteria => {
                let text = final_text(output)?;
                let criteria = acceptance_criteria(&text);
                if criteria.is_empty() {
                    return Err("requirement_refinement needs an `Acceptance criteria` heading followed by `- [ ]` items".into());
                }
                Ok(Delivered::AcceptanceCriteria { text, criteria })
            }
            Deliverable::ReviewerAssignment => {
                let result = result_file(output)?;
                let reviewers = string_list(result.get("reviewers"))
                    .filter(|r| !r.is_empty())
                    .ok_or("review_routing needs `reviewers`: a non-empty list of logins in .baton/result.json")?;
                Ok(Delivered::Reviewers(reviewers))
            }
            Deliverable::LabelsAndPriority => {
                let result = result_file(output)?;
                let labels = string_list(result.get("labels"))
                    .filter(|l| !l.is_empty())
                    .ok_or("triage needs `labels`: a non-empty list in .baton/result.json")?;
                let priority = result
                    .get("priority")
                    .and_then(Value::as_u64)
                    .filter(|p| (1..=4).contains(p))
                    .ok_or(
                        "triage needs `priority`: 1 (urgent) to 4 (low) in .baton/result.json",
                    )?;
                Ok(Delivered::Triage {
                    labels: labels.into_iter().map(|l| l.to_lowercase()).collect(),
                    priority: priority as u8,
                })
            }
        }
    }
}

fn action_name(action: RouteAction) -> &'static str {
    match action {
        Dispatch => "dispatch",
        TransitionThenDispatch { .. } => "transition_then_dispatch",
        Wait => "wait",
        Stop => "stop",
    }
}

/// What a run left behind, as far as the profile contracts care.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOutput {
    /// The commit made on the work branch, if the agent changed anything.
    pub commit: Option<String>,
    /// The agent's last message.
    pub final_message: Option<String>,
    /// `.baton/result.json`, parsed; `Some(Err)` when present but not JSON.
    pub result_file: Option<Result<Value, String>>,
}

/// A deliverable that passed its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    PullRequest,
    Comment(String),
    AcceptanceCriteria { text: String, criteria: Vec<String> },
    Reviewers(Vec<String>),
    Triage { labels: Vec<String>, priority: u8 },
}

fn final_text(output: &RunOutput) -> Result<String, String> {
    output
        .final_message
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "the agent ended without a final message".to_owned())
}

fn result_file(output: &RunOutput) -> Result<&Value, String> {
    match &output.result_file {
        None => Err(format!("the agent did not write {RESULT_FILE}")),
        Some(Err(error)) => Err(format!("{RESULT_FILE} is not valid JSON: {error}")),
        Some(Ok(value)) => Ok(value),
    }
}

fn string_list(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|v| {
            v.as_str()
                .map(|s| s.trim().trim_start_matches('@').to_owned())
                .filter(|s| !s.is_empty())
        })
        .collect()
}

/// The checklist items under an `Acceptance criteria` heading (markdown heading or a line
/// ending in a colon), up to the next heading.
pub fn acceptance_criteria(text: &str) -> Vec<String> {
    let mut inside = false;
    let mut items = Vec::new();
    for line in text.lines().map(str::trim) {
        let heading = line.trim_start_matches('#').trim().trim_end_matches(':');
        if heading.eq_ignore_ascii_case("acceptance criteria") {
            inside = true;
            continue;
        }
        if inside && line.starts_with('#') {
            break;
        }
        if inside {
            let item = line
                .strip_prefix("- [ ]")
                .or_else(|| line.strip_prefix("- [x]"))
                .or_else(|| line.strip_prefix("* [ ]"));
            if let Some(item) = item.map(str::trim).filter(|i| !i.is_empty()) {
                items.push(item.to_owned());
            }
        }
    }
    items
}

#[cfg(test)]
mod tests;
