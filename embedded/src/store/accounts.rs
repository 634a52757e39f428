//! Agent account pools: versioned documents in the `slot_pools` table, keyed
//! `accounts:<provider>` (slot scopes are `global`, `state:…` and `repository:…`, so the keys
//! never meet).

use super::records::{Table, Versioned};
use super::{decode, encode, SqliteStore};
use baton_core::ports::{AccountPool, StoreError};

const ACCOUNT_POOLS: Table = Table {
    what: "account pool",
    select_version: "SELECT version FROM slot_pools WHERE scope = ?1",
    select_doc: "SELECT doc FROM slot_pools WHERE scope = ?1",
    insert: "INSERT INTO slot_pools (scope, version, doc) \
             VALUES (?1, ?2, ?3) ON CONFLICT (scope) DO NOTHING",
    update: "UPDATE slot_pools SET version = ?2, doc = ?3 WHERE scope = ?1 AND version = ?4",
};

fn key(provider: &str) -> String {
    format!("accounts:{provider}")
}

impl SqliteStore {
    pub(super) async fn read_account_pool(
        &self,
        provider: &str,
    ) -> Result<Option<AccountPool>, StoreError> {
        self.get_doc(&ACCOUNT_POOLS, key(provider))
            .await?
            .map(|doc| decode(format_args!("account pool {provider}"), &doc))
            .transpose()
    }

    pub(super) async fn write_account_pool(
        &self,
        pool: &AccountPool,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let record = Versioned {
            key: key(&pool.provider),
            version: pool.version,
            doc: encode(format_args!("account pool {}", pool.provider), pool)?,
            extra: Vec::new(),
            expected,
        };
        self.put(&ACCOUNT_POOLS, record).await
    }
}
