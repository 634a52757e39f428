//! Delivery records (the idempotency records): claims with leases, completion, release, and
//! their expiry. Each runs on a connection inside the caller's transaction.

use crate::error::Error;
use baton_core::domain::{DeliveryOutcome, DeliveryRecord};
use baton_core::ports::DeliveryClaim;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// How many expired records one claim deletes at most. Each claim adds at most one record,
/// so pruning keeps up with any stream of new ids while no call does a full scan (the
/// `deliveries_by_expiry` index finds the due ones).
const PRUNE_BATCH: i64 = 8;

/// A new claim, as `begin_delivery` writes it.
pub(super) struct Claim<'a> {
    pub key: &'a str,
    pub owner: &'a str,
    /// Epoch milliseconds: leases are compared in milliseconds.
    pub now_ms: i64,
    /// Epoch seconds: expiry is compared in seconds, like DynamoDB's TTL.
    pub now_s: i64,
    pub lease_until: i64,
    pub expires_at: i64,
}

/// Deletes up to [`PRUNE_BATCH`] records that expired before `now_s`. Two plain statements
/// rather than a `DELETE ... IN (SELECT ... LIMIT)`, which SQLite re-prepares on every run.
fn prune(conn: &Connection, now_s: i64) -> Result<(), Error> {
    let due = conn
        .prepare_cached(
            "SELECT rowid FROM deliveries WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2",
        )?
        .query_map(params![now_s, PRUNE_BATCH], |row| row.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if !due.is_empty() {
        let mut delete = conn.prepare_cached("DELETE FROM deliveries WHERE rowid = ?1")?;
        for rowid in due {
            delete.execute(params![rowid])?;
        }
    }
    Ok(())
}

/// The claim of a delivery id: a new or expired record, or an in-progress one whose lease ran
/// out, is (re)claimed for `owner`; a live one answers what it is.
pub(super) fn begin(conn: &Connection, claim: &Claim<'_>) -> Result<DeliveryClaim, Error> {
    prune(conn, claim.now_s)?;
    let existing = conn
        .prepare_cached(
            "SELECT completed, owner, lease_until, expires_at, outcome \
             FROM deliveries WHERE key = ?1",
        )?
        .query_row(params![claim.key], |row| {
            Ok((
                row.get::<_, bool>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<String>>(4)?,
            ))
        })
        .optional()?;
    if let Some((completed, holder, lease_until, expires_at, outcome)) = existing {
        if expires_at >= claim.now_s {
            if completed {
                return Ok(DeliveryClaim::Completed(read_outcome(outcome.as_deref())));
            }
            // Claiming again what one already holds is idempotent (a retried request).
            if holder == claim.owner {
                return Ok(DeliveryClaim::Claimed);
            }
            if lease_until >= claim.now_ms {
                return Ok(DeliveryClaim::InProgress);
            }
            // The holder's lease ran out (it crashed): take the claim over.
        }
    }
    conn.prepare_cached(
        "INSERT INTO deliveries (key, completed, owner, lease_until, expires_at) \
         VALUES (?1, 0, ?2, ?3, ?4) \
         ON CONFLICT (key) DO UPDATE SET completed = 0, owner = excluded.owner, \
         lease_until = excluded.lease_until, expires_at = excluded.expires_at, \
         outcome = NULL, event = NULL, completed_at = NULL",
    )?
    .execute(params![
        claim.key,
        claim.owner,
        claim.lease_until,
        claim.expires_at
    ])?;
    Ok(DeliveryClaim::Claimed)
}

/// A completed record's outcome. One that does not decode (written by another version) is
/// still a duplicate: it must not be processed again.
fn read_outcome(outcome: Option<&str>) -> DeliveryOutcome {
    let decoded = outcome
        .ok_or_else(|| "none was recorded".to_owned())
        .and_then(|text| serde_json::from_str(text).map_err(|e| e.to_string()));
    decoded.unwrap_or_else(|why| DeliveryOutcome::Ignored {
        reason: format!("processed before; its recorded outcome is unreadable ({why})"),
    })
}

/// What `complete_delivery` writes.
pub(super) struct Completion<'a> {
    pub key: &'a str,
    pub owner: &'a str,
    pub outcome: String,
    pub event: String,
    pub completed_at: String,
    pub now_s: i64,
    pub expires_at: i64,
}

/// Marks a live claim held by `owner` completed; `Conflict` otherwise.
pub(super) fn complete(conn: &Connection, completion: &Completion<'_>) -> Result<(), Error> {
    let changed = conn
        .prepare_cached(
            "UPDATE deliveries SET completed = 1, outcome = ?3, event = ?4, completed_at = ?5, \
             expires_at = ?6 \
             WHERE key = ?1 AND completed = 0 AND owner = ?2 AND expires_at >= ?7",
        )?
        .execute(params![
            completion.key,
            completion.owner,
            completion.outcome,
            completion.event,
            completion.completed_at,
            completion.expires_at,
            completion.now_s,
        ])?;
    if changed == 0 {
        return Err(Error::Conflict(format!(
            "delivery {} is not held by {}",
            completion.key, completion.owner
        )));
    }
    Ok(())
}

/// A completed record still retained at `now_s`.
pub(super) fn get(
    conn: &Connection,
    key: &str,
    now_s: i64,
) -> Result<Option<DeliveryRecord>, Error> {
    let row = conn
        .prepare_cached(
            "SELECT outcome, event, completed_at FROM deliveries \
             WHERE key = ?1 AND completed = 1 AND expires_at >= ?2",
        )?
        .query_row(params![key, now_s], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })
        .optional()?;
    let Some((outcome, event, completed_at)) = row else {
        return Ok(None);
    };
    let corrupt = |what: &str, why: String| Error::Corrupt(format!("delivery {key} {what}: {why}"));
    let outcome = serde_json::from_str(outcome.as_deref().unwrap_or_default())
        .map_err(|e| corrupt("outcome", e.to_string()))?;
    let event = event
        .map(|event| serde_json::from_str(&event))
        .transpose()
        .map_err(|e| corrupt("event", e.to_string()))?;
    let completed_at = DateTime::parse_from_rfc3339(completed_at.as_deref().unwrap_or_default())
        .map_err(|e| corrupt("completed_at", e.to_string()))?
        .with_timezone(&Utc);
    Ok(Some(DeliveryRecord {
        outcome,
        event,
        completed_at,
    }))
}

/// Deletes a claim `owner` holds; anything else is left as it is.
pub(super) fn release(conn: &Connection, key: &str, owner: &str) -> Result<(), Error> {
    conn.prepare_cached("DELETE FROM deliveries WHERE key = ?1 AND completed = 0 AND owner = ?2")?
        .execute(params![key, owner])?;
    Ok(())
}
