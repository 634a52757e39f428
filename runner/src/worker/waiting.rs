//! A job whose work item another run holds: it must start when that run ends, not when the
//! run's lease would have expired.
//!
//! - The holder is a run of this process: the job is parked here and the ending run hands
//!   it over, sending it again with no delay once its end is recorded. The postponed copy
//!   waits until the lease would have expired (the fallback should this process die); when
//!   it comes it finds its job run or superseded and is acknowledged.
//! - The holder is another process: it cannot hand the job over (only the message carries
//!   the job, whose reason decides whether an agent runs at all; the store keeps its id), so
//!   the job looks again every second, as a fresh delayed copy. Once the holder's lease runs
//!   out (it died), the next look takes the item over.
//!
//! Nothing runs twice: a run is claimed only for the item's pending job, with a versioned
//! write, and a claimed item refuses every other copy until its run ends.

use super::Runner;
use baton_core::domain::{Job, Lease, WorkItemKey};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How often a job waiting for another process's run looks at the item again: it starts at
/// most about this long after the run ends.
pub const HOLDER_RECHECK: Duration = Duration::from_secs(1);

/// How long the postponed copy of a job waits while `lease` holds its item; `ours`: the
/// holder is a run of this process, which hands the job over when it ends.
pub fn delay_while_held(now: DateTime<Utc>, lease: &Lease, ours: bool) -> Duration {
    let until_expiry = (lease.expires_at - now).to_std().unwrap_or(Duration::ZERO);
    let fallback = until_expiry + Duration::from_secs(1);
    if ours {
        fallback
    } else {
        fallback.min(HOLDER_RECHECK)
    }
}

/// Jobs waiting for a run of this process to end, by work item (the newest one wins).
#[derive(Default)]
pub(super) struct Parked(Mutex<HashMap<WorkItemKey, Job>>);

impl Parked {
    // A poisoned lock only means a panic elsewhere mid-insert of plain data; carry on.
    fn lock(&self) -> MutexGuard<'_, HashMap<WorkItemKey, Job>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn park(&self, job: &Job) {
        self.lock().insert(job.work_item.clone(), job.clone());
    }

    fn take(&self, key: &WorkItemKey) -> Option<Job> {
        self.lock().remove(key)
    }
}

impl Runner {
    /// After a run's end is recorded: sends the job parked for its item, if it is still the
    /// item's pending job, with no delay.
    pub(super) async fn hand_over(&self, key: &WorkItemKey) {
        let Some(job) = self.waiting.take(key) else {
            return;
        };
        let pending = match self.store.get_work_item(key).await {
            Ok(item) => item.and_then(|item| item.pending_job),
            Err(error) => {
                tracing::warn!(%error, "cannot read the work item to hand over; the waiting job comes back by itself");
                return;
            }
        };
        if pending.as_ref() != Some(&job.job_id) {
            return;
        }
        match self.queue.send_delayed(&job, Duration::ZERO).await {
            Ok(()) => {
                tracing::info!(job_id = %job.job_id, "handed over to the job that waited for this run")
            }
            Err(error) => {
                tracing::warn!(%error, "cannot hand over; the waiting job comes back by itself")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::domain::RunId;

    fn lease(expires_at: DateTime<Utc>) -> Lease {
        Lease {
            owner: "runner-a".into(),
            run_id: RunId::generate(),
            expires_at,
        }
    }

    #[test]
    fn another_process_s_run_is_looked_at_every_second_ours_hands_over() {
        let now = Utc::now();
        let held = lease(now + chrono::Duration::seconds(60));
        assert_eq!(delay_while_held(now, &held, false), HOLDER_RECHECK);
        // Ours: the copy is only the fallback, for when this process dies.
        assert_eq!(
            delay_while_held(now, &held, true).as_secs(),
            61,
            "until the lease would have run out, and a second"
        );
        let expired = lease(now - chrono::Duration::seconds(5));
        assert_eq!(
            delay_while_held(now, &expired, true),
            Duration::from_secs(1)
        );
    }
}
