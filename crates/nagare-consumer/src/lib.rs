//! A Kinesis consumer library in the manner of the KCL 2.x: workers share a stream's shards
//! through a lease table, checkpoint their progress, read parents before children, and
//! re-balance when workers come and go. It speaks only the public APIs (`aws-sdk-kinesis`,
//! `aws-sdk-dynamodb`), so it works against AWS as well as against Nagare.
//!
//! Layout:
//!
//! - [`Worker`] / [`WorkerBuilder`] / [`WorkerHandle`] (`worker`): the scheduler.
//! - [`RecordProcessor`] and its inputs (`processor`): the application's code, one per shard.
//! - [`Checkpointer`] (`checkpointer`): `(sequence, sub-sequence)` checkpoints.
//! - [`Lease`], [`LeaseStore`], [`InMemoryLeaseStore`], [`DynamoDbLeaseStore`] (`lease`): the
//!   lease table with KCL's schema and conditional writes (spec §6.1).
//! - `coordinator`: renewing held leases; `coordinator::taker`: KCL's take/steal algorithm.
//! - `shard_sync`: ListShards → leases (parents recorded), cleanup of finished leases.
//! - `fetcher`: GetRecords polling and SubscribeToShard (enhanced fan-out).
//! - `record`: [`UserRecord`] and the de-aggregation seam.
//! - [`metrics`]: KCL's metric names, emitted through the `metrics` facade.
//! - [`LeaseConfig`], [`PollingConfig`], [`FanOutConfig`], [`Retrieval`],
//!   [`InitialPosition`] (`config`): settings with KCL's defaults.
//!
//! Guarantees, given processors that checkpoint only what they have fully handled:
//! every record is delivered at least once per application; a record is delivered again
//! only after the worker that got it lost its lease before checkpointing it, and a
//! processor whose checkpoint succeeded knows no other worker will deliver those records
//! again (the checkpoint is a conditional write on the lease it holds). Records of one
//! shard arrive in order, and a child shard's records only after its parents were
//! checkpointed at `SHARD_END`, so per-partition-key order holds across resharding.
//!
//! ```
//! use nagare_consumer::{
//!     CheckpointError, InMemoryLeaseStore, ProcessRecordsInput, RecordProcessor, Worker,
//! };
//! use std::sync::Arc;
//!
//! struct Printer;
//!
//! impl RecordProcessor for Printer {
//!     async fn process_records(&mut self, input: ProcessRecordsInput) {
//!         for record in &input.records {
//!             println!("{}", String::from_utf8_lossy(&record.data));
//!         }
//!         match input.checkpointer.checkpoint().await {
//!             Ok(()) | Err(CheckpointError::LeaseLost) => {}
//!             Err(e) => eprintln!("checkpoint failed: {e}"),
//!         }
//!     }
//! }
//!
//! async fn consume(kinesis: aws_sdk_kinesis::Client) -> Result<(), nagare_consumer::WorkerError> {
//!     let leases = Arc::new(InMemoryLeaseStore::new()); // or DynamoDbLeaseStore for many processes
//!     Worker::builder(kinesis, "my-stream", leases, |_shard: &str| Printer)
//!         .build()
//!         .run()
//!         .await
//! }
//! ```

#![deny(missing_docs)]

mod checkpointer;
mod config;
mod coordinator;
mod fetcher;
mod lease;
pub mod metrics;
mod processor;
mod record;
mod sequence;
mod shard_consumer;
mod shard_sync;
mod worker;

pub use checkpointer::{CheckpointError, Checkpointer};
pub use config::{FanOutConfig, InitialPosition, LeaseConfig, PollingConfig, Retrieval};
pub use lease::{DynamoDbLeaseStore, InMemoryLeaseStore, Lease, LeaseError, LeaseStore};
pub use processor::{
    InitializationInput, LeaseLostInput, ProcessRecordsInput, RecordProcessor, ShardEndedInput,
    ShutdownRequestedInput,
};
pub use record::UserRecord;
pub use sequence::{ExtendedSequenceNumber, InvalidSequenceNumber, SequenceNumber};
pub use worker::{ProcessorFactory, Worker, WorkerBuilder, WorkerError, WorkerHandle};
