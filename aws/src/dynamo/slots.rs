//! Slot pools: one record per scope, `SLOTS#<scope>` / `SLOTS`.

use super::{s, version, DynamoStore, Item, DOC, PK, SK, VERSION};
use baton_core::ports::{SlotPool, StoreError};

const SLOTS_SK: &str = "SLOTS";

fn slots_pk(scope: &str) -> String {
    format!("SLOTS#{scope}")
}

impl DynamoStore {
    pub(super) async fn read_slot_pool(&self, scope: &str) -> Result<Option<SlotPool>, StoreError> {
        let Some(doc) = self.get_doc(slots_pk(scope), SLOTS_SK).await? else {
            return Ok(None);
        };
        serde_json::from_str(&doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("slot pool {scope}: {e}")))
    }

    /// A conditional put on the pool's `version`.
    pub(super) async fn put_slot_pool_record(
        &self,
        pool: &SlotPool,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let doc = serde_json::to_string(pool).map_err(|e| {
            StoreError::Corrupt(format!("cannot encode slot pool {}: {e}", pool.scope))
        })?;
        let record = Item::from([
            (PK.to_owned(), s(slots_pk(&pool.scope))),
            (SK.to_owned(), s(SLOTS_SK)),
            (DOC.to_owned(), s(doc)),
            (VERSION.to_owned(), version(pool.version)),
        ]);
        self.put_versioned(record, expected, || format!("slot pool {}", pool.scope))
            .await
    }
}
