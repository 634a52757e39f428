//! Latency histograms with fixed, log-spaced buckets: two histograms merge by adding their
//! counts, so an hour bucket can be updated with one atomic `ADD` per observation and any
//! range of hours summed afterwards, and p50/p95 are read off the merged counts.
//!
//! Bucket `i` holds durations up to [`upper_bound_ms`]`(i)` = 100 ms · 2^(i/2): two buckets per
//! doubling, so a percentile is known within a factor of √2 (about ±19 % around the
//! bucket's middle), from 100 ms to about 5 days. The last bucket takes everything longer.

/// How many buckets a histogram has.
pub const BUCKETS: usize = 46;

/// The smallest bound, in milliseconds.
const FIRST_BOUND_MS: f64 = 100.0;

/// The largest duration bucket `index` holds, in milliseconds (the last one is unbounded;
/// this is its lower bound times √2, so it still reads as a number).
pub fn upper_bound_ms(index: usize) -> u64 {
    let exponent = index.min(BUCKETS - 1) as f64 / 2.0;
    (FIRST_BOUND_MS * 2f64.powf(exponent)).round() as u64
}

/// The bucket that a duration of `millis` falls into.
pub fn bucket_of(millis: u64) -> usize {
    (0..BUCKETS - 1)
        .find(|&index| millis <= upper_bound_ms(index))
        .unwrap_or(BUCKETS - 1)
}

/// Counts per bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [0; BUCKETS],
        }
    }
}

impl Histogram {
    /// Adds `count` observations to bucket `index` (ignored past the last bucket).
    pub fn add_to_bucket(&mut self, index: usize, count: u64) {
        if let Some(slot) = self.counts.get_mut(index) {
            *slot = slot.saturating_add(count);
        }
    }

    pub fn observe(&mut self, millis: u64) {
        self.add_to_bucket(bucket_of(millis), 1);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The `q`-quantile (0 < q ≤ 1) as the upper bound of the bucket it falls in; `None`
    /// when there are no observations.
    pub fn quantile_ms(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the observation at the quantile, 1-based (nearest-rank method).
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(upper_bound_ms(index));
            }
        }
        Some(upper_bound_ms(BUCKETS - 1))
    }

    /// The non-empty buckets, as `(index, count)`.
    pub fn buckets(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(index, count)| (index, *count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_grow_by_root_two_and_cover_days() {
        assert_eq!(upper_bound_ms(0), 100);
        assert_eq!(upper_bound_ms(2), 200);
        assert_eq!(upper_bound_ms(1), 141);
        assert!(upper_bound_ms(BUCKETS - 2) > 24 * 3600 * 1000);
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(100), 0);
        assert_eq!(bucket_of(101), 1);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_come_from_merged_counts() {
        let mut fast = Histogram::default();
        for _ in 0..90 {
            fast.observe(900); // bucket bound 1131 ms
        }
        let mut slow = Histogram::default();
        for _ in 0..10 {
            slow.observe(60_000); // bucket bound 72408 ms
        }
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
        fast.merge(&slow);
        assert_eq!(fast.count(), 100);
        assert_eq!(fast.quantile_ms(0.5), Some(1131));
        assert_eq!(fast.quantile_ms(0.9), Some(1131));
        assert_eq!(fast.quantile_ms(0.95), Some(72_408));
        assert_eq!(fast.buckets().count(), 2);
    }
}
