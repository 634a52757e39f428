//! What one write adds to the time series: named counters of one hour, for one workflow and
//! for the deployment as a whole. Every backend keeps a bucket per `(scope, hour)` holding
//! `name → value`, and applies an update atomically: `add` counters grow by their value,
//! `set` gauges take it, `max` gauges keep the larger. That is all a backend needs to know;
//! what the names mean is [`super::HourStats`]'s business.

use super::histogram::bucket_of;
use crate::domain::{Run, RunStatus};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// How long hour buckets are kept.
pub const RETENTION_DAYS: i64 = 90;

/// The scope of the deployment's totals; a workflow's scope is [`workflow_scope`].
pub const ALL_SCOPE: &str = "all";

pub const RUNS_STARTED: &str = "runs_started";
pub const INPUT_TOKENS: &str = "input_tokens";
pub const OUTPUT_TOKENS: &str = "output_tokens";
pub const WEBHOOKS_RECEIVED: &str = "webhooks_received";
pub const WEBHOOKS_ACCEPTED: &str = "webhooks_accepted";
pub const WEBHOOKS_REFUSED: &str = "webhooks_refused";
pub const QUEUE_DEPTH_LAST: &str = "queue_depth_last";
pub const QUEUE_DEPTH_MAX: &str = "queue_depth_max";
/// `ended_<outcome>`, one per ended [`RunStatus`].
pub const ENDED_PREFIX: &str = "ended_";
/// `dispatch_<bucket>`: received → agent started.
pub const DISPATCH_PREFIX: &str = "dispatch_";
/// `duration_<bucket>`: claimed → ended.
pub const DURATION_PREFIX: &str = "duration_";

/// The scope of one workflow's series.
pub fn workflow_scope(workflow: &str) -> String {
    format!("wf:{workflow}")
}

/// The start of the hour holding `at`.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// When the bucket of `hour` may be deleted (epoch seconds).
pub fn expires_at(hour: DateTime<Utc>) -> i64 {
    (hour + TimeDelta::days(RETENTION_DAYS)).timestamp()
}

/// Counter names are short ASCII words, safe as attribute and column values everywhere.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One atomic change to the bucket of `at`'s hour, in the deployment's scope and, when
/// `workflow` is known, in the workflow's too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsUpdate {
    pub at: DateTime<Utc>,
    pub workflow: Option<String>,
    /// Counters that grow by the value.
    pub add: Vec<(String, u64)>,
    /// Gauges that take the value (the last sample of the hour).
    pub set: Vec<(String, u64)>,
    /// Gauges that keep the larger of theirs and the value.
    pub max: Vec<(String, u64)>,
}

impl MetricsUpdate {
    fn new(at: DateTime<Utc>, workflow: Option<&str>) -> Self {
        Self {
            at,
            workflow: workflow.map(str::to_owned),
            add: Vec::new(),
            set: Vec::new(),
            max: Vec::new(),
        }
    }

    fn add(mut self, name: impl Into<String>, value: u64) -> Self {
        if value > 0 {
            self.add.push((name.into(), value));
        }
        self
    }

    /// The scopes it changes: the deployment's, then the workflow's.
    pub fn scopes(&self) -> Vec<String> {
        let mut scopes = vec![ALL_SCOPE.to_owned()];
        scopes.extend(self.workflow.as_deref().map(workflow_scope));
        scopes
    }

    /// The hour bucket it changes.
    pub fn hour(&self) -> DateTime<Utc> {
        hour_of(self.at)
    }

    /// Every name is valid ([`is_valid_name`]); the backends check before writing, as
    /// names become attribute names and column values.
    pub fn check(&self) -> Result<(), String> {
        match self
            .add
            .iter()
            .chain(&self.set)
            .chain(&self.max)
            .find(|(name, _)| !is_valid_name(name))
        {
            Some((name, _)) => Err(format!("`{name}` is not a metrics counter name")),
            None => Ok(()),
        }
    }

    /// Every `(name, value)` with what to do with it.
    pub fn changes(&self) -> impl Iterator<Item = (Change, &str, u64)> + '_ {
        tagged(Change::Add, &self.add)
            .chain(tagged(Change::Set, &self.set))
            .chain(tagged(Change::Max, &self.max))
    }

    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.set.is_empty() && self.max.is_empty()
    }

    /// A run was claimed and started at `at`.
    pub fn run_started(at: DateTime<Utc>, workflow: Option<&str>) -> Self {
        Self::new(at, workflow).add(RUNS_STARTED, 1)
    }

    /// `run` ended (its `ended_at`, else `now`): its outcome, how long it took from claim to
    /// end and from webhook to agent, and its tokens.
    pub fn run_ended(run: &Run, workflow: Option<&str>, now: DateTime<Utc>) -> Self {
        let ended = run.ended_at.unwrap_or(now);
        let mut update = Self::new(ended, workflow);
        if run.status != RunStatus::Running {
            update = update.add(format!("{ENDED_PREFIX}{}", run.status.as_str()), 1);
        }
        if let Ok(millis) = u64::try_from((ended - run.claimed_at).num_milliseconds()) {
            update = update.add(format!("{DURATION_PREFIX}{}", bucket_of(millis)), 1);
        }
        let dispatch = run
            .received_at
            .zip(run.agent_started_at)
            .and_then(|(received, started)| {
                u64::try_from((started - received).num_milliseconds()).ok()
            });
        if let Some(millis) = dispatch {
            update = update.add(format!("{DISPATCH_PREFIX}{}", bucket_of(millis)), 1);
        }
        update
            .add(INPUT_TOKENS, run.tokens.input_tokens)
            .add(OUTPUT_TOKENS, run.tokens.output_tokens)
    }

    /// A webhook arrived: `accepted` (it was recorded and acted on), refused (signature,
    /// size, payload, backend), or neither (ignored: not for baton, a duplicate).
    pub fn webhook(at: DateTime<Utc>, workflow: Option<&str>, verdict: WebhookVerdict) -> Self {
        let update = Self::new(at, workflow).add(WEBHOOKS_RECEIVED, 1);
        match verdict {
            WebhookVerdict::Accepted => update.add(WEBHOOKS_ACCEPTED, 1),
            WebhookVerdict::Refused => update.add(WEBHOOKS_REFUSED, 1),
            WebhookVerdict::Ignored => update,
        }
    }

    /// The jobs queue held about `depth` messages at `at`.
    pub fn queue_depth(at: DateTime<Utc>, depth: u64) -> Self {
        let mut update = Self::new(at, None);
        update.set.push((QUEUE_DEPTH_LAST.to_owned(), depth));
        update.max.push((QUEUE_DEPTH_MAX.to_owned(), depth));
        update
    }
}

fn tagged(change: Change, list: &[(String, u64)]) -> impl Iterator<Item = (Change, &str, u64)> {
    list.iter()
        .map(move |(name, value)| (change, name.as_str(), *value))
}

/// How a value changes its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Set,
    Max,
}

impl Change {
    /// The new stored value from the old one (`None`: not there yet).
    pub fn apply(self, old: Option<u64>, value: u64) -> u64 {
        match (self, old) {
            (Self::Add, old) => old.unwrap_or(0).saturating_add(value),
            (Self::Set, _) => value,
            (Self::Max, old) => old.unwrap_or(0).max(value),
        }
    }
}

/// What the ingress made of a webhook, for the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookVerdict {
    Accepted,
    Refused,
    Ignored,
}
