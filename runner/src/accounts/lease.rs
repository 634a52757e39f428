//! Account leases in the store, as [`slots`](crate::worker::slots) does for concurrency: one
//! versioned record per provider; a run's hold has an expiry it renews with its lease, so the
//! account of a runner that crashed frees itself when its lease would have.

use baton_core::ports::{AccountLease, AccountPool, QuotaSignals, Store, StoreError};
use chrono::{DateTime, Utc};
use std::time::Duration;

const MAX_WRITE_ATTEMPTS: u32 = 16;

/// What a lease attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leasing {
    /// This account is the run's now.
    Leased(String),
    /// Every account is used up; the first frees itself then.
    Exhausted(DateTime<Utc>),
    /// Usable accounts exist but other runs hold them all.
    Busy,
}

fn expiry(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    crate::worker::later(now, lease)
}

/// Changes one pool with a versioned write; `change` returns what to answer and whether to
/// write.
async fn update_pool<T>(
    store: &dyn Store,
    provider: &str,
    mut change: impl FnMut(&mut AccountPool) -> (T, bool),
) -> Result<T, StoreError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let stored = store.get_account_pool(provider).await?;
        let expected = stored.as_ref().map(|pool| pool.version);
        let mut pool = stored.unwrap_or_else(|| AccountPool {
            provider: provider.to_owned(),
            ..AccountPool::default()
        });
        let (answer, write) = change(&mut pool);
        if !write {
            return Ok(answer);
        }
        pool.version = expected.unwrap_or(0) + 1;
        match store.put_account_pool(&pool, expected).await {
            Ok(()) => return Ok(answer),
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Conflict(format!(
        "account pool {provider} kept changing under {MAX_WRITE_ATTEMPTS} attempts"
    )))
}

/// Leases the first of `names` that no live run holds and the provider has not refused.
/// When none is free, notes that `work_item` waits (shown by the state API) when every
/// account is used up.
pub async fn lease(
    store: &dyn Store,
    provider: &str,
    names: &[String],
    (holder, work_item): (&str, &str),
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Leasing, StoreError> {
    update_pool(store, provider, |pool| {
        pool.waiting.retain(|_, until| *until > now);
        for name in names {
            pool.accounts.entry(name.clone()).or_default();
        }
        // A retry of a run that already holds one keeps it.
        let usable = |name: &&String| {
            pool.accounts
                .get(*name)
                .is_some_and(|state| state.exhausted_at(now).is_none())
        };
        let free = names.iter().filter(usable).find(|name| {
            pool.accounts[*name]
                .leased_at(now)
                .is_none_or(|lease| lease.run_id == holder)
        });
        if let Some(name) = free.cloned() {
            let state = pool.accounts.entry(name.clone()).or_default();
            state.lease = Some(AccountLease {
                run_id: holder.to_owned(),
                expires_at: expiry(now, lease),
            });
            pool.waiting.remove(work_item);
            return (Leasing::Leased(name), true);
        }
        if names.iter().any(|name| usable(&name)) {
            return (Leasing::Busy, true);
        }
        let reset = names
            .iter()
            .filter_map(|name| pool.accounts.get(name)?.exhausted_at(now))
            .min()
            .unwrap_or(now);
        pool.waiting.insert(work_item.to_owned(), reset);
        (Leasing::Exhausted(reset), true)
    })
    .await
}

/// Pushes the account's expiry to `now + lease`, re-taking it if it ran out meanwhile and no
/// other run took it.
pub async fn renew(
    store: &dyn Store,
    (provider, name, holder): (&str, &str, &str),
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<(), StoreError> {
    update_pool(store, provider, |pool| {
        let state = pool.accounts.entry(name.to_owned()).or_default();
        if state
            .leased_at(now)
            .is_some_and(|lease| lease.run_id != holder)
        {
            return ((), false);
        }
        state.lease = Some(AccountLease {
            run_id: holder.to_owned(),
            expires_at: expiry(now, lease),
        });
        ((), true)
    })
    .await
}

/// Records what the provider said about the account: its signals, and until when it is
/// used up (`None` leaves an earlier exhaustion as it is).
pub async fn record(
    store: &dyn Store,
    (provider, name): (&str, &str),
    signals: QuotaSignals,
    exhausted_until: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    update_pool(store, provider, |pool| {
        let state = pool.accounts.entry(name.to_owned()).or_default();
        state.signals = Some(signals.clone());
        if exhausted_until.is_some() {
            state.exhausted_until = exhausted_until;
        }
        ((), true)
    })
    .await
}

/// Gives the account back. Failures are logged: the lease then frees itself on expiry.
pub async fn release(store: &dyn Store, (provider, name, holder): (&str, &str, &str)) {
    let released = update_pool(store, provider, |pool| {
        let ours = pool
            .accounts
            .get_mut(name)
            .filter(|state| state.lease.as_ref().is_some_and(|l| l.run_id == holder));
        match ours {
            Some(state) => {
                state.lease = None;
                ((), true)
            }
            None => ((), false),
        }
    })
    .await;
    if let Err(error) = released {
        tracing::warn!(provider, account = name, holder, %error,
            "could not release an agent account; it frees itself when its lease runs out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::memory::MemoryStore;

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[tokio::test]
    async fn two_runs_take_two_accounts_and_a_third_waits_for_one() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let lease_for = Duration::from_secs(60);
        let take = |run: &'static str| {
            let store = &store;
            async move {
                lease(store, "codex", &names(), (run, run), now, lease_for)
                    .await
                    .expect("store")
            }
        };
        assert_eq!(take("r1").await, Leasing::Leased("a".into()));
        assert_eq!(take("r2").await, Leasing::Leased("b".into()));
        assert_eq!(take("r3").await, Leasing::Busy);
        release(&store, ("codex", "a", "r1")).await;
        assert_eq!(take("r3").await, Leasing::Leased("a".into()));
    }

    #[tokio::test]
    async fn an_exhausted_account_is_skipped_until_its_reset() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let reset = now + chrono::Duration::minutes(30);
        let lease_for = Duration::from_secs(60);
        record(&store, ("codex", "a"), QuotaSignals::default(), Some(reset))
            .await
            .expect("record");
        let got = lease(&store, "codex", &names(), ("r1", "w1"), now, lease_for).await;
        assert_eq!(got.expect("store"), Leasing::Leased("b".into()));
        record(
            &store,
            ("codex", "b"),
            QuotaSignals::default(),
            Some(reset + chrono::Duration::minutes(5)),
        )
        .await
        .expect("record");
        release(&store, ("codex", "b", "r1")).await;
        let got = lease(&store, "codex", &names(), ("r2", "w2"), now, lease_for).await;
        assert_eq!(
            got.expect("store"),
            Leasing::Exhausted(reset),
            "the earliest reset"
        );
        let pool = store
            .get_account_pool("codex")
            .await
            .expect("store")
            .expect("pool");
        assert_eq!(pool.waiting.get("w2"), Some(&reset));
        let after = reset + chrono::Duration::seconds(1);
        let got = lease(&store, "codex", &names(), ("r3", "w2"), after, lease_for).await;
        assert_eq!(got.expect("store"), Leasing::Leased("a".into()));
        let pool = store
            .get_account_pool("codex")
            .await
            .expect("store")
            .expect("pool");
        assert!(pool.waiting.is_empty(), "the item no longer waits");
    }

    #[tokio::test]
    async fn an_unrenewed_lease_frees_itself_and_a_renewed_one_does_not() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let lease_for = Duration::from_secs(10);
        let one = vec!["a".to_owned()];
        let got = lease(&store, "codex", &one, ("r1", "w1"), now, lease_for).await;
        assert_eq!(got.expect("store"), Leasing::Leased("a".into()));
        let later = now + chrono::Duration::seconds(8);
        renew(&store, ("codex", "a", "r1"), later, lease_for)
            .await
            .expect("renew");
        let after_first = now + chrono::Duration::seconds(12);
        let got = lease(&store, "codex", &one, ("r2", "w2"), after_first, lease_for).await;
        assert_eq!(got.expect("store"), Leasing::Busy, "renewed: still held");
        let after_renewal = later + chrono::Duration::seconds(11);
        let got = lease(
            &store,
            "codex",
            &one,
            ("r2", "w2"),
            after_renewal,
            lease_for,
        )
        .await;
        assert_eq!(
            got.expect("store"),
            Leasing::Leased("a".into()),
            "the crashed run's lease ran out"
        );
    }
}
