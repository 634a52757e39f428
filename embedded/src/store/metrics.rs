//! The metrics series: one row per `(scope, hour, counter)`. An update is a handful of
//! upserts in one write transaction, each changing its value in place (`value + ?`,
//! `max(value, ?)`), so concurrent writers, in this process or another, never lose a count.

use crate::error::Error;
use baton_core::trends::{expires_at, Change, MetricsRecord, MetricsUpdate};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use std::collections::BTreeMap;

/// Expired rows each update deletes at most: the table stays bounded with no full scan.
const PRUNE_BATCH: i64 = 16;

/// One upsert.
pub(super) struct Row {
    scope: String,
    hour: i64,
    name: String,
    value: i64,
    expires_at: i64,
    change: Change,
}

/// The rows of `update`, in every scope it changes.
pub(super) fn rows(update: &MetricsUpdate) -> Vec<Row> {
    let hour = update.hour();
    update
        .scopes()
        .into_iter()
        .flat_map(|scope| {
            update.changes().map(move |(change, name, value)| Row {
                scope: scope.clone(),
                hour: hour.timestamp(),
                name: name.to_owned(),
                value: i64::try_from(value).unwrap_or(i64::MAX),
                expires_at: expires_at(hour),
                change,
            })
        })
        .collect()
}

/// `INSERT ... ON CONFLICT DO UPDATE` with the update of each kind of change.
macro_rules! upsert {
    ($set:literal) => {
        concat!(
            "INSERT INTO metrics (scope, hour, name, value, expires_at) ",
            "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (scope, hour, name) DO UPDATE SET ",
            $set
        )
    };
}

pub(super) fn apply(conn: &Connection, rows: &[Row], now_s: i64) -> Result<(), Error> {
    for row in rows {
        let sql = match row.change {
            Change::Add => upsert!("value = value + excluded.value"),
            Change::Set => upsert!("value = excluded.value"),
            Change::Max => upsert!("value = max(value, excluded.value)"),
        };
        conn.prepare_cached(sql)?.execute(params![
            row.scope,
            row.hour,
            row.name,
            row.value,
            row.expires_at
        ])?;
    }
    conn.prepare_cached(
        "DELETE FROM metrics WHERE rowid IN \
         (SELECT rowid FROM metrics WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
    )?
    .execute(params![now_s, PRUNE_BATCH])?;
    Ok(())
}

/// The live buckets of `scope` with `from <= hour < to` (epoch seconds), oldest first.
pub(super) fn read(
    conn: &Connection,
    scope: &str,
    from: i64,
    to: i64,
    now_s: i64,
) -> Result<Vec<MetricsRecord>, Error> {
    let mut statement = conn.prepare_cached(
        "SELECT hour, name, value FROM metrics \
         WHERE scope = ?1 AND hour >= ?2 AND hour < ?3 AND expires_at > ?4 ORDER BY hour",
    )?;
    let rows = statement.query_map(params![scope, from, to, now_s], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    let mut buckets: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
    for row in rows {
        let (hour, name, value) = row?;
        buckets
            .entry(hour)
            .or_default()
            .insert(name, u64::try_from(value).unwrap_or(0));
    }
    Ok(buckets
        .into_iter()
        .filter_map(|(hour, values)| {
            DateTime::<Utc>::from_timestamp(hour, 0).map(|hour| MetricsRecord { hour, values })
        })
        .collect())
}
