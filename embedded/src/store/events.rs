//! Run timelines: one row per `(run, seq)`, each with its expiry (`at` + retention).

use crate::error::Error;
use rusqlite::{params, Connection};

/// Expired events each append deletes at least; it deletes as many more as it adds, so the
/// table stays bounded while no call does a full scan.
const PRUNE_BATCH: usize = 8;

/// An event to store, encoded.
pub(super) struct Row {
    pub run_id: String,
    pub seq: u32,
    pub expires_at: i64,
    pub doc: String,
}

/// Stores `rows` in order (a later row with the same `(run, seq)` replaces an earlier one),
/// then prunes events expired at `now_s`.
pub(super) fn append(conn: &Connection, rows: &[Row], now_s: i64) -> Result<(), Error> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO run_events (run_id, seq, expires_at, doc) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (run_id, seq) DO UPDATE SET expires_at = excluded.expires_at, \
         doc = excluded.doc",
    )?;
    for row in rows {
        insert.execute(params![row.run_id, row.seq, row.expires_at, row.doc])?;
    }
    let batch = i64::try_from(rows.len().saturating_add(PRUNE_BATCH)).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "DELETE FROM run_events WHERE rowid IN \
         (SELECT rowid FROM run_events WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)",
    )?
    .execute(params![now_s, batch])?;
    Ok(())
}

/// A run's live events with `seq > after`, in order, at most `limit`.
pub(super) fn list(
    conn: &Connection,
    run_id: &str,
    after: u32,
    limit: usize,
    now_s: i64,
) -> Result<Vec<String>, Error> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    super::records::docs(
        conn,
        "SELECT doc FROM run_events WHERE run_id = ?1 AND seq > ?2 AND expires_at > ?3 \
         ORDER BY seq LIMIT ?4",
        params![run_id, after, now_s, limit],
    )
}
