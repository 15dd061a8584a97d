//! [`Registry`]: the `metrics::Recorder` that owns every series, and [`Snapshot`]s of it.

use crate::cells::{CounterCell, GaugeCell};
use crate::summary::{Summary, SummarySnapshot};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A series' identity: its name and its labels sorted by key (then value), so the order a
/// caller listed labels in does not make a second series.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl MetricKey {
    pub fn new<K: Into<String>, V: Into<String>>(
        name: impl Into<String>,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut labels: Vec<(String, String)> = labels
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        labels.sort();
        MetricKey {
            name: name.into(),
            labels,
        }
    }

    fn from_key(key: &Key) -> Self {
        MetricKey::new(
            key.name(),
            key.labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned())),
        )
    }

    /// The value of label `key`, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The three kinds of series, in the order a snapshot lists them for equal keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One kind's series. `by_key` indexes registrations by the facade's `Key` (whose hash is
/// precomputed), so re-registering a known series — the server does so per request — costs a
/// read lock and a lookup, no allocation. Several `Key`s (label orders) may share one cell of
/// `canonical`, which is what snapshots read.
struct Family<C> {
    by_key: HashMap<Key, Arc<C>>,
    canonical: HashMap<MetricKey, Arc<C>>,
}

impl<C> Default for Family<C> {
    fn default() -> Self {
        Family {
            by_key: HashMap::new(),
            canonical: HashMap::new(),
        }
    }
}

fn register<C: Default>(family: &RwLock<Family<C>>, key: &Key) -> Arc<C> {
    if let Some(cell) = family.read().by_key.get(key) {
        return cell.clone();
    }
    let canonical = MetricKey::from_key(key);
    let mut f = family.write();
    let cell = f.canonical.entry(canonical).or_default().clone();
    f.by_key.insert(key.clone(), cell.clone());
    cell
}

/// All series of one process (or of one test, through `metrics::with_local_recorder`).
#[derive(Default)]
pub struct Registry {
    counters: RwLock<Family<CounterCell>>,
    gauges: RwLock<Family<GaugeCell>>,
    histograms: RwLock<Family<Summary>>,
    /// `describe_*` texts by metric name, rendered as Prometheus `# HELP`.
    descriptions: RwLock<HashMap<String, String>>,
    /// Set once this registry became the global recorder (see [`crate::install`]).
    global: AtomicBool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("counters", &self.counters.read().canonical.len())
            .field("gauges", &self.gauges.read().canonical.len())
            .field("histograms", &self.histograms.read().canonical.len())
            .field("global", &self.is_global())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether this registry is the process's global recorder, i.e. receives the metrics of
    /// everything that registers through the facade.
    pub fn is_global(&self) -> bool {
        self.global.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_global(&self) {
        self.global.store(true, Ordering::Relaxed);
    }

    pub fn counter_value(&self, key: &MetricKey) -> Option<u64> {
        self.counters.read().canonical.get(key).map(|c| c.get())
    }

    pub fn gauge_value(&self, key: &MetricKey) -> Option<f64> {
        self.gauges.read().canonical.get(key).map(|g| g.get())
    }

    pub fn histogram_value(&self, key: &MetricKey) -> Option<SummarySnapshot> {
        self.histograms
            .read()
            .canonical
            .get(key)
            .map(|h| h.snapshot())
    }

    /// The description given to `describe_*` for `name`, if any.
    pub fn description(&self, name: &str) -> Option<String> {
        self.descriptions.read().get(name).cloned()
    }

    /// Every series' current value, sorted by key, then kind. Each value is read atomically
    /// on its own; the snapshot as a whole is not a single instant.
    pub fn snapshot(&self) -> Snapshot {
        let mut samples: Vec<Sample> = Vec::new();
        samples.extend(self.counters.read().canonical.iter().map(|(k, c)| Sample {
            key: k.clone(),
            value: Value::Counter(c.get()),
        }));
        samples.extend(self.gauges.read().canonical.iter().map(|(k, g)| Sample {
            key: k.clone(),
            value: Value::Gauge(g.get()),
        }));
        samples.extend(
            self.histograms
                .read()
                .canonical
                .iter()
                .map(|(k, h)| Sample {
                    key: k.clone(),
                    value: Value::Histogram(h.snapshot()),
                }),
        );
        samples.sort_by(|a, b| {
            a.key
                .cmp(&b.key)
                .then_with(|| a.value.kind().cmp(&b.value.kind()))
        });
        Snapshot {
            samples,
            descriptions: self.descriptions.read().clone(),
            global: self.is_global(),
        }
    }

    fn describe(&self, key: KeyName, description: SharedString) {
        self.descriptions
            .write()
            .insert(key.as_str().to_owned(), description.into_owned());
    }
}

impl Recorder for Registry {
    fn describe_counter(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, description);
    }

    fn describe_gauge(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, description);
    }

    fn describe_histogram(&self, key: KeyName, _unit: Option<Unit>, description: SharedString) {
        self.describe(key, description);
    }

    fn register_counter(&self, key: &Key, _metadata: &Metadata<'_>) -> Counter {
        Counter::from_arc(register(&self.counters, key))
    }

    fn register_gauge(&self, key: &Key, _metadata: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(register(&self.gauges, key))
    }

    fn register_histogram(&self, key: &Key, _metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(register(&self.histograms, key))
    }
}

/// One series' value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(SummarySnapshot),
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Counter(_) => Kind::Counter,
            Value::Gauge(_) => Kind::Gauge,
            Value::Histogram(_) => Kind::Histogram,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub key: MetricKey,
    pub value: Value,
}

/// What the renderers read: every series, sorted by key then kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub samples: Vec<Sample>,
    /// `describe_*` texts by metric name.
    pub descriptions: HashMap<String, String>,
    /// Whether the registry was the global recorder (see [`Registry::is_global`]).
    pub global: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_order_does_not_make_a_second_series() {
        let r = Registry::new();
        metrics::with_local_recorder(&r, || {
            metrics::counter!("IncomingRecords", "StreamName" => "s", "ShardId" => "shardId-000000000000")
                .increment(2);
            metrics::counter!("IncomingRecords", "ShardId" => "shardId-000000000000", "StreamName" => "s")
                .increment(3);
        });
        let key = MetricKey::new(
            "IncomingRecords",
            [("StreamName", "s"), ("ShardId", "shardId-000000000000")],
        );
        assert_eq!(r.counter_value(&key), Some(5));
        assert_eq!(r.snapshot().samples.len(), 1);
    }

    #[test]
    fn handles_registered_once_keep_recording_into_the_same_series() {
        let r = Registry::new();
        let (c, g, h) = metrics::with_local_recorder(&r, || {
            (
                metrics::counter!("PutRecord.Success", "StreamName" => "a"),
                metrics::gauge!("GetRecords.IteratorAgeMilliseconds", "StreamName" => "a"),
                metrics::histogram!("PutRecord.Latency", "StreamName" => "a"),
            )
        });
        // Outside the local-recorder scope: the handles are bound to `r` regardless.
        c.increment(1);
        c.increment(1);
        g.set(250.0);
        h.record(3.0);
        h.record(5.0);
        let key = |n: &str| MetricKey::new(n, [("StreamName", "a")]);
        assert_eq!(r.counter_value(&key("PutRecord.Success")), Some(2));
        assert_eq!(
            r.gauge_value(&key("GetRecords.IteratorAgeMilliseconds")),
            Some(250.0)
        );
        let s = r
            .histogram_value(&key("PutRecord.Latency"))
            .expect("histogram");
        assert_eq!(
            (s.count, s.sum, s.min, s.max),
            (2, 8.0, Some(3.0), Some(5.0))
        );
    }

    #[test]
    fn snapshot_is_sorted_by_name_then_labels_then_kind() {
        let r = Registry::new();
        metrics::with_local_recorder(&r, || {
            metrics::counter!("b", "StreamName" => "y").increment(1);
            metrics::gauge!("a").set(1.0);
            metrics::counter!("b", "StreamName" => "x").increment(1);
            metrics::counter!("a").increment(1);
        });
        let order: Vec<(String, Option<String>, Kind)> = r
            .snapshot()
            .samples
            .into_iter()
            .map(|s| {
                let kind = s.value.kind();
                let stream = s.key.label("StreamName").map(str::to_owned);
                (s.key.name, stream, kind)
            })
            .collect();
        assert_eq!(
            order,
            vec![
                ("a".into(), None, Kind::Counter),
                ("a".into(), None, Kind::Gauge),
                ("b".into(), Some("x".into()), Kind::Counter),
                ("b".into(), Some("y".into()), Kind::Counter),
            ]
        );
    }

    #[test]
    fn descriptions_are_kept_by_name() {
        let r = Registry::new();
        metrics::with_local_recorder(&r, || {
            metrics::describe_counter!("nagare_requests_total", "Requests answered.");
        });
        assert_eq!(
            r.description("nagare_requests_total").as_deref(),
            Some("Requests answered.")
        );
    }
}
