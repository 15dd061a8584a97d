//! The KPL aggregated-record format (spec §5): many user records packed into the data of one
//! Kinesis record, and unpacked again the way KCL does.
//!
//! ```text
//! data = F3 89 9A C2 ‖ protobuf(AggregatedRecord) ‖ MD5(protobuf)
//! ```
//!
//! - [`aggregate`] / [`AggregateBuilder`]: pack user records; the builder tracks the exact
//!   encoded size so a producer can stop at a limit (the KPL's `AggregationMaxSize`).
//! - [`deaggregate`] / [`deaggregate_in_range`]: unpack one Kinesis record into user records
//!   with sub-sequence numbers, following KCL's `AggregatorUtil` rule by rule; anything that
//!   is not a valid aggregate passes through as one plain record. This is what a consumer
//!   (a KCL-style worker or a Lambda-style function) runs on every record it reads.
//! - [`decode`]: the strict parser behind both, for tools that want to know why data is not
//!   an aggregate.
//!
//! The protobuf is hand-written (module `wire`): three small proto2 messages do not justify a
//! code generator, and the decoder must never panic on hostile input. No AWS dependency: the
//! crate works on bytes and strings, so any client can use it.
//!
//! ```
//! use nagare_agg::{Record, aggregate, deaggregate};
//!
//! let data = aggregate(&[Record::new("user-1", b"hello".to_vec()), Record::new("user-2", b"world".to_vec())]);
//! assert_eq!(&data[..4], nagare_agg::MAGIC);
//! let users = deaggregate("a", &data);
//! assert_eq!(users[1].record.partition_key, "user-2");
//! assert_eq!(users[1].sub_sequence_number, 1);
//! ```
// Tests may index and unwrap; library code may not: the decoder reads untrusted bytes.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::indexing_slicing))]

mod aggregate;
mod deaggregate;
mod wire;

pub use aggregate::{AggregateBuilder, aggregate};
pub use deaggregate::{
    DecodeError, DecodedAggregate, DecodedRecord, deaggregate, deaggregate_in_range, decode,
    effective_hash_key, has_magic,
};
pub use wire::WireError;

/// The four bytes every aggregated record starts with.
pub const MAGIC: [u8; 4] = [0xF3, 0x89, 0x9A, 0xC2];

/// Length of the MD5 digest that ends every aggregated record.
pub const DIGEST_LEN: usize = 16;

/// A user record: what a producer puts and a consumer gets back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Record {
    /// The user's partition key (inside an aggregate it only picks the shard through its MD5).
    pub partition_key: String,
    /// Decimal 128-bit hash key overriding the partition key's MD5, when set.
    pub explicit_hash_key: Option<String>,
    /// The payload.
    pub data: Vec<u8>,
}

impl Record {
    /// A record without an explicit hash key.
    ///
    /// ```
    /// let r = nagare_agg::Record::new("k", b"v".to_vec()).with_explicit_hash_key("1");
    /// assert_eq!(r.explicit_hash_key.as_deref(), Some("1"));
    /// ```
    pub fn new(partition_key: impl Into<String>, data: Vec<u8>) -> Self {
        Record {
            partition_key: partition_key.into(),
            explicit_hash_key: None,
            data,
        }
    }

    /// The same record with an explicit hash key.
    pub fn with_explicit_hash_key(mut self, explicit_hash_key: impl Into<String>) -> Self {
        self.explicit_hash_key = Some(explicit_hash_key.into());
        self
    }
}

/// One user record produced by de-aggregation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Keys and data. A plain record keeps the Kinesis record's partition key and has no
    /// explicit hash key (GetRecords does not return one).
    pub record: Record,
    /// Position inside the aggregate (0, 1, 2, …); 0 for a plain record. With the Kinesis
    /// record's sequence number it forms KCL's extended sequence number.
    pub sub_sequence_number: u64,
    /// True when the record came out of an aggregate.
    pub aggregated: bool,
}
