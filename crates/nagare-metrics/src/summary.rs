//! The histogram handle: a fixed array of log-scale buckets plus count, sum, min and max, from
//! which snapshots estimate quantiles.
//!
//! Buckets: eight per power of two (the top three mantissa bits of the `f64`) for values in
//! `[2^-16, 2^48)`, i.e. 15 ns to 8900 years when the unit is milliseconds; one bucket below
//! (zero, negatives and tiny values) and one above. So a histogram is 514 counters (about
//! 4 KiB) whatever it records, and a quantile is off by at most half a bucket: 6.25% of the
//! value, before it is clamped into `[min, max]`. Values are cumulative since the process
//! started, as Prometheus summaries without a time window are.
//!
//! Recording is lock-free: one `fetch_add` for the bucket and the count, `fetch_min` and
//! `fetch_max` on an order-preserving encoding of the value, and a compare-and-swap loop for
//! the sum. The fields are not updated as one unit, so a snapshot taken while a value is being
//! recorded may count it in some fields and not yet in others.
//!
//! NaN samples are dropped: one would turn the sum, and every quantile near it, into NaN.

use metrics::HistogramFn;
use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two, as a bit count (3 → 8).
const SUB_BITS: u32 = 3;
const SUBS: usize = 1 << SUB_BITS;
/// The finely bucketed range is `[2^MIN_EXP, 2^MAX_EXP)`.
const MIN_EXP: i32 = -16;
const MAX_EXP: i32 = 48;
const FINE: usize = (MAX_EXP - MIN_EXP) as usize * SUBS;
/// Bucket 0 is below the range, bucket `BUCKETS - 1` at or above it.
const BUCKETS: usize = FINE + 2;

/// The quantiles every snapshot estimates.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// A histogram of `f64` samples.
#[derive(Debug)]
pub struct Summary {
    count: AtomicU64,
    /// Bits of the `f64` sum.
    sum: AtomicU64,
    /// [`order_key`] of the smallest and largest sample; `u64::MAX` and `0` while empty.
    min: AtomicU64,
    max: AtomicU64,
    buckets: Box<[AtomicU64]>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(u64::MAX),
            max: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// Maps an `f64` to a `u64` whose unsigned order is the float order (`-0.0` just below
/// `+0.0`), so min and max are single `fetch_min`/`fetch_max` operations.
fn order_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_order_key(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

fn bucket_of(v: f64) -> usize {
    // NaN lands here too, though `record` drops NaN before it gets here.
    if v.is_nan() || v < 2f64.powi(MIN_EXP) {
        return 0;
    }
    if v >= 2f64.powi(MAX_EXP) {
        return BUCKETS - 1;
    }
    let bits = v.to_bits();
    // In range, `v` is normal, so the biased exponent is `exp + 1023`.
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let sub = ((bits >> (52 - SUB_BITS)) & (SUBS as u64 - 1)) as usize;
    1 + (exp - MIN_EXP) as usize * SUBS + sub
}

/// The middle of fine bucket `i` (`1..=FINE`).
fn bucket_mid(i: usize) -> f64 {
    let exp = MIN_EXP + ((i - 1) / SUBS) as i32;
    let sub = ((i - 1) % SUBS) as f64;
    2f64.powi(exp) * (1.0 + (sub + 0.5) / SUBS as f64)
}

impl Summary {
    pub fn snapshot(&self) -> SummarySnapshot {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count = self.count.load(Ordering::Relaxed);
        let sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        let (min, max) = match (
            self.min.load(Ordering::Relaxed),
            self.max.load(Ordering::Relaxed),
        ) {
            // Either still at its sentinel: empty, or a first sample half-recorded.
            (u64::MAX, _) | (_, 0) => (None, None),
            (lo, hi) => (Some(from_order_key(lo)), Some(from_order_key(hi))),
        };
        let quantiles = QUANTILES.map(|q| (q, estimate(&counts, q, min, max)));
        SummarySnapshot {
            count,
            sum,
            min,
            max,
            quantiles,
        }
    }
}

/// The value of rank `ceil(q · n)` among the bucketed samples, as its bucket's middle clamped
/// into `[min, max]`; `None` when nothing was recorded.
fn estimate(counts: &[u64], q: f64, min: Option<f64>, max: Option<f64>) -> Option<f64> {
    let (min, max) = (min?, max?);
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    let bucket = counts.iter().position(|&c| {
        seen += c;
        seen >= rank
    })?;
    let guess = match bucket {
        0 => 0.0,
        b if b == BUCKETS - 1 => max,
        b => bucket_mid(b),
    };
    // `max`/`min` rather than `clamp`, which panics if a racing snapshot saw `min > max`.
    Some(guess.max(min).min(max))
}

impl HistogramFn for Summary {
    fn record(&self, value: f64) {
        self.record_many(value, 1);
    }

    fn record_many(&self, value: f64, count: usize) {
        if value.is_nan() || count == 0 {
            return;
        }
        let n = count as u64;
        if let Some(b) = self.buckets.get(bucket_of(value)) {
            b.fetch_add(n, Ordering::Relaxed);
        }
        self.count.fetch_add(n, Ordering::Relaxed);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value * n as f64).to_bits())
            });
        let key = order_key(value);
        self.min.fetch_min(key, Ordering::Relaxed);
        self.max.fetch_max(key, Ordering::Relaxed);
    }
}

/// A histogram's values at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct SummarySnapshot {
    pub count: u64,
    pub sum: f64,
    /// `None` while nothing was recorded.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `(q, estimate)` for each of [`QUANTILES`].
    pub quantiles: [(f64, Option<f64>); 3],
}

impl SummarySnapshot {
    /// The estimate for `q`, if `q` is one of [`QUANTILES`] and anything was recorded.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles
            .iter()
            .find(|(k, _)| *k == q)
            .and_then(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_summary_has_no_extremes_or_quantiles() {
        let s = Summary::default().snapshot();
        assert_eq!((s.count, s.sum, s.min, s.max), (0, 0.0, None, None));
        assert_eq!(s.quantile(0.5), None);
    }

    #[test]
    fn one_value_is_reported_exactly() {
        let h = Summary::default();
        h.record(12.34);
        let s = h.snapshot();
        assert_eq!(
            (s.count, s.sum, s.min, s.max),
            (1, 12.34, Some(12.34), Some(12.34))
        );
        assert_eq!(s.quantile(0.5), Some(12.34));
        assert_eq!(s.quantile(0.99), Some(12.34));
    }

    #[test]
    fn quantiles_of_one_to_a_thousand_are_within_bucket_error() {
        let h = Summary::default();
        for v in 1..=1000 {
            h.record(f64::from(v));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 1000);
        assert_eq!(s.sum, 500_500.0);
        assert_eq!((s.min, s.max), (Some(1.0), Some(1000.0)));
        for (q, exact) in [(0.5, 500.0), (0.9, 900.0), (0.99, 990.0)] {
            let got = s.quantile(q).expect("estimate");
            assert!(
                (got - exact).abs() <= exact * 0.0625,
                "p{q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn zero_negative_and_huge_values_land_in_the_edge_buckets() {
        let h = Summary::default();
        h.record(-3.0);
        h.record(0.0);
        h.record(1e300);
        h.record(f64::NAN);
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!((s.min, s.max), (Some(-3.0), Some(1e300)));
        assert_eq!(s.quantile(0.5), Some(0.0));
        assert_eq!(s.quantile(0.99), Some(1e300));
    }

    #[test]
    fn record_many_counts_each_sample() {
        let h = Summary::default();
        h.record_many(2.0, 4);
        let s = h.snapshot();
        assert_eq!((s.count, s.sum), (4, 8.0));
    }

    proptest! {
        #[test]
        fn order_key_preserves_float_order(a in any::<f64>(), b in any::<f64>()) {
            prop_assume!(!a.is_nan() && !b.is_nan());
            if a < b {
                prop_assert!(order_key(a) < order_key(b));
            }
            prop_assert_eq!(from_order_key(order_key(a)).to_bits(), a.to_bits());
        }

        #[test]
        fn every_value_falls_in_a_bucket_whose_middle_is_close(v in 1e-4f64..1e13) {
            let b = bucket_of(v);
            prop_assert!((1..=FINE).contains(&b));
            prop_assert!((bucket_mid(b) - v).abs() <= v * 0.0625);
        }

        #[test]
        fn quantiles_stay_within_min_and_max(values in prop::collection::vec(-1e6f64..1e9, 1..200)) {
            let h = Summary::default();
            for v in &values {
                h.record(*v);
            }
            let s = h.snapshot();
            let (lo, hi) = (s.min.expect("min"), s.max.expect("max"));
            for (_, e) in s.quantiles {
                let e = e.expect("estimate");
                prop_assert!(lo <= e && e <= hi);
            }
        }
    }
}
