//! The errors of this crate: what a user sees when a data dir cannot be opened or backed up,
//! and the internal error of a database operation, turned into the ports' errors.

use baton_core::ports::{QueueError, StoreError};
use std::path::PathBuf;

/// Why [`crate::open`] could not open a data dir.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source} (is it a baton database, and writable?)")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} was written by a newer baton (schema version {found}; this baton \
         knows versions up to {supported}): upgrade baton, or point it at another data directory"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "{path} is not a baton database (it holds other tables): point baton at another data \
         directory"
    )]
    NotBaton { path: PathBuf },
    #[error("cannot set up the schema of {path}: {source}")]
    Schema {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot start the database writer thread for {path}: {source}")]
    Thread {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why [`crate::backup`] could not back a data dir up.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no database to back up at {path}")]
    Missing { path: PathBuf },
    #[error("cannot read the database {path}: {source}")]
    Source {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot write the backup to {path}: {source}")]
    Destination {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot put the backup in place at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The error of one database operation, before it becomes a port's error.
#[derive(Debug)]
pub(crate) enum Error {
    Sql(rusqlite::Error),
    /// The database could not be used at all (writer gone, transaction not committed).
    Unavailable(String),
    Conflict(String),
    Corrupt(String),
    InvalidReceipt(String),
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        Error::Sql(err)
    }
}

impl From<Error> for StoreError {
    fn from(err: Error) -> Self {
        match err {
            Error::Sql(err) => StoreError::Unavailable(format!("SQLite: {err}")),
            Error::Unavailable(why) | Error::InvalidReceipt(why) => StoreError::Unavailable(why),
            Error::Conflict(why) => StoreError::Conflict(why),
            Error::Corrupt(why) => StoreError::Corrupt(why),
        }
    }
}

impl From<Error> for QueueError {
    fn from(err: Error) -> Self {
        match err {
            Error::Sql(err) => QueueError::Unavailable(format!("SQLite: {err}")),
            Error::Unavailable(why) | Error::Conflict(why) | Error::Corrupt(why) => {
                QueueError::Unavailable(why)
            }
            Error::InvalidReceipt(why) => QueueError::InvalidReceipt(why),
        }
    }
}
