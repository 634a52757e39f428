//! The database file: connection settings, and the schema, versioned by `PRAGMA user_version`
//! and created or brought up to date when a data dir is opened.

use crate::error::OpenError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// How long a statement waits for another connection's (or process's) write lock before it
/// fails with "database is locked". Transactions here last microseconds to milliseconds;
/// only a stalled process holds the lock this long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `PRAGMA application_id` of a baton database ("batn"): tells it from other SQLite files.
const APPLICATION_ID: i64 = 0x6261_746E;

/// Each step brings the schema from version `index` to `index + 1`. Steps are only ever
/// appended: a released step never changes.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this build writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Times: `*_ms` and `visible_at`/`lease_until` are epoch milliseconds, `expires_at` and
/// `dead_at` epoch seconds (DynamoDB's TTL unit), `updated_at` epoch microseconds.
/// Documents (`doc`, `outcome`, `event`) are the domain types as JSON.
const V1: &str = "
CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    completed INTEGER NOT NULL,
    owner TEXT NOT NULL,
    lease_until INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    outcome TEXT,
    event TEXT,
    completed_at TEXT
);
CREATE INDEX deliveries_by_expiry ON deliveries (expires_at);

CREATE TABLE work_items (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX work_items_by_status ON work_items (status, updated_at);

CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    work_item TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX runs_by_work_item ON runs (work_item, run_id);

CREATE TABLE run_events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (run_id, seq)
);
CREATE INDEX run_events_by_expiry ON run_events (expires_at);

CREATE TABLE slot_pools (
    scope TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);

CREATE TABLE queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    visible_at INTEGER NOT NULL
);
CREATE INDEX queue_by_visibility ON queue (visible_at);

CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    dead_at INTEGER NOT NULL
);
CREATE INDEX dead_letters_by_age ON dead_letters (dead_at);
";

/// The metrics series: one row per `(scope, hour, counter)`, `hour` in epoch seconds (see
/// `baton_core::trends`), expiring with DynamoDB's TTL unit like the rest.
const V2: &str = "
CREATE TABLE metrics (
    scope TEXT NOT NULL,
    hour INTEGER NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (scope, hour, name)
);
CREATE INDEX metrics_by_expiry ON metrics (expires_at);
";

/// Budget counters: `scope` is `item:<work item>` or `day:<workflow>:<YYYY-MM-DD>`; money in
/// whole micro-USD (see `baton_core::ports::BudgetSpend`).
const V3: &str = "
CREATE TABLE budgets (
    scope TEXT PRIMARY KEY,
    tokens INTEGER NOT NULL,
    cost_micro_usd INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX budgets_by_expiry ON budgets (expires_at);
";

/// Opens a connection with the settings every connection here uses: WAL (readers never block
/// the writer, and a commit is one append to the log), `synchronous=NORMAL` (a commit is
/// durable against a crash of the process; only a power loss can take the last commits), and
/// a busy timeout so that two processes on one file wait for each other instead of failing.
pub(crate) fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!(
                "the database cannot use write-ahead logging (journal mode stays `{mode}`)"
            )),
        ));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Creates the schema, or brings an older one up to date, in one transaction; refuses a file
/// of a newer baton or of another application. Safe when several processes open one file at
/// once: the write lock serialises them, and each looks at the version under it.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), OpenError> {
    let schema = |source| OpenError::Schema {
        path: path.to_owned(),
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(schema)?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(schema)?;
    let application: i64 = tx
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(schema)?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if application != APPLICATION_ID {
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(schema)?;
        if tables > 0 {
            return Err(OpenError::NotBaton {
                path: path.to_owned(),
            });
        }
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let from = usize::try_from(version).unwrap_or(0);
    for step in &MIGRATIONS[from..] {
        tx.execute_batch(step).map_err(schema)?;
    }
    tx.execute_batch(&format!(
        "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
    ))
    .map_err(schema)?;
    tx.commit().map_err(schema)?;
    tracing::info!(path = %path.display(), from = version, to = SCHEMA_VERSION, "database schema set up");
    Ok(())
}
