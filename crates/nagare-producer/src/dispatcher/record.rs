//! One accepted user record ([`Pending`]), where its result goes ([`Completion`]), and the
//! Kinesis records that carry user records to PutRecords.

use crate::backend::Entry;
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

    pub(super) fn send(mut self, result: Result<PutOutcome, PutError>) {
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
    pub(super) fn send(self, result: Result<PutOutcome, PutError>) {
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
pub(super) struct KinesisRecord {
    pub(super) records: Vec<Pending>,
    /// For an aggregate, `entry.data` is empty until it is sent: `aggregate` is encoded (and
    /// MD5-summed) by the request's task, off the pipeline task.
    pub(super) entry: Entry,
    pub(super) aggregate: Option<Box<AggregateBuilder>>,
    pub(super) predicted: Option<Arc<str>>,
    /// Send by then (earliest user record's arrival + RecordMaxBufferedTime).
    pub(super) deadline: Instant,
    /// Data plus partition key: what request size and the byte rate count.
    pub(super) size: usize,
}

impl KinesisRecord {
    pub(super) fn raw(record: Pending, predicted: Option<Arc<str>>, deadline: Instant) -> Self {
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
pub(super) struct SentRecord {
    pub(super) records: Vec<Pending>,
    pub(super) predicted: Option<Arc<str>>,
    pub(super) data_len: usize,
}
