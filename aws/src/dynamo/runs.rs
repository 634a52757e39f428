//! Runs: one record each, `RUN#<run id>` / `RUN`, indexed in `gsi1` under their work item.

use super::{s, string_attr, version, DynamoStore, Item, DOC, GSI1_PK, GSI1_SK, PK, SK, VERSION};
use baton_core::domain::{Run, RunId, WorkItemKey};
use baton_core::ports::StoreError;

pub(super) const RUN_SK: &str = "RUN";

pub(super) fn run_pk(run_id: &RunId) -> String {
    format!("RUN#{run_id}")
}

fn runs_gsi1pk(key: &WorkItemKey) -> String {
    format!("RUNS#{key}")
}

fn decode(item: &Item) -> Result<Run, StoreError> {
    serde_json::from_str(string_attr(item, DOC)?).map_err(|e| {
        let pk = string_attr(item, PK).unwrap_or("?");
        StoreError::Corrupt(format!("run record {pk}: {e}"))
    })
}

impl DynamoStore {
    /// A conditional put on the run's `version`. The `gsi1` keys file it under its work item,
    /// sorted by run id: a UUIDv7, so oldest first.
    pub(super) async fn put_run_record(
        &self,
        run: &Run,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let doc = serde_json::to_string(run)
            .map_err(|e| StoreError::Corrupt(format!("cannot encode run {}: {e}", run.run_id)))?;
        let record = Item::from([
            (PK.to_owned(), s(run_pk(&run.run_id))),
            (SK.to_owned(), s(RUN_SK)),
            (DOC.to_owned(), s(doc)),
            (VERSION.to_owned(), version(run.version)),
            (GSI1_PK.to_owned(), s(runs_gsi1pk(&run.work_item))),
            (GSI1_SK.to_owned(), s(run.run_id.as_str())),
        ]);
        self.put_versioned(record, expected, || format!("run {}", run.run_id))
            .await
    }

    pub(super) async fn read_run(&self, run_id: &RunId) -> Result<Option<Run>, StoreError> {
        let Some(doc) = self.get_doc(run_pk(run_id), RUN_SK).await? else {
            return Ok(None);
        };
        serde_json::from_str(&doc)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("run {run_id}: {e}")))
    }

    /// All the work item's runs from `gsi1`, oldest first (eventually consistent).
    pub(super) async fn query_runs(&self, key: &WorkItemKey) -> Result<Vec<Run>, StoreError> {
        self.query_gsi1(&runs_gsi1pk(key), true, usize::MAX)
            .await?
            .iter()
            .map(decode)
            .collect()
    }
}
