//! The `Queue` port on SQLite, with the semantics of an SQS standard queue and its redrive
//! policy (like the memory queue of `baton-core`).
//!
//! A message is a row with its receive count and the instant (epoch milliseconds, wall
//! clock, so that every process on the file agrees) from which it is visible. Receiving sets
//! that instant to now + the visibility timeout; deleting removes the row. Receipts are
//! `<message id>:<receive count>`, so a receipt goes stale when its message is received
//! again. Ids are never reused (`AUTOINCREMENT`), which tells a deleted message's receipt
//! from one never issued.

use crate::db::Db;
use crate::error::Error;
use async_trait::async_trait;
use baton_core::domain::Job;
use baton_core::ports::{Queue, QueueError, ReceivedJob, MAX_RECEIVE_COUNT, MAX_SEND_DELAY};
use chrono::Utc;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// SQS's limits, kept here so that code tested against this queue also works against SQS.
const MAX_BATCH: usize = 10;
const MAX_WAIT: Duration = Duration::from_secs(20);
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// How often a waiting `receive` looks at the table: sends by this process wake it at once,
/// sends by another process on the same data dir are seen within this.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Dead letters are kept as long as SQS keeps them on baton's dead-letter queue, 14 days.
const DEAD_LETTER_RETENTION_S: i64 = 14 * 24 * 3600;
/// Expired dead letters each new one deletes at most.
const PRUNE_BATCH: i64 = 8;

/// The jobs queue of an open data dir. Cheap to clone: clones share the database and wake
/// each other's waiting receives.
#[derive(Clone)]
pub struct SqliteQueue {
    db: Arc<Db>,
    /// Woken when this process sends a message or changes a visibility timeout.
    changed: Arc<Notify>,
}

/// A message taken by `receive`: body, receipt, receive count.
type Taken = (String, String, u32);

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// SQS counts visibility in whole seconds, up to 12 hours.
fn whole_seconds(duration: Duration) -> Duration {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    Duration::from_secs(seconds).min(MAX_VISIBILITY)
}

/// Parses a receipt into the message id and the receive it was issued for.
fn parse_receipt(receipt: &str) -> Result<(i64, u32), QueueError> {
    receipt
        .split_once(':')
        .and_then(|(id, count)| Some((id.parse().ok()?, count.parse().ok()?)))
        .ok_or_else(|| QueueError::InvalidReceipt(format!("`{receipt}` is not a receipt")))
}

fn insert_dead_letter(conn: &Connection, body: &str) -> Result<(), Error> {
    let now_s = Utc::now().timestamp();
    conn.prepare_cached("INSERT INTO dead_letters (body, dead_at) VALUES (?1, ?2)")?
        .execute(params![body, now_s])?;
    conn.prepare_cached(
        "DELETE FROM dead_letters WHERE id IN \
         (SELECT id FROM dead_letters WHERE dead_at < ?1 ORDER BY dead_at LIMIT ?2)",
    )?
    .execute(params![
        now_s.saturating_sub(DEAD_LETTER_RETENTION_S),
        PRUNE_BATCH
    ])?;
    Ok(())
}

/// Receives up to `max` visible messages, oldest visible first, hiding each for
/// `visibility_ms`; a message already received [`MAX_RECEIVE_COUNT`] times moves to the
/// dead letters instead (the redrive policy).
fn take(conn: &Connection, max: usize, visibility_ms: i64) -> Result<Vec<Taken>, Error> {
    let now = now_ms();
    let mut taken = Vec::new();
    // Taken in this call: with a zero timeout they are visible again at once, and must not
    // be taken twice in one batch.
    let mut seen = HashSet::new();
    while taken.len() < max {
        let want = max - taken.len();
        let limit = i64::try_from(want + seen.len()).unwrap_or(i64::MAX);
        let rows = conn
            .prepare_cached(
                "SELECT id, body, receive_count FROM queue WHERE visible_at <= ?1 \
                 ORDER BY visible_at, id LIMIT ?2",
            )?
            .query_map(params![now, limit], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, u32>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let fresh: Vec<_> = rows
            .into_iter()
            .filter(|(id, _, _)| !seen.contains(id))
            .take(want)
            .collect();
        if fresh.is_empty() {
            break;
        }
        for (id, body, count) in fresh {
            seen.insert(id);
            if count >= MAX_RECEIVE_COUNT {
                insert_dead_letter(conn, &body)?;
                conn.prepare_cached("DELETE FROM queue WHERE id = ?1")?
                    .execute(params![id])?;
                continue;
            }
            let count = count + 1;
            conn.prepare_cached(
                "UPDATE queue SET receive_count = ?2, visible_at = ?3 WHERE id = ?1",
            )?
            .execute(params![id, count, now.saturating_add(visibility_ms)])?;
            taken.push((body, format!("{id}:{count}"), count));
        }
    }
    Ok(taken)
}

/// A message's receive count and visibility instant, if it is still on the queue.
fn message(conn: &Connection, id: i64) -> Result<Option<(u32, i64)>, Error> {
    Ok(conn
        .prepare_cached("SELECT receive_count, visible_at FROM queue WHERE id = ?1")?
        .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

fn delete(conn: &Connection, receipt: &str, id: i64, count: u32) -> Result<(), Error> {
    match message(conn, id)? {
        Some((received, _)) if received == count => {
            conn.prepare_cached("DELETE FROM queue WHERE id = ?1")?
                .execute(params![id])?;
            Ok(())
        }
        Some(_) => Err(Error::InvalidReceipt(format!(
            "`{receipt}` is stale: the message was received again"
        ))),
        None => {
            let issued: i64 = conn
                .prepare_cached("SELECT seq FROM sqlite_sequence WHERE name = 'queue'")?
                .query_row([], |row| row.get(0))
                .optional()?
                .unwrap_or(0);
            // Deleted before (or dead-lettered): deleting again is not an error, as on SQS.
            if id > 0 && id <= issued && count > 0 {
                Ok(())
            } else {
                Err(Error::InvalidReceipt(format!(
                    "`{receipt}` was never issued"
                )))
            }
        }
    }
}

fn change_visibility(
    conn: &Connection,
    receipt: &str,
    id: i64,
    count: u32,
    visibility_ms: i64,
) -> Result<(), Error> {
    let now = now_ms();
    match message(conn, id)? {
        None => Err(Error::InvalidReceipt(format!(
            "`{receipt}`: no such message (deleted?)"
        ))),
        Some((received, visible_at)) if received == count && visible_at > now => {
            conn.prepare_cached("UPDATE queue SET visible_at = ?2 WHERE id = ?1")?
                .execute(params![id, now.saturating_add(visibility_ms)])?;
            Ok(())
        }
        Some(_) => Err(Error::InvalidReceipt(format!(
            "`{receipt}` is stale: the message became visible again"
        ))),
    }
}

impl SqliteQueue {
    pub(crate) fn new(db: Arc<Db>) -> Self {
        Self {
            db,
            changed: Arc::new(Notify::new()),
        }
    }

    /// Puts any body on the queue, valid job or not (tests use it for poison messages).
    pub async fn send_raw(&self, body: impl Into<String>) -> Result<(), QueueError> {
        self.enqueue(body.into(), Duration::ZERO).await
    }

    /// The bodies of the dead letters, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<String>, QueueError> {
        Ok(self
            .db
            .read(|conn| {
                let mut statement =
                    conn.prepare_cached("SELECT body FROM dead_letters ORDER BY id")?;
                let bodies = statement.query_map([], |row| row.get(0))?;
                Ok(bodies.collect::<Result<Vec<String>, _>>()?)
            })
            .await?)
    }

    /// Adds a message that becomes visible after `delay` (like SQS's `DelaySeconds`).
    async fn enqueue(&self, body: String, delay: Duration) -> Result<(), QueueError> {
        self.db
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT INTO queue (body, receive_count, visible_at) VALUES (?1, 0, ?2)",
                )?
                .execute(params![body, now_ms().saturating_add(millis(delay))])?;
                Ok(())
            })
            .await?;
        self.changed.notify_waiters();
        Ok(())
    }

    /// When the next message becomes visible (maybe already), if there is one. A read: idle
    /// receivers poll with it and never take the write lock.
    async fn next_visible(&self) -> Result<Option<i64>, QueueError> {
        Ok(self
            .db
            .read(|conn| {
                Ok(conn
                    .prepare_cached("SELECT visible_at FROM queue ORDER BY visible_at LIMIT 1")?
                    .query_row([], |row| row.get(0))
                    .optional()?)
            })
            .await?)
    }
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, job: &Job) -> Result<(), QueueError> {
        self.enqueue(job.to_message(), Duration::ZERO).await
    }

    async fn send_delayed(&self, job: &Job, delay: Duration) -> Result<(), QueueError> {
        let delay = Duration::from_secs(delay.as_secs()).min(MAX_SEND_DELAY);
        self.enqueue(job.to_message(), delay).await
    }

    async fn dead_letter(&self, job: &Job) -> Result<(), QueueError> {
        let body = job.to_message();
        Ok(self
            .db
            .write(move |conn| insert_dead_letter(conn, &body))
            .await?)
    }

    async fn receive(
        &self,
        max: usize,
        wait: Duration,
        visibility: Duration,
    ) -> Result<Vec<ReceivedJob>, QueueError> {
        let max = max.clamp(1, MAX_BATCH);
        let visibility_ms = millis(whole_seconds(visibility));
        // Like SQS's WaitTimeSeconds: whole seconds, at most 20.
        let wait = Duration::from_secs(wait.as_secs()).min(MAX_WAIT);
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a send in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();

            let next = self.next_visible().await?;
            if next.is_some_and(|at| at <= now_ms()) {
                let taken = self
                    .db
                    .write(move |conn| take(conn, max, visibility_ms))
                    .await?;
                if !taken.is_empty() {
                    return Ok(taken
                        .into_iter()
                        .map(|(body, receipt, receive_count)| ReceivedJob {
                            job: Job::from_message(&body),
                            receipt,
                            receive_count,
                        })
                        .collect());
                }
                // Another receiver took them, or they were dead-lettered: look again.
                if Instant::now() < deadline {
                    continue;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut wake = deadline.min(now + POLL_INTERVAL);
            if let Some(at) = next {
                let due_in = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
                wake = wake.min(now + Duration::from_millis(due_in));
            }
            // Either outcome means: look again.
            let _ = tokio::time::timeout_at(wake, changed).await;
        }
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let (id, count) = parse_receipt(receipt)?;
        let receipt = receipt.to_owned();
        Ok(self
            .db
            .write(move |conn| delete(conn, &receipt, id, count))
            .await?)
    }

    async fn change_visibility(
        &self,
        receipt: &str,
        visibility: Duration,
    ) -> Result<(), QueueError> {
        let (id, count) = parse_receipt(receipt)?;
        let visibility_ms = millis(whole_seconds(visibility));
        let receipt = receipt.to_owned();
        self.db
            .write(move |conn| change_visibility(conn, &receipt, id, count, visibility_ms))
            .await?;
        // A shortened timeout may make the message due before a waiting receiver looks again.
        self.changed.notify_waiters();
        Ok(())
    }

    async fn dead_letter_count(&self) -> Result<usize, QueueError> {
        let count: i64 = self
            .db
            .read(|conn| {
                Ok(conn
                    .prepare_cached("SELECT count(*) FROM dead_letters")?
                    .query_row([], |row| row.get(0))?)
            })
            .await?;
        Ok(usize::try_from(count).unwrap_or(0))
    }
}
