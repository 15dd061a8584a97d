//! Per-stream state: the shard map, each shard's open aggregate and ready queue, the
//! unpredicted queue and the retry heap; routing a user record into them.

use super::AGGREGATE_PARTITION_KEY;
use super::record::{KinesisRecord, Pending, Users};
use crate::config::ProducerConfig;
use crate::limiter::Limiter;
use crate::shard_map::ShardMap;
use nagare_agg::AggregateBuilder;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use tokio::time::Instant;

pub(super) struct ShardState {
    pub(super) id: Arc<str>,
    /// The open aggregate: its encoding and its user records.
    pub(super) builder: AggregateBuilder,
    pub(super) open: Vec<Pending>,
    pub(super) open_deadline: Instant,
    pub(super) ready: VecDeque<KinesisRecord>,
    pub(super) limiter: Option<Limiter>,
    /// Out of rate tokens until then.
    pub(super) blocked_until: Option<Instant>,
}

impl ShardState {
    pub(super) fn new(id: Arc<str>, config: &ProducerConfig, now: Instant) -> Self {
        ShardState {
            id,
            builder: AggregateBuilder::new(),
            open: Vec::new(),
            open_deadline: now,
            ready: VecDeque::new(),
            limiter: config.rate_limit.map(|p| Limiter::new(p, now)),
            blocked_until: None,
        }
    }

    /// Close the open aggregate into a Kinesis record (raw if it holds one user record).
    pub(super) fn seal(&mut self) -> Option<KinesisRecord> {
        if self.open.len() <= 1 {
            self.builder.clear();
            let record = self.open.pop()?;
            return Some(KinesisRecord::raw(
                record,
                Some(Arc::clone(&self.id)),
                self.open_deadline,
            ));
        }
        // The next aggregate likely holds as many records as this one.
        let n = self.open.len();
        let records = std::mem::replace(&mut self.open, Vec::with_capacity(n));
        // Encoded by the request's task (see `KinesisRecord::aggregate`).
        // A fresh builder rather than a pool of cleared ones: reusing builders (cleared by
        // the request tasks on other threads) measured no faster.
        let builder = Box::new(std::mem::take(&mut self.builder));
        Some(KinesisRecord {
            size: builder.encoded_len() + AGGREGATE_PARTITION_KEY.len(),
            aggregate: Some(builder),
            users: Users::Many(records),
            predicted: Some(Arc::clone(&self.id)),
            deadline: self.open_deadline,
        })
    }
}

/// A record waiting out its backoff; the heap pops the earliest.
pub(super) struct Retry {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) record: Pending,
}

impl PartialEq for Retry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Retry {}
impl PartialOrd for Retry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Retry {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

pub(super) struct StreamState {
    pub(super) name: Arc<str>,
    pub(super) map: ShardMap,
    /// A ListShards answer has arrived at least once.
    pub(super) loaded: bool,
    pub(super) shards: Vec<ShardState>,
    /// Raw records with no predicted shard (map not loaded, or a gap in it).
    pub(super) unpredicted: VecDeque<KinesisRecord>,
    pub(super) unpredicted_bytes: usize,
    pub(super) ready_count: usize,
    pub(super) ready_bytes: usize,
    pub(super) retries: BinaryHeap<Retry>,
    /// Records of aggregates that landed on an unexpected shard, resent once the shard map
    /// has been reloaded (routing them by the stale map would repeat the mistake).
    pub(super) awaiting_map: Vec<Pending>,
    pub(super) map_loading: bool,
    pub(super) map_wanted: bool,
    pub(super) map_not_before: Instant,
    /// Round-robin start among shards when filling a request.
    pub(super) cursor: usize,
    pub(super) received: u64,
    pub(super) outstanding: usize,
    pub(super) reported_pending: Option<usize>,
}

impl StreamState {
    pub(super) fn new(name: Arc<str>, config: &ProducerConfig, now: Instant) -> Self {
        StreamState {
            name,
            map: ShardMap::default(),
            loaded: false,
            shards: Vec::new(),
            unpredicted: VecDeque::new(),
            unpredicted_bytes: 0,
            ready_count: 0,
            ready_bytes: 0,
            retries: BinaryHeap::new(),
            awaiting_map: Vec::new(),
            map_loading: false,
            map_wanted: config.predicts_shards(),
            map_not_before: now,
            cursor: 0,
            received: 0,
            outstanding: 0,
            reported_pending: None,
        }
    }

    pub(super) fn push_ready(&mut self, shard: usize, kr: KinesisRecord) {
        self.ready_count += 1;
        self.ready_bytes += kr.size;
        if let Some(s) = self.shards.get_mut(shard) {
            s.ready.push_back(kr);
        }
    }

    pub(super) fn push_unpredicted(&mut self, kr: KinesisRecord) {
        self.unpredicted_bytes += kr.size;
        self.unpredicted.push_back(kr);
    }

    /// While the first ListShards is outstanding, unpredicted records wait for it (until
    /// their linger deadline) so they can still be aggregated.
    pub(super) fn holding_unpredicted(&self) -> bool {
        !self.loaded && self.map_loading
    }

    /// Route one user record: into its predicted shard's aggregate (or ready queue when
    /// aggregation is off), or to the unpredicted queue.
    pub(super) fn add(&mut self, config: &ProducerConfig, record: Pending, now: Instant) {
        let deadline = if record.attempts == 0 {
            record.arrived + config.record_max_buffered_time
        } else {
            now
        };
        if !config.predicts_shards() {
            self.push_unpredicted(KinesisRecord::raw(record, None, deadline));
            return;
        }
        let Some(i) = self.map.predict(record.hash_key) else {
            self.push_unpredicted(KinesisRecord::raw(record, None, deadline));
            return;
        };
        let Some(shard) = self.shards.get_mut(i) else {
            self.push_unpredicted(KinesisRecord::raw(record, None, deadline));
            return;
        };
        if !config.aggregation_enabled {
            let kr = KinesisRecord::raw(record, Some(Arc::clone(&shard.id)), deadline);
            self.push_ready(i, kr);
            return;
        }
        let ehk = record.explicit_hash_key();
        let max_size = config.aggregation_max_size;
        let mut sealed = None;
        if shard.open.len() >= config.aggregation_max_count {
            sealed = shard.seal();
        }
        let try_push = |b: &mut AggregateBuilder| {
            b.try_push(
                &record.partition_key,
                ehk.as_deref(),
                &record.data,
                max_size,
            )
        };
        let mut pushed = try_push(&mut shard.builder);
        if !pushed && !shard.open.is_empty() {
            // Full: close it and start the next aggregate with this record.
            sealed = shard.seal();
            pushed = try_push(&mut shard.builder);
        }
        let result = if pushed {
            if shard.open.is_empty() || deadline < shard.open_deadline {
                shard.open_deadline = deadline;
            }
            shard.open.push(record);
            None
        } else {
            // Too large to share an aggregate with anything: it goes alone.
            Some(KinesisRecord::raw(
                record,
                Some(Arc::clone(&shard.id)),
                deadline,
            ))
        };
        if let Some(kr) = sealed {
            self.push_ready(i, kr);
        }
        if let Some(kr) = result {
            self.push_ready(i, kr);
        }
    }

    /// Earliest instant something ready wants to go: a due deadline, or the end of a rate
    /// block. `None` when nothing is ready.
    pub(super) fn next_send(&self, now: Instant) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Instant| t = Some(t.map_or(x, |t| t.min(x)));
        for s in &self.shards {
            if let Some(front) = s.ready.front() {
                match s.blocked_until {
                    Some(b) if b > now => consider(b),
                    _ => consider(front.deadline),
                }
            }
        }
        if let Some(front) = self.unpredicted.front() {
            consider(front.deadline);
        }
        t
    }
}
