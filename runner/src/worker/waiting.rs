//! How long a job waits while another run holds its work item.
//!
//! A request made while a run goes on must start when that run ends, not when its lease
//! would have expired. The ending run cannot send the waiting job itself: only the message
//! carries the job (its reason decides whether an agent runs at all), and the store keeps
//! nothing but its id. So the waiting job looks again every second, as a fresh delayed copy
//! (its receives never count towards the dead-letter queue); a holder that died stops
//! renewing its lease, and the next look after it runs out takes the item over.

use baton_core::domain::Lease;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How often a waiting job looks at the item again: a request made during a run starts at
/// most about this long after the run ends.
pub const HOLDER_RECHECK: Duration = Duration::from_secs(1);

/// The delay of the waiting job's next copy: a second, or until just after the lease runs
/// out when that is sooner.
pub fn delay_while_held(now: DateTime<Utc>, lease: &Lease) -> Duration {
    let until_expiry = (lease.expires_at - now).to_std().unwrap_or(Duration::ZERO);
    (until_expiry + Duration::from_secs(1)).min(HOLDER_RECHECK)
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
    fn a_long_lease_is_looked_at_again_within_a_second() {
        let now = Utc::now();
        let held = lease(now + chrono::Duration::seconds(60));
        assert_eq!(delay_while_held(now, &held), HOLDER_RECHECK);
        let expired = lease(now - chrono::Duration::seconds(5));
        assert_eq!(delay_while_held(now, &expired), Duration::from_secs(1));
    }
}
