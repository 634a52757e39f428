//! Choosing, opening and preparing the storage and queue backends: the one place a process
//! decides; everything after talks to the ports.

use crate::cli::{BackendArgs, BackupArgs};
use anyhow::Context;
use baton_aws::{BackendKind, Backends, Settings};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

/// Where a process keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded durable store and queue: one SQLite database in this directory.
    Embedded(PathBuf),
    /// In-process maps; state ends with the process.
    Memory,
    /// DynamoDB and SQS at the SDK's endpoint (`AWS_ENDPOINT_URL`, or AWS itself).
    Aws,
}

/// A backend as named on the command line or in `BATON_BACKEND`, before its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Embedded,
    Memory,
    Aws,
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "embedded" => Ok(Self::Embedded),
            "memory" => Ok(Self::Memory),
            "aws" => Ok(Self::Aws),
            other => Err(format!(
                "unknown backend `{other}` (embedded, memory or aws)"
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded(dir) => write!(f, "embedded ({})", dir.display()),
            Self::Memory => f.write_str("memory"),
            Self::Aws => f.write_str("aws"),
        }
    }
}

fn settings(args: &BackendArgs) -> Settings {
    Settings {
        table: args.table.clone(),
        queue: args.queue.clone(),
        dead_letter_queue: args.dlq.clone(),
    }
}

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "the default AWS endpoint".into())
}

pub async fn open(backend: &Backend, args: &BackendArgs) -> anyhow::Result<Backends> {
    match backend {
        Backend::Embedded(dir) => open_embedded(dir.clone()).await,
        Backend::Memory => Ok(baton_aws::open(BackendKind::Memory, &settings(args)).await?),
        Backend::Aws => Ok(baton_aws::open(BackendKind::Aws, &settings(args)).await?),
    }
}

async fn open_embedded(dir: PathBuf) -> anyhow::Result<Backends> {
    // Opening creates the schema and may wait on another process's lock: off the runtime.
    let opened = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || baton_embedded::open(&dir)
    })
    .await
    .context("opening the embedded store was interrupted")??;
    let shown = std::fs::canonicalize(&dir).unwrap_or(dir);
    Ok(Backends {
        store: Arc::new(opened.store),
        queue: Arc::new(opened.queue),
        description: format!("embedded durable store and queue in {}", shown.display()),
    })
}

/// `baton setup`: creates the table and queues, idempotently.
pub async fn setup(args: BackendArgs) -> anyhow::Result<()> {
    let settings = settings(&args);
    eprintln!(
        "creating table `{}`, queue `{}` and dead-letter queue `{}` at {} ...",
        settings.table,
        settings.queue,
        settings.dead_letter_queue,
        endpoint()
    );
    let (store, queue) = baton_aws::connect(&settings).await;
    baton_aws::setup(&store, &queue)
        .await
        .context("setup failed")?;
    eprintln!("ready.");
    Ok(())
}

/// `baton backup PATH`: an online copy of the embedded database that `--data-dir PATH` starts on.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let destination = args.destination;
    let database = baton_embedded::DATABASE_FILE;
    if destination
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        anyhow::bail!(
            "{} is not empty; back up into a new directory",
            destination.display()
        );
    }
    std::fs::create_dir_all(&destination)
        .with_context(|| format!("cannot create {}", destination.display()))?;
    let target = destination.join(database);
    eprintln!(
        "copying {} to {} ...",
        args.data_dir.join(database).display(),
        target.display()
    );
    let data_dir = args.data_dir;
    let report = tokio::task::spawn_blocking(move || baton_embedded::backup(&data_dir, &target))
        .await
        .context("the backup was interrupted")??;
    eprintln!(
        "done: {} pages, {} bytes in {}. Start on the copy with `baton dev --data-dir {}`.",
        report.pages,
        report.bytes,
        report.path.display(),
        destination.display()
    );
    Ok(())
}
