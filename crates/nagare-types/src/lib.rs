//! Validated Kinesis value types shared by the wire codec and the engine.
//!
//! - [`hash`]: the 128-bit hash key space and partition-key hashing (MD5, big-endian).
//! - [`shard_id`]: `shardId-NNNNNNNNNNNN` identifiers and their lax input forms.
//! - [`sequence`]: sequence numbers, which encode (stream, shard, log offset) so the
//!   server maps one back to a log position in O(1).
//! - [`caps`]: the AWS limits the service enforces.
//! - [`time`]: UTC calendar fields of a Unix time, for date texts on the wire.
//!
//! No I/O and no async here: these are plain values.
// Tests may index and unwrap; library code may not.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

pub mod caps;
pub mod hash;
pub mod sequence;
pub mod shard_id;
pub mod time;

pub use hash::{HashKey, HashKeyRange, hash_partition_key};
pub use sequence::{SequenceNumber, StreamTag};
pub use shard_id::ShardId;
