//! The concurrency limits across every runner: `agent.max_concurrent_agents`,
//! `agent.max_concurrent_agents_by_state` and `agent.max_concurrent_agents_per_repository`,
//! as leased slots in the store.
//!
//! A pool records its holders with an expiry; taking a slot is a versioned write that
//! succeeds only while fewer than `limit` unexpired holders are recorded. Holders renew with
//! their lease, so the slot of a runner that crashed frees itself when its lease would have.

use super::AgentLimits;
use baton_core::domain::IssueSnapshot;
use baton_core::ports::{SlotPool, Store, StoreError};
use chrono::{DateTime, Utc};
use std::time::Duration;

const MAX_WRITE_ATTEMPTS: u32 = 16;

/// The scope of the global limit.
pub const GLOBAL_SCOPE: &str = "global";

/// The scope of the limit for issues in `state`.
pub fn state_scope(state: &str) -> String {
    format!("state:{}", state.trim().to_lowercase())
}

/// The scope of the limit for issues of `repository` (`owner/name`; case does not matter,
/// as on the hosts).
pub fn repository_scope(repository: &str) -> String {
    format!("repository:{}", repository.trim().to_lowercase())
}

/// Every `(scope, limit)` a run of `issue` needs a slot of: the global one, its state's and
/// its repository's when the workflow limits them. An issue without a repository takes no
/// repository slot.
pub fn slot_limits(limits: &AgentLimits, issue: &IssueSnapshot) -> Vec<(String, u32)> {
    let mut scopes = vec![(GLOBAL_SCOPE.to_owned(), limits.max_concurrent_agents)];
    if let Some(limit) = limits.state_limit(&issue.state) {
        scopes.push((state_scope(&issue.state), limit));
    }
    let repository = issue.repository.as_deref().map(str::trim);
    if let (Some(limit), Some(repository)) = (
        limits.max_concurrent_agents_per_repository,
        repository.filter(|r| !r.is_empty()),
    ) {
        scopes.push((repository_scope(repository), limit));
    }
    scopes
}

/// The slots one run holds, released when it ends.
#[derive(Debug, Clone)]
pub struct HeldSlots {
    pub holder: String,
    pub scopes: Vec<String>,
    /// The agent account the run leased, renewed and released with the slots.
    pub account: Option<crate::accounts::LeasedAccount>,
}

fn expiry(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    super::later(now, lease)
}

/// Changes one pool with a versioned write; `change` returns whether to write.
async fn update_pool(
    store: &dyn Store,
    scope: &str,
    mut change: impl FnMut(&mut SlotPool) -> bool,
) -> Result<bool, StoreError> {
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let stored = store.get_slot_pool(scope).await?;
        let expected = stored.as_ref().map(|pool| pool.version);
        let mut pool = stored.unwrap_or_else(|| SlotPool {
            scope: scope.to_owned(),
            ..SlotPool::default()
        });
        if !change(&mut pool) {
            return Ok(false);
        }
        pool.version = expected.unwrap_or(0) + 1;
        match store.put_slot_pool(&pool, expected).await {
            Ok(()) => return Ok(true),
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
    }
    Err(StoreError::Conflict(format!(
        "slot pool {scope} kept changing under {MAX_WRITE_ATTEMPTS} attempts"
    )))
}

/// Takes a slot of every `(scope, limit)` for `holder`, or none: `Ok(None)` when one of them
/// is full (the slots taken so far are given back).
pub async fn acquire(
    store: &dyn Store,
    limits: &[(String, u32)],
    holder: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<HeldSlots>, StoreError> {
    let mut held = HeldSlots {
        holder: holder.to_owned(),
        scopes: Vec::new(),
        account: None,
    };
    for (scope, limit) in limits {
        let limit = *limit as usize;
        let taken = update_pool(store, scope, |pool| {
            pool.holders.retain(|_, expires| *expires > now);
            if pool.holders.contains_key(holder) {
                return true;
            }
            if pool.holders.len() >= limit {
                return false;
            }
            pool.holders.insert(holder.to_owned(), expiry(now, lease));
            true
        })
        .await;
        match taken {
            Ok(true) => held.scopes.push(scope.clone()),
            Ok(false) => {
                release(store, &held).await;
                return Ok(None);
            }
            Err(error) => {
                release(store, &held).await;
                return Err(error);
            }
        }
    }
    Ok(Some(held))
}

/// Pushes the expiry of every held slot to `now + lease`.
pub async fn renew(
    store: &dyn Store,
    held: &HeldSlots,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<(), StoreError> {
    for scope in &held.scopes {
        update_pool(store, scope, |pool| {
            pool.holders.retain(|_, expires| *expires > now);
            // Re-taken even if it expired meanwhile: the run is still going.
            pool.holders.insert(held.holder.clone(), expiry(now, lease));
            true
        })
        .await?;
    }
    if let Some(account) = &held.account {
        let leased = (
            account.provider.as_str(),
            account.name.as_str(),
            held.holder.as_str(),
        );
        crate::accounts::lease::renew(store, leased, now, lease).await?;
    }
    Ok(())
}

/// Gives the slots back. Failures are logged: the slots then free themselves on expiry.
pub async fn release(store: &dyn Store, held: &HeldSlots) {
    for scope in &held.scopes {
        let released = update_pool(store, scope, |pool| {
            pool.holders.remove(&held.holder).is_some()
        })
        .await;
        if let Err(error) = released {
            tracing::warn!(scope = %scope, holder = %held.holder, %error,
                "could not release a concurrency slot; it frees itself when its lease runs out");
        }
    }
    if let Some(account) = &held.account {
        let leased = (
            account.provider.as_str(),
            account.name.as_str(),
            held.holder.as_str(),
        );
        crate::accounts::lease::release(store, leased).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::memory::MemoryStore;
    use std::sync::Arc;

    fn limits(global: u32, state: Option<u32>) -> Vec<(String, u32)> {
        let mut limits = vec![(GLOBAL_SCOPE.to_owned(), global)];
        if let Some(limit) = state {
            limits.push((state_scope("In Progress"), limit));
        }
        limits
    }

    #[tokio::test]
    async fn a_full_pool_refuses_and_a_release_frees_a_slot() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let lease = Duration::from_secs(60);
        let a = acquire(&store, &limits(2, None), "a", now, lease)
            .await
            .expect("store");
        let b = acquire(&store, &limits(2, None), "b", now, lease)
            .await
            .expect("store");
        assert!(a.is_some() && b.is_some());
        let c = acquire(&store, &limits(2, None), "c", now, lease)
            .await
            .expect("store");
        assert!(c.is_none(), "a third holder exceeds the limit of 2");
        release(&store, &a.expect("held")).await;
        let c = acquire(&store, &limits(2, None), "c", now, lease)
            .await
            .expect("store");
        assert!(c.is_some(), "the released slot is free again");
    }

    #[tokio::test]
    async fn a_full_state_pool_gives_back_the_global_slot() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let lease = Duration::from_secs(60);
        assert!(acquire(&store, &limits(5, Some(1)), "a", now, lease)
            .await
            .expect("store")
            .is_some());
        assert!(acquire(&store, &limits(5, Some(1)), "b", now, lease)
            .await
            .expect("store")
            .is_none());
        let global = store
            .get_slot_pool(GLOBAL_SCOPE)
            .await
            .expect("store")
            .expect("pool");
        assert_eq!(global.holders.keys().collect::<Vec<_>>(), ["a"]);
    }

    fn issue(repository: Option<&str>) -> IssueSnapshot {
        IssueSnapshot {
            state: "open".into(),
            repository: repository.map(str::to_owned),
            ..IssueSnapshot::default()
        }
    }

    #[tokio::test]
    async fn one_repository_holds_at_most_its_limit_while_another_repository_runs() {
        let workflow = baton_core::workflow::Workflow::parse(
            "---\ntracker: {kind: github}\nagent:\n  max_concurrent_agents: 10\n  \
             max_concurrent_agents_per_repository: 1\n---\nhi",
        )
        .expect("workflow");
        let limits = &workflow.config.agent;
        let store = MemoryStore::new();
        let now = Utc::now();
        let lease = Duration::from_secs(60);
        let take = |holder: &'static str, repository: Option<&'static str>| {
            let scopes = slot_limits(limits, &issue(repository));
            let store = &store;
            async move {
                acquire(store, &scopes, holder, now, lease)
                    .await
                    .expect("store")
            }
        };
        let first = take("app-1", Some("acme/app")).await.expect("a free slot");
        assert!(
            take("app-2", Some("Acme/App")).await.is_none(),
            "a second item of acme/app waits for the first"
        );
        assert!(
            take("api-1", Some("acme/api")).await.is_some(),
            "another repository has its own slot"
        );
        assert!(
            take("none-1", None).await.is_some(),
            "an issue without a repository takes no repository slot"
        );
        let global = store.get_slot_pool(GLOBAL_SCOPE).await.expect("store");
        assert_eq!(
            global.expect("pool").holders.keys().collect::<Vec<_>>(),
            ["api-1", "app-1", "none-1"],
            "the refused item gave its global slot back"
        );
        release(&store, &first).await;
        assert!(
            take("app-2", Some("acme/app")).await.is_some(),
            "the released slot lets the waiting item run"
        );
    }

    #[test]
    fn without_the_key_there_is_no_repository_slot() {
        let scopes = slot_limits(&AgentLimits::default(), &issue(Some("acme/app")));
        assert_eq!(scopes, [(GLOBAL_SCOPE.to_owned(), 10)]);
    }

    #[tokio::test]
    async fn an_unrenewed_slot_expires_and_a_renewed_one_does_not() {
        let store = MemoryStore::new();
        let now = Utc::now();
        let lease = Duration::from_secs(10);
        let held = acquire(&store, &limits(1, None), "a", now, lease)
            .await
            .expect("store")
            .expect("free");
        let later = now + chrono::Duration::seconds(8);
        renew(&store, &held, later, lease).await.expect("renew");
        let after_first_lease = now + chrono::Duration::seconds(12);
        assert!(
            acquire(&store, &limits(1, None), "b", after_first_lease, lease)
                .await
                .expect("store")
                .is_none()
        );
        let after_renewal = later + chrono::Duration::seconds(11);
        assert!(acquire(&store, &limits(1, None), "b", after_renewal, lease)
            .await
            .expect("store")
            .is_some());
    }

    #[tokio::test]
    async fn concurrent_acquirers_never_exceed_the_limit() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let now = Utc::now();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    acquire(
                        &*store,
                        &limits(3, None),
                        &format!("h{i}"),
                        now,
                        Duration::from_secs(60),
                    )
                    .await
                    .expect("store")
                    .is_some()
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.expect("task"));
        }
        assert_eq!(won, 3);
    }
}
