//! How a runner process behaves, from its environment: lease length, sessions per process,
//! shutdown grace. (What the agents may do comes from the workflow: see `limits`.)

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// This process's name in leases and run records.
    pub runner_id: String,
    /// How long a claim lasts without a heartbeat; a crashed runner's work is taken over
    /// after this. Also the job message's visibility timeout.
    pub lease: Duration,
    /// How often the lease, the slots and the message visibility are renewed.
    pub heartbeat: Duration,
    /// How often a running session looks at its work item for a cancel request.
    pub watch_interval: Duration,
    /// The queue long-poll wait.
    pub poll_wait: Duration,
    /// Sessions this process runs at once (the workflow's global limit still applies).
    pub local_sessions: usize,
    /// After SIGTERM, how long running sessions get to finish before they are released.
    pub shutdown_grace: Duration,
    /// How long run timelines are kept.
    pub event_retention: Duration,
    /// Events recorded per run; later ones are counted but not stored.
    pub max_events_per_run: u32,
    /// How long a job waits before another try when every slot is taken.
    pub busy_retry: Duration,
    /// How often the workspaces of ended work items are swept; zero: never.
    pub workspace_sweep: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self {
            runner_id: default_runner_id(),
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(20),
            watch_interval: Duration::from_secs(1),
            poll_wait: Duration::from_secs(20),
            local_sessions: 10,
            shutdown_grace: Duration::from_secs(30),
            event_retention: Duration::from_secs(14 * 24 * 3600),
            max_events_per_run: 2000,
            busy_retry: Duration::from_secs(5),
            workspace_sweep: Duration::from_secs(60),
        }
    }
}

/// `<host>-<pid>-<random>`: unique per process, readable in the record.
pub fn default_runner_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "runner".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &random[..6])
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

impl RunnerSettings {
    /// Reads `BATON_RUNNER_ID`, `BATON_LEASE_SECS`, `BATON_RUNNER_SESSIONS`,
    /// `BATON_SHUTDOWN_GRACE_SECS`, `BATON_POLL_WAIT_SECS`, `BATON_WORKSPACE_SWEEP_SECS`
    /// through `lookup`; unset means the
    /// default, a value that does not parse is an error naming the variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut settings = Self::default();
        let number =
            |name: &str| -> Result<Option<u64>, SettingsError> {
                match lookup(name).filter(|v| !v.trim().is_empty()) {
                    None => Ok(None),
                    Some(value) => value.trim().parse::<u64>().map(Some).map_err(|_| {
                        SettingsError(format!("{name}={value:?} is not a whole number"))
                    }),
                }
            };
        if let Some(id) = lookup("BATON_RUNNER_ID").filter(|v| !v.trim().is_empty()) {
            settings.runner_id = id.trim().to_owned();
        }
        if let Some(seconds) = number("BATON_LEASE_SECS")? {
            if seconds < 3 {
                return Err(SettingsError("BATON_LEASE_SECS must be at least 3".into()));
            }
            settings.lease = Duration::from_secs(seconds);
            settings.heartbeat = settings.lease / 3;
        }
        if let Some(sessions) = number("BATON_RUNNER_SESSIONS")? {
            if sessions == 0 {
                return Err(SettingsError(
                    "BATON_RUNNER_SESSIONS must be at least 1".into(),
                ));
            }
            settings.local_sessions = sessions as usize;
        }
        if let Some(seconds) = number("BATON_SHUTDOWN_GRACE_SECS")? {
            settings.shutdown_grace = Duration::from_secs(seconds);
        }
        if let Some(seconds) = number("BATON_POLL_WAIT_SECS")? {
            settings.poll_wait = Duration::from_secs(seconds.clamp(1, 20));
        }
        if let Some(seconds) = number("BATON_WORKSPACE_SWEEP_SECS")? {
            settings.workspace_sweep = Duration::from_secs(seconds);
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_and_bad_values_name_the_variable() {
        let settings = RunnerSettings::from_lookup(|name| match name {
            "BATON_LEASE_SECS" => Some("9".into()),
            "BATON_RUNNER_SESSIONS" => Some("4".into()),
            "BATON_RUNNER_ID" => Some("r1".into()),
            "BATON_WORKSPACE_SWEEP_SECS" => Some("0".into()),
            _ => None,
        })
        .expect("settings");
        assert_eq!(settings.lease, Duration::from_secs(9));
        assert_eq!(settings.heartbeat, Duration::from_secs(3));
        assert_eq!(settings.local_sessions, 4);
        assert_eq!(settings.runner_id, "r1");
        assert_eq!(
            settings.workspace_sweep,
            Duration::ZERO,
            "0 turns the sweep off"
        );

        let error = RunnerSettings::from_lookup(|name| {
            (name == "BATON_LEASE_SECS").then(|| "soon".to_owned())
        })
        .expect_err("not a number");
        assert!(error.to_string().contains("BATON_LEASE_SECS"), "{error}");
    }
}
