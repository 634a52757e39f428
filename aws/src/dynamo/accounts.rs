//! Agent account pools: one record per provider, `ACCOUNTS#<provider>` / `ACCOUNTS`.

use super::{s, version, DynamoStore, Item, DOC, PK, SK, VERSION};
use baton_core::ports::{AccountPool, StoreError};

const ACCOUNTS_SK: &str = "ACCOUNTS";

fn accounts_pk(provider: &str) -> String {
    format!("ACCOUNTS#{provider}")
}

impl DynamoStore {
    pub(super) async fn read_account_pool(
        &self,
        provider: &str,
    ) -> Result<Option<AccountPool>, StoreError> {
        let Some(doc) = self.get_doc(accounts_pk(provider), ACCOUNTS_SK).await? else {
            return Ok(None);
        };
        serde_json::from_str(&doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("account pool {provider}: {e}")))
    }

    /// A conditional put on the pool's `version`.
    pub(super) async fn put_account_pool_record(
        &self,
        pool: &AccountPool,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let doc = serde_json::to_string(pool).map_err(|e| {
            StoreError::Corrupt(format!("cannot encode account pool {}: {e}", pool.provider))
        })?;
        let record = Item::from([
            (PK.to_owned(), s(accounts_pk(&pool.provider))),
            (SK.to_owned(), s(ACCOUNTS_SK)),
            (DOC.to_owned(), s(doc)),
            (VERSION.to_owned(), version(pool.version)),
        ]);
        self.put_versioned(record, expected, || {
            format!("account pool {}", pool.provider)
        })
        .await
    }
}
