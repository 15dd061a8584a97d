//! A test application whose side effect is a ledger, committed together with checkpoints.
//!
//! The processor keeps delivered records pending; when a checkpoint succeeds, the records up
//! to it move to the ledger ("committed"); when the lease is lost, pending records are
//! dropped (the next owner redelivers them). Checkpoint and ledger append happen under one
//! lock, so the ledger's order is the order in which checkpoints succeeded, and a test that
//! holds the lock can kill a worker without a checkpoint being half done.
//!
//! "Exactly once per consumer group once checkpoints are respected" then means: every
//! acknowledged record appears in the ledger exactly once, and per key in write order.

use crate::common::{Ack, parse_payload};
use nagare_consumer::{
    CheckpointError, ExtendedSequenceNumber, InitializationInput, LeaseLostInput,
    ProcessRecordsInput, RecordProcessor, ShardEndedInput, ShutdownRequestedInput, UserRecord,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub worker: String,
    pub shard: String,
    pub key: String,
    pub n: u64,
    pub position: ExtendedSequenceNumber,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A processor started on a shard from this checkpoint.
    Initialized {
        worker: String,
        shard: String,
        checkpoint: ExtendedSequenceNumber,
    },
    /// Ledger entries `[start, end)` were committed by one checkpoint.
    Commit {
        worker: String,
        shard: String,
        start: usize,
        end: usize,
    },
    /// `SHARD_END` was checkpointed.
    ShardEnded { worker: String, shard: String },
}

#[derive(Debug, Default)]
pub struct Ledger {
    pub committed: Vec<Committed>,
    pub events: Vec<Event>,
    /// User records delivered to processors (including redeliveries).
    pub delivered: u64,
    /// Delivered but dropped because the lease was lost before their checkpoint.
    pub dropped: u64,
    /// Checkpoint errors other than a lost lease (must stay empty).
    pub errors: Vec<String>,
    /// Records delivered but not yet checkpointed, per (worker, shard).
    pub pending: BTreeMap<(String, String), usize>,
}

impl Ledger {
    /// Records committed or waiting in a live processor for their checkpoint.
    pub fn accounted(&self) -> usize {
        self.committed.len() + self.pending.values().sum::<usize>()
    }
}

pub type SharedLedger = Arc<Mutex<Ledger>>;

/// How the processor checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// After every batch, at its last record.
    EveryBatch,
    /// At a pseudo-random record of what is pending (often inside a KPL aggregate), so
    /// restarts resume mid-batch and mid-aggregate.
    Partial,
}

pub struct Recorder {
    ledger: SharedLedger,
    worker: String,
    shard: String,
    mode: Mode,
    pending: Vec<UserRecord>,
    rng: u64,
}

impl Recorder {
    pub fn new(ledger: SharedLedger, worker: &str, shard: &str, mode: Mode) -> Self {
        let rng = shard
            .bytes()
            .chain(worker.bytes())
            .fold(0x9E37_79B9_7F4A_7C15u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
            });
        Recorder {
            ledger,
            worker: worker.to_owned(),
            shard: shard.to_owned(),
            mode,
            pending: Vec::new(),
            rng,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Checkpoint at `upto` (None = `checkpoint()`), committing `pending[..count]`.
    async fn commit(
        &mut self,
        checkpointer: &nagare_consumer::Checkpointer,
        upto: Option<ExtendedSequenceNumber>,
        count: usize,
    ) {
        let mut ledger = self.ledger.lock().await;
        let result = match upto {
            Some(p) => checkpointer.checkpoint_at(p).await,
            None => checkpointer.checkpoint().await,
        };
        match result {
            Ok(()) => {
                let start = ledger.committed.len();
                for r in self.pending.drain(..count) {
                    let (key, n) = parse_payload(&r.data);
                    ledger.committed.push(Committed {
                        worker: self.worker.clone(),
                        shard: self.shard.clone(),
                        key,
                        n,
                        position: r.extended_sequence_number(),
                    });
                }
                let end = ledger.committed.len();
                if end > start {
                    ledger.events.push(Event::Commit {
                        worker: self.worker.clone(),
                        shard: self.shard.clone(),
                        start,
                        end,
                    });
                }
                // In the same critical section as the checkpoint: a child cannot start (and
                // log its Initialized event) before this event is in the log.
                if checkpointer.last_checkpoint() == ExtendedSequenceNumber::ShardEnd {
                    ledger.events.push(Event::ShardEnded {
                        worker: self.worker.clone(),
                        shard: self.shard.clone(),
                    });
                }
            }
            Err(CheckpointError::LeaseLost) => {
                ledger.dropped += self.pending.len() as u64;
                self.pending.clear();
            }
            Err(e) => {
                ledger
                    .errors
                    .push(format!("{} {}: {e}", self.worker, self.shard));
            }
        }
        self.note_pending(&mut ledger);
    }

    fn note_pending(&self, ledger: &mut Ledger) {
        ledger.pending.insert(
            (self.worker.clone(), self.shard.clone()),
            self.pending.len(),
        );
    }
}

impl RecordProcessor for Recorder {
    async fn initialize(&mut self, input: InitializationInput) {
        self.ledger.lock().await.events.push(Event::Initialized {
            worker: self.worker.clone(),
            shard: input.shard_id,
            checkpoint: input.extended_sequence_number,
        });
    }

    async fn process_records(&mut self, input: ProcessRecordsInput) {
        {
            let mut ledger = self.ledger.lock().await;
            ledger.delivered += input.records.len() as u64;
            self.pending.extend(input.records);
            self.note_pending(&mut ledger);
        }
        match self.mode {
            Mode::EveryBatch => {
                let n = self.pending.len();
                self.commit(&input.checkpointer, None, n).await;
            }
            Mode::Partial => {
                let cut = (self.next_random() % self.pending.len() as u64) as usize;
                let at = self.pending[cut].extended_sequence_number();
                self.commit(&input.checkpointer, Some(at), cut + 1).await;
            }
        }
    }

    async fn lease_lost(&mut self, _input: LeaseLostInput) {
        let mut ledger = self.ledger.lock().await;
        ledger.dropped += self.pending.len() as u64;
        self.pending.clear();
        self.note_pending(&mut ledger);
    }

    async fn shard_ended(&mut self, input: ShardEndedInput) {
        let n = self.pending.len();
        self.commit(&input.checkpointer, None, n).await;
    }

    async fn shutdown_requested(&mut self, input: ShutdownRequestedInput) {
        let n = self.pending.len();
        if n > 0 {
            self.commit(&input.checkpointer, None, n).await;
        }
    }
}

/// Check the ledger against what producers acknowledged: every record exactly once, per key
/// in write order, each from the shard it was written to.
pub fn assert_exactly_once_in_key_order(ledger: &Ledger, acks: &[Ack]) {
    assert!(
        ledger.errors.is_empty(),
        "checkpoint errors: {:?}",
        ledger.errors
    );
    let mut expected: HashMap<&str, u64> = HashMap::new();
    let mut shard_of: HashMap<(&str, u64), &str> = HashMap::new();
    for a in acks {
        *expected.entry(&a.key).or_default() += 1;
        shard_of.insert((&a.key, a.n), &a.shard);
    }
    let mut next: HashMap<&str, u64> = HashMap::new();
    for c in &ledger.committed {
        let want = next.entry(&c.key).or_default();
        assert_eq!(
            c.n, *want,
            "key {}: committed #{} where #{} was due (duplicate or out of order)",
            c.key, c.n, want
        );
        *want += 1;
        assert_eq!(
            shard_of.get(&(c.key.as_str(), c.n)).copied(),
            Some(c.shard.as_str()),
            "record {}#{} read from the wrong shard",
            c.key,
            c.n
        );
    }
    for (k, n) in &expected {
        assert_eq!(
            next.get(k).copied().unwrap_or(0),
            *n,
            "key {k}: not every record was committed"
        );
    }
    assert_eq!(ledger.committed.len(), acks.len());
}

/// Per shard, the acknowledged positions in shard order.
pub fn shard_positions(acks: &[Ack]) -> BTreeMap<String, Vec<ExtendedSequenceNumber>> {
    let mut by_shard: BTreeMap<String, Vec<ExtendedSequenceNumber>> = BTreeMap::new();
    for a in acks {
        by_shard
            .entry(a.shard.clone())
            .or_default()
            .push(ExtendedSequenceNumber::at(
                a.sequence.clone(),
                a.sub_sequence,
            ));
    }
    for v in by_shard.values_mut() {
        v.sort();
    }
    by_shard
}
