//! One accepted user record ([`Pending`]), where its result goes ([`Completion`],
//! [`Completions`]), and the Kinesis records that carry user records to PutRecords.

use crate::error::{ErrorInfo, PutError};
use crate::producer::{BatchSlot, PutOutcome};
use bytes::Bytes;
use nagare_agg::AggregateBuilder;
use nagare_types::HashKey;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// One accepted user record.
pub(crate) struct Pending {
    /// Empty while the record is in flight as a raw Kinesis record: the string itself went
    /// into the request (no copy per record), and a retry gets it back from
    /// [`SentBatch::keys`].
    pub partition_key: String,
    /// `hash_key` is the caller's explicit hash key (sent as `ExplicitHashKey`), not the
    /// partition key's MD5.
    pub explicit: bool,
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

impl Pending {
    /// The explicit hash key to send with it, if the caller gave one.
    pub(super) fn explicit_hash_key(&self) -> Option<String> {
        self.explicit.then(|| self.hash_key.to_string())
    }
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
    /// `None` once the ticket has been used.
    slot: Option<Arc<BatchSlot>>,
    index: u32,
}

impl BatchTicket {
    pub(crate) fn new(slot: Arc<BatchSlot>, index: u32) -> Self {
        BatchTicket {
            slot: Some(slot),
            index,
        }
    }
}

impl Drop for BatchTicket {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.complete(std::iter::once((self.index, Err(PutError::ShutDown))));
        }
    }
}

/// Results on their way to their callers. A `put_many` batch's records mostly finish next to
/// each other (same shard, same response), so their results are gathered and handed over
/// with one lock of the batch's slot per run instead of one per record.
#[derive(Default)]
pub(super) struct Completions {
    slot: Option<Arc<BatchSlot>>,
    results: Vec<(u32, Result<PutOutcome, PutError>)>,
}

impl Completions {
    pub(super) fn push(&mut self, tx: Completion, result: Result<PutOutcome, PutError>) {
        match tx {
            // The caller may have dropped its future; the record is finished all the same.
            Completion::One(tx) => {
                let _ = tx.send(result);
            }
            Completion::Batch(mut ticket) => {
                let Some(slot) = ticket.slot.take() else {
                    return;
                };
                if !self.slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                    self.flush();
                    self.slot = Some(slot);
                }
                self.results.push((ticket.index, result));
            }
        }
    }

    /// Hand over everything gathered. Called once per pipeline loop turn, before flush
    /// waiters are woken, so a finished record's result is never later than its flush.
    pub(super) fn flush(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.complete(self.results.drain(..));
        }
    }
}

impl Drop for Completions {
    /// The gathered results are final: a pipeline that stops (or is dropped with its
    /// runtime) between two loop turns still delivers them, rather than leaving their
    /// `put_many` futures waiting for slots no ticket will fill.
    fn drop(&mut self) {
        self.flush();
    }
}

/// The user records one Kinesis record carries: one sent as it is, or an aggregate's in
/// order. A lone record is kept inline, so sending without aggregation costs no vector per
/// record.
pub(super) enum Users {
    One(Pending),
    Many(Vec<Pending>),
}

impl Users {
    pub(super) fn as_slice(&self) -> &[Pending] {
        match self {
            Users::One(r) => std::slice::from_ref(r),
            Users::Many(v) => v,
        }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [Pending] {
        match self {
            Users::One(r) => std::slice::from_mut(r),
            Users::Many(v) => v,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.as_slice().len()
    }
}

impl IntoIterator for Users {
    type Item = Pending;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Pending>, std::vec::IntoIter<Pending>>;

    fn into_iter(self) -> Self::IntoIter {
        // `Vec::new()` does not allocate.
        match self {
            Users::One(r) => Some(r).into_iter().chain(Vec::new()),
            Users::Many(v) => None.into_iter().chain(v),
        }
    }
}

/// A Kinesis record ready to send: one raw user record or an aggregate.
pub(super) struct KinesisRecord {
    pub(super) users: Users,
    /// An aggregate's encoding, finished (and MD5-summed) by the request's task, off the
    /// pipeline task; `None` for a raw record.
    pub(super) aggregate: Option<Box<AggregateBuilder>>,
    pub(super) predicted: Option<Arc<str>>,
    /// Send by then (earliest user record's arrival + RecordMaxBufferedTime).
    pub(super) deadline: Instant,
    /// Data plus partition key: what request size and the byte rate count.
    pub(super) size: usize,
}

impl KinesisRecord {
    pub(super) fn raw(record: Pending, predicted: Option<Arc<str>>, deadline: Instant) -> Self {
        KinesisRecord {
            size: record.data.len() + record.partition_key.len(),
            users: Users::One(record),
            aggregate: None,
            predicted,
            deadline,
        }
    }
}

/// A Kinesis record inside an in-flight request.
pub(super) struct SentRecord {
    pub(super) users: Users,
    pub(super) predicted: Option<Arc<str>>,
    pub(super) data_len: usize,
    /// A raw record's partition key in [`SentBatch::keys`] (empty for an aggregate, whose
    /// user records keep theirs).
    pub(super) key: std::ops::Range<usize>,
}

/// The records of one in-flight request, handed back with its answer and then reused (its
/// vector and key buffer keep their capacity).
#[derive(Default)]
pub(super) struct SentBatch {
    pub(super) records: Vec<SentRecord>,
    /// The partition keys of the request's raw records, one after the other: what a retry
    /// needs, since the keys themselves went into the request.
    pub(super) keys: String,
}

impl SentBatch {
    /// Give a raw record that is to be sent again its partition key back.
    pub(super) fn restore_key(keys: &str, key: &std::ops::Range<usize>, users: &mut Users) {
        if let Users::One(r) = users {
            if r.partition_key.is_empty() {
                r.partition_key = keys.get(key.clone()).unwrap_or_default().to_owned();
            }
        }
    }
}
