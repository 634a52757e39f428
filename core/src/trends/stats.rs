//! What the stored buckets mean: [`MetricsRecord`] is a bucket as every backend returns it
//! (an hour and its named values), [`HourStats`] the same read as runs, latencies, tokens,
//! queue depth and webhooks, and summable over any span of hours.

use super::histogram::Histogram;
use super::update::{
    DISPATCH_PREFIX, DURATION_PREFIX, ENDED_PREFIX, INPUT_TOKENS, OUTPUT_TOKENS, QUEUE_DEPTH_LAST,
    QUEUE_DEPTH_MAX, RUNS_STARTED, WEBHOOKS_ACCEPTED, WEBHOOKS_RECEIVED, WEBHOOKS_REFUSED,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One stored hour bucket of one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsRecord {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    pub values: BTreeMap<String, u64>,
}

/// Runs that ended, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub abandoned: u64,
    /// Ended with a question for a person (the item waits for the answer).
    pub awaiting_input: u64,
}

impl Outcomes {
    pub fn total(&self) -> u64 {
        self.succeeded + self.failed + self.cancelled + self.abandoned + self.awaiting_input
    }

    fn add(&mut self, other: &Outcomes) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.abandoned += other.abandoned;
        self.awaiting_input += other.awaiting_input;
    }
}

/// Queue depth samples of an hour (or the last and largest over a span).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub last: u64,
    pub max: u64,
}

/// An hour (or a span of hours) of one scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HourStats {
    pub runs_started: u64,
    pub ended: Outcomes,
    /// Webhook received → agent started.
    pub dispatch: Histogram,
    /// Run claimed → ended.
    pub duration: Histogram,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `None` when nothing sampled the queue.
    pub queue_depth: Option<QueueDepth>,
    pub webhooks_received: u64,
    pub webhooks_accepted: u64,
    pub webhooks_refused: u64,
}

impl HourStats {
    /// Reads a bucket; names it does not know (written by a newer version) are skipped.
    pub fn from_values(values: &BTreeMap<String, u64>) -> Self {
        let mut stats = Self::default();
        let mut depth = None::<QueueDepth>;
        for (name, &value) in values {
            match name.as_str() {
                RUNS_STARTED => stats.runs_started = value,
                INPUT_TOKENS => stats.input_tokens = value,
                OUTPUT_TOKENS => stats.output_tokens = value,
                WEBHOOKS_RECEIVED => stats.webhooks_received = value,
                WEBHOOKS_ACCEPTED => stats.webhooks_accepted = value,
                WEBHOOKS_REFUSED => stats.webhooks_refused = value,
                QUEUE_DEPTH_LAST => depth.get_or_insert_default().last = value,
                QUEUE_DEPTH_MAX => depth.get_or_insert_default().max = value,
                other => stats.read_prefixed(other, value),
            }
        }
        stats.queue_depth = depth;
        stats
    }

    fn read_prefixed(&mut self, name: &str, value: u64) {
        if let Some(outcome) = name.strip_prefix(ENDED_PREFIX) {
            match outcome {
                "succeeded" => self.ended.succeeded = value,
                "failed" => self.ended.failed = value,
                "cancelled" => self.ended.cancelled = value,
                "abandoned" => self.ended.abandoned = value,
                "awaiting_input" => self.ended.awaiting_input = value,
                _ => {}
            }
        } else if let Some(index) = name.strip_prefix(DISPATCH_PREFIX) {
            if let Ok(index) = index.parse() {
                self.dispatch.add_to_bucket(index, value);
            }
        } else if let Some(index) = name.strip_prefix(DURATION_PREFIX) {
            if let Ok(index) = index.parse() {
                self.duration.add_to_bucket(index, value);
            }
        }
    }

    /// Adds a later span: counters and histograms sum, the queue depth keeps the later
    /// last sample and the larger maximum.
    pub fn merge(&mut self, later: &HourStats) {
        self.runs_started += later.runs_started;
        self.ended.add(&later.ended);
        self.dispatch.merge(&later.dispatch);
        self.duration.merge(&later.duration);
        self.input_tokens += later.input_tokens;
        self.output_tokens += later.output_tokens;
        self.webhooks_received += later.webhooks_received;
        self.webhooks_accepted += later.webhooks_accepted;
        self.webhooks_refused += later.webhooks_refused;
        self.queue_depth = match (self.queue_depth, later.queue_depth) {
            (Some(earlier), Some(later)) => Some(QueueDepth {
                last: later.last,
                max: earlier.max.max(later.max),
            }),
            (earlier, later) => later.or(earlier),
        };
    }

    /// Nothing happened in it.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{JobId, JobReason, Run, RunId, RunStatus, TokenTotals, WorkItemKey};
    use crate::trends::update::MetricsUpdate;
    use chrono::TimeDelta;

    fn values(update: &MetricsUpdate) -> BTreeMap<String, u64> {
        let mut values = BTreeMap::new();
        for (name, value) in update.add.iter().chain(&update.set).chain(&update.max) {
            *values.entry(name.clone()).or_default() += value;
        }
        values
    }

    #[test]
    fn a_run_end_reads_back_as_its_outcome_latencies_and_tokens() {
        let claimed = Utc::now();
        let run = Run {
            run_id: RunId::generate(),
            work_item: WorkItemKey::parse("github:acme/app#1").expect("key"),
            job_id: JobId::generate(),
            reason: JobReason::Labeled,
            attempt: 1,
            runner: "r".into(),
            status: RunStatus::Failed,
            received_at: Some(claimed - TimeDelta::milliseconds(700)),
            queued_at: claimed,
            claimed_at: claimed,
            agent_started_at: Some(claimed + TimeDelta::milliseconds(200)),
            ended_at: Some(claimed + TimeDelta::seconds(60)),
            session_id: None,
            turns: 1,
            tokens: TokenTotals {
                input_tokens: 1000,
                output_tokens: 10,
                total_tokens: 1010,
            },
            error: None,
            workspace: None,
            branch: None,
            commit: None,
            events: 0,
            version: 2,
        };
        let update = MetricsUpdate::run_ended(&run, Some("main"), claimed);
        assert_eq!(update.scopes(), ["all", "wf:main"]);
        let stats = HourStats::from_values(&values(&update));
        assert_eq!(stats.ended.failed, 1);
        assert_eq!(stats.ended.total(), 1);
        assert_eq!(stats.dispatch.quantile_ms(0.5), Some(1131));
        assert_eq!(stats.duration.quantile_ms(0.95), Some(72_408));
        assert_eq!((stats.input_tokens, stats.output_tokens), (1000, 10));
        assert_eq!(stats.queue_depth, None);
    }

    #[test]
    fn spans_sum_counters_and_keep_the_later_queue_depth() {
        let now = Utc::now();
        let mut first = HourStats::from_values(&values(&MetricsUpdate::queue_depth(now, 9)));
        first.merge(&HourStats::from_values(&values(
            &MetricsUpdate::run_started(now, None),
        )));
        let second = HourStats::from_values(&values(&MetricsUpdate::queue_depth(now, 3)));
        first.merge(&second);
        assert_eq!(first.runs_started, 1);
        assert_eq!(first.queue_depth, Some(QueueDepth { last: 3, max: 9 }));
        assert!(!first.is_empty());
        assert!(HourStats::default().is_empty());
    }
}
