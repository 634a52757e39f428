//! Agent account pools in memory: one versioned record per provider.

use super::lock;
use crate::ports::{AccountPool, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct AccountPools(Mutex<HashMap<String, AccountPool>>);

impl AccountPools {
    pub(super) fn get(&self, provider: &str) -> Option<AccountPool> {
        lock(&self.0).get(provider).cloned()
    }

    /// Writes `pool` over the stored version `expected` (`None`: there must be none).
    pub(super) fn put(&self, pool: &AccountPool, expected: Option<u64>) -> Result<(), StoreError> {
        let mut pools = lock(&self.0);
        let stored = pools.get(&pool.provider).map(|current| current.version);
        if stored != expected {
            return Err(super::store::version_conflict(
                &format!("account pool {}", pool.provider),
                expected,
                stored,
            ));
        }
        pools.insert(pool.provider.clone(), pool.clone());
        Ok(())
    }
}
