//! Immutable snapshots of a stream. Control-plane changes build a new snapshot and swap it in;
//! the data path takes an `Arc` of the current one and routes without holding any lock.
//!
//! A shard's mutable runtime state (its log, its write gate, its throughput buckets, its
//! metrics) lives in a [`ShardCore`] shared by every snapshot, so a new snapshot never loses
//! an append in flight.

use crate::limits::ShardBuckets;
use crate::meta::{ShardMeta, StreamMeta};
use crate::metrics::ShardMetrics;
use nagare_log::Log;
use nagare_types::{HashKey, HashKeyRange, SequenceNumber, ShardId, StreamTag};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Runtime state of one shard, shared across snapshots.
pub struct ShardCore {
    pub log: Log,
    /// Appenders hold it shared for the whole append (fsync included); closing the shard by a
    /// split or merge takes it exclusively, so once `sealed` is set and the gate released no
    /// append can land in the shard. Only control-plane resharding ever waits on it.
    gate: tokio::sync::RwLock<()>,
    sealed: AtomicBool,
    pub buckets: ShardBuckets,
    pub metrics: ShardMetrics,
}

impl ShardCore {
    pub fn new(log: Log, stream: &str, shard: ShardId) -> Arc<Self> {
        Arc::new(ShardCore {
            log,
            gate: tokio::sync::RwLock::new(()),
            sealed: AtomicBool::new(false),
            buckets: ShardBuckets::default(),
            metrics: ShardMetrics::new(stream, shard),
        })
    }

    /// Shared access for an append; `None` if the shard was sealed meanwhile (re-route).
    pub async fn enter(&self) -> Option<tokio::sync::RwLockReadGuard<'_, ()>> {
        let guard = self.gate.read().await;
        (!self.sealed.load(Ordering::Acquire)).then_some(guard)
    }

    /// Waits for appends in flight, then seals: no append enters afterwards.
    pub async fn seal(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        let guard = self.gate.write().await;
        self.sealed.store(true, Ordering::Release);
        guard
    }

    /// Undoes `seal` when the reshard that sealed it turned out invalid.
    pub fn unseal(&self) {
        self.sealed.store(false, Ordering::Release);
    }
}

/// One shard of a snapshot.
pub struct ShardView {
    pub id: ShardId,
    pub range: HashKeyRange,
    pub meta: ShardMeta,
    pub core: Arc<ShardCore>,
}

impl ShardView {
    pub fn is_open(&self) -> bool {
        self.meta.closed_ms.is_none()
    }

    pub fn log(&self) -> &Log {
        &self.core.log
    }
}

/// A stream at one moment.
pub struct StreamView {
    pub meta: StreamMeta,
    pub tag: StreamTag,
    /// Every retained shard, in ascending shard index (parents before children).
    pub shards: Vec<ShardView>,
    /// Positions in `shards` of the open shards, sorted by starting hash key. Invariant: their
    /// ranges partition the whole hash space without gaps or overlaps.
    open: Vec<usize>,
}

impl StreamView {
    /// Builds a snapshot. `cores` holds a core for every shard in `meta.shards`, by index;
    /// shards without a core are left out (callers always provide them).
    pub fn new(mut meta: StreamMeta, cores: &HashMap<u32, Arc<ShardCore>>) -> Self {
        meta.shards.sort_by_key(|s| s.index);
        let shards: Vec<ShardView> = meta
            .shards
            .iter()
            .filter_map(|m| {
                let core = cores.get(&m.index)?.clone();
                Some(ShardView {
                    id: ShardId(m.index),
                    range: HashKeyRange {
                        start: m.start_hash.parse().unwrap_or(HashKey::MIN),
                        end: m.end_hash.parse().unwrap_or(HashKey::MAX),
                    },
                    meta: m.clone(),
                    core,
                })
            })
            .collect();
        let mut open: Vec<usize> = (0..shards.len())
            .filter(|&i| shards.get(i).is_some_and(ShardView::is_open))
            .collect();
        open.sort_by_key(|&i| shards.get(i).map(|s| s.range.start));
        StreamView {
            tag: StreamTag::new(meta.tag),
            meta,
            shards,
            open,
        }
    }

    /// The cores of this snapshot by shard index, to build the next one.
    pub fn cores(&self) -> HashMap<u32, Arc<ShardCore>> {
        self.shards
            .iter()
            .map(|s| (s.id.0, s.core.clone()))
            .collect()
    }

    /// A snapshot with new metadata and the same shards.
    pub fn with_meta(&self, meta: StreamMeta) -> StreamView {
        StreamView::new(meta, &self.cores())
    }

    /// The open shard owning `key`. `None` only if the invariant on `open` is broken.
    pub fn route(&self, key: HashKey) -> Option<&ShardView> {
        let pos = self
            .open
            .partition_point(|&i| self.shards.get(i).is_some_and(|s| s.range.start <= key));
        let idx = *self.open.get(pos.checked_sub(1)?)?;
        self.shards.get(idx).filter(|s| s.range.contains(key))
    }

    /// Index into `shards` for a shard id.
    pub fn position(&self, id: ShardId) -> Option<usize> {
        self.shards.binary_search_by_key(&id, |s| s.id).ok()
    }

    pub fn shard(&self, id: ShardId) -> Option<&ShardView> {
        self.position(id).and_then(|p| self.shards.get(p))
    }

    pub fn open_shards(&self) -> impl Iterator<Item = &ShardView> {
        self.open.iter().filter_map(|&i| self.shards.get(i))
    }

    pub fn open_shard_count(&self) -> u32 {
        self.open.len() as u32
    }

    /// The next unused shard index (indices are never reused, even after retention).
    pub fn next_shard_index(&self) -> u32 {
        self.meta
            .next_shard_index
            .max(self.shards.iter().map(|s| s.id.0 + 1).max().unwrap_or(0))
    }

    pub fn starting_sequence(&self, shard: &ShardView) -> SequenceNumber {
        SequenceNumber::shard_start(self.tag, shard.id)
    }

    /// Present only for closed shards.
    pub fn ending_sequence(&self, shard: &ShardView) -> Option<SequenceNumber> {
        shard
            .meta
            .closed_ms
            .map(|_| SequenceNumber::shard_end(self.tag, shard.id))
    }

    /// Shards whose parent or adjacent parent is `id`.
    pub fn children_of(&self, id: ShardId) -> impl Iterator<Item = &ShardView> {
        self.shards
            .iter()
            .filter(move |s| s.meta.parent == Some(id.0) || s.meta.adjacent_parent == Some(id.0))
    }

    pub fn retention_ms(&self) -> i64 {
        i64::from(self.meta.retention_hours) * 3_600_000
    }
}
