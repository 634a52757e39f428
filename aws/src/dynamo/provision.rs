//! Provisioning: the table `baton setup` creates (on demand, with the `gsi1` index, TTL on
//! `expires_at`, point-in-time recovery). The store itself never creates anything.

use super::{DynamoStore, GSI1, GSI1_PK, GSI1_SK, PK, SK, TTL};
use crate::startup::Failure;
use crate::SetupError;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use std::time::Duration;

/// How long `create_table` waits for the table to become active.
const TABLE_ACTIVE_WAIT: Duration = Duration::from_secs(120);

impl DynamoStore {
    /// Creates the table if it does not exist (on demand, with the `gsi1` index), waits until
    /// it is active, and turns on TTL on `expires_at`.
    pub async fn create_table(&self) -> Result<(), SetupError> {
        let table = &*self.table;
        let resource = format!("table {table}");
        let fail = |message: String| SetupError::new(&resource, message);
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| fail(e.to_string()))
        };
        let mut request = self
            .client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(GSI1)
                    .key_schema(key(GSI1_PK, KeyType::Hash)?)
                    .key_schema(key(GSI1_SK, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        for name in [PK, SK, GSI1_PK, GSI1_SK] {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        match request.send().await {
            Ok(_) => tracing::info!(table, "created the DynamoDB table"),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(e) => {
                return Err(SetupError::from_failure(
                    &resource,
                    Failure::from_sdk("DynamoDB", "CreateTable", &e),
                ))
            }
        }

        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_WAIT;
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| {
                    SetupError::from_failure(
                        &resource,
                        Failure::from_sdk("DynamoDB", "DescribeTable", &e),
                    )
                })?;
            let status = described.table.and_then(|t| t.table_status);
            if status == Some(TableStatus::Active) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(fail(format!(
                    "not active after {TABLE_ACTIVE_WAIT:?} (status {status:?})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        self.enable_ttl()
            .await
            .map_err(|failure| SetupError::from_failure(&resource, failure))?;

        // Point-in-time recovery belongs to the infrastructure templates; emulators may not
        // implement it, which is fine.
        let pitr = self
            .client
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            )
            .send()
            .await;
        if let Err(e) = pitr {
            tracing::warn!(table, error = %DisplayErrorContext(&e), "point-in-time recovery not enabled");
        }
        Ok(())
    }

    async fn ttl_attribute(&self) -> Result<Option<(String, TimeToLiveStatus)>, Failure> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&*self.table)
            .send()
            .await
            .map_err(|e| Failure::from_sdk("DynamoDB", "DescribeTimeToLive", &e))?;
        Ok(described.time_to_live_description.and_then(|ttl| {
            let status = ttl.time_to_live_status?;
            if status == TimeToLiveStatus::Disabled || status == TimeToLiveStatus::Disabling {
                return None;
            }
            Some((ttl.attribute_name?, status))
        }))
    }

    async fn enable_ttl(&self) -> Result<(), Failure> {
        let check = |current: Option<(String, TimeToLiveStatus)>| match current {
            Some((name, _)) if name == TTL => Ok(true),
            Some((name, _)) => Err(Failure::permanent(format!(
                "TTL is on attribute `{name}`, baton needs it on `{TTL}`"
            ))),
            None => Ok(false),
        };
        if check(self.ttl_attribute().await?)? {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL)
            .build()
            .map_err(|e| Failure::permanent(e.to_string()))?;
        let updated = self
            .client
            .update_time_to_live()
            .table_name(&*self.table)
            .time_to_live_specification(specification)
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            // Someone else enabled it at the same time.
            Err(e) if check(self.ttl_attribute().await?)? => {
                tracing::debug!(error = %DisplayErrorContext(&e), "TTL was enabled concurrently");
                Ok(())
            }
            Err(e) => Err(Failure::from_sdk("DynamoDB", "UpdateTimeToLive", &e)),
        }
    }
}
