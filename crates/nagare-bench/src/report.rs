//! The one JSON line a run prints, and the percentile helper.

use crate::cpu::CpuUse;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters shared by the tasks of one scenario.
#[derive(Default)]
pub struct Totals {
    /// Records acknowledged (puts) or retrieved (gets).
    pub records: AtomicU64,
    /// Data bytes of those records.
    pub bytes: AtomicU64,
    /// Failed calls or records other than throttles (each retry that fails counts again).
    pub errors: AtomicU64,
    /// ProvisionedThroughputExceeded, per request or per record.
    pub throttles: AtomicU64,
    /// Records given up on after the retry budget ran out.
    pub dropped: AtomicU64,
}

impl Totals {
    /// Add `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Read `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Counters and timings of one scenario; turned into the JSON line by [`Report::to_json_line`].
///
/// `records`/`bytes` count acknowledged (put scenarios) or retrieved (drain) records and their
/// data bytes; `secs` is the timed phase only. `p50_ms`/`p99_ms` are per-request latencies for
/// put-records, put-record and the drain, and put→visible latency for `latency`.
pub struct Report {
    fields: Map<String, Value>,
}

impl Report {
    /// A report with the common fields, from the totals of the timed phase.
    pub fn new(
        scenario: &str,
        totals: &Totals,
        elapsed: Duration,
        latencies_ms: &mut [f64],
    ) -> Self {
        let records = Totals::get(&totals.records);
        let bytes = Totals::get(&totals.bytes);
        let secs = elapsed.as_secs_f64();
        let per_s = |n: f64| if secs > 0.0 { n / secs } else { 0.0 };
        let mut fields = Map::new();
        fields.insert("scenario".into(), scenario.into());
        fields.insert("endpoint".into(), Value::Null);
        fields.insert("records".into(), records.into());
        fields.insert("bytes".into(), bytes.into());
        fields.insert("secs".into(), round(secs, 3).into());
        fields.insert(
            "records_per_s".into(),
            round(per_s(records as f64), 1).into(),
        );
        fields.insert(
            "mb_per_s".into(),
            round(per_s(bytes as f64) / 1e6, 3).into(),
        );
        let (p50, p99) = percentiles(latencies_ms);
        fields.insert("p50_ms".into(), opt(p50));
        fields.insert("p99_ms".into(), opt(p99));
        fields.insert("errors".into(), Totals::get(&totals.errors).into());
        fields.insert("throttles".into(), Totals::get(&totals.throttles).into());
        fields.insert("dropped".into(), Totals::get(&totals.dropped).into());
        Report { fields }
    }

    /// Add the CPU seconds client and server used in the timed phase, and per record.
    pub fn set_cpu(&mut self, cpu: &CpuUse) {
        let records = self
            .fields
            .get("records")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        for (side, secs) in [("client", cpu.client_secs), ("server", cpu.server_secs)] {
            self.set(&format!("{side}_cpu_secs"), opt(secs));
            self.set(
                &format!("{side}_cores"),
                opt(secs
                    .filter(|_| cpu.wall_secs > 0.0)
                    .map(|s| s / cpu.wall_secs)),
            );
            self.set(
                &format!("{side}_cpu_us_per_record"),
                opt(secs
                    .filter(|_| records > 0)
                    .map(|s| s * 1e6 / records as f64)),
            );
        }
    }

    /// Add or replace a field (scenario parameters, extra measurements).
    pub fn set(&mut self, key: &str, value: Value) {
        self.fields.insert(key.to_owned(), value);
    }

    /// The report as one line of JSON (keys in insertion order are not guaranteed; consumers
    /// must read by name).
    pub fn to_json_line(&self) -> String {
        Value::Object(self.fields.clone()).to_string()
    }
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |v| round(v, 3).into())
}

/// Round for display; the JSON carries no false precision.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// p50 and p99 (nearest-rank) of `samples`, which get sorted; `None` when empty.
pub fn percentiles(samples: &mut [f64]) -> (Option<f64>, Option<f64>) {
    if samples.is_empty() {
        return (None, None);
    }
    samples.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let idx = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples[idx.clamp(1, samples.len()) - 1]
    };
    (Some(rank(50.0)), Some(rank(99.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentiles(&mut v), (Some(50.0), Some(99.0)));
        let mut one = vec![7.0];
        assert_eq!(percentiles(&mut one), (Some(7.0), Some(7.0)));
        assert_eq!(percentiles(&mut []), (None, None));
    }

    #[test]
    fn report_has_the_documented_keys() {
        let totals = Totals::default();
        Totals::add(&totals.records, 10);
        Totals::add(&totals.bytes, 1000);
        let r = Report::new("x", &totals, Duration::from_secs(2), &mut [1.0]);
        let v: Value = serde_json::from_str(&r.to_json_line()).unwrap();
        for k in [
            "scenario",
            "endpoint",
            "records",
            "bytes",
            "secs",
            "records_per_s",
            "mb_per_s",
            "p50_ms",
            "p99_ms",
            "errors",
            "throttles",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v["records_per_s"], 5.0);
    }
}
