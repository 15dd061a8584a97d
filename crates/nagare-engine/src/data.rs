//! The data path: PutRecord(s), GetShardIterator, GetRecords.
//!
//! PutRecords routes every entry by hash key on an `Arc` snapshot (no lock held), groups the
//! entries by shard preserving input order, and appends each group as one log batch; the
//! groups' appends run concurrently, so a request costs one group commit per shard it touches.

use crate::error::{
    ExpiredIterator, GetRecordsError, GetShardIteratorError, InvalidArgument, PutRecordsError,
    ShardNotFound, StorageFailure,
};
use crate::iterator::IteratorPosition;
use crate::meta::StreamStatus;
use crate::view::{ShardView, StreamView};
use crate::{Engine, clock::java_date};
use nagare_log::{AppendRecord, LogRecord, Offset};
use nagare_types::{HashKey, HashKeyRange, SequenceNumber, ShardId, caps, hash_partition_key};
use std::sync::Arc;

/// One record to put, borrowing the request's bytes.
pub struct PutEntry<'a> {
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<&'a str>,
    pub data: &'a [u8],
}

/// The outcome of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutResult {
    Stored {
        shard: ShardId,
        sequence: SequenceNumber,
    },
    /// The record was not stored; AWS reports this per entry as `InternalFailure`.
    Failed { message: String },
}

/// Where a new iterator starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IteratorStart<'a> {
    AtSequence(&'a str),
    AfterSequence(&'a str),
    TrimHorizon,
    Latest,
    AtTimestamp(i64),
}

/// A GetRecords answer. `records` share one read buffer.
pub struct RecordsPage {
    pub view: Arc<StreamView>,
    pub shard: ShardId,
    pub records: Vec<LogRecord>,
    /// Absent exactly when the shard is closed and fully read (then `children` is present).
    pub next_iterator: Option<String>,
    pub millis_behind_latest: i64,
    pub children: Option<Vec<ChildShardInfo>>,
}

pub struct ChildShardInfo {
    pub shard: ShardId,
    pub parents: Vec<ShardId>,
    pub range: HashKeyRange,
}

impl Engine {
    /// PutRecords (and PutRecord with one entry). Whole-request failures are errors; per-entry
    /// failures are `PutResult::Failed`.
    pub async fn put_records(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        entries: &[PutEntry<'_>],
    ) -> Result<Vec<PutResult>, PutRecordsError> {
        let stream = self.lookup(name, arn)?;
        let view = stream.view();
        if view.meta.status == StreamStatus::Creating {
            return Err(self.not_found(&view.meta.name).into());
        }
        // Route: the position in `view.shards` of every entry.
        let mut routes: Vec<usize> = Vec::with_capacity(entries.len());
        for e in entries {
            let key = match e.explicit_hash_key {
                Some(text) => text.parse::<HashKey>().map_err(|_| {
                    InvalidArgument(format!(
                        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
                    ))
                })?,
                None => hash_partition_key(e.partition_key),
            };
            let shard = view
                .route(key)
                .ok_or_else(|| StorageFailure(format!("no open shard owns hash key {key}")))?;
            routes.push(view.position(shard.id).unwrap_or(0));
        }
        // Group by shard, preserving input order within each group.
        let mut groups: Vec<(usize, Vec<AppendRecord<'_>>)> = Vec::new();
        let mut slot: Vec<(usize, u32)> = Vec::with_capacity(entries.len());
        for (e, &pos) in entries.iter().zip(&routes) {
            let g = match groups.iter().position(|(p, _)| *p == pos) {
                Some(g) => g,
                None => {
                    groups.push((pos, Vec::new()));
                    groups.len() - 1
                }
            };
            let group = &mut groups[g].1;
            slot.push((g, group.len() as u32));
            group.push(AppendRecord {
                key: e.partition_key.as_bytes(),
                value: e.data,
            });
        }
        let now = self.now_ms();
        let appends = groups.iter().map(|(pos, recs)| {
            let log = view.shards.get(*pos).map(|s| s.log.clone());
            async move {
                match log {
                    Some(log) => log.append(now, recs).await.map_err(|e| e.to_string()),
                    None => Err("shard vanished".to_owned()),
                }
            }
        });
        let acks = futures::future::join_all(appends).await;
        let results = slot
            .iter()
            .map(|&(g, i)| {
                let (pos, _) = &groups[g];
                let shard = view.shards.get(*pos).map_or(ShardId(0), |s| s.id);
                match &acks[g] {
                    Ok(ack) => PutResult::Stored {
                        shard,
                        sequence: SequenceNumber::new(view.tag, shard, ack.first.0 + u64::from(i)),
                    },
                    Err(e) => {
                        tracing::error!(shard = %shard, error = %e, "append failed");
                        PutResult::Failed {
                            message: "Internal service failure.".to_owned(),
                        }
                    }
                }
            })
            .collect();
        metrics::counter!("nagare_records_put_total").increment(entries.len() as u64);
        Ok(results)
    }

    /// Validates `SequenceNumberForOrdering`: it must be a number this stream issued.
    /// Every new record's number exceeds it, since offsets and shard indices only grow.
    pub fn check_ordering_sequence(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        seq: &str,
    ) -> Result<(), PutRecordsError> {
        let stream = self.lookup(name, arn)?;
        let view = stream.view();
        let ok = seq
            .parse::<SequenceNumber>()
            .ok()
            .and_then(|s| s.parts())
            .is_some_and(|p| p.tag == view.tag && view.shard(p.shard).is_some());
        if ok {
            return Ok(());
        }
        Err(InvalidArgument(format!(
            "ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {} under account {} is invalid.",
            view.meta.name,
            self.account()
        ))
        .into())
    }

    pub fn get_shard_iterator(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        shard_id: &str,
        start: IteratorStart<'_>,
    ) -> Result<String, GetShardIteratorError> {
        let account = self.account().to_owned();
        let shard_missing = |stream: &str| ShardNotFound {
            shard: shard_id.to_owned(),
            stream: stream.to_owned(),
            account: account.clone(),
        };
        let name = match self.resolve_name(name, arn) {
            Ok(n) => n,
            Err(crate::SelectorError::Invalid(e)) => return Err(e.into()),
            Err(crate::SelectorError::NotFound(e)) => return Err(shard_missing(&e.stream).into()),
        };
        let stream = self.stream(name).map_err(|_| shard_missing(name))?;
        let view = stream.view();
        if view.meta.status == StreamStatus::Creating {
            return Err(shard_missing(name).into());
        }
        let id = shard_id
            .parse::<ShardId>()
            .map_err(|_| shard_missing(name))?;
        let shard = view.shard(id).ok_or_else(|| shard_missing(name))?;
        let now = self.now_ms();
        let offset = match start {
            IteratorStart::TrimHorizon => shard.log.start().0,
            IteratorStart::Latest => shard.log.end().0,
            IteratorStart::AtTimestamp(t) => {
                if t > now {
                    return Err(InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {t}, currentTimestampInMillis: {now}"
                    ))
                    .into());
                }
                shard.log.offset_at_or_after(t).0
            }
            IteratorStart::AtSequence(s) => self.sequence_offset(&view, shard, s)?,
            IteratorStart::AfterSequence(s) => {
                self.sequence_offset(&view, shard, s)?.saturating_add(1)
            }
        };
        Ok(self.inner.iterators.encode(&IteratorPosition {
            stream: name.to_owned(),
            tag: view.tag,
            shard: id,
            offset,
            issued_ms: now,
        }))
    }

    fn sequence_offset(
        &self,
        view: &StreamView,
        shard: &ShardView,
        seq: &str,
    ) -> Result<u64, InvalidArgument> {
        let name = &view.meta.name;
        let account = self.account();
        let invalid = || {
            InvalidArgument(format!(
                "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {name} under account {account} is invalid.",
                shard.id
            ))
        };
        let parts = seq
            .parse::<SequenceNumber>()
            .ok()
            .and_then(|s| s.parts())
            .ok_or_else(invalid)?;
        if parts.tag != view.tag {
            return Err(InvalidArgument(format!(
                "StartingSequenceNumber {seq} used in GetShardIterator on shard {} in stream {name} under account {account} is invalid because it did not come from this stream.",
                shard.id
            )));
        }
        if parts.shard != shard.id {
            return Err(InvalidArgument(format!(
                "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {}",
                parts.shard, shard.id
            )));
        }
        Ok(parts.offset)
    }

    pub fn get_records(
        &self,
        iterator: &str,
        limit: Option<u32>,
    ) -> Result<RecordsPage, GetRecordsError> {
        let pos = self
            .inner
            .iterators
            .decode(iterator)
            .ok_or_else(|| InvalidArgument("Invalid ShardIterator.".into()))?;
        let now = self.now_ms();
        if now - pos.issued_ms > caps::SHARD_ITERATOR_TTL_MS {
            return Err(ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {} milliseconds.",
                java_date(pos.issued_ms),
                java_date(now),
                caps::SHARD_ITERATOR_TTL_MS
            ))
            .into());
        }
        let missing = || ShardNotFound {
            shard: pos.shard.to_string(),
            stream: pos.stream.clone(),
            account: self.account().to_owned(),
        };
        let view = self.stream(&pos.stream).map_err(|_| missing())?.view();
        if view.tag != pos.tag {
            return Err(missing().into());
        }
        let shard = view.shard(pos.shard).ok_or_else(missing)?;
        let cutoff = now - view.retention_ms();
        let limit = limit.map_or(caps::MAX_GET_RECORDS_LIMIT, |l| l as usize);
        let read = |from: Offset| {
            shard
                .log
                .read(from, limit, caps::MAX_GET_RECORDS_BYTES)
                .map_err(|e| StorageFailure(format!("read failed: {e}")))
        };
        let mut batch = read(Offset(pos.offset))?;
        // Records past retention are never served, even before their segment is deleted:
        // only when the batch starts with an expired record do we seek by time and re-read.
        if batch
            .records
            .first()
            .is_some_and(|r| r.timestamp_ms < cutoff)
        {
            batch = read(shard.log.offset_at_or_after(cutoff).max(Offset(pos.offset)))?;
        }
        let end = shard.log.end();
        let millis_behind_latest = match (batch.records.last(), shard.log.last_timestamp_ms()) {
            (Some(last), Some(tip)) if batch.next < end => (tip - last.timestamp_ms).max(0),
            _ => 0,
        };
        let finished = !shard.is_open() && batch.next >= end;
        let (next_iterator, children) = if finished {
            let children = view
                .children_of(shard.id)
                .map(|c| ChildShardInfo {
                    shard: c.id,
                    parents: [c.meta.parent, c.meta.adjacent_parent]
                        .into_iter()
                        .flatten()
                        .map(ShardId)
                        .collect(),
                    range: c.range,
                })
                .collect();
            (None, Some(children))
        } else {
            let next = IteratorPosition {
                offset: batch.next.0,
                issued_ms: now,
                ..pos
            };
            (Some(self.inner.iterators.encode(&next)), None)
        };
        let records = batch.records;
        metrics::counter!("nagare_records_read_total").increment(records.len() as u64);
        Ok(RecordsPage {
            shard: shard.id,
            view: view.clone(),
            records,
            next_iterator,
            millis_behind_latest,
            children,
        })
    }
}
