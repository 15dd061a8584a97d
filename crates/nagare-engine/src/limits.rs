//! Throughput limits as AWS enforces them (spec §3.5, §3.7): token buckets per shard for
//! writes (records/s and bytes/s) and reads (calls/s and bytes/s), and per-operation buckets
//! for control-plane calls. When limits are off none of this is touched.

use parking_lot::Mutex;
use std::collections::HashMap;

/// Per-shard write limit of a provisioned stream.
pub const WRITE_RECORDS_PER_SEC: f64 = 1000.0;
pub const WRITE_BYTES_PER_SEC: f64 = 1024.0 * 1024.0;
/// Per-shard read limit.
pub const READ_CALLS_PER_SEC: f64 = 5.0;
pub const READ_BYTES_PER_SEC: f64 = 2.0 * 1024.0 * 1024.0;

/// A token bucket refilled continuously; capacity is one second of rate.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last_ms: Option<i64>,
}

impl Bucket {
    const fn new() -> Self {
        Bucket {
            tokens: 0.0,
            last_ms: None,
        }
    }

    fn refill(&mut self, now_ms: i64, rate: f64) {
        match self.last_ms {
            None => self.tokens = rate,
            Some(last) => {
                let dt = (now_ms - last).max(0) as f64 / 1000.0;
                self.tokens = (self.tokens + dt * rate).min(rate);
            }
        }
        self.last_ms = Some(now_ms);
    }
}

/// Write and read buckets of one shard.
#[derive(Debug, Default)]
pub struct ShardBuckets {
    write: Mutex<(Option<Bucket>, Option<Bucket>)>,
    read: Mutex<(Option<Bucket>, Option<Bucket>)>,
}

/// The per-shard rates of a stream (on-demand streams get twice the provisioned rate: AWS
/// lets an on-demand stream absorb up to double its previous peak before it scales).
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    pub write_records: f64,
    pub write_bytes: f64,
}

impl Rates {
    pub fn provisioned() -> Self {
        Rates {
            write_records: WRITE_RECORDS_PER_SEC,
            write_bytes: WRITE_BYTES_PER_SEC,
        }
    }
    pub fn on_demand() -> Self {
        Rates {
            write_records: 2.0 * WRITE_RECORDS_PER_SEC,
            write_bytes: 2.0 * WRITE_BYTES_PER_SEC,
        }
    }
}

impl ShardBuckets {
    /// Admits records one by one in order; `admit[i]` says whether record `i` (of `sizes[i]`
    /// bytes, key included) may be written. Returns how many were refused.
    pub fn admit_writes(
        &self,
        now_ms: i64,
        rates: Rates,
        sizes: impl Iterator<Item = usize>,
        admit: &mut Vec<bool>,
    ) -> usize {
        let mut guard = self.write.lock();
        let (recs, bytes) = &mut *guard;
        let recs = recs.get_or_insert_with(Bucket::new);
        let bytes = bytes.get_or_insert_with(Bucket::new);
        recs.refill(now_ms, rates.write_records);
        bytes.refill(now_ms, rates.write_bytes);
        let mut refused = 0;
        for size in sizes {
            let ok = recs.tokens >= 1.0 && bytes.tokens >= size as f64;
            if ok {
                recs.tokens -= 1.0;
                bytes.tokens -= size as f64;
            } else {
                refused += 1;
            }
            admit.push(ok);
        }
        refused
    }

    /// Admits one GetRecords call: refused when 5 calls were made in the last second or when
    /// earlier calls read more than the byte rate allows (a large read puts the bucket in
    /// debt, so calls in the next seconds are refused, as AWS does after a 10 MiB read).
    pub fn admit_read(&self, now_ms: i64) -> bool {
        let mut guard = self.read.lock();
        let (calls, bytes) = &mut *guard;
        let calls = calls.get_or_insert_with(Bucket::new);
        let bytes = bytes.get_or_insert_with(Bucket::new);
        calls.refill(now_ms, READ_CALLS_PER_SEC);
        // Starts with one second of allowance; large reads drive it negative (debt).
        bytes.refill(now_ms, READ_BYTES_PER_SEC);
        if calls.tokens < 1.0 || bytes.tokens < 0.0 {
            return false;
        }
        calls.tokens -= 1.0;
        true
    }

    /// Charges the bytes a GetRecords call returned.
    pub fn charge_read(&self, bytes: usize) {
        let mut guard = self.read.lock();
        if let Some(b) = guard.1.as_mut() {
            b.tokens -= bytes as f64;
        }
    }
}

/// Control-plane call rates by (operation, scope), where scope is the stream for per-stream
/// limits and empty for per-account ones.
#[derive(Debug, Default)]
pub struct ControlRates {
    buckets: Mutex<HashMap<(&'static str, String), Bucket>>,
}

impl ControlRates {
    pub fn admit(&self, now_ms: i64, op: &'static str, scope: &str, per_sec: f64) -> bool {
        let mut map = self.buckets.lock();
        let b = map
            .entry((op, scope.to_owned()))
            .or_insert_with(Bucket::new);
        b.refill(now_ms, per_sec);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bucket_allows_one_second_of_rate_then_refills() {
        let b = ShardBuckets::default();
        let mut admit = Vec::new();
        let refused = b.admit_writes(
            0,
            Rates::provisioned(),
            std::iter::repeat_n(10, 1500),
            &mut admit,
        );
        assert_eq!(refused, 500);
        assert!(admit[..1000].iter().all(|a| *a) && admit[1000..].iter().all(|a| !*a));
        admit.clear();
        assert_eq!(
            b.admit_writes(
                500,
                Rates::provisioned(),
                std::iter::repeat_n(10, 600),
                &mut admit
            ),
            100
        );
    }

    #[test]
    fn on_demand_shards_take_twice_the_provisioned_rate() {
        let b = ShardBuckets::default();
        let mut admit = Vec::new();
        assert_eq!(
            b.admit_writes(
                0,
                Rates::on_demand(),
                std::iter::repeat_n(10, 2500),
                &mut admit
            ),
            500
        );
    }

    #[test]
    fn write_bucket_limits_bytes() {
        let b = ShardBuckets::default();
        let mut admit = Vec::new();
        assert_eq!(
            b.admit_writes(
                0,
                Rates::provisioned(),
                std::iter::repeat_n(300 * 1024, 4),
                &mut admit
            ),
            1
        );
    }

    #[test]
    fn reads_allow_five_calls_per_second_and_pay_back_large_reads() {
        let b = ShardBuckets::default();
        assert!((0..5).all(|_| b.admit_read(0)));
        assert!(!b.admit_read(0));
        assert!(b.admit_read(1000));
        b.charge_read(1024 * 1024);
        assert!(
            b.admit_read(1001),
            "a 1 MiB read leaves room within 2 MiB/s"
        );
        b.charge_read(9 * 1024 * 1024);
        assert!(!b.admit_read(2000), "a 10 MiB read blocks the next seconds");
        assert!(b.admit_read(7000));
    }

    #[test]
    fn control_rates_are_per_operation_and_scope() {
        let c = ControlRates::default();
        assert!((0..5).all(|_| c.admit(0, "CreateStream", "", 5.0)));
        assert!(!c.admit(0, "CreateStream", "", 5.0));
        assert!(c.admit(0, "DeleteStream", "", 5.0));
        assert!(c.admit(300, "CreateStream", "", 5.0));
    }
}
