//! The data path: PutRecord(s), GetShardIterator, GetRecords.
//!
//! PutRecords routes every entry by hash key on an `Arc` snapshot (no lock held), groups the
//! entries by shard preserving input order, and appends each group as one log batch; the
//! groups' appends run concurrently, so a request costs one group commit per shard it touches.

use crate::error::{
    ExpiredIterator, GetRecordsError, GetShardIteratorError, InvalidArgument, PutRecordsError,
    ShardNotFound, StorageFailure, Throttled,
};
use crate::iterator::IteratorPosition;
use crate::limits::Rates;
use crate::meta::{StreamMode, StreamStatus};
use crate::metrics::Enhanced;
use crate::view::{ShardView, StreamView};
use crate::{Engine, Stream, clock::java_date};
use nagare_log::{AppendRecord, LogRecord, Offset};
use nagare_types::sequence::SequenceParts;
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
    /// The shard's write limit refused the record (`ProvisionedThroughputExceededException`).
    Throttled { message: String },
    /// The record was not stored; AWS reports this per entry as `InternalFailure`.
    Failed { message: String },
}

/// Which operation a put came from (their metrics differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOp {
    Record,
    Records,
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

/// The children of a closed shard as its end-of-shard answer lists them, each with all its
/// parents (GetRecords and SubscribeToShard).
pub(crate) fn child_shards(view: &StreamView, id: ShardId) -> Vec<ChildShardInfo> {
    view.children_of(id)
        .map(|c| ChildShardInfo {
            shard: c.id,
            parents: [c.meta.parent, c.meta.adjacent_parent]
                .into_iter()
                .flatten()
                .map(ShardId)
                .collect(),
            range: c.range,
        })
        .collect()
}

pub struct ChildShardInfo {
    pub shard: ShardId,
    pub parents: Vec<ShardId>,
    pub range: HashKeyRange,
}

impl Engine {
    /// PutRecords (and PutRecord with one entry). Whole-request failures are errors; per-entry
    /// failures (throttling, storage) are reported in the results.
    pub async fn put_records(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        op: PutOp,
        entries: &[PutEntry<'_>],
    ) -> Result<Vec<PutResult>, PutRecordsError> {
        let started = std::time::Instant::now();
        let stream = self.lookup(name, arn)?;
        let mut keys: Vec<HashKey> = Vec::with_capacity(entries.len());
        for e in entries {
            keys.push(match e.explicit_hash_key {
                Some(text) => text.parse::<HashKey>().map_err(|_| {
                    InvalidArgument(format!(
                        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
                    ))
                })?,
                None => hash_partition_key(e.partition_key),
            });
        }
        // A split or merge may seal a shard between routing and appending: then route again
        // on the new snapshot. Reshards are rare, so a few attempts always suffice.
        for _ in 0..16 {
            let view = stream.view();
            if view.meta.status == StreamStatus::Creating {
                return Err(self.not_found(&view.meta.name).into());
            }
            if let Some(results) = self.put_on(&stream, &view, op, entries, &keys).await? {
                let latency = started.elapsed().as_secs_f64() * 1000.0;
                match op {
                    PutOp::Record => stream.metrics.put_record_latency.record(latency),
                    PutOp::Records => stream.metrics.put_records_latency.record(latency),
                }
                return Ok(results);
            }
        }
        Err(StorageFailure("shards kept changing while routing records".into()).into())
    }

    /// One routing attempt on `view`; `None` if a target shard was sealed meanwhile.
    async fn put_on(
        &self,
        stream: &Stream,
        view: &StreamView,
        op: PutOp,
        entries: &[PutEntry<'_>],
        keys: &[HashKey],
    ) -> Result<Option<Vec<PutResult>>, PutRecordsError> {
        // Group entries by shard in ascending shard order, preserving input order within each
        // group (the sort is stable). Ascending shard order is also the order reshards seal
        // shards in, so appends entering the gates below never wait on a reshard in a cycle.
        let mut routed: Vec<(usize, usize)> = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            let shard = view
                .route(*key)
                .ok_or_else(|| StorageFailure(format!("no open shard owns hash key {key}")))?;
            routed.push((view.position(shard.id).unwrap_or(0), i));
        }
        routed.sort_by_key(|(pos, _)| *pos);
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (pos, i) in routed {
            match groups.last_mut() {
                Some((p, members)) if *p == pos => members.push(i),
                _ => groups.push((pos, vec![i])),
            }
        }
        let mut guards = Vec::with_capacity(groups.len());
        for (pos, _) in &groups {
            let Some(shard) = view.shards.get(*pos) else {
                return Ok(None);
            };
            match shard.core.enter().await {
                Some(g) => guards.push(g),
                None => return Ok(None),
            }
        }
        let now = self.now_ms();
        let limits = self.config().throughput_limits;
        let rates = match view.meta.mode {
            StreamMode::Provisioned => Rates::provisioned(),
            StreamMode::OnDemand => Rates::on_demand(),
        };
        let enhanced = Enhanced::from_names(&view.meta.shard_level_metrics);
        let mut admitted: Vec<bool> = Vec::with_capacity(entries.len());
        let mut batches: Vec<Vec<AppendRecord<'_>>> = Vec::with_capacity(groups.len());
        for (pos, members) in &groups {
            let shard = view.shards.get(*pos).map(|s| &s.core);
            let start = admitted.len();
            if limits {
                let sizes = members.iter().map(|&i| {
                    entries
                        .get(i)
                        .map_or(0, |e| e.data.len() + e.partition_key.len())
                });
                let refused = shard.map_or(0, |c| {
                    c.buckets.admit_writes(now, rates, sizes, &mut admitted)
                });
                if refused > 0 {
                    stream.metrics.write_throttled.increment(refused as u64);
                    if let Some(c) = shard {
                        c.metrics.write_throttled(enhanced, refused as u64);
                    }
                }
            } else {
                admitted.extend(std::iter::repeat_n(true, members.len()));
            }
            let ok = admitted.get(start..).unwrap_or_default();
            batches.push(
                members
                    .iter()
                    .zip(ok)
                    .filter(|(_, ok)| **ok)
                    .filter_map(|(&i, _)| entries.get(i))
                    .map(|e| AppendRecord {
                        key: e.partition_key.as_bytes(),
                        value: e.data,
                    })
                    .collect(),
            );
        }
        let appends = groups.iter().zip(&batches).map(|((pos, _), batch)| {
            let log = view.shards.get(*pos).map(|s| s.log().clone());
            async move {
                match log {
                    Some(_) if batch.is_empty() => Ok(None),
                    Some(log) => log
                        .append(now, batch)
                        .await
                        .map(Some)
                        .map_err(|e| e.to_string()),
                    None => Err("shard vanished".to_owned()),
                }
            }
        });
        let acks = futures::future::join_all(appends).await;
        drop(guards);

        let mut results = vec![
            PutResult::Failed {
                message: String::new()
            };
            entries.len()
        ];
        let (mut stored, mut throttled, mut failed, mut bytes) = (0u64, 0u64, 0u64, 0u64);
        let mut cursor = 0;
        for ((pos, members), ack) in groups.iter().zip(&acks) {
            let Some(shard) = view.shards.get(*pos) else {
                continue;
            };
            let (mut next, mut shard_records, mut shard_bytes) = (0u64, 0u64, 0u64);
            for &i in members {
                let ok = admitted.get(cursor).copied().unwrap_or(false);
                cursor += 1;
                let size = entries
                    .get(i)
                    .map_or(0, |e| (e.data.len() + e.partition_key.len()) as u64);
                let result = match (ok, ack) {
                    (false, _) => {
                        throttled += 1;
                        PutResult::Throttled {
                            message: format!(
                                "Rate exceeded for shard {} in stream {} under account {}.",
                                shard.id,
                                view.meta.name,
                                self.account()
                            ),
                        }
                    }
                    (true, Ok(Some(a))) => {
                        let sequence =
                            SequenceNumber::of_record(view.tag, shard.id, a.first.0 + next);
                        next += 1;
                        shard_records += 1;
                        shard_bytes += size;
                        PutResult::Stored {
                            shard: shard.id,
                            sequence,
                        }
                    }
                    (true, Ok(None) | Err(_)) => {
                        if let Err(e) = ack {
                            tracing::error!(shard = %shard.id, error = %e, "append failed");
                        }
                        failed += 1;
                        PutResult::Failed {
                            message: "Internal service failure.".to_owned(),
                        }
                    }
                };
                if let Some(slot) = results.get_mut(i) {
                    *slot = result;
                }
            }
            shard
                .core
                .metrics
                .incoming(enhanced, shard_records, shard_bytes);
            stored += shard_records;
            bytes += shard_bytes;
        }
        let m = &stream.metrics;
        m.incoming_records.increment(stored);
        m.incoming_bytes.increment(bytes);
        match op {
            PutOp::Record => {
                m.put_record_bytes.increment(bytes);
                m.put_record_success.increment(u64::from(stored > 0));
            }
            PutOp::Records => {
                m.put_records_bytes.increment(bytes);
                m.put_records_success.increment(u64::from(stored > 0));
                m.put_records_total_records.increment(entries.len() as u64);
                m.put_records_successful_records.increment(stored);
                m.put_records_failed_records.increment(throttled + failed);
                m.put_records_throttled_records.increment(throttled);
            }
        }
        Ok(Some(results))
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
        let scope = format!("{name}/{}", shard.id);
        if !self.admit_control("GetShardIterator", &scope, 5.0) {
            return Err(Throttled(format!(
                "Rate exceeded for shard {} in stream {name} under account {}.",
                shard.id,
                self.account()
            ))
            .into());
        }
        let offset = self.start_offset(&view, shard, start, now)?;
        Ok(self.inner.iterators.encode(&IteratorPosition {
            stream: name.to_owned(),
            tag: view.tag,
            shard: id,
            offset,
            issued_ms: now,
        }))
    }

    /// The log offset a reader starting at `start` reads first (GetShardIterator,
    /// SubscribeToShard).
    pub(crate) fn start_offset(
        &self,
        view: &StreamView,
        shard: &ShardView,
        start: IteratorStart<'_>,
        now: i64,
    ) -> Result<u64, InvalidArgument> {
        Ok(match start {
            IteratorStart::TrimHorizon => shard.log().start().0,
            IteratorStart::Latest => shard.log().end().0,
            IteratorStart::AtTimestamp(t) => {
                if t > now {
                    return Err(InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {t}, currentTimestampInMillis: {now}"
                    )));
                }
                shard.log().offset_at_or_after(t).0
            }
            IteratorStart::AtSequence(s) => {
                SequenceNumber::at_offset(self.sequence_parts(view, shard, s)?)
            }
            IteratorStart::AfterSequence(s) => {
                SequenceNumber::after_offset(self.sequence_parts(view, shard, s)?)
            }
        })
    }

    fn sequence_parts(
        &self,
        view: &StreamView,
        shard: &ShardView,
        seq: &str,
    ) -> Result<SequenceParts, InvalidArgument> {
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
        Ok(parts)
    }

    /// GetRecords with DryRun: everything but the read (iterator, expiry, stream and shard).
    pub fn verify_iterator(&self, iterator: &str) -> Result<(), GetRecordsError> {
        let pos = self
            .inner
            .iterators
            .decode(iterator)
            .ok_or_else(|| InvalidArgument("Invalid ShardIterator.".into()))?;
        let missing = || ShardNotFound {
            shard: pos.shard.to_string(),
            stream: pos.stream.clone(),
            account: self.account().to_owned(),
        };
        let view = self.stream(&pos.stream).map_err(|_| missing())?.view();
        if view.tag != pos.tag || view.shard(pos.shard).is_none() {
            return Err(missing().into());
        }
        Ok(())
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
        let started = std::time::Instant::now();
        let stream = self.stream(&pos.stream).map_err(|_| missing())?;
        let view = stream.view();
        if view.tag != pos.tag {
            return Err(missing().into());
        }
        let shard = view.shard(pos.shard).ok_or_else(missing)?;
        let enhanced = Enhanced::from_names(&view.meta.shard_level_metrics);
        if self.config().throughput_limits && !shard.core.buckets.admit_read(now) {
            stream.metrics.read_throttled.increment(1);
            shard.core.metrics.read_throttled(enhanced);
            return Err(Throttled(format!(
                "Rate exceeded for shard {} in stream {} under account {}.",
                shard.id,
                view.meta.name,
                self.account()
            ))
            .into());
        }
        let cutoff = now - view.retention_ms();
        let limit = limit.map_or(caps::MAX_GET_RECORDS_LIMIT, |l| l as usize);
        let read = |from: Offset| {
            shard
                .log()
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
            batch = read(
                shard
                    .log()
                    .offset_at_or_after(cutoff)
                    .max(Offset(pos.offset)),
            )?;
        }
        let end = shard.log().end();
        let millis_behind_latest = match (batch.records.last(), shard.log().last_timestamp_ms()) {
            (Some(last), Some(tip)) if batch.next < end => (tip - last.timestamp_ms).max(0),
            _ => 0,
        };
        let finished = !shard.is_open() && batch.next >= end;
        let (next_iterator, children) = if finished {
            (None, Some(child_shards(&view, shard.id)))
        } else {
            let next = IteratorPosition {
                offset: batch.next.0,
                issued_ms: now,
                ..pos
            };
            (Some(self.inner.iterators.encode(&next)), None)
        };
        let records = batch.records;
        let bytes: usize = records.iter().map(|r| r.value.len() + r.key.len()).sum();
        if self.config().throughput_limits {
            shard.core.buckets.charge_read(bytes);
        }
        let age = records.last().map_or(0, |r| (now - r.timestamp_ms).max(0));
        let m = &stream.metrics;
        m.get_records_success.increment(1);
        m.get_records_records.increment(records.len() as u64);
        m.get_records_bytes.increment(bytes as u64);
        m.get_records_iterator_age.set(age as f64);
        m.get_records_latency
            .record(started.elapsed().as_secs_f64() * 1000.0);
        shard
            .core
            .metrics
            .outgoing(enhanced, records.len() as u64, bytes as u64, age);
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

/// What a put needs to know about its stream before validating records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutSettings {
    /// Largest `Data` blob the stream accepts (`MaxRecordSizeInKiB`).
    pub max_data_bytes: usize,
    /// Server-side encryption is on: results say `EncryptionType: KMS`.
    pub encrypted: bool,
}

impl Engine {
    /// The stream's put settings; AWS's defaults when the stream does not exist (the put
    /// itself then reports that).
    pub fn put_settings(&self, name: Option<&str>, arn: Option<&str>) -> PutSettings {
        match self.lookup(name, arn) {
            Ok(s) => {
                let v = s.view();
                PutSettings {
                    max_data_bytes: v.meta.max_record_kib as usize * 1024,
                    encrypted: v.meta.encryption_key.is_some(),
                }
            }
            Err(_) => PutSettings {
                max_data_bytes: caps::DEFAULT_MAX_RECORD_BYTES,
                encrypted: false,
            },
        }
    }
}
