//! How long the reconciler lets things be before it steps in, and how often it looks.

use crate::workflow::Workflow;
use std::time::Duration;

/// The runner's lease when `BATON_LEASE_SECS` does not say (as in `RunnerSettings`).
const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The graces of the requeue pass, with production defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerSettings {
    /// How long a running item's lease may have been expired, with nobody taking it over,
    /// before the item gets a fresh job. The job message comes back by itself within about a
    /// lease (the lease is its visibility timeout), so after this it is taken for lost.
    /// Default: twice the runner lease, 120 s.
    pub lease_grace: Duration,
    /// How long past its due time a retry may stay unclaimed (its delayed message should
    /// have come back). Default 60 s.
    pub retry_grace: Duration,
    /// How long a queued item may stay unclaimed and unchanged (the ingress or a runner died
    /// between writing it and sending its job, or the message was lost). Default 15 min.
    pub queued_grace: Duration,
}

impl Default for ReconcilerSettings {
    fn default() -> Self {
        Self::for_lease(DEFAULT_LEASE)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

/// Whole seconds from `name`; `None` when unset or empty.
fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<Duration>, SettingsError> {
    match lookup(name).filter(|value| !value.trim().is_empty()) {
        None => Ok(None),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .map(|secs| Some(Duration::from_secs(secs)))
            .map_err(|_| SettingsError(format!("{name}={value:?} is not a whole number"))),
    }
}

impl ReconcilerSettings {
    /// The defaults for runners holding leases of `lease`.
    pub fn for_lease(lease: Duration) -> Self {
        Self {
            lease_grace: lease.saturating_mul(2),
            retry_grace: Duration::from_secs(60),
            queued_grace: Duration::from_secs(15 * 60),
        }
    }

    /// Reads `BATON_RECONCILE_LEASE_GRACE_SECS` (default: twice `BATON_LEASE_SECS`, itself
    /// 60 s by default), `BATON_RECONCILE_RETRY_GRACE_SECS` and `BATON_RECONCILE_QUEUED_SECS`
    /// through `lookup`. A value that is not a whole number is an error naming it.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let lease = seconds(&lookup, "BATON_LEASE_SECS")?.unwrap_or(DEFAULT_LEASE);
        let mut settings = Self::for_lease(lease);
        if let Some(grace) = seconds(&lookup, "BATON_RECONCILE_LEASE_GRACE_SECS")? {
            settings.lease_grace = grace;
        }
        if let Some(grace) = seconds(&lookup, "BATON_RECONCILE_RETRY_GRACE_SECS")? {
            settings.retry_grace = grace;
        }
        if let Some(grace) = seconds(&lookup, "BATON_RECONCILE_QUEUED_SECS")? {
            settings.queued_grace = grace;
        }
        Ok(settings)
    }
}

/// How often a long-lived process (`baton dev`) runs each part of the reconciler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The requeue pass: `--reconcile-every-secs` / `BATON_RECONCILE_SECS`, default 60 s.
    pub reconcile_every: Duration,
    /// The safety poll of each tracker: the workflow's `polling.interval_ms`, default 30 s.
    pub poll_every: Duration,
}

/// Symphony's default `polling.interval_ms`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(30);

impl Schedule {
    /// A requeue pass every `reconcile_every`, and the poll interval `workflow` sets.
    pub fn from_workflow(
        workflow: &Workflow,
        reconcile_every: Duration,
    ) -> Result<Self, SettingsError> {
        if reconcile_every.is_zero() {
            return Err(SettingsError(
                "the reconcile interval must be at least one second".into(),
            ));
        }
        Ok(Self {
            reconcile_every,
            poll_every: poll_interval(workflow),
        })
    }
}

/// The front matter's `polling.interval_ms` (checked positive when the file was parsed).
pub fn poll_interval(workflow: &Workflow) -> Duration {
    workflow
        .config
        .polling
        .interval_ms
        .map_or(DEFAULT_POLL_INTERVAL, Duration::from_millis)
}
