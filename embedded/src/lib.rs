//! baton's durable embedded backend: the `Store` and `Queue` ports on one SQLite file,
//! `<data dir>/baton.db`. It is what `baton dev` runs on.
//!
//! # Why SQLite
//!
//! - **Crash safety.** Every port call that writes has committed before it returns (a
//!   webhook delivery is acknowledged only after its writes are durable). The database runs
//!   in WAL mode with `synchronous=NORMAL`: a commit is appended to the write-ahead log with
//!   a `write()`, and the log is synced only at checkpoints. That is durable against the
//!   process crashing or being killed (`kill -9`): the committed log is in the operating
//!   system's page cache and SQLite recovers it on the next open. Only a power loss or kernel
//!   crash can lose the last commits before a checkpoint, never corrupt the file.
//! - **One file.** Nothing to install or run; the data dir is the whole state. Copy it with
//!   [`backup`], an online backup that is consistent while writers run.
//! - **Several processes.** SQLite's file locks let several processes (several
//!   `baton runner`s on one machine) share one data dir safely: a claim or a receive is one
//!   transaction under the write lock, so nothing is delivered twice. A busy timeout makes a
//!   process wait for another's transaction instead of failing. Receivers poll the queue at a
//!   short interval so that they see sends by other processes too.
//! - **Throughput.** Writes go to one writer thread that commits them in groups: under load
//!   many operations share one commit (a commit is one append to the log, no sync). A second
//!   thread checkpoints the log into the database file, so the syncs a checkpoint needs never
//!   hold up a commit. The calls never block the async runtime: the writer is a thread of its
//!   own, and reads run on Tokio's blocking pool with a few kept read connections.
//!   `cargo bench -p baton-embedded --bench throughput` compares the whole ingress pipeline
//!   on this backend with the memory adapters.
//!
//! # Semantics
//!
//! Those of the memory adapters of `baton-core` and of the DynamoDB/SQS adapters of
//! `baton-aws` (the contract suites run against all of them): conditional writes by version,
//! delivery claims with leases and take-over, records and events that expire (they count as
//! absent on read and are deleted by an amortised prune, so the file stays bounded under a
//! stream of unique delivery ids), and an SQS-like queue with visibility timeouts, delayed
//! messages, receive counts, stale receipts and a dead-letter list after
//! [`baton_core::ports::MAX_RECEIVE_COUNT`] receives.
//!
//! The schema is versioned (`PRAGMA user_version`): [`open`] creates it or brings an older one
//! up to date, and refuses a file written by a newer baton.

mod backup;
mod db;
mod error;
mod queue;
mod schema;
mod store;

pub use backup::{backup, BackupReport};
pub use error::{BackupError, OpenError};
pub use queue::SqliteQueue;
pub use store::SqliteStore;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The database's file name in a data dir.
pub const DATABASE_FILE: &str = "baton.db";

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;

/// The store and queue of one open data dir. They share the database's connections; the
/// writer thread stops once both (and all their clones) are dropped.
pub struct Embedded {
    pub store: SqliteStore,
    pub queue: SqliteQueue,
}

/// Where the database of `data_dir` lives.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}

/// Opens (creating when missing) the data dir and its database `baton.db` in it, and sets up
/// or upgrades the schema. Blocking (file system, and a wait of up to a few seconds when
/// another process holds the write lock): call it at startup, or on a blocking thread.
pub fn open(data_dir: &Path) -> Result<Embedded, OpenError> {
    std::fs::create_dir_all(data_dir).map_err(|source| OpenError::CreateDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let path = database_path(data_dir);
    let mut conn = schema::connect(&path).map_err(|source| OpenError::Open {
        path: path.clone(),
        source,
    })?;
    schema::migrate(&mut conn, &path)?;
    let db = Arc::new(db::Db::start(&path, conn).map_err(|e| match e {
        db::StartError::Sql(source) => OpenError::Open {
            path: path.clone(),
            source,
        },
        db::StartError::Thread(source) => OpenError::Thread {
            path: path.clone(),
            source,
        },
    })?);
    tracing::debug!(path = %db.path().display(), "embedded database open");
    Ok(Embedded {
        store: SqliteStore::new(Arc::clone(&db)),
        queue: SqliteQueue::new(db),
    })
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the guarded data
/// (idle connections) stays valid whatever a panic interrupted.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
