//! Trends: per-hour time series of what baton did, kept [`RETENTION_DAYS`] days, for the
//! metrics API, the dashboard's charts and `baton status --since` (which read them back
//! through `baton_web::series`).
//!
//! The series are written by the code paths that already write (a run's start and end, a
//! webhook's verdict, the reconciler's tick), never by scanning: each builds a
//! [`MetricsUpdate`] and hands it to [`crate::ports::Store::record_metrics`] (a failure is
//! logged, never failing what caused it), which every
//! backend applies atomically to one bucket per scope and hour (DynamoDB: `UpdateItem` with
//! `ADD`). Reading sums buckets: counters and [`Histogram`]s merge by addition.

mod histogram;
mod stats;
mod update;

pub use histogram::{bucket_of, upper_bound_ms, Histogram, BUCKETS};
pub use stats::{HourStats, MetricsRecord, Outcomes, QueueDepth};
pub use update::{
    expires_at, hour_of, is_valid_name, workflow_scope, Change, MetricsUpdate, WebhookVerdict,
    ALL_SCOPE, RETENTION_DAYS,
};
