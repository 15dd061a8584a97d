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
//! The example reads a stream of an in-process Nagare server (the hidden lines start one on a
//! free port and put a record; the library itself knows nothing of the server and works the
//! same against AWS):
//!
//! ```
//! use nagare_consumer::{
//!     CheckpointError, InMemoryLeaseStore, ProcessRecordsInput, RecordProcessor, Worker,
//! };
//! use std::sync::Arc;
//! use tokio::sync::mpsc;
//!
//! struct Printer {
//!     seen: mpsc::UnboundedSender<Vec<u8>>,
//! }
//!
//! impl RecordProcessor for Printer {
//!     async fn process_records(&mut self, input: ProcessRecordsInput) {
//!         for record in &input.records {
//!             println!("{}", String::from_utf8_lossy(&record.data));
//!             let _ = self.seen.send(record.data.clone());
//!         }
//!         match input.checkpointer.checkpoint().await {
//!             Ok(()) | Err(CheckpointError::LeaseLost) => {}
//!             Err(e) => eprintln!("checkpoint failed: {e}"),
//!         }
//!     }
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let server = nagare_server::start(nagare_server::ServerConfig {
//! #     listen: "127.0.0.1:0".parse()?,
//! #     data_dir: dir.path().to_path_buf(),
//! #     engine: Default::default(),
//! #     retention_interval: std::time::Duration::from_secs(3600),
//! #     tls: None,
//! # })
//! # .await?;
//! # let kinesis = aws_sdk_kinesis::Client::from_conf(
//! #     aws_sdk_kinesis::Config::builder()
//! #         .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
//! #         .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
//! #         .endpoint_url(format!("http://{}", server.addr))
//! #         .credentials_provider(aws_sdk_kinesis::config::Credentials::new("AKID", "SECRET", None, None, "doc"))
//! #         .build(),
//! # );
//! # kinesis.create_stream().stream_name("my-stream").shard_count(1).send().await?;
//! # kinesis
//! #     .put_record()
//! #     .stream_name("my-stream")
//! #     .partition_key("k")
//! #     .data(aws_sdk_kinesis::primitives::Blob::new("hello"))
//! #     .send()
//! #     .await?;
//! // `kinesis`: an `aws_sdk_kinesis::Client`, here pointed at an in-process Nagare server.
//! let (tx, mut seen) = mpsc::unbounded_channel();
//! let leases = Arc::new(InMemoryLeaseStore::new()); // or DynamoDbLeaseStore for many processes
//! let worker = Worker::builder(kinesis, "my-stream", leases, move |_shard: &str| Printer {
//!     seen: tx.clone(),
//! })
//! .build();
//! let handle = worker.handle();
//! let running = tokio::spawn(worker.run());
//!
//! assert_eq!(seen.recv().await.as_deref(), Some(&b"hello"[..]));
//! handle.shutdown().await; // processors checkpoint, leases are released
//! running.await??;
//! # server.shutdown().await?;
//! # Ok(())
//! # }
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
