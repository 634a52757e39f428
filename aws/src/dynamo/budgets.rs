//! Budget counters: a work item's is `ITEM#<key>` / `BUDGET` (beside the item's record), a
//! workflow's day `BUDGET#<workflow>` / `DAY#<YYYY-MM-DD>`, with `tokens` and
//! `cost_micro_usd` number attributes and a TTL. A charge is one `UpdateItem` with `ADD` per
//! counter, returning the new values, so charges made at once on any number of machines
//! all count. DynamoDB deletes an expired record some time after its TTL; until then a
//! charge restarts it with a conditional write instead of adding to what it held.

use super::{item_pk, n, number_attr, unavailable, DynamoStore, Item, PK, SK, TTL};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use baton_core::ports::{BudgetCharge, BudgetScope, BudgetSpend, BudgetTotals, StoreError};
use chrono::Utc;

const BUDGET_SK: &str = "BUDGET";
const TOKENS: &str = "tokens";
const COST: &str = "cost_micro_usd";
/// Tries of a charge that keeps meeting a counter someone else restarts meanwhile.
const CHARGE_ATTEMPTS: usize = 3;

fn day_key(scope: &BudgetScope) -> (String, String) {
    (
        format!("BUDGET#{}", scope.workflow),
        format!("DAY#{}", scope.day.format("%Y-%m-%d")),
    )
}

fn item_key(scope: &BudgetScope) -> (String, String) {
    (item_pk(&scope.item), BUDGET_SK.to_owned())
}

fn amount(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn spend_of(item: &Item) -> Result<BudgetSpend, StoreError> {
    let value = |name| number_attr(item, name).map(|v| u64::try_from(v).unwrap_or(0));
    Ok(BudgetSpend {
        tokens: value(TOKENS)?,
        cost_micro_usd: value(COST)?,
    })
}

impl DynamoStore {
    pub(super) async fn charge_budget_counters(
        &self,
        charge: &BudgetCharge,
    ) -> Result<BudgetTotals, StoreError> {
        let scope = &charge.scope;
        let item_expires = BudgetScope::item_expires_at(charge.at);
        let item = self
            .add_to_counter(item_key(scope), charge.spend, item_expires)
            .await?;
        let day = self
            .add_to_counter(day_key(scope), charge.spend, scope.day_expires_at())
            .await?;
        Ok(BudgetTotals { item, day })
    }

    /// Adds to a live counter, or starts it over when it is missing or past its TTL.
    async fn add_to_counter(
        &self,
        (pk, sk): (String, String),
        spend: BudgetSpend,
        expires_at: i64,
    ) -> Result<BudgetSpend, StoreError> {
        for _ in 0..CHARGE_ATTEMPTS {
            let now = n(Utc::now().timestamp());
            let added = self
                .client
                .update_item()
                .table_name(&*self.table)
                .key(PK, AttributeValue::S(pk.clone()))
                .key(SK, AttributeValue::S(sk.clone()))
                .update_expression("SET #ttl = :ttl ADD #tokens :tokens, #cost :cost")
                .condition_expression("attribute_not_exists(#ttl) OR #ttl > :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_names("#tokens", TOKENS)
                .expression_attribute_names("#cost", COST)
                .expression_attribute_values(":ttl", n(expires_at))
                .expression_attribute_values(":tokens", amount(spend.tokens))
                .expression_attribute_values(":cost", amount(spend.cost_micro_usd))
                .expression_attribute_values(":now", now.clone())
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match added {
                Ok(output) => return spend_of(&output.attributes.unwrap_or_default()),
                Err(err)
                    if !err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    return Err(unavailable("UpdateItem", err));
                }
                Err(_) => {}
            }
            // Expired and not deleted yet: start it over, unless another charge just did.
            let restarted = self
                .client
                .update_item()
                .table_name(&*self.table)
                .key(PK, AttributeValue::S(pk.clone()))
                .key(SK, AttributeValue::S(sk.clone()))
                .update_expression("SET #ttl = :ttl, #tokens = :tokens, #cost = :cost")
                .condition_expression("#ttl <= :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_names("#tokens", TOKENS)
                .expression_attribute_names("#cost", COST)
                .expression_attribute_values(":ttl", n(expires_at))
                .expression_attribute_values(":tokens", amount(spend.tokens))
                .expression_attribute_values(":cost", amount(spend.cost_micro_usd))
                .expression_attribute_values(":now", now)
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match restarted {
                Ok(output) => return spend_of(&output.attributes.unwrap_or_default()),
                Err(err)
                    if !err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    return Err(unavailable("UpdateItem", err));
                }
                Err(_) => {}
            }
        }
        Err(StoreError::Conflict(format!(
            "budget counter {pk}/{sk} kept changing under the charge"
        )))
    }

    pub(super) async fn read_budget_counters(
        &self,
        scope: &BudgetScope,
    ) -> Result<BudgetTotals, StoreError> {
        Ok(BudgetTotals {
            item: self.read_counter(item_key(scope)).await?,
            day: self.read_counter(day_key(scope)).await?,
        })
    }

    /// A counter read consistently; zero when missing or past its TTL.
    async fn read_counter(&self, (pk, sk): (String, String)) -> Result<BudgetSpend, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        match output.item {
            Some(item) if number_attr(&item, TTL)? > Utc::now().timestamp() => spend_of(&item),
            _ => Ok(BudgetSpend::default()),
        }
    }
}
