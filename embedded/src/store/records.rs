//! Versioned documents: work items, runs and slot pools. Every write is conditional on the
//! stored version; a lost condition is a `Conflict` that names what was found.

use crate::error::Error;
use rusqlite::{params, Connection, OptionalExtension};

/// One table of versioned documents, and how its rows are keyed.
pub(super) struct Table {
    /// Names the record in conflict messages: `work item`, `run`, `slot pool`.
    pub what: &'static str,
    pub select_version: &'static str,
    pub select_doc: &'static str,
    /// Parameters: key, version, doc, then the table's extra columns.
    pub insert: &'static str,
    /// Parameters as `insert`, then the expected version.
    pub update: &'static str,
}

pub(super) const WORK_ITEMS: Table = Table {
    what: "work item",
    select_version: "SELECT version FROM work_items WHERE key = ?1",
    select_doc: "SELECT doc FROM work_items WHERE key = ?1",
    insert: "INSERT INTO work_items (key, version, doc, status, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key) DO NOTHING",
    update: "UPDATE work_items SET version = ?2, doc = ?3, status = ?4, updated_at = ?5 \
             WHERE key = ?1 AND version = ?6",
};

pub(super) const RUNS: Table = Table {
    what: "run",
    select_version: "SELECT version FROM runs WHERE run_id = ?1",
    select_doc: "SELECT doc FROM runs WHERE run_id = ?1",
    insert: "INSERT INTO runs (run_id, version, doc, work_item) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (run_id) DO NOTHING",
    update: "UPDATE runs SET version = ?2, doc = ?3, work_item = ?4 \
             WHERE run_id = ?1 AND version = ?5",
};

pub(super) const SLOT_POOLS: Table = Table {
    what: "slot pool",
    select_version: "SELECT version FROM slot_pools WHERE scope = ?1",
    select_doc: "SELECT doc FROM slot_pools WHERE scope = ?1",
    insert: "INSERT INTO slot_pools (scope, version, doc) \
             VALUES (?1, ?2, ?3) ON CONFLICT (scope) DO NOTHING",
    update: "UPDATE slot_pools SET version = ?2, doc = ?3 WHERE scope = ?1 AND version = ?4",
};

/// A column value beside the document (`status`, `updated_at`, `work_item`).
pub(super) enum Extra {
    Text(String),
    Integer(i64),
}

impl rusqlite::ToSql for Extra {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Extra::Text(text) => text.to_sql(),
            Extra::Integer(value) => value.to_sql(),
        }
    }
}

/// A versioned record to write.
pub(super) struct Versioned {
    pub key: String,
    pub version: u64,
    pub doc: String,
    pub extra: Vec<Extra>,
    pub expected: Option<u64>,
}

/// Versions are `u64` in the domain, SQLite integers are `i64`.
fn to_sql_version(version: u64) -> Result<i64, Error> {
    i64::try_from(version)
        .map_err(|_| Error::Corrupt(format!("version {version} is too large to store")))
}

fn stored_version(conn: &Connection, table: &Table, key: &str) -> Result<Option<u64>, Error> {
    let version: Option<i64> = conn
        .prepare_cached(table.select_version)?
        .query_row(params![key], |row| row.get(0))
        .optional()?;
    version
        .map(|v| {
            u64::try_from(v)
                .map_err(|_| Error::Corrupt(format!("{} {key}: version {v}", table.what)))
        })
        .transpose()
}

fn show(version: Option<u64>) -> String {
    version.map_or_else(|| "none".to_owned(), |v| format!("version {v}"))
}

/// Writes `record` if the stored version is still `record.expected` (`None`: no record).
pub(super) fn put(conn: &Connection, table: &Table, record: &Versioned) -> Result<(), Error> {
    let version = to_sql_version(record.version)?;
    let mut values: Vec<&dyn rusqlite::ToSql> = vec![&record.key, &version, &record.doc];
    values.extend(
        record
            .extra
            .iter()
            .map(|extra| extra as &dyn rusqlite::ToSql),
    );
    let expected = record.expected.map(to_sql_version).transpose()?;
    let changed = match &expected {
        None => conn.prepare_cached(table.insert)?.execute(&*values)?,
        Some(expected) => {
            values.push(expected);
            conn.prepare_cached(table.update)?.execute(&*values)?
        }
    };
    if changed == 0 {
        let found = stored_version(conn, table, &record.key)?;
        return Err(Error::Conflict(format!(
            "{} {}: expected {}, found {}",
            table.what,
            record.key,
            show(record.expected),
            show(found)
        )));
    }
    Ok(())
}

/// The document stored under `key`, if any.
pub(super) fn get(conn: &Connection, table: &Table, key: &str) -> Result<Option<String>, Error> {
    Ok(conn
        .prepare_cached(table.select_doc)?
        .query_row(params![key], |row| row.get(0))
        .optional()?)
}

/// Deletes a work item if its stored version is still `expected`.
pub(super) fn delete_work_item(conn: &Connection, key: &str, expected: u64) -> Result<(), Error> {
    let changed = conn
        .prepare_cached("DELETE FROM work_items WHERE key = ?1 AND version = ?2")?
        .execute(params![key, to_sql_version(expected)?])?;
    if changed == 0 {
        let found = stored_version(conn, &WORK_ITEMS, key)?;
        return Err(Error::Conflict(format!(
            "work item {key} expected version {expected} to delete, found {}",
            show(found)
        )));
    }
    Ok(())
}

/// The documents of `sql`'s rows (its first column), in its order.
pub(super) fn docs(
    conn: &Connection,
    sql: &str,
    values: &[&dyn rusqlite::ToSql],
) -> Result<Vec<String>, Error> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(values, |row| row.get(0))?;
    Ok(rows.collect::<Result<Vec<String>, _>>()?)
}
