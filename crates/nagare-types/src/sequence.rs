//! Sequence numbers.
//!
//! Layout of the 128-bit value (rendered as a 38-digit decimal string on the wire):
//!
//! ```text
//! bits 127..124  version = 1      (puts every number in [2^124, 2^125): always 38 digits)
//! bits 123..96   stream tag       (28 bits, random per stream incarnation)
//! bits  95..64   shard index      (ShardId)
//! bits  63..0    log offset       (position in the shard's log)
//! ```
//!
//! Invariants this gives: numbers are unique per stream and strictly increasing within a shard
//! (offsets are); every number of a child shard is greater than every number of its parents
//! (children have larger indices); the server recovers (stream, shard, offset) in O(1); a number
//! from another stream or an older incarnation of the same name is detected by its tag.

use crate::ShardId;
use std::fmt;
use std::str::FromStr;

const VERSION: u128 = 1;
const TAG_BITS: u32 = 28;

/// Identifies one incarnation of a stream inside its sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StreamTag(u32);

impl StreamTag {
    /// Keeps the low 28 bits.
    pub fn new(raw: u32) -> Self {
        StreamTag(raw & ((1 << TAG_BITS) - 1))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// A Kinesis sequence number. Compare as integers, never as strings of different lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber(pub u128);

/// The parts a sequence number issued by this service encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceParts {
    pub tag: StreamTag,
    pub shard: ShardId,
    pub offset: u64,
}

impl SequenceNumber {
    pub fn new(tag: StreamTag, shard: ShardId, offset: u64) -> Self {
        SequenceNumber(
            (VERSION << 124)
                | (u128::from(tag.0) << 96)
                | (u128::from(shard.0) << 64)
                | u128::from(offset),
        )
    }

    /// The number of the record at `offset` in its shard's log. The low part is `offset + 1`,
    /// so the shard's `StartingSequenceNumber` (low part 0) is below every record, and
    /// "after the starting number" is the first record.
    pub fn of_record(tag: StreamTag, shard: ShardId, offset: u64) -> Self {
        Self::new(tag, shard, offset.saturating_add(1))
    }

    /// The log offset a reader starting *at* this number reads first.
    pub fn at_offset(parts: SequenceParts) -> u64 {
        parts.offset.saturating_sub(1)
    }

    /// The log offset a reader starting *after* this number reads first.
    pub fn after_offset(parts: SequenceParts) -> u64 {
        parts.offset
    }

    /// The shard's `StartingSequenceNumber`: no record of the shard is below it.
    pub fn shard_start(tag: StreamTag, shard: ShardId) -> Self {
        Self::new(tag, shard, 0)
    }

    /// A closed shard's `EndingSequenceNumber`: no record of the shard is above it.
    pub fn shard_end(tag: StreamTag, shard: ShardId) -> Self {
        Self::new(tag, shard, u64::MAX)
    }

    /// The parts, or `None` when the number was not issued by this service's layout.
    pub fn parts(self) -> Option<SequenceParts> {
        if self.0 >> 124 != VERSION {
            return None;
        }
        Some(SequenceParts {
            tag: StreamTag((self.0 >> 96) as u32 & ((1 << TAG_BITS) - 1)),
            shard: ShardId((self.0 >> 64) as u32),
            offset: self.0 as u64,
        })
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// Text that matches the wire pattern but does not fit in 128 bits, or is not decimal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a sequence number of this service: {0:?}")]
pub struct InvalidSequenceNumber(pub String);

impl FromStr for SequenceNumber {
    type Err = InvalidSequenceNumber;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidSequenceNumber(s.to_owned()));
        }
        s.parse::<u128>()
            .map(SequenceNumber)
            .map_err(|_| InvalidSequenceNumber(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renders_38_digits() {
        let s = SequenceNumber::new(StreamTag::new(0), ShardId(0), 0).to_string();
        assert_eq!(s.len(), 38);
        let s = SequenceNumber::shard_end(StreamTag::new(u32::MAX), ShardId(u32::MAX)).to_string();
        assert_eq!(s.len(), 38);
    }

    #[test]
    fn rejects_foreign_layouts() {
        assert_eq!(SequenceNumber(12345).parts(), None);
        assert!(
            "49543463076548007577105092703039560359975228518395012686"
                .parse::<SequenceNumber>()
                .is_err()
        );
        assert!("12a".parse::<SequenceNumber>().is_err());
    }

    proptest! {
        #[test]
        fn sequence_parts_round_trip(tag in any::<u32>(), shard in any::<u32>(), off in any::<u64>()) {
            let n = SequenceNumber::new(StreamTag::new(tag), ShardId(shard), off);
            let p = n.parts().expect("own layout");
            prop_assert_eq!(p.tag, StreamTag::new(tag));
            prop_assert_eq!(p.shard, ShardId(shard));
            prop_assert_eq!(p.offset, off);
            prop_assert_eq!(n.to_string().parse::<SequenceNumber>(), Ok(n));
        }

        #[test]
        fn record_numbers_map_back_to_their_offsets(tag in any::<u32>(), shard in any::<u32>(), off in 0u64..u64::MAX) {
            let n = SequenceNumber::of_record(StreamTag::new(tag), ShardId(shard), off);
            let p = n.parts().expect("own layout");
            prop_assert_eq!(SequenceNumber::at_offset(p), off);
            prop_assert_eq!(SequenceNumber::after_offset(p), off + 1);
            prop_assert!(n > SequenceNumber::shard_start(StreamTag::new(tag), ShardId(shard)));
        }

        #[test]
        fn child_shard_numbers_exceed_parent_numbers(tag in any::<u32>(), parent in 0u32..1000, poff in any::<u64>(), coff in any::<u64>()) {
            let t = StreamTag::new(tag);
            prop_assert!(SequenceNumber::new(t, ShardId(parent + 1), coff) > SequenceNumber::new(t, ShardId(parent), poff));
        }
    }
}
