//! The pipeline task. One per [`Producer`](crate::Producer), owning all buffered records:
//!
//! ```text
//! put ─► route by predicted shard ─► open aggregate per shard ─(full or linger)─► ready queue
//!        (no shard map yet: raw, unpredicted queue)                              │
//!   retry heap ◄─ failed entries (backoff, until TTL) ◄─ PutRecords ◄─ rate limiter per shard
//! ```
//!
//! Everything runs on this one task, so the state needs no locks; the only concurrency is
//! the PutRecords and ListShards calls, spawned as tasks that report back on `events`.
//!
//! Invariants:
//! - every accepted user record is in exactly one place (an open aggregate, a ready or
//!   unpredicted queue, an in-flight request, the retry heap) until it is finished, and
//!   finishing it sends its result, gives back its buffer permits and counts it off its epoch;
//! - `ShardState`s are index-aligned with `StreamState::map`'s shards;
//! - `ready_count`/`ready_bytes` are the totals of the shards' ready queues.

use crate::backend::{Backend, Entry, EntryResult, RequestError, THROTTLED, is_retryable_code};
use crate::config::ProducerConfig;
use crate::error::{ErrorInfo, PutError};
use crate::limiter::Limiter;
use crate::metrics as m;
use crate::producer::{BatchSlot, PutOutcome};
use crate::shard_map::{ShardMap, ShardRange};
use bytes::Bytes;
use nagare_agg::AggregateBuilder;
use nagare_types::HashKey;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::time::Instant;

/// Outer partition key of an aggregate (the KPL's; the explicit hash key does the routing).
const AGGREGATE_PARTITION_KEY: &str = "a";
/// Least time between two ListShards calls for one stream.
const MAP_REFRESH_INTERVAL: Duration = Duration::from_secs(1);
/// A shard out of rate-limit tokens is not looked at again for at least this long, so a
/// throttled shard sends a few larger requests instead of many one-record ones.
const LIMITER_TICK: Duration = Duration::from_millis(25);
/// User records taken in per loop turn before the pipeline is pumped.
const COMMAND_BATCH: usize = 1024;
/// Error code counted when an aggregate lands on another shard than predicted.
const WRONG_SHARD: &str = "Wrong Shard";
const EXPIRED: &str = "Expired";

/// What `Producer` handles send.
pub(crate) enum Command {
    Put {
        stream: Arc<str>,
        record: Pending,
    },
    /// Several user records of one stream (`Producer::put_many`): one channel message and one
    /// stream lookup for all of them.
    PutMany {
        stream: Arc<str>,
        records: Vec<Pending>,
    },
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// One accepted user record.
pub(crate) struct Pending {
    pub partition_key: String,
    pub explicit_hash_key: Option<HashKey>,
    /// Explicit hash key, else MD5 of the partition key: what shard prediction uses.
    pub hash_key: HashKey,
    pub data: Bytes,
    pub arrived: Instant,
    /// PutRecords requests that carried it so far.
    pub attempts: u32,
    pub last_error: Option<Box<ErrorInfo>>,
    /// Buffer permits to give back when it finishes.
    pub permits: u32,
    /// Flush generation it was accepted in (see `Dispatcher::epochs`).
    pub epoch: u64,
    pub tx: Completion,
}

/// Where a finished record's result goes.
pub(crate) enum Completion {
    /// Its own future (`Producer::put`).
    One(oneshot::Sender<Result<PutOutcome, PutError>>),
    /// A slot of a batch's shared result vector (`Producer::put_many`).
    Batch(BatchTicket),
}

/// The right to fill slot `index` of a batch's results. Dropped unused (the pipeline stopped
/// without finishing the record), it fills the slot with [`PutError::ShutDown`], as a dropped
/// oneshot sender does for `put`.
pub(crate) struct BatchTicket {
    slot: Arc<BatchSlot>,
    index: u32,
    done: bool,
}

impl BatchTicket {
    pub(crate) fn new(slot: Arc<BatchSlot>, index: u32) -> Self {
        BatchTicket {
            slot,
            index,
            done: false,
        }
    }

    fn send(mut self, result: Result<PutOutcome, PutError>) {
        self.done = true;
        self.slot.complete(self.index as usize, result);
    }
}

impl Drop for BatchTicket {
    fn drop(&mut self) {
        if !self.done {
            self.slot
                .complete(self.index as usize, Err(PutError::ShutDown));
        }
    }
}

impl Completion {
    fn send(self, result: Result<PutOutcome, PutError>) {
        match self {
            // The caller may have dropped its future; the record is finished all the same.
            Completion::One(tx) => {
                let _ = tx.send(result);
            }
            Completion::Batch(ticket) => ticket.send(result),
        }
    }
}

/// A Kinesis record ready to send: one raw user record or an aggregate.
struct KinesisRecord {
    records: Vec<Pending>,
    /// For an aggregate, `entry.data` is empty until it is sent: `aggregate` is encoded (and
    /// MD5-summed) by the request's task, off the pipeline task.
    entry: Entry,
    aggregate: Option<Box<AggregateBuilder>>,
    predicted: Option<Arc<str>>,
    /// Send by then (earliest user record's arrival + RecordMaxBufferedTime).
    deadline: Instant,
    /// Data plus partition key: what request size and the byte rate count.
    size: usize,
}

impl KinesisRecord {
    fn raw(record: Pending, predicted: Option<Arc<str>>, deadline: Instant) -> Self {
        let entry = Entry {
            data: record.data.clone(),
            partition_key: record.partition_key.clone(),
            explicit_hash_key: record.explicit_hash_key.map(|k| k.to_string()),
        };
        KinesisRecord {
            size: entry.data.len() + entry.partition_key.len(),
            entry,
            aggregate: None,
            records: vec![record],
            predicted,
            deadline,
        }
    }
}

/// A Kinesis record inside an in-flight request.
struct SentRecord {
    records: Vec<Pending>,
    predicted: Option<Arc<str>>,
    data_len: usize,
}

enum Event {
    PutDone {
        stream: Arc<str>,
        batch: Vec<SentRecord>,
        result: Result<Vec<EntryResult>, RequestError>,
        elapsed: Duration,
    },
    Shards {
        stream: Arc<str>,
        result: Result<Vec<ShardRange>, RequestError>,
    },
}

struct ShardState {
    id: Arc<str>,
    /// The open aggregate: its encoding and its user records.
    builder: AggregateBuilder,
    open: Vec<Pending>,
    open_deadline: Instant,
    ready: VecDeque<KinesisRecord>,
    limiter: Option<Limiter>,
    /// Out of rate tokens until then.
    blocked_until: Option<Instant>,
}

impl ShardState {
    fn new(id: Arc<str>, config: &ProducerConfig, now: Instant) -> Self {
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
    fn seal(&mut self) -> Option<KinesisRecord> {
        let mut records = std::mem::take(&mut self.open);
        if records.len() <= 1 {
            self.builder.clear();
            let record = records.pop()?;
            return Some(KinesisRecord::raw(
                record,
                Some(Arc::clone(&self.id)),
                self.open_deadline,
            ));
        }
        // Encoded by the request's task (see `KinesisRecord::aggregate`).
        let builder = Box::new(std::mem::take(&mut self.builder));
        let first = records.first().map(|r| r.hash_key).unwrap_or_default();
        Some(KinesisRecord {
            size: builder.encoded_len() + AGGREGATE_PARTITION_KEY.len(),
            aggregate: Some(builder),
            entry: Entry {
                data: Bytes::new(),
                partition_key: AGGREGATE_PARTITION_KEY.to_owned(),
                explicit_hash_key: Some(first.to_string()),
            },
            records,
            predicted: Some(Arc::clone(&self.id)),
            deadline: self.open_deadline,
        })
    }
}

/// A record waiting out its backoff; the heap pops the earliest.
struct Retry {
    at: Instant,
    seq: u64,
    record: Pending,
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

struct StreamState {
    name: Arc<str>,
    map: ShardMap,
    /// A ListShards answer has arrived at least once.
    loaded: bool,
    shards: Vec<ShardState>,
    /// Raw records with no predicted shard (map not loaded, or a gap in it).
    unpredicted: VecDeque<KinesisRecord>,
    unpredicted_bytes: usize,
    ready_count: usize,
    ready_bytes: usize,
    retries: BinaryHeap<Retry>,
    /// Records of aggregates that landed on an unexpected shard, resent once the shard map
    /// has been reloaded (routing them by the stale map would repeat the mistake).
    awaiting_map: Vec<Pending>,
    map_loading: bool,
    map_wanted: bool,
    map_not_before: Instant,
    /// Round-robin start among shards when filling a request.
    cursor: usize,
    received: u64,
    outstanding: usize,
    reported_pending: Option<usize>,
}

impl StreamState {
    fn new(name: Arc<str>, now: Instant) -> Self {
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
            map_wanted: true,
            map_not_before: now,
            cursor: 0,
            received: 0,
            outstanding: 0,
            reported_pending: None,
        }
    }

    fn push_ready(&mut self, shard: usize, kr: KinesisRecord) {
        self.ready_count += 1;
        self.ready_bytes += kr.size;
        if let Some(s) = self.shards.get_mut(shard) {
            s.ready.push_back(kr);
        }
    }

    fn push_unpredicted(&mut self, kr: KinesisRecord) {
        self.unpredicted_bytes += kr.size;
        self.unpredicted.push_back(kr);
    }

    /// While the first ListShards is outstanding, unpredicted records wait for it (until
    /// their linger deadline) so they can still be aggregated.
    fn holding_unpredicted(&self) -> bool {
        !self.loaded && self.map_loading
    }

    /// Route one user record: into its predicted shard's aggregate (or ready queue when
    /// aggregation is off), or to the unpredicted queue.
    fn add(&mut self, config: &ProducerConfig, record: Pending, now: Instant) {
        let deadline = if record.attempts == 0 {
            record.arrived + config.record_max_buffered_time
        } else {
            now
        };
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
        let ehk = record.explicit_hash_key.map(|k| k.to_string());
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
    fn next_send(&self, now: Instant) -> Option<Instant> {
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

pub(crate) struct Dispatcher {
    backend: Arc<dyn Backend>,
    config: ProducerConfig,
    commands: mpsc::UnboundedReceiver<Command>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    buffer: Arc<Semaphore>,
    streams: HashMap<Arc<str>, StreamState>,
    in_flight: usize,
    /// Buffer permits of finished records, given back once per loop turn.
    released: usize,
    /// Current flush generation and the outstanding records of each live generation
    /// (ascending; the back is the current one). A flush waits for every generation before
    /// it to drain, so records put after the flush do not hold it up.
    epoch: u64,
    epochs: VecDeque<(u64, usize)>,
    flush_waiters: Vec<(u64, oneshot::Sender<()>)>,
    shutdown_waiters: Vec<oneshot::Sender<()>>,
    shutting_down: bool,
    input_closed: bool,
    outstanding: usize,
    retry_seq: u64,
}

impl Dispatcher {
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        config: ProducerConfig,
        commands: mpsc::UnboundedReceiver<Command>,
        buffer: Arc<Semaphore>,
    ) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        Dispatcher {
            backend,
            config,
            commands,
            events_tx,
            events,
            buffer,
            streams: HashMap::new(),
            in_flight: 0,
            released: 0,
            epoch: 0,
            epochs: VecDeque::from([(0, 0)]),
            flush_waiters: Vec::new(),
            shutdown_waiters: Vec::new(),
            shutting_down: false,
            input_closed: false,
            outstanding: 0,
            retry_seq: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let now = Instant::now();
            self.pump(now);
            self.settle();
            if self.shutting_down && self.outstanding == 0 && self.in_flight == 0 {
                // Records sent just before the producer closed may still be in the channel.
                match self.commands.try_recv() {
                    Ok(cmd) => {
                        self.handle(cmd, Instant::now());
                        continue;
                    }
                    Err(_) => break,
                }
            }
            let wake = self.next_wakeup(now);
            tokio::select! {
                biased;
                Some(event) = self.events.recv() => {
                    self.on_event(event, Instant::now());
                    while let Ok(event) = self.events.try_recv() {
                        self.on_event(event, Instant::now());
                    }
                }
                cmd = self.commands.recv(), if !self.input_closed => {
                    let now = Instant::now();
                    match cmd {
                        Some(cmd) => {
                            let mut taken = self.handle(cmd, now);
                            while taken < COMMAND_BATCH {
                                match self.commands.try_recv() {
                                    Ok(cmd) => taken += self.handle(cmd, now),
                                    Err(_) => break,
                                }
                            }
                        }
                        None => {
                            // Every Producer handle is gone: finish what is buffered, then stop.
                            self.input_closed = true;
                            self.shutting_down = true;
                        }
                    }
                }
                () = sleep_until(wake) => {}
            }
        }
        self.buffer.close();
        for tx in self.shutdown_waiters.drain(..) {
            let _ = tx.send(());
        }
        for (_, tx) in self.flush_waiters.drain(..) {
            let _ = tx.send(());
        }
    }

    /// Handle one command; returns how many user records it brought (at least 1).
    fn handle(&mut self, cmd: Command, now: Instant) -> usize {
        match cmd {
            Command::Put { stream, record } => {
                self.accept(stream, std::iter::once(record), 1, now);
                1
            }
            Command::PutMany { stream, records } => {
                let n = records.len();
                self.accept(stream, records, n, now);
                n.max(1)
            }
            Command::Flush(tx) => {
                self.flush_waiters.push((self.epoch, tx));
                self.epoch += 1;
                self.epochs.push_back((self.epoch, 0));
                1
            }
            Command::Shutdown(tx) => {
                self.shutting_down = true;
                self.shutdown_waiters.push(tx);
                1
            }
        }
    }

    /// Take in `n` user records of `stream`.
    fn accept(
        &mut self,
        stream: Arc<str>,
        records: impl IntoIterator<Item = Pending>,
        n: usize,
        now: Instant,
    ) {
        if let Some(e) = self.epochs.back_mut() {
            e.1 += n;
        }
        self.outstanding += n;
        let s = self
            .streams
            .entry(Arc::clone(&stream))
            .or_insert_with(|| StreamState::new(stream, now));
        s.outstanding += n;
        s.received += n as u64;
        for mut record in records {
            record.epoch = self.epoch;
            s.add(&self.config, record, now);
        }
    }

    fn flushing(&self) -> bool {
        self.shutting_down || !self.flush_waiters.is_empty()
    }

    /// Give back permits and wake flush waiters whose generations have drained.
    fn settle(&mut self) {
        if self.released > 0 {
            self.buffer.add_permits(self.released);
            self.released = 0;
        }
        while self.epochs.len() > 1 && self.epochs.front().is_some_and(|e| e.1 == 0) {
            self.epochs.pop_front();
        }
        let oldest_live = match self.epochs.front() {
            Some(&(epoch, n)) if n > 0 => epoch,
            _ => u64::MAX,
        };
        let mut i = 0;
        while i < self.flush_waiters.len() {
            if self.flush_waiters.get(i).is_some_and(|w| w.0 < oldest_live) {
                let (_, tx) = self.flush_waiters.swap_remove(i);
                let _ = tx.send(());
            } else {
                i += 1;
            }
        }
    }

    fn pump(&mut self, now: Instant) {
        let mut streams = std::mem::take(&mut self.streams);
        for s in streams.values_mut() {
            self.pump_stream(s, now);
        }
        self.streams = streams;
    }

    fn pump_stream(&mut self, s: &mut StreamState, now: Instant) {
        let name = Arc::clone(&s.name);
        let label = || (m::STREAM_NAME, name.to_string());
        if s.received > 0 {
            metrics::counter!(m::USER_RECORDS_RECEIVED, &[label()]).increment(s.received);
            s.received = 0;
        }
        while s.retries.peek().is_some_and(|r| r.at <= now) {
            if let Some(r) = s.retries.pop() {
                if now >= r.record.arrived + self.config.record_ttl {
                    self.expire(s, r.record);
                } else {
                    s.add(&self.config, r.record, now);
                }
            }
        }
        if s.map_wanted && !s.map_loading && now >= s.map_not_before {
            self.load_shards(s, now);
        }
        let flushing = self.flushing();
        for i in 0..s.shards.len() {
            let sealed = match s.shards.get_mut(i) {
                Some(shard)
                    if !shard.open.is_empty() && (flushing || shard.open_deadline <= now) =>
                {
                    shard.seal()
                }
                _ => None,
            };
            if let Some(kr) = sealed {
                s.push_ready(i, kr);
            }
        }
        let max_count = self.config.collection_max_count;
        let max_size = self.config.collection_max_size;
        while self.in_flight < self.config.max_connections {
            let hold = s.holding_unpredicted() && !flushing;
            let (count, bytes) = if hold {
                (s.ready_count, s.ready_bytes)
            } else {
                (
                    s.ready_count + s.unpredicted.len(),
                    s.ready_bytes + s.unpredicted_bytes,
                )
            };
            if count == 0 {
                break;
            }
            let full = count >= max_count || bytes >= max_size;
            let due = flushing || s.next_send(now).is_some_and(|t| t <= now);
            if !full && !due {
                break;
            }
            let batch = self.take_batch(s, now, hold);
            if batch.is_empty() {
                break;
            }
            self.send(s, batch, now);
        }
        if s.reported_pending != Some(s.outstanding) {
            metrics::gauge!(m::USER_RECORDS_PENDING, &[label()]).set(s.outstanding as f64);
            s.reported_pending = Some(s.outstanding);
        }
    }

    /// Fill one request: unpredicted records first, then shards round-robin as their rate
    /// limits allow, up to CollectionMaxCount entries and CollectionMaxSize bytes.
    fn take_batch(&mut self, s: &mut StreamState, now: Instant, hold: bool) -> Vec<KinesisRecord> {
        let max_count = self.config.collection_max_count;
        let max_size = self.config.collection_max_size;
        let ttl = self.config.record_ttl;
        let mut batch: Vec<KinesisRecord> = Vec::new();
        let mut bytes = 0usize;
        let fits = |batch: &Vec<KinesisRecord>, bytes: usize, size: usize| {
            batch.len() < max_count && (batch.is_empty() || bytes + size <= max_size)
        };
        let unpredicted_due = !hold || s.unpredicted.front().is_some_and(|f| f.deadline <= now);
        if unpredicted_due {
            while let Some(front) = s.unpredicted.front() {
                if !fits(&batch, bytes, front.size) {
                    break;
                }
                if let Some(kr) = s.unpredicted.pop_front() {
                    s.unpredicted_bytes -= kr.size;
                    bytes += kr.size;
                    batch.push(kr);
                }
            }
        }
        let n = s.shards.len();
        let mut stale: Vec<KinesisRecord> = Vec::new();
        'shards: for k in 0..n {
            let i = (s.cursor + k) % n;
            let Some(shard) = s.shards.get_mut(i) else {
                continue;
            };
            if shard.blocked_until.is_some_and(|b| b > now) {
                continue;
            }
            shard.blocked_until = None;
            while let Some(front) = shard.ready.front() {
                if !fits(&batch, bytes, front.size) {
                    break 'shards;
                }
                if let Some(limiter) = &mut shard.limiter {
                    if !limiter.try_take(front.size, now) {
                        let wait = limiter.wait_for(front.size, now).max(LIMITER_TICK);
                        shard.blocked_until = Some(now + wait);
                        break;
                    }
                }
                let Some(kr) = shard.ready.pop_front() else {
                    break;
                };
                s.ready_count -= 1;
                s.ready_bytes -= kr.size;
                if kr.records.iter().any(|r| now >= r.arrived + ttl) {
                    stale.push(kr);
                    continue;
                }
                bytes += kr.size;
                batch.push(kr);
            }
        }
        s.cursor = if n == 0 { 0 } else { (s.cursor + 1) % n };
        // A Kinesis record holding an expired user record is taken apart: the expired ones
        // fail, the others are routed again.
        for kr in stale {
            for r in kr.records {
                if now >= r.arrived + ttl {
                    self.expire(s, r);
                } else {
                    s.add(&self.config, r, now);
                }
            }
        }
        batch
    }

    fn send(&mut self, s: &mut StreamState, batch: Vec<KinesisRecord>, now: Instant) {
        self.in_flight += 1;
        let labels = [(m::STREAM_NAME, s.name.to_string())];
        let buffering = metrics::histogram!(m::BUFFERING_TIME, &labels);
        let mut entries = Vec::with_capacity(batch.len());
        let mut sent = Vec::with_capacity(batch.len());
        let mut aggregates = Vec::new();
        let mut users = 0usize;
        for mut kr in batch {
            for r in &mut kr.records {
                if r.attempts == 0 {
                    buffering.record(now.saturating_duration_since(r.arrived).as_secs_f64() * 1e3);
                }
                r.attempts += 1;
            }
            users += kr.records.len();
            let data_len = match &kr.aggregate {
                Some(b) => b.encoded_len(),
                None => kr.entry.data.len(),
            };
            if let Some(b) = kr.aggregate {
                aggregates.push((entries.len(), b));
            }
            sent.push(SentRecord {
                data_len,
                records: kr.records,
                predicted: kr.predicted,
            });
            entries.push(kr.entry);
        }
        metrics::histogram!(m::KINESIS_RECORDS_PER_PUT_RECORDS_REQUEST, &labels)
            .record(entries.len() as f64);
        metrics::histogram!(m::USER_RECORDS_PER_PUT_RECORDS_REQUEST, &labels).record(users as f64);
        let stream = Arc::clone(&s.name);
        let backend = Arc::clone(&self.backend);
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            // Encoding aggregates (an MD5 over each) here spreads that work over the
            // runtime's threads instead of holding up the pipeline task.
            for (i, b) in aggregates {
                if let Some(e) = entries.get_mut(i) {
                    e.data = Bytes::from(b.finish());
                }
            }
            let started = Instant::now();
            let result = backend.put_records(Arc::clone(&stream), entries).await;
            let _ = events.send(Event::PutDone {
                stream,
                batch: sent,
                result,
                elapsed: started.elapsed(),
            });
        });
    }

    fn load_shards(&mut self, s: &mut StreamState, now: Instant) {
        s.map_loading = true;
        s.map_wanted = false;
        s.map_not_before = now + MAP_REFRESH_INTERVAL;
        let stream = Arc::clone(&s.name);
        let call = self.backend.list_shards(Arc::clone(&stream));
        let events = self.events_tx.clone();
        tokio::spawn(async move {
            let result = call.await;
            let _ = events.send(Event::Shards { stream, result });
        });
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        let name = match &event {
            Event::PutDone { stream, .. } | Event::Shards { stream, .. } => Arc::clone(stream),
        };
        if let Event::PutDone { .. } = &event {
            self.in_flight -= 1;
        }
        let Some(mut s) = self.streams.remove(&name) else {
            return;
        };
        match event {
            Event::PutDone {
                batch,
                result,
                elapsed,
                ..
            } => self.on_put_done(&mut s, batch, result, elapsed, now),
            Event::Shards { result, .. } => self.on_shards(&mut s, result, now),
        }
        self.streams.insert(name, s);
    }

    fn on_shards(
        &mut self,
        s: &mut StreamState,
        result: Result<Vec<ShardRange>, RequestError>,
        now: Instant,
    ) {
        s.map_loading = false;
        let shards = match result {
            Ok(shards) => shards,
            Err(e) => {
                tracing::warn!(stream = %s.name, error = %e.error, "ListShards failed; records go unaggregated until it succeeds");
                s.map_wanted = true;
                // Waiting records go out by the map there is rather than wait indefinitely.
                for r in std::mem::take(&mut s.awaiting_map) {
                    s.add(&self.config, r, now);
                }
                return;
            }
        };
        let mut old: HashMap<Arc<str>, ShardState> = std::mem::take(&mut s.shards)
            .into_iter()
            .map(|st| (Arc::clone(&st.id), st))
            .collect();
        s.map = ShardMap::new(shards);
        s.loaded = true;
        s.shards = s
            .map
            .shards()
            .iter()
            .map(|r| {
                old.remove(&r.shard_id)
                    .unwrap_or_else(|| ShardState::new(Arc::clone(&r.shard_id), &self.config, now))
            })
            .collect();
        // Records buffered for shards that are gone, and unpredicted ones, are routed again.
        let mut orphans: Vec<Pending> = Vec::new();
        for (_, st) in old {
            orphans.extend(st.open);
            for kr in st.ready {
                s.ready_count -= 1;
                s.ready_bytes -= kr.size;
                orphans.extend(kr.records);
            }
        }
        for kr in std::mem::take(&mut s.unpredicted) {
            orphans.extend(kr.records);
        }
        orphans.append(&mut s.awaiting_map);
        s.unpredicted_bytes = 0;
        for r in orphans {
            s.add(&self.config, r, now);
        }
    }

    fn on_put_done(
        &mut self,
        s: &mut StreamState,
        batch: Vec<SentRecord>,
        result: Result<Vec<EntryResult>, RequestError>,
        elapsed: Duration,
        now: Instant,
    ) {
        let labels = [(m::STREAM_NAME, s.name.to_string())];
        metrics::histogram!(m::REQUEST_TIME, &labels).record(elapsed.as_secs_f64() * 1e3);
        let jitter = rand::random::<f64>();
        let results = match result {
            Ok(results) => results,
            Err(e) => {
                self.count_error(s, &e.error.code, 1);
                for sr in batch {
                    for r in sr.records {
                        self.retry_or_fail(s, r, &e.error, e.retryable, jitter, now);
                    }
                }
                return;
            }
        };
        let per_kinesis = metrics::histogram!(m::USER_RECORDS_PER_KINESIS_RECORD, &labels);
        let retries = metrics::histogram!(m::RETRIES_PER_RECORD, &labels);
        let (mut users, mut user_bytes, mut kinesis, mut kinesis_bytes) = (0u64, 0u64, 0u64, 0u64);
        for (sr, res) in batch.into_iter().zip(results) {
            match res {
                EntryResult::Ok {
                    shard_id,
                    sequence_number,
                } => {
                    let wrong = sr.predicted.as_deref().is_some_and(|p| p != &*shard_id);
                    // The predicted shard's id is usually the same string: share it.
                    let shard_id = match &sr.predicted {
                        Some(p) if !wrong => Arc::clone(p),
                        _ => shard_id,
                    };
                    if wrong {
                        // The shard map is stale: refresh it.
                        s.map_wanted = true;
                    }
                    let aggregated = sr.records.len() > 1;
                    if wrong && aggregated {
                        // Its user records were grouped by a stale map, so some may be
                        // outside this shard's range, where KCL drops the whole aggregate.
                        // Send them again, re-grouped (the KPL does the same).
                        self.count_error(s, WRONG_SHARD, 1);
                        let error = ErrorInfo {
                            code: WRONG_SHARD.to_owned(),
                            message: format!(
                                "aggregate predicted for {} landed on {shard_id}",
                                sr.predicted.as_deref().unwrap_or_default()
                            ),
                        };
                        for r in sr.records {
                            self.retry_or_fail(s, r, &error, true, jitter, now);
                        }
                        continue;
                    }
                    kinesis += 1;
                    kinesis_bytes += sr.data_len as u64;
                    per_kinesis.record(sr.records.len() as f64);
                    for (i, r) in sr.records.into_iter().enumerate() {
                        users += 1;
                        user_bytes += r.data.len() as u64;
                        retries.record(f64::from(r.attempts.saturating_sub(1)));
                        let outcome = PutOutcome {
                            shard_id: Arc::clone(&shard_id),
                            sequence_number: Arc::clone(&sequence_number),
                            sub_sequence: if aggregated { i as u64 } else { 0 },
                            attempts: r.attempts,
                        };
                        self.finish(s, r, Ok(outcome));
                    }
                }
                EntryResult::Failed(error) => {
                    self.count_error(s, &error.code, 1);
                    let retryable = is_retryable_code(&error.code);
                    for r in sr.records {
                        self.retry_or_fail(s, r, &error, retryable, jitter, now);
                    }
                }
            }
        }
        if kinesis > 0 {
            metrics::counter!(m::USER_RECORDS_PUT, &labels).increment(users);
            metrics::counter!(m::USER_RECORDS_DATA_PUT, &labels).increment(user_bytes);
            metrics::counter!(m::KINESIS_RECORDS_PUT, &labels).increment(kinesis);
            metrics::counter!(m::KINESIS_RECORDS_DATA_PUT, &labels).increment(kinesis_bytes);
        }
    }

    fn count_error(&self, s: &StreamState, code: &str, n: u64) {
        let stream = s.name.to_string();
        metrics::counter!(m::ERRORS_BY_CODE, m::STREAM_NAME => stream.clone(), m::ERROR_CODE => code.to_owned())
            .increment(n);
        metrics::counter!(m::ALL_ERRORS, m::STREAM_NAME => stream).increment(n);
    }

    /// Backoff before the next attempt of a record that failed `attempts` times: doubling
    /// from the minimum to the maximum, then scaled into [d/2, d] by `jitter` (0..1). One
    /// jitter is drawn per response, so the records that failed together are retried together
    /// (and aggregated together again) while separate producers and requests spread out.
    fn backoff(&self, attempts: u32, jitter: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(20);
        let d = self
            .config
            .min_backoff
            .saturating_mul(1 << exp)
            .min(self.config.max_backoff);
        let half = d / 2;
        half + half.mul_f64(jitter)
    }

    fn retry_or_fail(
        &mut self,
        s: &mut StreamState,
        mut r: Pending,
        error: &ErrorInfo,
        retryable: bool,
        jitter: f64,
        now: Instant,
    ) {
        r.last_error = Some(Box::new(error.clone()));
        if error.code == WRONG_SHARD {
            // Resent once the refreshed shard map is in (see `on_shards`).
            s.awaiting_map.push(r);
        } else if !retryable {
            let attempts = r.attempts;
            self.finish(
                s,
                r,
                Err(PutError::Rejected {
                    attempts,
                    error: error.clone(),
                }),
            );
        } else if error.code == THROTTLED && self.config.fail_if_throttled {
            let attempts = r.attempts;
            self.finish(
                s,
                r,
                Err(PutError::Throttled {
                    attempts,
                    error: error.clone(),
                }),
            );
        } else {
            let at = now + self.backoff(r.attempts, jitter);
            if at >= r.arrived + self.config.record_ttl {
                // The next attempt would come after the TTL.
                self.expire(s, r);
            } else {
                self.retry_seq += 1;
                s.retries.push(Retry {
                    at,
                    seq: self.retry_seq,
                    record: r,
                });
            }
        }
    }

    fn expire(&mut self, s: &mut StreamState, mut r: Pending) {
        let labels = [(m::STREAM_NAME, s.name.to_string())];
        metrics::counter!(m::USER_RECORD_EXPIRED, &labels).increment(1);
        self.count_error(s, EXPIRED, 1);
        let attempts = r.attempts;
        let last_error = r.last_error.take().map(|e| *e);
        self.finish(
            s,
            r,
            Err(PutError::Expired {
                attempts,
                last_error,
            }),
        );
    }

    fn finish(&mut self, s: &mut StreamState, r: Pending, result: Result<PutOutcome, PutError>) {
        self.released += r.permits as usize;
        self.outstanding -= 1;
        s.outstanding -= 1;
        if let Some(e) = self.epochs.iter_mut().find(|e| e.0 == r.epoch) {
            e.1 -= 1;
        }
        r.tx.send(result);
    }

    fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Instant| t = Some(t.map_or(x, |t| t.min(x)));
        for s in self.streams.values() {
            if let Some(r) = s.retries.peek() {
                consider(r.at);
            }
            if s.map_wanted && !s.map_loading {
                consider(s.map_not_before);
            }
            for shard in &s.shards {
                if !shard.open.is_empty() {
                    consider(shard.open_deadline);
                }
            }
            if self.in_flight < self.config.max_connections {
                if let Some(x) = s.next_send(now) {
                    consider(x);
                }
            }
        }
        t
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
