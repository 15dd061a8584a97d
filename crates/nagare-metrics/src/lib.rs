//! nagare-metrics: an in-process recorder for the `metrics` facade, and two renderers.
//!
//! The engine names its metrics as Amazon CloudWatch does in the `AWS/Kinesis` namespace
//! (`PutRecords.Success`, labelled `StreamName`, shard-level ones also `ShardId`); this crate
//! keeps them in memory and renders them for scrapers and tools.
//!
//! Module map:
//! - [`registry`]   — [`Registry`], the `metrics::Recorder`: series keyed by (name, sorted
//!   labels), registered lazily, and [`Snapshot`]s of them.
//! - [`cells`]      — the counter and gauge handles (one atomic each).
//! - [`summary`]    — the histogram handle: fixed log-scale buckets, count/sum/min/max.
//! - [`prometheus`] — text exposition format 0.0.4, with name sanitizing and label escaping.
//! - [`json`]       — a JSON document grouped by stream and shard, with CloudWatch names.
//!
//! Invariants:
//! - Recording through a handle never takes a lock: counters and gauges are one atomic
//!   operation, histograms a handful of lock-free ones. Locks are taken only to register a
//!   series and to take a snapshot.
//! - Memory is bounded by the number of distinct series; a histogram is a fixed-size array.
//! - A `metrics` handle is bound to the recorder installed when it was registered, forever:
//!   [`install`] must run before anything registers metrics (the engine does so when it
//!   opens), or those handles stay no-ops.

pub mod cells;
pub mod json;
pub mod prometheus;
pub mod registry;
pub mod summary;

pub use registry::{Kind, MetricKey, Registry, Sample, Snapshot, Value};
pub use summary::SummarySnapshot;

use std::sync::{Once, OnceLock};

static REGISTRY: OnceLock<Registry> = OnceLock::new();
static INSTALL: Once = Once::new();

/// Makes the process-wide [`Registry`] the global `metrics` recorder and returns it.
///
/// Idempotent: every call returns the same registry, and only the first tries to install it.
/// If another recorder was installed first (say, by a program embedding the server), this one
/// cannot replace it: the registry is still returned, stays empty, and
/// [`Registry::is_global`] says `false` so the caller can log it and the renderers can say
/// so in their output.
pub fn install() -> &'static Registry {
    let registry = REGISTRY.get_or_init(Registry::new);
    INSTALL.call_once(|| {
        if metrics::set_global_recorder(registry).is_ok() {
            registry.mark_global();
        }
    });
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent_and_records_through_the_facade() {
        let a = install();
        let b = install();
        assert!(std::ptr::eq(a, b));
        // This test binary installs no other recorder.
        assert!(a.is_global());
        metrics::counter!("install_test_counter", "StreamName" => "install-test").increment(3);
        let key = MetricKey::new("install_test_counter", [("StreamName", "install-test")]);
        assert_eq!(a.counter_value(&key), Some(3));
    }
}
