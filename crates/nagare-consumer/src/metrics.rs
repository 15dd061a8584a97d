//! KCL's client-side metric names (spec §6.3), emitted through the [`metrics`] facade.
//!
//! Every metric carries the label `Operation` (one of the `OP_*` names) and
//! `WorkerIdentifier`; per-shard ones also `ShardId`. Install any `metrics` recorder
//! (Prometheus exporter, CloudWatch bridge, …) to collect them; without one they cost nothing.
//! Times are histograms in milliseconds; `Success` is a counter that grows by 1 per successful
//! run (KCL records 0/1 samples; the success count next to `Time`'s sample count gives the
//! same ratio); lease counts are gauges.
//!
//! ```
//! use nagare_consumer::metrics;
//!
//! assert_eq!(metrics::OP_RENEW_ALL_LEASES, "RenewAllLeases");
//! assert_eq!(metrics::RECORDS_PROCESSED, "RecordsProcessed");
//! assert_eq!(metrics::LABEL_SHARD_ID, "ShardId");
//! ```

use std::time::Duration;

/// Dimension: the operation.
pub const LABEL_OPERATION: &str = "Operation";
/// Dimension: the shard.
pub const LABEL_SHARD_ID: &str = "ShardId";
/// Dimension: the worker.
pub const LABEL_WORKER: &str = "WorkerIdentifier";

/// Operation: a shard's processor is initialized.
pub const OP_INITIALIZE: &str = "InitializeTask";
/// Operation: a shard's processor is shut down (shard end, lease lost, shutdown).
pub const OP_SHUTDOWN: &str = "ShutdownTask";
/// Operation: ListShards compared with the lease table.
pub const OP_SHARD_SYNC: &str = "ShardSyncTask";
/// Operation: a child shard waits for its parents.
pub const OP_BLOCK_ON_PARENT: &str = "BlockOnParentTask";
/// Operation: records fetched and handed to the processor.
pub const OP_PROCESS: &str = "ProcessTask";
/// Operation: the renewer's pass over held leases.
pub const OP_RENEW_ALL_LEASES: &str = "RenewAllLeases";
/// Operation: the taker's pass.
pub const OP_TAKE_LEASES: &str = "TakeLeases";

/// Histogram (ms): duration of the operation.
pub const TIME: &str = "Time";
/// Counter: 1 per successful operation (failures add 0, so the series exists).
pub const SUCCESS: &str = "Success";
/// Counter: user records handed to `process_records`.
pub const RECORDS_PROCESSED: &str = "RecordsProcessed";
/// Counter: bytes of user record data handed to `process_records`.
pub const DATA_BYTES_PROCESSED: &str = "DataBytesProcessed";
/// Gauge (ms): the fetcher's distance from the tip of the shard.
pub const MILLIS_BEHIND_LATEST: &str = "MillisBehindLatest";
/// Counter: GetRecords answered `ExpiredIteratorException`.
pub const EXPIRED_ITERATOR: &str = "ExpiredIterator";
/// Histogram (ms): time in `process_records`.
pub const PROCESS_RECORDS_TIME: &str = "RecordProcessor.processRecords.Time";
/// Histogram (ms): time in `initialize`.
pub const INITIALIZE_TIME: &str = "RecordProcessor.initialize.Time";
/// Histogram (ms): time in `shard_ended` / `lease_lost` / `shutdown_requested`.
pub const SHUTDOWN_TIME: &str = "RecordProcessor.shutdown.Time";
/// Counter: successful GetRecords / SubscribeToShard event reads.
pub const GET_RECORDS_SUCCESS: &str = "KinesisDataFetcher.getRecords.Success";
/// Histogram (ms): GetRecords / event wait time.
pub const GET_RECORDS_TIME: &str = "KinesisDataFetcher.getRecords.Time";
/// Gauge: leases this worker holds.
pub const CURRENT_LEASES: &str = "CurrentLeases";
/// Counter: leases this worker lost (renewal failed or timed out).
pub const LOST_LEASES: &str = "LostLeases";
/// Counter: leases this worker took.
pub const TAKEN_LEASES: &str = "TakenLeases";
/// Gauge: leases in the table.
pub const TOTAL_LEASES: &str = "TotalLeases";
/// Gauge: expired leases seen by the taker.
pub const EXPIRED_LEASES: &str = "ExpiredLeases";
/// Gauge: workers owning at least one unexpired lease (plus this one).
pub const NUM_WORKERS: &str = "NumWorkers";
/// Gauge: leases this worker needs to reach its target.
pub const NEEDED_LEASES: &str = "NeededLeases";
/// Gauge: leases over `max_leases_for_worker` that this worker will not take.
pub const LEASE_SPILLOVER: &str = "LeaseSpillover";
/// Gauge: leases chosen to steal in this pass.
pub const LEASES_TO_STEAL: &str = "LeasesToSteal";
/// Gauge: leases chosen but not taken (lost the race or failed).
pub const UNTAKEN_LEASES: &str = "UntakenLeases";
/// Counter: successful single-lease renewals.
pub const RENEW_LEASE_SUCCESS: &str = "RenewLease.Success";
/// Histogram (ms): single-lease renewal time.
pub const RENEW_LEASE_TIME: &str = "RenewLease.Time";
/// Counter: successful checkpoint writes.
pub const UPDATE_LEASE_SUCCESS: &str = "UpdateLease.Success";
/// Histogram (ms): checkpoint write time.
pub const UPDATE_LEASE_TIME: &str = "UpdateLease.Time";

/// Labels for one worker-level operation.
pub(crate) fn labels(operation: &'static str, worker: &str) -> [(&'static str, String); 2] {
    [
        (LABEL_OPERATION, operation.to_owned()),
        (LABEL_WORKER, worker.to_owned()),
    ]
}

/// Labels for one shard-level operation.
pub(crate) fn shard_labels(
    operation: &'static str,
    worker: &str,
    shard: &str,
) -> [(&'static str, String); 3] {
    [
        (LABEL_OPERATION, operation.to_owned()),
        (LABEL_WORKER, worker.to_owned()),
        (LABEL_SHARD_ID, shard.to_owned()),
    ]
}

/// Record `Time` and `Success` for one run of an operation.
pub(crate) fn record_operation<const N: usize>(
    labels: &[(&'static str, String); N],
    elapsed: Duration,
    ok: bool,
) {
    ::metrics::histogram!(TIME, labels).record(millis(elapsed));
    ::metrics::counter!(SUCCESS, labels).increment(u64::from(ok));
}

pub(crate) fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
