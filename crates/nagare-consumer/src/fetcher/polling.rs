//! GetShardIterator + GetRecords.
//!
//! The shard ends when GetRecords answers without `NextShardIterator` (its `ChildShards` are
//! the children). An expired iterator is replaced by one `AFTER_SEQUENCE_NUMBER` of the last
//! record returned, so nothing is skipped or repeated.

use super::{Batch, ChildShardInfo, StartPosition, backoff};
use crate::config::PollingConfig;
use crate::metrics as m;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use tokio::time::Instant;

pub(crate) struct PollingFetcher {
    client: Client,
    stream: String,
    shard: String,
    worker: String,
    config: PollingConfig,
    /// Where a new iterator starts: the initial position, then after the last record seen.
    position: StartPosition,
    iterator: Option<String>,
    last_call: Option<Instant>,
    failures: u32,
}

impl PollingFetcher {
    pub fn new(
        client: Client,
        stream: String,
        shard: String,
        worker: String,
        config: PollingConfig,
        position: StartPosition,
    ) -> Self {
        PollingFetcher {
            client,
            stream,
            shard,
            worker,
            config,
            position,
            iterator: None,
            last_call: None,
            failures: 0,
        }
    }

    async fn pause_after_failure(&mut self) {
        tokio::time::sleep(backoff(self.failures)).await;
        self.failures = self.failures.saturating_add(1);
    }

    /// The next non-empty batch, or the end of the shard.
    pub async fn next(&mut self) -> Batch {
        let labels = m::shard_labels(m::OP_PROCESS, &self.worker, &self.shard);
        loop {
            if let Some(last) = self.last_call {
                tokio::time::sleep_until(last + self.config.min_time_between_calls).await;
            }
            let iterator = match &self.iterator {
                Some(it) => it.clone(),
                None => {
                    let out = self
                        .client
                        .get_shard_iterator()
                        .stream_name(&self.stream)
                        .shard_id(&self.shard)
                        .shard_iterator_type(self.position.iterator_type())
                        .set_starting_sequence_number(self.position.sequence().map(str::to_owned))
                        .set_timestamp(self.position.timestamp())
                        .send()
                        .await;
                    match out {
                        Ok(out) => match out.shard_iterator {
                            Some(it) => it,
                            None => {
                                tracing::warn!(shard = %self.shard, "GetShardIterator returned no iterator");
                                self.pause_after_failure().await;
                                continue;
                            }
                        },
                        Err(e) if e.code() == Some("ResourceNotFoundException") => {
                            // The shard is gone (expired after being closed): nothing more to read.
                            tracing::info!(shard = %self.shard, "shard not found; treating as shard end");
                            return Batch {
                                end: Some(Vec::new()),
                                ..Batch::default()
                            };
                        }
                        Err(e) => {
                            tracing::warn!(shard = %self.shard, error = %e, code = ?e.code(), "GetShardIterator failed");
                            self.pause_after_failure().await;
                            continue;
                        }
                    }
                }
            };
            let started = Instant::now();
            self.last_call = Some(started);
            let result = self
                .client
                .get_records()
                .shard_iterator(&iterator)
                .limit(self.config.max_records)
                .send()
                .await;
            ::metrics::histogram!(m::GET_RECORDS_TIME, &labels)
                .record(m::millis(started.elapsed()));
            let out = match result {
                Ok(out) => out,
                Err(e) => {
                    ::metrics::counter!(m::GET_RECORDS_SUCCESS, &labels).increment(0);
                    match e.code() {
                        Some("ExpiredIteratorException") => {
                            ::metrics::counter!(m::EXPIRED_ITERATOR, &labels).increment(1);
                            self.iterator = None;
                        }
                        Some("ResourceNotFoundException") => {
                            tracing::info!(shard = %self.shard, "shard not found; treating as shard end");
                            return Batch {
                                end: Some(Vec::new()),
                                ..Batch::default()
                            };
                        }
                        code => {
                            tracing::warn!(shard = %self.shard, error = %e, ?code, "GetRecords failed");
                            self.pause_after_failure().await;
                        }
                    }
                    continue;
                }
            };
            self.failures = 0;
            ::metrics::counter!(m::GET_RECORDS_SUCCESS, &labels).increment(1);
            if let Some(ms) = out.millis_behind_latest {
                ::metrics::gauge!(m::MILLIS_BEHIND_LATEST, &labels).set(ms as f64);
            }
            if let Some(last) = out.records.last() {
                match last.sequence_number.parse() {
                    Ok(seq) => self.position = StartPosition::After(seq),
                    Err(e) => {
                        tracing::warn!(shard = %self.shard, error = %e, "record with an invalid sequence number")
                    }
                }
            }
            self.iterator = out.next_shard_iterator.clone();
            let end = match &out.next_shard_iterator {
                Some(_) => None,
                None => Some(
                    out.child_shards()
                        .iter()
                        .map(ChildShardInfo::from_sdk)
                        .collect(),
                ),
            };
            if out.records.is_empty() && end.is_none() {
                tokio::time::sleep(self.config.idle_time_between_reads).await;
                continue;
            }
            return Batch {
                records: out.records,
                millis_behind_latest: out.millis_behind_latest,
                end,
            };
        }
    }
}
