//! Agent account pools as stored: which run leases which account of a provider, until when,
//! and what the provider last said about each account's quota. Like [`SlotPool`], one
//! versioned record per pool; the leasing logic lives with the runner.
//!
//! [`SlotPool`]: super::SlotPool

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The accounts of one provider (`codex`, `claude_code`, `opencode`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountPool {
    pub provider: String,
    /// Account name → its lease and quota state.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountState>,
    /// Work item key → until when it waits because every account is exhausted.
    #[serde(default)]
    pub waiting: BTreeMap<String, DateTime<Utc>>,
    pub version: u64,
}

/// One account of a pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    /// The run leasing it, while one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<AccountLease>,
    /// The provider refused it (or reported its quota used up) until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhausted_until: Option<DateTime<Utc>>,
    /// The provider's last rate-limit report for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<QuotaSignals>,
}

impl AccountState {
    /// Leased by a run whose lease has not run out.
    pub fn leased_at(&self, now: DateTime<Utc>) -> Option<&AccountLease> {
        self.lease.as_ref().filter(|lease| lease.expires_at > now)
    }

    /// Refused by the provider until a time still to come.
    pub fn exhausted_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.exhausted_until.filter(|until| *until > now)
    }
}

/// A run's hold on an account: it frees itself at `expires_at` unless renewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountLease {
    pub run_id: String,
    pub expires_at: DateTime<Utc>,
}

/// What a provider last reported about an account's usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaSignals {
    pub observed_at: DateTime<Utc>,
    /// Usage windows (Codex: `primary`, `secondary`; Claude Code: `five_hour`, ...).
    #[serde(default)]
    pub windows: Vec<QuotaWindow>,
    /// The provider's rate-limit error, when it refused a request (redacted, bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One usage window of an account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaWindow {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<DateTime<Utc>>,
}

/// Why a credential reference could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Nothing is stored under the reference (an unset variable, a missing file or secret).
    #[error("credential {reference} not found: {reason}")]
    NotFound { reference: String, reason: String },
    /// This deployment cannot read such references (`secretsmanager:` off AWS).
    #[error("credential {reference} cannot be read here: {reason}")]
    Unsupported { reference: String, reason: String },
    /// The backend holding it could not be reached.
    #[error("credential {reference} unavailable: {reason}")]
    Unavailable { reference: String, reason: String },
}

/// Reads the secret a credential reference (`$VAR`, `file:<path>`, `secretsmanager:<id>`,
/// `ssm:<name>`) points at, so the runner never depends on where secrets live.
#[async_trait]
pub trait CredentialSource: Send + Sync + 'static {
    async fn resolve(&self, reference: &str) -> Result<String, CredentialError>;
}
