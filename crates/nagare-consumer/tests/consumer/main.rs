//! End-to-end tests of `nagare-consumer` against a real `nagare` server (spawned from the
//! built binary) and, for the DynamoDB lease store, a real `dynalite` (from
//! `tests/dynamo`, installed with `npm ci`). One test binary keeps link time down.
//!
//! - `restart`: exactly once and per-key order across a graceful restart and a crash.
//! - `reshard`: a split and a merge during processing, followed parents first (polling and
//!   fan-out).
//! - `volume`: 100,000 records from 4 producers, two consumer groups (polling with two
//!   workers, fan-out with one); `NAGARE_CONSUMER_RECORDS=1000000` for the full run.
//! - `dynamo`: the DynamoDB store against dynalite, and failover between three workers.
//! - `kcl_metrics`: KCL metric names through the `metrics` facade.

mod common;
mod dynamo;
mod kcl_metrics;
mod ledger;
mod reshard;
mod restart;
mod volume;

use common::{fast_leases, fast_polling};
use ledger::{Mode, Recorder, SharedLedger};
use nagare_consumer::{LeaseConfig, LeaseStore, Retrieval, Worker, WorkerError, WorkerHandle};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A worker running on its own task.
pub struct RunningWorker {
    pub id: String,
    pub handle: WorkerHandle,
    pub task: JoinHandle<Result<(), WorkerError>>,
}

pub struct WorkerSpec {
    pub id: String,
    pub mode: Mode,
    pub retrieval: Retrieval,
    pub leases: LeaseConfig,
}

impl WorkerSpec {
    pub fn new(id: &str) -> Self {
        WorkerSpec {
            id: id.to_owned(),
            mode: Mode::EveryBatch,
            retrieval: Retrieval::Polling(fast_polling()),
            leases: fast_leases(),
        }
    }
}

pub fn spawn_worker(
    kinesis: &aws_sdk_kinesis::Client,
    stream: &str,
    store: Arc<dyn LeaseStore>,
    ledger: &SharedLedger,
    spec: WorkerSpec,
) -> RunningWorker {
    let ledger = ledger.clone();
    let id = spec.id.clone();
    let mode = spec.mode;
    let worker_id = id.clone();
    let worker = Worker::builder(kinesis.clone(), stream, store, move |shard: &str| {
        Recorder::new(ledger.clone(), &worker_id, shard, mode)
    })
    .worker_id(&id)
    .lease_config(spec.leases)
    .retrieval(spec.retrieval)
    .build();
    let handle = worker.handle();
    RunningWorker {
        id,
        handle,
        task: tokio::spawn(worker.run()),
    }
}

impl RunningWorker {
    /// Crash: stop every task of the worker without releasing its leases. Holding the
    /// ledger lock while aborting guarantees no checkpoint is in flight (checkpoints happen
    /// under that lock), so the ledger matches the lease table exactly.
    pub async fn kill(self, ledger: &SharedLedger) {
        let mut guard = ledger.lock().await;
        self.task.abort();
        let _ = self.task.await;
        // What it had pending died with it.
        guard.pending.retain(|(w, _), _| *w != self.id);
    }

    /// Graceful stop: processors checkpoint, leases are released.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
        self.task
            .await
            .expect("worker task")
            .expect("worker run result");
    }
}
