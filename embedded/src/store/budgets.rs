//! Budget counters: one row per work item and per workflow and day. A charge is two upserts
//! in one write transaction that add in place (`tokens + ?`), returning the new totals, so
//! concurrent writers, in this process or another, never lose a charge.

use crate::error::Error;
use baton_core::ports::{BudgetCharge, BudgetScope, BudgetSpend, BudgetTotals};
use rusqlite::{params, Connection, OptionalExtension};

/// Expired rows each charge deletes at most: the table stays bounded with no full scan.
const PRUNE_BATCH: i64 = 16;

pub(super) fn item_key(scope: &BudgetScope) -> String {
    format!("item:{}", scope.item)
}

pub(super) fn day_key(scope: &BudgetScope) -> String {
    format!("day:{}:{}", scope.workflow, scope.day.format("%Y-%m-%d"))
}

fn stored(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn spend(tokens: i64, cost: i64) -> BudgetSpend {
    BudgetSpend {
        tokens: u64::try_from(tokens).unwrap_or(0),
        cost_micro_usd: u64::try_from(cost).unwrap_or(0),
    }
}

/// Adds to one counter (restarting one past its expiry) and returns its new value.
fn add(
    conn: &Connection,
    key: &str,
    amount: BudgetSpend,
    expires_at: i64,
    now_s: i64,
) -> Result<BudgetSpend, Error> {
    let (tokens, cost) = conn
        .prepare_cached(
            "INSERT INTO budgets (scope, tokens, cost_micro_usd, expires_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (scope) DO UPDATE SET \
             tokens = CASE WHEN budgets.expires_at <= ?5 THEN 0 ELSE budgets.tokens END \
                 + excluded.tokens, \
             cost_micro_usd = CASE WHEN budgets.expires_at <= ?5 THEN 0 \
                 ELSE budgets.cost_micro_usd END + excluded.cost_micro_usd, \
             expires_at = max(budgets.expires_at, excluded.expires_at) \
             RETURNING tokens, cost_micro_usd",
        )?
        .query_row(
            params![
                key,
                stored(amount.tokens),
                stored(amount.cost_micro_usd),
                expires_at,
                now_s
            ],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )?;
    Ok(spend(tokens, cost))
}

pub(super) fn charge(
    conn: &Connection,
    charge: &BudgetCharge,
    now_s: i64,
) -> Result<BudgetTotals, Error> {
    let scope = &charge.scope;
    let item_expires = BudgetScope::item_expires_at(charge.at);
    let item = add(conn, &item_key(scope), charge.spend, item_expires, now_s)?;
    let day = add(
        conn,
        &day_key(scope),
        charge.spend,
        scope.day_expires_at(),
        now_s,
    )?;
    conn.prepare_cached(
        "DELETE FROM budgets WHERE rowid IN \
         (SELECT rowid FROM budgets WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
    )?
    .execute(params![now_s, PRUNE_BATCH])?;
    Ok(BudgetTotals { item, day })
}

fn get(conn: &Connection, key: &str, now_s: i64) -> Result<BudgetSpend, Error> {
    let row = conn
        .prepare_cached(
            "SELECT tokens, cost_micro_usd FROM budgets WHERE scope = ?1 AND expires_at > ?2",
        )?
        .query_row(params![key, now_s], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
        })
        .optional()?;
    Ok(row.map_or_else(BudgetSpend::default, |(tokens, cost)| spend(tokens, cost)))
}

pub(super) fn read(
    conn: &Connection,
    scope: &BudgetScope,
    now_s: i64,
) -> Result<BudgetTotals, Error> {
    Ok(BudgetTotals {
        item: get(conn, &item_key(scope), now_s)?,
        day: get(conn, &day_key(scope), now_s)?,
    })
}
