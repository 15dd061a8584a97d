//! The records a processor receives, and how Kinesis records become them.
//!
//! A Kinesis record may be a KPL aggregate holding many user records. The unpacking belongs
//! to the aggregation codec (`nagare-agg`, KCL's `AggregatorUtil` rules); [`Deaggregate`] is
//! the seam the shard consumer calls, [`Kpl`] its implementation.

use crate::sequence::{ExtendedSequenceNumber, SequenceNumber};
use nagare_types::HashKeyRange;
use std::time::SystemTime;

/// One user record: a plain Kinesis record, or one record unpacked from a KPL aggregate.
///
/// ```
/// use nagare_consumer::{ExtendedSequenceNumber, UserRecord};
///
/// let r = UserRecord {
///     sequence_number: "42".parse().unwrap(),
///     sub_sequence_number: 0,
///     partition_key: "user-1".into(),
///     explicit_hash_key: None,
///     data: b"hello".to_vec(),
///     approximate_arrival_timestamp: None,
///     aggregated: false,
/// };
/// assert_eq!(r.extended_sequence_number(), ExtendedSequenceNumber::at("42".parse().unwrap(), 0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// The Kinesis record's sequence number (shared by all user records of an aggregate).
    pub sequence_number: SequenceNumber,
    /// Index inside the aggregate; 0 for plain records.
    pub sub_sequence_number: u64,
    /// The user record's partition key.
    pub partition_key: String,
    /// The user record's explicit hash key, if the producer set one inside an aggregate.
    pub explicit_hash_key: Option<String>,
    /// The payload.
    pub data: Vec<u8>,
    /// When Kinesis received the (outer) record.
    pub approximate_arrival_timestamp: Option<SystemTime>,
    /// True when the record came out of a KPL aggregate.
    pub aggregated: bool,
}

impl UserRecord {
    /// The checkpointable position of this record.
    pub fn extended_sequence_number(&self) -> ExtendedSequenceNumber {
        ExtendedSequenceNumber::at(self.sequence_number.clone(), self.sub_sequence_number)
    }
}

/// One user record as the aggregation codec returns it, before the Kinesis record's sequence
/// number and arrival time are attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unpacked {
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
    pub data: Vec<u8>,
    pub sub_sequence_number: u64,
    pub aggregated: bool,
}

/// The de-aggregation seam: turn one Kinesis record's data into user records.
///
/// `range` is the hash key range of the shard the record was read from: KCL drops an
/// aggregate holding a user record outside it (the record was written before a reshard).
pub(crate) trait Deaggregate: Send + Sync {
    fn deaggregate(
        &self,
        partition_key: &str,
        data: Vec<u8>,
        range: Option<HashKeyRange>,
    ) -> Vec<Unpacked>;
}

/// KPL de-aggregation through `nagare-agg`: anything that is not a valid aggregate is one
/// plain user record; an aggregate with a user record outside the shard's range yields
/// nothing (it was written before a reshard and belongs to another shard).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Kpl;

impl Deaggregate for Kpl {
    fn deaggregate(
        &self,
        partition_key: &str,
        data: Vec<u8>,
        range: Option<HashKeyRange>,
    ) -> Vec<Unpacked> {
        if !nagare_agg::has_magic(&data) {
            // The common case: a plain record, passed on without copying its data.
            return vec![Unpacked {
                partition_key: partition_key.to_owned(),
                explicit_hash_key: None,
                data,
                sub_sequence_number: 0,
                aggregated: false,
            }];
        }
        nagare_agg::deaggregate_in_range(partition_key, &data, range.unwrap_or(HashKeyRange::FULL))
            .into_iter()
            .map(|u| Unpacked {
                partition_key: u.record.partition_key,
                explicit_hash_key: u.record.explicit_hash_key,
                data: u.record.data,
                sub_sequence_number: u.sub_sequence_number,
                aggregated: u.aggregated,
            })
            .collect()
    }
}

/// Unpack one Kinesis record read from a shard with hash key range `range`.
pub(crate) fn user_records(
    deagg: &dyn Deaggregate,
    record: aws_sdk_kinesis::types::Record,
    range: Option<HashKeyRange>,
) -> Result<Vec<UserRecord>, crate::sequence::InvalidSequenceNumber> {
    let sequence_number: SequenceNumber = record.sequence_number.parse()?;
    let arrival = record
        .approximate_arrival_timestamp
        .and_then(|t| SystemTime::try_from(t).ok());
    Ok(deagg
        .deaggregate(
            record.partition_key.as_deref().unwrap_or_default(),
            record.data.into_inner(),
            range,
        )
        .into_iter()
        .map(|u| UserRecord {
            sequence_number: sequence_number.clone(),
            sub_sequence_number: u.sub_sequence_number,
            partition_key: u.partition_key,
            explicit_hash_key: u.explicit_hash_key,
            data: u.data,
            approximate_arrival_timestamp: arrival,
            aggregated: u.aggregated,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nagare_types::{HashKey, hash_partition_key};

    #[test]
    fn plain_records_pass_through_and_aggregates_expand() {
        let plain = Kpl.deaggregate("k", b"hello".to_vec(), None);
        assert_eq!(plain.len(), 1);
        assert!(!plain[0].aggregated);
        assert_eq!(plain[0].partition_key, "k");
        let data = nagare_agg::aggregate(&[
            nagare_agg::Record::new("a", b"1".to_vec()),
            nagare_agg::Record::new("b", b"2".to_vec()),
        ]);
        let users = Kpl.deaggregate("a", data.clone(), None);
        assert_eq!(
            users
                .iter()
                .map(|u| (
                    u.partition_key.as_str(),
                    u.sub_sequence_number,
                    u.aggregated
                ))
                .collect::<Vec<_>>(),
            [("a", 0, true), ("b", 1, true)]
        );
        // A shard that owns neither key gets nothing from the aggregate.
        let a = hash_partition_key("a");
        let b = hash_partition_key("b");
        let outside = HashKeyRange {
            start: HashKey(a.0.max(b.0) + 1),
            end: HashKey::MAX,
        };
        assert!(Kpl.deaggregate("a", data, Some(outside)).is_empty());
    }
}
