//! The state API's `rate_limits`: every agent account pool the runners keep, per provider,
//! with each account's lease and quota, and which work items wait for an account.

use super::error::ApiError;
use super::state::StateEntry;
use baton_core::ports::{AccountPool, QuotaSignals, Store};
use baton_core::workflow::schema::ACCOUNT_PROVIDERS;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One agent account as the runners last recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountView {
    pub name: String,
    /// The run leasing it; `null` when it is free.
    pub leased_by: Option<String>,
    /// When that lease runs out unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// The provider refused it (or its quota is used up) until then; `null` when usable.
    pub exhausted_until: Option<DateTime<Utc>>,
    /// The provider's last rate-limit report: usage windows (used percent, length, reset)
    /// and its last rate-limit error.
    #[schema(value_type = Option<super::schemas::QuotaSignalsSchema>)]
    pub signals: Option<QuotaSignals>,
}

/// Why a queued work item has not started: every account of its provider is used up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountWait {
    pub provider: String,
    /// When the first account's limit resets; the job is tried again then.
    pub until: DateTime<Utc>,
}

/// Provider → its accounts (by name).
pub type RateLimits = BTreeMap<String, Vec<AccountView>>;

fn view(pool: &AccountPool, now: DateTime<Utc>) -> Vec<AccountView> {
    pool.accounts
        .iter()
        .map(|(name, state)| {
            let lease = state.leased_at(now);
            AccountView {
                name: name.clone(),
                leased_by: lease.map(|l| l.run_id.clone()),
                lease_expires_at: lease.map(|l| l.expires_at),
                exhausted_until: state.exhausted_at(now),
                signals: state.signals.clone(),
            }
        })
        .collect()
}

/// The pools the store holds (`None` when there are none), and the work items waiting for
/// an account.
pub(super) async fn read(
    store: &dyn Store,
    now: DateTime<Utc>,
) -> Result<(Option<RateLimits>, BTreeMap<String, AccountWait>), ApiError> {
    let mut limits = RateLimits::new();
    let mut waits = BTreeMap::new();
    for provider in ACCOUNT_PROVIDERS {
        let pool = store
            .get_account_pool(provider)
            .await
            .map_err(ApiError::store("reading the agent account pools"))?;
        let Some(pool) = pool else {
            continue;
        };
        for (item, until) in pool.waiting.iter().filter(|(_, until)| **until > now) {
            waits.insert(
                item.clone(),
                AccountWait {
                    provider: provider.to_owned(),
                    until: *until,
                },
            );
        }
        limits.insert(provider.to_owned(), view(&pool, now));
    }
    Ok(((!limits.is_empty()).then_some(limits), waits))
}

/// Marks the entries that wait for an account.
pub(super) fn mark_waiting(entries: &mut [StateEntry], waits: &BTreeMap<String, AccountWait>) {
    for entry in entries {
        entry.waiting_for_account = waits.get(entry.work_item.as_str()).cloned();
    }
}
