//! Enhanced fan-out: RegisterStreamConsumer (when missing) and one SubscribeToShard stream per
//! shard, resubscribing from the last `ContinuationSequenceNumber` whenever a stream ends
//! (the service closes each after 5 minutes) or breaks.
//!
//! The shard ends with an event that has no continuation and lists `ChildShards`, or with
//! `ResourceNotFoundException` on subscribe (KCL treats that as shard end too).

use super::{Batch, ChildShardInfo, StartPosition, backoff};
use crate::config::FanOutConfig;
use crate::metrics as m;
use crate::worker::WorkerError;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::types::{ConsumerStatus, StartingPosition, SubscribeToShardEventStream};
use tokio::time::Instant;

/// The open subscription (its `event_stream` field is the receiver; the receiver type
/// itself is not nameable outside the SDK).
type Receiver = aws_sdk_kinesis::operation::subscribe_to_shard::SubscribeToShardOutput;

/// Find or register the stream consumer and wait until it is `ACTIVE`; returns its ARN.
pub(crate) async fn ensure_consumer(
    client: &Client,
    stream: &str,
    config: &FanOutConfig,
) -> Result<String, WorkerError> {
    let summary = client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await
        .map_err(|e| WorkerError::kinesis("DescribeStreamSummary", e))?;
    let stream_arn = summary
        .stream_description_summary()
        .map(|s| s.stream_arn().to_owned())
        .ok_or_else(|| WorkerError::Kinesis {
            operation: "DescribeStreamSummary",
            message: "no StreamDescriptionSummary".into(),
        })?;
    let mut registered = false;
    loop {
        let described = client
            .describe_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name(&config.consumer_name)
            .send()
            .await;
        match described {
            Ok(out) => {
                if let Some(d) = out.consumer_description() {
                    if *d.consumer_status() == ConsumerStatus::Active {
                        return Ok(d.consumer_arn().to_owned());
                    }
                }
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") && !registered => {
                match client
                    .register_stream_consumer()
                    .stream_arn(&stream_arn)
                    .consumer_name(&config.consumer_name)
                    .send()
                    .await
                {
                    Ok(_) => {
                        tracing::info!(consumer = %config.consumer_name, "registered stream consumer");
                    }
                    // Another worker registered it first.
                    Err(e) if e.code() == Some("ResourceInUseException") => {}
                    Err(e) => return Err(WorkerError::kinesis("RegisterStreamConsumer", e)),
                }
                registered = true;
                continue;
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(WorkerError::kinesis("DescribeStreamConsumer", e)),
        }
        tokio::time::sleep(config.describe_interval).await;
    }
}

pub(crate) struct FanOutFetcher {
    client: Client,
    consumer_arn: String,
    shard: String,
    worker: String,
    config: FanOutConfig,
    /// Where the next subscription starts: the initial position, then after the last
    /// continuation sequence number received.
    position: StartPosition,
    receiver: Option<Receiver>,
    failures: u32,
}

impl FanOutFetcher {
    pub fn new(
        client: Client,
        consumer_arn: String,
        shard: String,
        worker: String,
        config: FanOutConfig,
        position: StartPosition,
    ) -> Self {
        FanOutFetcher {
            client,
            consumer_arn,
            shard,
            worker,
            config,
            position,
            receiver: None,
            failures: 0,
        }
    }

    async fn pause_after_failure(&mut self) {
        let pause = backoff(self.failures).max(self.config.retry_backoff);
        tokio::time::sleep(pause).await;
        self.failures = self.failures.saturating_add(1);
    }

    fn starting_position(&self) -> Result<StartingPosition, aws_sdk_kinesis::error::BuildError> {
        StartingPosition::builder()
            .r#type(self.position.iterator_type())
            .set_sequence_number(self.position.sequence().map(str::to_owned))
            .set_timestamp(self.position.timestamp())
            .build()
    }

    /// The next non-empty batch, or the end of the shard.
    pub async fn next(&mut self) -> Batch {
        let labels = m::shard_labels(m::OP_PROCESS, &self.worker, &self.shard);
        loop {
            let receiver = match &mut self.receiver {
                Some(r) => r,
                None => {
                    let start = match self.starting_position() {
                        Ok(start) => start,
                        Err(e) => {
                            // Cannot happen: the one required field (type) is always set.
                            tracing::error!(shard = %self.shard, error = %e, "invalid starting position");
                            self.pause_after_failure().await;
                            continue;
                        }
                    };
                    let subscribed = self
                        .client
                        .subscribe_to_shard()
                        .consumer_arn(&self.consumer_arn)
                        .shard_id(&self.shard)
                        .starting_position(start)
                        .send()
                        .await;
                    match subscribed {
                        Ok(out) => self.receiver.insert(out),
                        Err(e) if e.code() == Some("ResourceNotFoundException") => {
                            tracing::info!(shard = %self.shard, "SubscribeToShard: shard not found; treating as shard end");
                            return Batch {
                                end: Some(Vec::new()),
                                ..Batch::default()
                            };
                        }
                        Err(e) => {
                            // ResourceInUse: the previous subscription (ours or a dead
                            // worker's) is younger than 5 s.
                            tracing::debug!(shard = %self.shard, error = %e, code = ?e.code(), "SubscribeToShard failed; retrying");
                            self.pause_after_failure().await;
                            continue;
                        }
                    }
                }
            };
            let started = Instant::now();
            let event = receiver.event_stream.recv().await;
            ::metrics::histogram!(m::GET_RECORDS_TIME, &labels)
                .record(m::millis(started.elapsed()));
            match event {
                Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(e))) => {
                    self.failures = 0;
                    ::metrics::counter!(m::GET_RECORDS_SUCCESS, &labels).increment(1);
                    ::metrics::gauge!(m::MILLIS_BEHIND_LATEST, &labels)
                        .set(e.millis_behind_latest as f64);
                    let end = if e.continuation_sequence_number.is_empty() {
                        Some(
                            e.child_shards()
                                .iter()
                                .map(ChildShardInfo::from_sdk)
                                .collect::<Vec<_>>(),
                        )
                    } else {
                        match e.continuation_sequence_number.parse() {
                            Ok(seq) => self.position = StartPosition::After(seq),
                            Err(err) => {
                                tracing::warn!(shard = %self.shard, error = %err, "invalid ContinuationSequenceNumber")
                            }
                        }
                        None
                    };
                    if end.is_some() {
                        self.receiver = None;
                    }
                    if e.records.is_empty() && end.is_none() {
                        continue;
                    }
                    return Batch {
                        records: e.records,
                        millis_behind_latest: Some(e.millis_behind_latest),
                        end,
                    };
                }
                Ok(Some(other)) => {
                    tracing::debug!(shard = %self.shard, event = ?other, "ignoring unknown event");
                }
                Ok(None) => {
                    // The service ended the subscription (lifetime over): resubscribe.
                    self.receiver = None;
                }
                Err(e) => {
                    ::metrics::counter!(m::GET_RECORDS_SUCCESS, &labels).increment(0);
                    self.receiver = None;
                    if e.code() == Some("ResourceNotFoundException") {
                        return Batch {
                            end: Some(Vec::new()),
                            ..Batch::default()
                        };
                    }
                    tracing::debug!(shard = %self.shard, error = %e, code = ?e.code(), "subscription broke; resubscribing");
                    self.pause_after_failure().await;
                }
            }
        }
    }
}
