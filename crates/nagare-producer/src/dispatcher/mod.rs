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
//!
//! Layout: `record` (a user record and where its result goes, Kinesis records), `stream`
//! (per-stream and per-shard buffers, routing, aggregation), `outcome` (PutRecords and
//! ListShards answers: acknowledgements, retries, expiry), this file (the loop, batching and
//! sending).

mod outcome;
mod record;
mod stream;

pub(crate) use record::{BatchTicket, Completion, Pending};

use crate::backend::{Backend, Entry, EntryResult, RequestError};
use crate::config::ProducerConfig;
use crate::metrics as m;
use crate::shard_map::ShardRange;
use record::{Completions, KinesisRecord, SentBatch, SentRecord, Users};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use stream::StreamState;
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

enum Event {
    PutDone {
        stream: Arc<str>,
        batch: SentBatch,
        result: Result<Vec<EntryResult>, RequestError>,
        elapsed: Duration,
    },
    Shards {
        stream: Arc<str>,
        result: Result<Vec<ShardRange>, RequestError>,
    },
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
    /// Results of finished records, handed over once per loop turn.
    completions: Completions,
    /// Emptied batches of answered requests, for the next requests.
    spare_batches: Vec<SentBatch>,
    /// The request being filled (kept to reuse its allocation).
    filling: Vec<KinesisRecord>,
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
            completions: Completions::default(),
            spare_batches: Vec::new(),
            filling: Vec::new(),
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
            .or_insert_with(|| StreamState::new(stream, &self.config, now));
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
        self.completions.flush();
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
                self.filling = batch;
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
        let mut batch = std::mem::take(&mut self.filling);
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
                if kr.users.as_slice().iter().any(|r| now >= r.arrived + ttl) {
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
            for r in kr.users {
                if now >= r.arrived + ttl {
                    self.expire(s, r);
                } else {
                    s.add(&self.config, r, now);
                }
            }
        }
        batch
    }

    fn send(&mut self, s: &mut StreamState, mut batch: Vec<KinesisRecord>, now: Instant) {
        self.in_flight += 1;
        let labels = [(m::STREAM_NAME, s.name.to_string())];
        let buffering = metrics::histogram!(m::BUFFERING_TIME, &labels);
        let mut entries = Vec::with_capacity(batch.len());
        let mut sent = self.spare_batches.pop().unwrap_or_default();
        sent.records.reserve(batch.len());
        let mut aggregates = Vec::new();
        let mut users = 0usize;
        for mut kr in batch.drain(..) {
            for r in kr.users.as_mut_slice() {
                if r.attempts == 0 {
                    buffering.record(now.saturating_duration_since(r.arrived).as_secs_f64() * 1e3);
                }
                r.attempts += 1;
            }
            users += kr.users.len();
            let start = sent.keys.len();
            let entry = match (&mut kr.users, kr.aggregate) {
                (Users::One(r), None) => {
                    // The key moves into the request; a copy in `sent.keys` serves a retry.
                    sent.keys.push_str(&r.partition_key);
                    Entry {
                        // A copy without touching the `Bytes`' shared reference count.
                        data: r.data.to_vec(),
                        explicit_hash_key: r.explicit_hash_key(),
                        partition_key: std::mem::take(&mut r.partition_key),
                    }
                }
                (users, aggregate) => {
                    if let Some(b) = aggregate {
                        aggregates.push((entries.len(), b));
                    }
                    let first = users.as_slice().first().map(|r| r.hash_key);
                    Entry {
                        // Filled in by the request's task.
                        data: Vec::new(),
                        partition_key: AGGREGATE_PARTITION_KEY.to_owned(),
                        explicit_hash_key: first.map(|k| k.to_string()),
                    }
                }
            };
            sent.records.push(SentRecord {
                data_len: kr.size - entry.partition_key.len(),
                users: kr.users,
                predicted: kr.predicted,
                key: start..sent.keys.len(),
            });
            entries.push(entry);
        }
        self.filling = batch;
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
                    e.data = b.finish();
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
