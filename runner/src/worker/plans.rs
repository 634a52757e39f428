//! Which plan runs a job. A deployment serves several workflows; each work item records the
//! one that accepted its run request (`WorkItem::workflow`), and its runs follow that
//! workflow as the runner's copy of the set has it now: its repository, agent, prompt,
//! profile, hooks, limits, tracker and repo platform. A job whose workflow is gone, or
//! cannot be run as written, fails with an error naming the file; it never runs under
//! another workflow.

use super::{PlanError, RunPlan};
use crate::agent::setup::MockAgentCommand;
use baton_core::domain::{RunError, WorkItem};
use baton_core::workflow::{ServedWorkflow, Workflow, WorkflowWatch};
use baton_integrations::wiring::Wiring;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// The error code of a job whose workflow is not loaded.
pub const WORKFLOW_MISSING: &str = "workflow_missing";
/// The error code of a job whose workflow is loaded but cannot be run as written.
pub const WORKFLOW_INVALID: &str = "workflow_invalid";

/// The runner's plans, one per workflow, built on first use and rebuilt when a reload
/// changes the workflow.
pub struct PlanBook {
    source: Source,
    cache: Mutex<HashMap<String, Cached>>,
}

enum Source {
    /// One plan for every job (tests that build a plan by hand).
    Fixed(Arc<RunPlan>),
    /// The deployment's workflow set, reloaded as the ingress reloads it.
    Workflows {
        watch: WorkflowWatch,
        wiring: Wiring,
        mock: Option<MockAgentCommand>,
    },
}

struct Cached {
    workflow: Arc<Workflow>,
    plan: Result<Arc<RunPlan>, String>,
}

impl PlanBook {
    pub fn fixed(plan: RunPlan) -> Self {
        Self {
            source: Source::Fixed(Arc::new(plan)),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Plans for the workflows `watch` serves, their adapters built by `wiring`.
    pub fn watching(watch: WorkflowWatch, wiring: Wiring, mock: Option<MockAgentCommand>) -> Self {
        Self {
            source: Source::Workflows {
                watch,
                wiring,
                mock,
            },
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The plan `item`'s runs follow.
    pub fn for_item(&self, item: &WorkItem) -> Result<Arc<RunPlan>, RunError> {
        let (watch, wiring, mock) = match &self.source {
            Source::Fixed(plan) => return Ok(Arc::clone(plan)),
            Source::Workflows {
                watch,
                wiring,
                mock,
            } => (watch, wiring, mock),
        };
        let set = watch.current();
        let served = match item.workflow.as_deref() {
            Some(name) => set.get(name).ok_or_else(|| missing(watch, name))?,
            // Items requested before workflows were recorded: the set decides, as the
            // ingress did.
            None => set.select_served_for_item(item).ok_or_else(|| RunError {
                code: WORKFLOW_MISSING.into(),
                message: format!(
                    "no loaded workflow serves {} (its issue's repository or project)",
                    item.key
                ),
            })?,
        };
        self.plan_of(served, wiring, mock.as_ref())
    }

    /// Every plan of the current set that can be built (the workspace sweep visits each).
    pub fn all(&self) -> Vec<Arc<RunPlan>> {
        self.each().into_iter().filter_map(Result::ok).collect()
    }

    /// Checks that every workflow of the current set can be run: a start-up check, so a bad
    /// file is reported before the first job rather than by it.
    pub fn check_all(&self) -> Vec<RunError> {
        self.each().into_iter().filter_map(Result::err).collect()
    }

    /// The plan of every workflow of the current set, or why it cannot be built.
    fn each(&self) -> Vec<Result<Arc<RunPlan>, RunError>> {
        match &self.source {
            Source::Fixed(plan) => vec![Ok(Arc::clone(plan))],
            Source::Workflows {
                watch,
                wiring,
                mock,
            } => watch
                .current()
                .iter()
                .map(|served| self.plan_of(served, wiring, mock.as_ref()))
                .collect(),
        }
    }

    fn plan_of(
        &self,
        served: &ServedWorkflow,
        wiring: &Wiring,
        mock: Option<&MockAgentCommand>,
    ) -> Result<Arc<RunPlan>, RunError> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = cache
            .get(served.name())
            .is_some_and(|cached| Arc::ptr_eq(&cached.workflow, served.workflow()));
        if !fresh {
            let plan = build(served, wiring, mock).map(Arc::new);
            if let Err(message) = &plan {
                tracing::error!(workflow = %served.workflow().describe(), %message,
                    "the workflow cannot be run; its jobs fail until it is fixed");
            }
            cache.insert(
                served.name().to_owned(),
                Cached {
                    workflow: Arc::clone(served.workflow()),
                    plan,
                },
            );
        }
        match cache.get(served.name()).map(|cached| &cached.plan) {
            Some(Ok(plan)) => Ok(Arc::clone(plan)),
            Some(Err(message)) => Err(RunError {
                code: WORKFLOW_INVALID.into(),
                message: message.clone(),
            }),
            None => Err(RunError {
                code: WORKFLOW_INVALID.into(),
                message: format!("workflow {} has no plan", served.workflow().describe()),
            }),
        }
    }
}

fn build(
    served: &ServedWorkflow,
    wiring: &Wiring,
    mock: Option<&MockAgentCommand>,
) -> Result<RunPlan, String> {
    let workflow = served.workflow();
    let describe =
        |error: &dyn std::fmt::Display| format!("workflow {}: {error}", workflow.describe());
    let connections = wiring
        .connections(served)
        .map_err(|e| describe(&PlanError::Delivery(e)))?;
    RunPlan::new(workflow, connections, mock).map_err(|e| describe(&e))
}

/// The error of a job whose named workflow is not in the set, with the file's own reason
/// when the source refused it.
fn missing(watch: &WorkflowWatch, name: &str) -> RunError {
    let statuses = watch.statuses();
    let why = statuses
        .iter()
        .find(|status| status.name == name)
        .map(|status| {
            let file = status
                .path
                .as_ref()
                .map_or_else(|| name.to_owned(), |path| path.display().to_string());
            match &status.last_error {
                Some(error) => format!("workflow {file} is not loaded: {error}"),
                None => format!("workflow {file} is not loaded"),
            }
        })
        .unwrap_or_else(|| format!("workflow `{name}` is gone (no such file is loaded)"));
    RunError {
        code: WORKFLOW_MISSING.into(),
        message: format!("{why}; this item's runs follow it and no other workflow"),
    }
}
