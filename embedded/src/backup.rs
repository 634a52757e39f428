//! Online backup of a live data dir's database into one file.

use crate::error::BackupError;
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// The backup file.
    pub path: PathBuf,
    /// Database pages copied.
    pub pages: u64,
    /// Size of the backup file.
    pub bytes: u64,
}

/// How long to wait before trying again when the source is locked (only a checkpoint or a
/// recovery in another process locks out readers, briefly).
const RETRY_PAUSE: Duration = Duration::from_millis(50);
const MAX_RETRIES: u32 = 200;

/// Copies the database of `data_dir` into the file `dest`, while other connections and
/// processes go on writing. The copy is one consistent snapshot: every page is copied in a
/// single read transaction, which in WAL mode never blocks writers. It is written beside
/// `dest` first and renamed over it when complete, so `dest` is never a partial copy. A data
/// dir holding the copy as `baton.db` opens like the original did at that instant.
pub fn backup(data_dir: &Path, dest: &Path) -> Result<BackupReport, BackupError> {
    let source_path = crate::database_path(data_dir);
    if !source_path.is_file() {
        return Err(BackupError::Missing { path: source_path });
    }
    let source_err = |source| BackupError::Source {
        path: source_path.clone(),
        source,
    };
    // Read-write without create: a reader of a WAL database may have to rebuild its index.
    let source = Connection::open_with_flags(
        &source_path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(source_err)?;
    source
        .busy_timeout(Duration::from_secs(5))
        .and_then(|()| source.pragma_update(None, "query_only", true))
        .map_err(source_err)?;

    let partial = partial_path(dest);
    let dest_err = |source| BackupError::Destination {
        path: dest.to_owned(),
        source,
    };
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    // A leftover of an interrupted backup.
    if partial.exists() {
        std::fs::remove_file(&partial).map_err(io_err(&partial))?;
    }
    let mut target = Connection::open(&partial).map_err(dest_err)?;
    let pages = copy(&source, &mut target).map_err(|e| match e {
        Side::Source(e) => source_err(e),
        Side::Destination(e) => dest_err(e),
    })?;
    // The target is in rollback-journal mode with full sync: the copy is on disk by now.
    target.close().map_err(|(_, e)| dest_err(e))?;
    std::fs::rename(&partial, dest).map_err(io_err(dest))?;
    sync_parent(dest);
    let bytes = std::fs::metadata(dest).map_err(io_err(dest))?.len();
    tracing::info!(from = %source_path.display(), to = %dest.display(), pages, bytes, "database backed up");
    Ok(BackupReport {
        path: dest.to_owned(),
        pages,
        bytes,
    })
}

enum Side {
    Source(rusqlite::Error),
    Destination(rusqlite::Error),
}

/// Copies every page in one step (steps of a few pages would restart whenever another
/// connection writes, and could never finish under a steady stream of writes).
fn copy(source: &Connection, target: &mut Connection) -> Result<u64, Side> {
    let backup = Backup::new(source, target).map_err(Side::Destination)?;
    for _ in 0..MAX_RETRIES {
        match backup.step(-1).map_err(Side::Source)? {
            StepResult::Done => {
                let pages = backup.progress().pagecount;
                return Ok(u64::try_from(pages).unwrap_or(0));
            }
            _ => std::thread::sleep(RETRY_PAUSE),
        }
    }
    Err(Side::Source(rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
        Some("the database stayed locked".into()),
    )))
}

/// `<dest>.partial`, beside `dest`, so that the final rename stays on one file system.
fn partial_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    dest.with_file_name(name)
}

/// Makes the rename durable. Best effort: not every platform can sync a directory.
fn sync_parent(path: &Path) {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if let Err(e) = std::fs::File::open(parent).and_then(|dir| dir.sync_all()) {
        tracing::debug!(dir = %parent.display(), error = %e, "could not sync the backup's directory");
    }
}
