//! The wiring: what a workflow connects to. One workflow's front matter becomes its tracker,
//! its repo platform and the poller over its tracker here, and only here; `baton dev`,
//! `baton runner`, the container and every Lambda function build them through
//! [`Connections::of`], so a deployment behaves the same wherever a piece of it runs.

pub mod agent_sessions;
mod poller;
mod reconcilers;

pub use poller::TrackerPoller;
pub use reconcilers::{reconcilers, Backends, Reconcilers, WiringError, WorkflowReconciler};

use crate::config::{AdapterConfig, ConfigError, EnvLookup};
use crate::http::RetryPolicy;
use crate::repo::{self, RepoPlatform};
use crate::tracker::memory::MemoryTracker;
use crate::tracker::{registry, Tracker};
use baton_core::domain::SourceKind;
use baton_core::reconciler::IssuePoller;
use baton_core::workflow::{ServedWorkflow, Workflow};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// A workflow's tracker and repo platform, built from its front matter.
#[derive(Clone)]
pub struct Connections {
    /// `None` when the workflow gives no `tracker.provider`: issues then come from webhooks
    /// only, and nothing is written back (no comment, no state move), nor polled.
    pub tracker: Option<Arc<dyn Tracker>>,
    /// Set when the tracker is the in-memory one: baton's own store is then the tracker.
    pub memory: Option<MemoryTracker>,
    /// `repo.provider`: where pull requests are opened; `None` pushes the branch only.
    pub platform: Option<Arc<dyn RepoPlatform>>,
}

fn json(value: &serde_yaml::Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

impl Connections {
    /// Builds the adapters `workflow` names, resolving their `$VARIABLE` secrets through
    /// `env`. A missing or wrong setting is an error naming its key.
    pub fn of(workflow: &Workflow, env: EnvLookup<'_>) -> Result<Self, ConfigError> {
        let config = &workflow.config;
        let kind = config.tracker.kind.trim();
        let (tracker, memory): (Option<Arc<dyn Tracker>>, _) = if kind == "memory" {
            let memory = MemoryTracker::new();
            (Some(Arc::new(memory.clone())), Some(memory))
        } else if config.tracker.provider.is_empty() {
            (None, None)
        } else {
            let options = json(&serde_yaml::Value::Mapping(config.tracker.provider.clone()));
            let adapter = AdapterConfig {
                kind,
                options: &options,
                env,
                policy: RetryPolicy::default(),
            };
            (Some(registry::build(&adapter)?), None)
        };
        // `repo.provider.kind` was required when the file was parsed.
        let platform = match (&config.repo.provider, config.repo.provider_kind()) {
            (Some(provider), Some(kind)) => {
                let options = serde_json::Value::Object(provider.clone());
                let adapter = AdapterConfig {
                    kind,
                    options: &options,
                    env,
                    policy: RetryPolicy::default(),
                };
                Some(repo::registry::build(&adapter)?)
            }
            _ => None,
        };
        Ok(Self {
            tracker,
            memory,
            platform,
        })
    }

    /// The safety poll's view of the tracker of `served`, when it has one whose issues baton
    /// can key as work items (`tracker.kind` names a source).
    pub fn poller(&self, served: &ServedWorkflow) -> Option<Arc<dyn IssuePoller>> {
        let tracker = self.tracker.clone()?;
        let source = served
            .workflow()
            .config
            .tracker
            .kind
            .trim()
            .parse::<SourceKind>()
            .ok()?;
        let states = served.rules().active_states(source);
        Some(Arc::new(TrackerPoller::new(tracker, source, states)))
    }
}

/// The environment adapters resolve `$VARIABLE` settings from.
pub type SharedEnv = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The connections of a deployment's workflows, built once per workflow version and shared
/// by everything in the process: the runner and the safety poll of `baton dev` see the
/// same in-memory tracker, and a reload rebuilds only the workflows that changed.
#[derive(Clone)]
pub struct Wiring {
    env: SharedEnv,
    built: Arc<Mutex<HashMap<String, Built>>>,
    /// Each workflow's in-memory board, kept across versions: an edited workflow keeps its
    /// issues (and the poll does not take them for deleted).
    boards: Arc<Mutex<HashMap<String, MemoryTracker>>>,
}

struct Built {
    /// The workflow these were built from; a reload brings a new `Arc`.
    workflow: Arc<Workflow>,
    connections: Result<Connections, ConfigError>,
}

impl Wiring {
    /// Adapters resolve their settings from the process environment.
    pub fn from_env() -> Self {
        Self::with_env(Arc::new(|name: &str| std::env::var(name).ok()))
    }

    pub fn with_env(env: SharedEnv) -> Self {
        Self {
            env,
            built: Arc::new(Mutex::new(HashMap::new())),
            boards: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The environment lookup adapters use.
    /// What tells a workflow's chat about runs held for approval: the ingress and the
    /// safety poll of every binary take it from here.
    pub fn announcer(&self) -> Arc<dyn baton_core::ports::Announcer> {
        Arc::new(crate::notify::ChatAnnouncer::new(Arc::clone(&self.env)))
    }

    pub fn env(&self) -> &SharedEnv {
        &self.env
    }

    /// The connections of `served`, built on first use and again after it changed.
    pub fn connections(&self, served: &ServedWorkflow) -> Result<Connections, ConfigError> {
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = built.get(served.name()) {
            if Arc::ptr_eq(&known.workflow, served.workflow()) {
                return known.connections.clone();
            }
        }
        let connections = Connections::of(served.workflow(), &*self.env).map(|mut connections| {
            if let Some(fresh) = connections.memory.take() {
                let mut boards = self.boards.lock().unwrap_or_else(PoisonError::into_inner);
                let board = boards.entry(served.name().to_owned()).or_insert(fresh);
                connections.tracker = Some(Arc::new(board.clone()));
                connections.memory = Some(board.clone());
            }
            connections
        });
        built.insert(
            served.name().to_owned(),
            Built {
                workflow: Arc::clone(served.workflow()),
                connections: connections.clone(),
            },
        );
        connections
    }
}
