//! Reading one shard: GetRecords polling ([`polling`]) or a SubscribeToShard stream
//! ([`fanout`]). Both hand out batches of Kinesis records in order and report the shard's
//! end with its children.
//!
//! Both retry transient failures themselves (with a pause) and never return an empty batch,
//! so the shard consumer only sees records or the end. A fetcher is dropped, never resumed,
//! when its lease is lost or the worker stops, so cancelling `next()` is always safe.

pub(crate) mod fanout;
pub(crate) mod polling;

use crate::config::InitialPosition;
use crate::sequence::{ExtendedSequenceNumber, SequenceNumber};
use aws_sdk_kinesis::types::{ChildShard, ShardIteratorType};
use nagare_types::{HashKey, HashKeyRange};
use std::time::SystemTime;

/// Where reading (re)starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum StartPosition {
    TrimHorizon,
    Latest,
    AtTimestamp(SystemTime),
    At(SequenceNumber),
    After(SequenceNumber),
}

impl StartPosition {
    /// Resume from a checkpoint. A real checkpoint resumes *at* its record, because the
    /// record may be an aggregate whose later user records are not processed yet; the shard
    /// consumer drops what is at or before the checkpoint (spec §5). `None` for `SHARD_END`.
    pub fn from_checkpoint(cp: &ExtendedSequenceNumber, initial: InitialPosition) -> Option<Self> {
        Some(match cp {
            ExtendedSequenceNumber::TrimHorizon => StartPosition::TrimHorizon,
            ExtendedSequenceNumber::Latest => StartPosition::Latest,
            ExtendedSequenceNumber::AtTimestamp => match initial {
                InitialPosition::AtTimestamp(t) => StartPosition::AtTimestamp(t),
                // A table written by another configuration: the oldest data is the safe choice.
                _ => StartPosition::TrimHorizon,
            },
            ExtendedSequenceNumber::ShardEnd => return None,
            ExtendedSequenceNumber::Sequence { sequence, .. } => {
                StartPosition::At(sequence.clone())
            }
        })
    }

    pub fn iterator_type(&self) -> ShardIteratorType {
        match self {
            StartPosition::TrimHorizon => ShardIteratorType::TrimHorizon,
            StartPosition::Latest => ShardIteratorType::Latest,
            StartPosition::AtTimestamp(_) => ShardIteratorType::AtTimestamp,
            StartPosition::At(_) => ShardIteratorType::AtSequenceNumber,
            StartPosition::After(_) => ShardIteratorType::AfterSequenceNumber,
        }
    }

    pub fn sequence(&self) -> Option<&str> {
        match self {
            StartPosition::At(s) | StartPosition::After(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn timestamp(&self) -> Option<aws_sdk_kinesis::primitives::DateTime> {
        match self {
            StartPosition::AtTimestamp(t) => Some((*t).into()),
            _ => None,
        }
    }
}

/// A child shard as the end of its parent announced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChildShardInfo {
    pub shard_id: String,
    pub parents: Vec<String>,
    pub hash_key_range: Option<HashKeyRange>,
}

impl ChildShardInfo {
    pub fn from_sdk(c: &ChildShard) -> Self {
        let range = c.hash_key_range().and_then(|r| {
            Some(HashKeyRange {
                start: r.starting_hash_key().parse::<HashKey>().ok()?,
                end: r.ending_hash_key().parse::<HashKey>().ok()?,
            })
        });
        ChildShardInfo {
            shard_id: c.shard_id().to_owned(),
            parents: c.parent_shards().to_vec(),
            hash_key_range: range,
        }
    }
}

/// What one `next()` produced: records, the end of the shard, or both.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub records: Vec<aws_sdk_kinesis::types::Record>,
    pub millis_behind_latest: Option<i64>,
    /// `Some` once the shard is read to its end. The children may be empty when the service
    /// did not list them (the shard consumer then asks ListShards).
    pub end: Option<Vec<ChildShardInfo>>,
}

/// Either kind of fetcher. One per shard consumer, so boxing the larger one costs nothing.
pub(crate) enum Fetcher {
    Polling(polling::PollingFetcher),
    FanOut(Box<fanout::FanOutFetcher>),
}

impl Fetcher {
    pub async fn next(&mut self) -> Batch {
        match self {
            Fetcher::Polling(f) => f.next().await,
            Fetcher::FanOut(f) => f.next().await,
        }
    }
}

/// Pause before retrying after failure number `attempt` (0-based): 100 ms doubling to 5 s.
pub(crate) fn backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)).min(5_000))
}
