//! Counter and gauge handles: one `AtomicU64` each, shared by `Arc` between the registry
//! (which reads them for snapshots) and every `metrics::Counter`/`Gauge` clone.
//!
//! All operations use `Relaxed` ordering: a value is a standalone number that orders nothing
//! else, and a reader that must see a write (a test asking `/metrics` after its request was
//! answered) is already ordered after it by the socket round trip.

use metrics::{CounterFn, GaugeFn};
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonic `u64` counter.
#[derive(Debug, Default)]
pub struct CounterCell(AtomicU64);

impl CounterCell {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl CounterFn for CounterCell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }

    /// The facade's "set to at least": a counter never goes backwards.
    fn absolute(&self, value: u64) {
        self.0.fetch_max(value, Ordering::Relaxed);
    }
}

/// An `f64` gauge stored as its bit pattern (`0u64` is `0.0`).
#[derive(Debug, Default)]
pub struct GaugeCell(AtomicU64);

impl GaugeCell {
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Adds `delta` with a compare-and-swap loop: lock-free, retried only under contention.
    fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
    }
}

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        self.add(value);
    }

    fn decrement(&self, value: f64) {
        self.add(-value);
    }

    fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_adds_and_absolute_never_goes_backwards() {
        let c = CounterCell::default();
        c.increment(5);
        c.increment(2);
        assert_eq!(c.get(), 7);
        c.absolute(3);
        assert_eq!(c.get(), 7);
        c.absolute(10);
        assert_eq!(c.get(), 10);
    }

    #[test]
    fn gauge_sets_and_moves_by_fractions() {
        let g = GaugeCell::default();
        assert_eq!(g.get(), 0.0);
        g.set(2.5);
        g.increment(1.25);
        g.decrement(0.5);
        assert_eq!(g.get(), 3.25);
        g.set(-7.0);
        assert_eq!(g.get(), -7.0);
    }

    #[test]
    fn concurrent_counter_increments_are_all_kept() {
        let c = std::sync::Arc::new(CounterCell::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        c.increment(1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(c.get(), 40_000);
    }
}
