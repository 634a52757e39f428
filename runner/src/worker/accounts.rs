//! Before a run: its concurrency slots and, when its workflow has an account pool, one agent
//! account with its credential. After it: what the provider said about that account's
//! quota. A job that finds every account used up waits (a delayed copy, like every "not
//! now"): it spends no attempt and is never dead-lettered for it. Nor does a run that failed
//! on an account the provider reported used up: it goes again on another account.

use super::attempt::AttemptEnd;
use super::evidence::Evidence;
use super::settle::STORE_DOWN_RETRY;
use super::slots::{self, HeldSlots};
use super::{RunPlan, Runner};
use crate::accounts::lease::{self, Leasing};
use crate::accounts::{AccountPlan, LeasedAccount, SecretValue};
use baton_core::domain::{Job, RunId, WorkItem};
use baton_core::ports::{QuotaSignals, MAX_SEND_DELAY};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long an account whose credential cannot be read is skipped.
const UNREADABLE_CREDENTIAL_PAUSE: chrono::Duration = chrono::Duration::minutes(5);

impl Runner {
    /// Takes the run's slots and account; `None` when the job was postponed instead (every
    /// slot taken, every account busy or used up, the store out of reach).
    pub(super) async fn take_slots(
        &self,
        (job, receipt): (&Job, &str),
        plan: &RunPlan,
        item: &WorkItem,
        run_id: &RunId,
    ) -> Option<HeldSlots> {
        let now = self.clock.now();
        let limits = slots::slot_limits(&plan.limits, &item.issue);
        let lease_for = self.settings.lease;
        let mut held = match slots::acquire(&*self.store, &limits, run_id.as_str(), now, lease_for)
            .await
        {
            Ok(Some(held)) => held,
            Ok(None) => {
                tracing::info!(work_item = %job.work_item, "every concurrency slot is taken; the job waits");
                self.postpone(job, receipt, self.settings.busy_retry).await;
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot take a concurrency slot; the job waits");
                self.postpone(job, receipt, STORE_DOWN_RETRY).await;
                return None;
            }
        };
        let Some(pool) = &plan.accounts else {
            return Some(held);
        };
        match self.lease_account(pool, run_id, item).await {
            Ok(account) => {
                held.account = Some(account);
                Some(held)
            }
            Err(delay) => {
                slots::release(&*self.store, &held).await;
                self.postpone(job, receipt, delay).await;
                None
            }
        }
    }

    /// Leases an account and reads its credential; `Err(delay)`: the job waits that long.
    async fn lease_account(
        &self,
        pool: &AccountPlan,
        run_id: &RunId,
        item: &WorkItem,
    ) -> Result<LeasedAccount, Duration> {
        let store = &*self.store;
        let provider = pool.provider.as_str();
        let names = pool.names();
        // An account whose credential cannot be read is set aside; then the next is tried.
        for _ in 0..=pool.accounts.len() {
            let now = self.clock.now();
            let holder = (run_id.as_str(), item.key.as_str());
            let leased = lease::lease(store, provider, &names, holder, now, self.settings.lease);
            let name = match leased.await {
                Ok(Leasing::Leased(name)) => name,
                Ok(Leasing::Exhausted(reset)) => {
                    tracing::info!(provider, until = %reset,
                        "every agent account is used up; the job waits for the first reset");
                    return Err(wait_until(now, reset));
                }
                Ok(Leasing::Busy) => {
                    tracing::info!(provider, "every agent account is in use; the job waits");
                    return Err(self.settings.busy_retry);
                }
                Err(error) => {
                    tracing::warn!(provider, %error, "cannot lease an agent account; the job waits");
                    return Err(STORE_DOWN_RETRY);
                }
            };
            let Some(account) = pool.account(&name) else {
                continue;
            };
            let env = account.env_name(provider);
            match self.credentials.resolve(&account.credential).await {
                Ok(secret) => {
                    // Known to every redactor from here on: logs, events, errors.
                    baton_telemetry::redact::remember([secret.clone()]);
                    tracing::info!(provider, account = %name, "agent account leased");
                    return Ok(LeasedAccount {
                        provider: provider.to_owned(),
                        name,
                        holder: run_id.to_string(),
                        env,
                        secret: SecretValue(secret),
                    });
                }
                Err(error) => {
                    tracing::error!(provider, account = %name, %error,
                        "cannot read the agent account's credential; setting the account aside");
                    let signals = QuotaSignals {
                        observed_at: now,
                        windows: Vec::new(),
                        error: Some(error.to_string()),
                    };
                    let aside = Some(now + UNREADABLE_CREDENTIAL_PAUSE);
                    let _ = lease::record(store, (provider, &name), signals, aside).await;
                    lease::release(store, (provider, &name, run_id.as_str())).await;
                }
            }
        }
        Err(self.settings.busy_retry)
    }

    /// Records the quota signals the run saw on its account (rate-limit snapshots, and
    /// rate-limit errors in its events or its failure), marking it used up when they say so;
    /// returns until when it is used up, if it is.
    pub(super) async fn note_quota(
        &self,
        held: &HeldSlots,
        evidence: &Evidence,
        end: &AttemptEnd,
    ) -> Option<DateTime<Utc>> {
        let account = held.account.as_ref()?;
        let mut seen = evidence.quota.clone();
        if let AttemptEnd::Failed(error) = end {
            seen.error_text(&error.message);
        }
        if seen.is_empty() {
            return None;
        }
        let (mut signals, exhausted) = seen.assess(self.clock.now());
        signals.error = signals.error.map(|text| self.redactor().redact(&text));
        if let Some(until) = exhausted {
            tracing::warn!(provider = %account.provider, account = %account.name, %until,
                "the provider reports the agent account used up; it is skipped until then");
        }
        let named = (account.provider.as_str(), account.name.as_str());
        match lease::record(&*self.store, named, signals, exhausted).await {
            Ok(()) => exhausted,
            // Unrecorded, the account would be leased again: the run counts as any failure.
            Err(error) => {
                tracing::warn!(%error, "cannot record the agent account's quota signals");
                None
            }
        }
    }
}

/// The delay until `reset`, at least a second and at most what the queue can delay.
fn wait_until(now: DateTime<Utc>, reset: DateTime<Utc>) -> Duration {
    (reset - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1))
        .min(MAX_SEND_DELAY)
}

/// The agent's environment for a run: the plan's, with only the leased account's credential
/// when the workflow has a pool.
pub(super) fn agent_env(plan: &RunPlan, account: Option<&LeasedAccount>) -> Vec<(String, String)> {
    let base = plan.agent.environment(|name| std::env::var(name).ok());
    match (&plan.accounts, account) {
        (Some(pool), Some(account)) => pool.environment(base, account),
        _ => base,
    }
}
