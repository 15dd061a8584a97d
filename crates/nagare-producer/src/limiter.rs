//! Per-shard send rate: two token buckets (records/s and bytes/s), each holding at most one
//! second of its rate, like the service's own buckets and the KPL's limiter.

use std::time::Duration;
use tokio::time::Instant;

/// Shard write limits of a provisioned stream (spec §3.5).
pub(crate) const SHARD_RECORDS_PER_SEC: f64 = 1000.0;
pub(crate) const SHARD_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;

#[derive(Clone, Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
}

/// The records and bytes buckets of one shard.
#[derive(Clone, Debug)]
pub(crate) struct Limiter {
    records: Bucket,
    bytes: Bucket,
    last: Instant,
}

impl Limiter {
    /// Both buckets full, at `percent` of the shard limits.
    pub(crate) fn new(percent: u64, now: Instant) -> Self {
        let factor = percent as f64 / 100.0;
        let records = SHARD_RECORDS_PER_SEC * factor;
        let bytes = SHARD_BYTES_PER_SEC * factor;
        Limiter {
            records: Bucket {
                rate: records,
                tokens: records,
            },
            bytes: Bucket {
                rate: bytes,
                tokens: bytes,
            },
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        for b in [&mut self.records, &mut self.bytes] {
            b.tokens = (b.tokens + dt * b.rate).min(b.rate);
        }
    }

    /// Take one record of `size` bytes if both buckets allow it. A record larger than a
    /// whole second of byte rate goes once the bucket is full, so it is never stuck.
    pub(crate) fn try_take(&mut self, size: usize, now: Instant) -> bool {
        self.refill(now);
        let size = (size as f64).min(self.bytes.rate);
        if self.records.tokens >= 1.0 && self.bytes.tokens >= size {
            self.records.tokens -= 1.0;
            self.bytes.tokens -= size;
            true
        } else {
            false
        }
    }

    /// How long until a record of `size` bytes may go (zero if it may now).
    pub(crate) fn wait_for(&mut self, size: usize, now: Instant) -> Duration {
        self.refill(now);
        let size = (size as f64).min(self.bytes.rate);
        let need = |b: &Bucket, amount: f64| ((amount - b.tokens).max(0.0) / b.rate).max(0.0);
        let secs = need(&self.records, 1.0).max(need(&self.bytes, size));
        Duration::from_secs_f64(secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_one_second_of_rate_then_refills() {
        let t0 = Instant::now();
        let mut l = Limiter::new(100, t0);
        let sent = (0..2000).filter(|_| l.try_take(10, t0)).count();
        assert_eq!(sent, 1000);
        assert!(!l.try_take(10, t0));
        let later = t0 + Duration::from_millis(100);
        let sent = (0..2000).filter(|_| l.try_take(10, later)).count();
        assert_eq!(sent, 100);
    }

    #[test]
    fn byte_rate_limits_large_records() {
        let t0 = Instant::now();
        let mut l = Limiter::new(150, t0);
        // 1.5 MiB/s: thirty 51,200-byte aggregates fit in the full bucket, not thirty-one.
        let sent = (0..100).filter(|_| l.try_take(51_200, t0)).count();
        assert_eq!(sent, 30);
        let wait = l.wait_for(51_200, t0);
        assert!(
            wait > Duration::ZERO && wait < Duration::from_millis(40),
            "{wait:?}"
        );
    }

    #[test]
    fn oversized_record_passes_once_bucket_is_full() {
        let t0 = Instant::now();
        let mut l = Limiter::new(50, t0);
        assert!(l.try_take(1024 * 1024, t0));
        assert!(!l.try_take(1024 * 1024, t0 + Duration::from_millis(500)));
        assert!(l.try_take(1024 * 1024, t0 + Duration::from_millis(1000)));
    }
}
