//! The worker reports KCL's metric names (spec §6.3) through the `metrics` facade.

use crate::common::{Nagare, ProduceSpec, eventually, produce};
use crate::ledger::SharedLedger;
use crate::{WorkerSpec, spawn_worker};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use nagare_consumer::{InMemoryLeaseStore, LeaseStore, metrics as m};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// (metric name, Operation label) of every metric registered in this process.
type Seen = Arc<Mutex<BTreeSet<(String, String)>>>;

struct Names(Seen);

impl Names {
    fn note(&self, key: &Key) {
        let op = key
            .labels()
            .find(|l| l.key() == m::LABEL_OPERATION)
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        assert!(
            key.labels().any(|l| l.key() == m::LABEL_WORKER),
            "{} has no WorkerIdentifier",
            key.name()
        );
        self.0.lock().unwrap().insert((key.name().to_owned(), op));
    }
}

impl Recorder for Names {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.note(key);
        Counter::noop()
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.note(key);
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.note(key);
        Histogram::noop()
    }
}

/// The process-wide recorder (the facade allows one), installed on first use.
fn seen() -> Seen {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    SEEN.get_or_init(|| {
        let seen = Seen::default();
        metrics::set_global_recorder(Names(seen.clone())).expect("no other recorder");
        seen
    })
    .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_reports_kcl_metric_names() {
    let seen = seen();
    let nagare = Nagare::start().await;
    nagare.create_stream("metrics", 2).await;
    let store: Arc<dyn LeaseStore> = Arc::new(InMemoryLeaseStore::new());
    let ledger = SharedLedger::default();
    let w = spawn_worker(
        &nagare.client,
        "metrics",
        store,
        &ledger,
        WorkerSpec::new("mw"),
    );
    let acks = produce(
        nagare.client.clone(),
        ProduceSpec {
            stream: "metrics".into(),
            producer: 0,
            keys: 10,
            per_key: 10,
            aggregate: 1,
            batch: 500,
            pause: Duration::ZERO,
        },
    )
    .await;
    eventually(Duration::from_secs(30), "records committed", async || {
        ledger.lock().await.committed.len() >= acks.len()
    })
    .await;
    // At least one more renewer and taker pass.
    tokio::time::sleep(Duration::from_millis(700)).await;
    w.shutdown().await;

    let seen = seen.lock().unwrap().clone();
    let want = [
        (m::TIME, m::OP_RENEW_ALL_LEASES),
        (m::SUCCESS, m::OP_RENEW_ALL_LEASES),
        (m::CURRENT_LEASES, m::OP_RENEW_ALL_LEASES),
        (m::RENEW_LEASE_SUCCESS, m::OP_RENEW_ALL_LEASES),
        (m::RENEW_LEASE_TIME, m::OP_RENEW_ALL_LEASES),
        (m::TIME, m::OP_TAKE_LEASES),
        (m::SUCCESS, m::OP_TAKE_LEASES),
        (m::TAKEN_LEASES, m::OP_TAKE_LEASES),
        (m::TOTAL_LEASES, m::OP_TAKE_LEASES),
        (m::EXPIRED_LEASES, m::OP_TAKE_LEASES),
        (m::NUM_WORKERS, m::OP_TAKE_LEASES),
        (m::NEEDED_LEASES, m::OP_TAKE_LEASES),
        (m::LEASE_SPILLOVER, m::OP_TAKE_LEASES),
        (m::LEASES_TO_STEAL, m::OP_TAKE_LEASES),
        (m::UNTAKEN_LEASES, m::OP_TAKE_LEASES),
        (m::TIME, m::OP_SHARD_SYNC),
        (m::SUCCESS, m::OP_SHARD_SYNC),
        (m::TIME, m::OP_INITIALIZE),
        (m::INITIALIZE_TIME, m::OP_INITIALIZE),
        (m::TIME, m::OP_PROCESS),
        (m::SUCCESS, m::OP_PROCESS),
        (m::RECORDS_PROCESSED, m::OP_PROCESS),
        (m::DATA_BYTES_PROCESSED, m::OP_PROCESS),
        (m::MILLIS_BEHIND_LATEST, m::OP_PROCESS),
        (m::PROCESS_RECORDS_TIME, m::OP_PROCESS),
        (m::GET_RECORDS_SUCCESS, m::OP_PROCESS),
        (m::GET_RECORDS_TIME, m::OP_PROCESS),
        (m::UPDATE_LEASE_SUCCESS, m::OP_PROCESS),
        (m::UPDATE_LEASE_TIME, m::OP_PROCESS),
        (m::TIME, m::OP_SHUTDOWN),
        (m::SHUTDOWN_TIME, m::OP_SHUTDOWN),
    ];
    for (name, op) in want {
        assert!(
            seen.contains(&(name.to_owned(), op.to_owned())),
            "{name} (Operation={op}) not reported; saw {seen:?}"
        );
    }
}
