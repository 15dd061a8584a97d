//! A Kinesis Data Streams producer in the manner of the KPL, on the official
//! `aws-sdk-kinesis` client, so it works against AWS as well as against Nagare.
//!
//! [`Producer::put`] takes a user record and returns a future of its [`PutOutcome`] (shard id,
//! sequence number, sub-sequence number). Behind it, one pipeline task:
//!
//! - predicts each record's shard from the stream's hash ranges (ListShards, paginated;
//!   refreshed when a record lands on another shard than predicted), when aggregating or
//!   rate limiting (without either a prediction would change nothing and is skipped);
//! - aggregates the records of one shard into one Kinesis record in the KPL format (spec §5,
//!   crate [`nagare_agg`]) up to `AggregationMaxSize`: outer partition key `a`, explicit hash
//!   key = the first user record's hash key; a lone record is sent as it is;
//! - batches Kinesis records into PutRecords of up to `CollectionMaxCount` entries and
//!   `CollectionMaxSize` bytes, sent when full or when a record has waited
//!   `RecordMaxBufferedTime`, with up to `MaxConnections` requests in flight;
//! - retries only the failed entries of a partial failure, after a jittered exponential
//!   backoff, until `RecordTtl`; aggregates that landed on an unexpected shard are re-sent;
//! - limits each shard's send rate to `RateLimit` % of the shard limit (1,000 records/s and
//!   1 MiB/s) so it does not provoke throttling;
//! - bounds buffered memory: `put` waits when `max_buffered_bytes` is reached;
//! - records the KPL's metrics (names in [`metrics`]) through the `metrics` facade.
//!
//! Layout: [`config`] (settings, KPL defaults), `producer` (the handle and its future),
//! `dispatcher` (the pipeline task), `limiter` (token buckets), `shard_map` (prediction),
//! `backend` (the PutRecords/ListShards calls over the SDK), [`error`], [`metrics`].
//!
//! De-aggregation for consumers lives in [`nagare_agg`], re-exported here as [`agg`].
//!
//! The example runs against an in-process Nagare server (the hidden lines start one on a free
//! port; the library itself knows nothing of the server and works the same against AWS):
//!
//! ```
//! use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
//! use nagare_producer::{Producer, ProducerConfig};
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
//! # let endpoint = format!("http://{}", server.addr);
//! let client = aws_sdk_kinesis::Client::from_conf(
//!     aws_sdk_kinesis::Config::builder()
//!         .behavior_version(BehaviorVersion::latest())
//!         .region(Region::new("us-east-1"))
//!         .endpoint_url(&endpoint)
//!         .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "example"))
//!         .build(),
//! );
//! client.create_stream().stream_name("my-stream").shard_count(2).send().await?;
//!
//! let producer = Producer::new(client, ProducerConfig::default());
//! let acks: Vec<_> = (0..1000)
//!     .map(|i| producer.put("my-stream", i.to_string(), format!("record {i}").into_bytes(), None))
//!     .collect();
//! for ack in acks {
//!     let outcome = ack.await?;
//!     assert!(outcome.shard_id.starts_with("shardId-"));
//!     assert!(!outcome.sequence_number.is_empty());
//! }
//! producer.shutdown().await;
//! # server.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod backend;
pub mod config;
mod dispatcher;
pub mod error;
mod limiter;
pub mod metrics;
mod producer;
mod shard_map;

pub use config::{ConfigError, ProducerConfig, ProducerConfigBuilder};
pub use error::{ErrorInfo, PutError};
pub use nagare_agg as agg;
pub use producer::{Producer, PutFuture, PutManyFuture, PutOutcome};

#[cfg(test)]
mod tests;
