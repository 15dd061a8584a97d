//! nagare-log: a durable, segmented, append-only log store.
//!
//! A [`LogStore`] is a directory holding many independent logs (one per shard upstream); each
//! [`Log`] is a dense sequence of records addressed by [`Offset`], appended in atomic batches
//! with one timestamp per batch. The crate knows nothing about Kinesis: it speaks offsets,
//! bytes and milliseconds. Design and measurements: `docs/design/storage.md`.
//!
//! Module map:
//! - [`codec`]    — the CRC32C-framed batch format (encode into a reusable buffer, validate, iterate).
//! - [`index`]    — sparse offset/time index entries and the sealed-segment `.idx` trailer.
//! - [`segment`]  — segment file naming, frame scanning, positioned reads.
//! - [`recovery`] — turning a log directory back into in-memory state after a crash.
//! - [`log`]      — [`Log`]: append (group commit), read, time lookup, wait, retention.
//! - [`sync`]     — fsync jobs, poisoning, and the shared interval flusher.
//! - [`store`]    — [`LogStore`]: the directory of logs, create/delete/open.
//! - [`error`]    — one error enum per operation.
//!
//! Invariants that hold across modules:
//! - Offsets are dense per log and never reused; a segment file is named by its first offset.
//! - Bytes only ever get appended to the active (last) segment; sealed segments are immutable.
//! - A record is visible to readers only once acknowledged (after its fsync under `Always`).
//! - Nothing that fails its CRC is ever returned to a reader.

#![deny(unsafe_code, clippy::unwrap_used, clippy::indexing_slicing)]

pub(crate) mod codec;
pub mod error;
pub(crate) mod index;
mod log;
mod read;
pub(crate) mod recovery;
pub(crate) mod segment;
mod store;
pub(crate) mod sync;

use std::fmt;
use std::time::Duration;

pub use bytes::Bytes;
pub use error::{AppendError, LogError, OpenError, ReadError};
pub use log::Log;
pub use store::LogStore;

/// Position of a record in one log: dense, starts at 0, never reused (even after retention).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Offset(pub u64);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// When appended bytes are forced to stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// `append` resolves only after its bytes are fdatasynced; concurrent appends to the same
    /// log share one fsync (group commit).
    #[default]
    Always,
    /// `append` resolves after the write; a shared flusher fsyncs every dirty log at least this
    /// often. Acknowledged data may be lost on power failure, never on process crash.
    Interval(Duration),
    /// Never fsync (tests, scratch data). Survives process crashes only.
    Never,
}

/// Tuning for every log of a store.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Durability of `append`.
    pub fsync: FsyncPolicy,
    /// Roll to a new segment when the next batch would push the active one past this size.
    /// Clamped to `[1 KiB, 1 GiB]` (index positions are `u32`).
    pub segment_max_bytes: u64,
    /// Roll (on the next append) when the active segment is older than this.
    pub segment_max_age: Duration,
    /// Write a sparse index entry after at least this many bytes since the previous one.
    /// Bounds how far a read scans after its index seek.
    pub index_interval_bytes: u32,
    /// Largest encoded batch accepted by `append` (`AppendError::TooLarge` above).
    pub max_batch_bytes: usize,
    /// Under `Always`: threads that run group-commit fsyncs for the store's logs (at least 1).
    /// Each runs one log's fsync at a time; more threads keep more fsyncs in flight (helps a
    /// device with parallel queues), fewer gather more records per fsync and cost less CPU.
    pub commit_threads: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::Always,
            segment_max_bytes: 64 * 1024 * 1024,
            segment_max_age: Duration::from_secs(3600),
            index_interval_bytes: 32 * 1024,
            max_batch_bytes: 64 * 1024 * 1024,
            commit_threads: 2,
        }
    }
}

impl LogConfig {
    /// The config with out-of-range values clamped to what the on-disk format supports.
    pub(crate) fn normalized(&self) -> LogConfig {
        let mut c = self.clone();
        c.segment_max_bytes = c.segment_max_bytes.clamp(1024, 1 << 30);
        c.index_interval_bytes = c.index_interval_bytes.max(1);
        // A single frame must fit a u32 length and an index position.
        c.max_batch_bytes = c.max_batch_bytes.clamp(codec::HEADER_LEN + 8, 1 << 30);
        c.commit_threads = c.commit_threads.clamp(1, 64);
        c
    }
}

/// One record to append; borrowed so the caller's buffers are copied exactly once (into the
/// batch encode buffer).
#[derive(Clone, Copy, Debug)]
pub struct AppendRecord<'a> {
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// What an append stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendAck {
    /// Offset of the first record of the batch; the rest follow densely.
    pub first: Offset,
    pub count: u32,
    /// The stored batch timestamp: `max(requested, last stored)`.
    pub timestamp_ms: i64,
}

/// One record as read back. `key` and `value` are slices of one shared read buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub offset: Offset,
    pub timestamp_ms: i64,
    pub key: Bytes,
    pub value: Bytes,
}

/// The result of [`Log::read`].
#[derive(Clone, Debug, Default)]
pub struct ReadBatch {
    pub records: Vec<LogRecord>,
    /// Offset after the last returned record, or `max(from, start)` if none was returned.
    pub next: Offset,
}

/// Something `LogStore::open` repaired or found damaged (plus damage found later by reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryEvent {
    pub log: String,
    /// Base offset (= file name) of the segment concerned.
    pub segment: Offset,
    /// Byte position inside the segment file.
    pub position: u64,
    pub kind: RecoveryKind,
}

/// What happened to a segment during recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecoveryKind {
    /// A torn or invalid tail was cut off at `position`; `bytes_removed` bytes were dropped.
    /// Only unacknowledged data can be lost this way.
    TruncatedTail { bytes_removed: u64 },
    /// A whole segment after a torn sealed segment was removed (it held only unacknowledged data).
    DroppedSegment { bytes_removed: u64 },
    /// A sealed segment's index was missing or damaged and was rebuilt from the data.
    IndexRebuilt,
    /// Damaged data inside a sealed segment; records from here are not served.
    Corrupt { reason: String },
}
