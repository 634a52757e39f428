//! The connections of one open database, kept off the async runtime.
//!
//! Writes go to one writer thread that owns the write connection and commits in groups: it
//! takes every operation waiting on its channel, runs them in one transaction (each in a
//! savepoint of its own, so one failing operation leaves the others' writes), commits, and
//! only then answers each caller. Under load many operations share one commit; alone, an
//! operation commits by itself at once. Reads run on Tokio's blocking pool with pooled read
//! connections, which WAL lets run beside the writer.

use crate::error::Error;
use crate::schema;
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, Semaphore};

/// The most operations one transaction takes: bounds how long the first caller of a group
/// waits for the last one's work.
const MAX_GROUP: usize = 256;

/// Read connections, opened as needed and kept: at most this many reads run at once (others
/// wait for a connection rather than open one, which costs far more than a read).
const READERS: usize = 8;

/// How long the checkpointer lets commits accumulate before it copies them into the
/// database file.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(20);

/// The write-ahead log's size (in pages) at which the writer checkpoints by itself: only
/// reached when the checkpointer falls behind.
const WRITER_CHECKPOINT_PAGES: u32 = 16_384;

pub(crate) struct Db {
    path: PathBuf,
    writer: mpsc::Sender<Box<dyn Pending>>,
    readers: Mutex<Vec<Connection>>,
    read_permits: Arc<Semaphore>,
}

impl Db {
    /// Starts the writer thread on `conn` (already migrated), and the checkpointer.
    pub(crate) fn start(path: &Path, conn: Connection) -> Result<Self, StartError> {
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        let checkpoint_conn = schema::connect(path)?;
        let (committed, commits) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("baton-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpoint_conn, &commits))?;
        let (writer, ops) = mpsc::channel();
        std::thread::Builder::new()
            .name("baton-sqlite-writer".into())
            .spawn(move || write_loop(&conn, &ops, &committed))?;
        Ok(Self {
            path: path.to_owned(),
            writer,
            readers: Mutex::new(Vec::new()),
            read_permits: Arc::new(Semaphore::new(READERS)),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `op` in a write transaction and answers once that transaction has committed: what
    /// it wrote is durable when this returns `Ok`. An `Err` from `op` rolls its writes back.
    pub(crate) async fn write<T, F>(&self, op: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let pending = Box::new(Operation {
            op: Some(op),
            result: None,
            reply,
        });
        self.writer
            .send(pending)
            .map_err(|_| Error::Unavailable("the database writer has stopped".into()))?;
        answer.await.map_err(|_| {
            Error::Unavailable("the database writer stopped before answering".into())
        })?
    }

    /// Runs `op` on a read connection, on the blocking pool. It sees every committed write.
    pub(crate) async fn read<T, F>(self: &Arc<Self>, op: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let permit = Arc::clone(&self.read_permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::Unavailable("the database is closed".into()))?;
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = db.take_reader()?;
            let result = op(&conn);
            db.give_back(conn);
            drop(permit);
            result
        })
        .await
        .map_err(|e| Error::Unavailable(format!("a database read failed: {e}")))?
    }

    fn take_reader(&self) -> Result<Connection, Error> {
        let idle = crate::lock(&self.readers).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let conn = schema::connect(&self.path)?;
                conn.pragma_update(None, "query_only", true)?;
                Ok(conn)
            }
        }
    }

    /// Keeps a connection for the next read. Never more than [`READERS`] exist: each is
    /// taken under one of as many permits.
    fn give_back(&self, conn: Connection) {
        crate::lock(&self.readers).push(conn);
    }
}

/// One operation waiting for the writer, type-erased so one channel carries them all.
trait Pending: Send {
    /// Runs the operation inside the open transaction, in a savepoint of its own.
    fn run(&mut self, conn: &Connection);
    /// Answers the caller once the transaction has committed (`Ok`) or not (`Err(why)`).
    fn finish(self: Box<Self>, committed: Result<(), &str>);
}

struct Operation<F, T> {
    op: Option<F>,
    result: Option<Result<T, Error>>,
    reply: oneshot::Sender<Result<T, Error>>,
}

impl<F, T> Pending for Operation<F, T>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T, Error> + Send,
{
    fn run(&mut self, conn: &Connection) {
        if let Some(op) = self.op.take() {
            self.result = Some(in_savepoint(conn, op));
        }
    }

    fn finish(self: Box<Self>, committed: Result<(), &str>) {
        let answer = match (self.result, committed) {
            // A refusal (a conflict, a stale receipt) stands whether or not others committed.
            (Some(Err(err)), _) => Err(err),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)) | None, Err(why)) => Err(Error::Unavailable(why.to_owned())),
            (None, Ok(())) => Err(Error::Unavailable("the operation did not run".into())),
        };
        // The caller may have gone away (its request was cancelled); the write stands.
        let _ = self.reply.send(answer);
    }
}

/// Runs `op` in a savepoint: its writes are undone if it fails (or panics), and kept in the
/// enclosing transaction if it succeeds.
fn in_savepoint<T>(
    conn: &Connection,
    op: impl FnOnce(&Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.prepare_cached("SAVEPOINT op")?.execute([])?;
    let result = catch_unwind(AssertUnwindSafe(|| op(conn))).unwrap_or_else(|_| {
        Err(Error::Unavailable(
            "a database operation panicked; it was rolled back".into(),
        ))
    });
    if result.is_err() {
        conn.prepare_cached("ROLLBACK TO op")?.execute([])?;
    }
    conn.prepare_cached("RELEASE op")?.execute([])?;
    result
}

/// Why the threads of a database could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    #[error("{0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0}")]
    Thread(#[from] std::io::Error),
}

/// The checkpointer thread: copies committed pages from the write-ahead log into the database
/// file, off the writer's path (a checkpoint syncs the file to disk, which takes far longer
/// than a commit). Passive: it never blocks the writer or readers. Ends with the writer.
fn checkpoint_loop(conn: &Connection, commits: &mpsc::Receiver<()>) {
    while commits.recv().is_ok() {
        std::thread::sleep(CHECKPOINT_DELAY);
        while commits.try_recv().is_ok() {}
        // Busy means another process is checkpointing: its checkpoint serves us too.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "checkpoint skipped");
        }
    }
}

/// The writer thread: waits for an operation, takes every other one already waiting, and runs
/// them all in one transaction. Ends when every sender (every handle on the database) is gone.
fn write_loop(
    conn: &Connection,
    ops: &mpsc::Receiver<Box<dyn Pending>>,
    committed: &mpsc::SyncSender<()>,
) {
    while let Ok(first) = ops.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match ops.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let outcome = run_group(conn, &mut group);
        if let Err(why) = &outcome {
            tracing::warn!(error = %why, operations = group.len(), "a database write failed");
        }
        let result = outcome.as_ref().map(|_| ()).map_err(String::as_str);
        for pending in group {
            pending.finish(result);
        }
        // Full: the checkpointer has a wake-up pending already.
        let _ = committed.try_send(());
    }
}

fn run_group(conn: &Connection, group: &mut [Box<dyn Pending>]) -> Result<(), String> {
    // IMMEDIATE takes the write lock up front: waiting for another process happens here
    // (within the busy timeout), never halfway through the group.
    conn.prepare_cached("BEGIN IMMEDIATE")
        .and_then(|mut begin| begin.execute([]))
        .map_err(|e| format!("SQLite: cannot start a write transaction: {e}"))?;
    for pending in group.iter_mut() {
        pending.run(conn);
    }
    let commit = conn
        .prepare_cached("COMMIT")
        .and_then(|mut commit| commit.execute([]));
    if let Err(e) = commit {
        // Leaves no transaction open for the next group, whatever state COMMIT left.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(format!("SQLite: cannot commit: {e}"));
    }
    Ok(())
}
