//! Immutable snapshots of a stream. Control-plane changes build a new snapshot and swap it in;
//! the data path takes an `Arc` of the current one and routes without holding any lock.

use crate::meta::{ShardMeta, StreamMeta};
use nagare_log::Log;
use nagare_types::{HashKey, HashKeyRange, SequenceNumber, ShardId, StreamTag};

/// One shard of a snapshot.
pub struct ShardView {
    pub id: ShardId,
    pub range: HashKeyRange,
    pub meta: ShardMeta,
    pub log: Log,
}

impl ShardView {
    pub fn is_open(&self) -> bool {
        self.meta.closed_ms.is_none()
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
    /// Builds a snapshot; `logs` are in the order of `meta.shards`.
    pub fn new(mut meta: StreamMeta, logs: Vec<Log>) -> Self {
        let mut pairs: Vec<(ShardMeta, Log)> = meta.shards.drain(..).zip(logs).collect();
        pairs.sort_by_key(|(s, _)| s.index);
        let shards: Vec<ShardView> = pairs
            .into_iter()
            .map(|(m, log)| {
                meta.shards.push(m.clone());
                ShardView {
                    id: ShardId(m.index),
                    range: HashKeyRange {
                        start: m.start_hash.parse().unwrap_or(HashKey::MIN),
                        end: m.end_hash.parse().unwrap_or(HashKey::MAX),
                    },
                    meta: m,
                    log,
                }
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
