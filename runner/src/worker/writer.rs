//! Writes a run's timeline and record to the store off the recorder's path, so a slow or
//! failing store delays the record but never the agent: the recorder hands writes over
//! without waiting, and when the writer falls too far behind, events are dropped and
//! counted instead of pushing back on the agent's output.

use baton_core::domain::{Run, RunEvent};
use baton_core::ports::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// Writes queued at most; a batch of events is one write.
const BACKLOG: usize = 64;

pub enum Write {
    Events(Vec<RunEvent>),
    /// The run record as it stands; the writer sets its version.
    Run(Box<Run>),
}

pub struct Writer {
    tx: mpsc::Sender<Write>,
    task: JoinHandle<u64>,
    start_version: u64,
}

impl Writer {
    /// `version`: the run record's stored version.
    pub fn start(store: Arc<dyn Store>, retention: Duration, version: u64) -> Self {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let task = tokio::spawn(write_all(store, retention, version, rx).in_current_span());
        Self {
            tx,
            task,
            start_version: version,
        }
    }

    /// Queues a write without waiting; `false` when the writer is behind and it was dropped.
    pub fn offer(&self, write: Write) -> bool {
        self.tx.try_send(write).is_ok()
    }

    /// Writes `last`, waiting as long as it takes, then everything queued; returns the run
    /// record's stored version.
    pub async fn finish(self, last: Vec<Write>) -> u64 {
        for write in last {
            let _ = self.tx.send(write).await;
        }
        drop(self.tx);
        self.task.await.unwrap_or(self.start_version)
    }
}

async fn write_all(
    store: Arc<dyn Store>,
    retention: Duration,
    mut version: u64,
    mut writes: mpsc::Receiver<Write>,
) -> u64 {
    while let Some(write) = writes.recv().await {
        match write {
            Write::Events(events) => {
                if let Err(error) = store.append_events(&events, retention).await {
                    tracing::warn!(%error, events = events.len(), "could not record timeline events");
                }
            }
            Write::Run(mut run) => {
                run.version = version + 1;
                match store.put_run(&run, Some(version)).await {
                    Ok(()) => version = run.version,
                    Err(error) => {
                        tracing::warn!(run_id = %run.run_id, %error, "could not update the run record")
                    }
                }
            }
        }
    }
    version
}
