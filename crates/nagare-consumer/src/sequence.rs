//! Sequence numbers as a consumer sees them, and the checkpoint value built from them.
//!
//! A Kinesis sequence number is an opaque decimal string of up to 129 digits; AWS hands out
//! 56-digit values (about 2^185), so it does not fit in a `u128` and must never be compared as
//! a string of a different length. [`SequenceNumber`] keeps the digits and orders by value.
//! [`ExtendedSequenceNumber`] adds the KPL sub-record index and the lease-table sentinels
//! (`TRIM_HORIZON`, `LATEST`, `AT_TIMESTAMP`, `SHARD_END`), ordered as KCL orders them.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A Kinesis sequence number: decimal digits, compared by numeric value.
///
/// ```
/// use nagare_consumer::SequenceNumber;
///
/// let small: SequenceNumber = "999".parse().unwrap();
/// let big: SequenceNumber = "49543463076548007577105092703039560359975228518395012686".parse().unwrap();
/// assert!(small < big); // as strings, "999" > "4954…"
/// assert_eq!(big.as_str().len(), 56);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SequenceNumber(String);

impl SequenceNumber {
    /// The digits, without leading zeros (`"0"` for zero).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for SequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        // No leading zeros (normalised in `from_str`), so more digits means a larger value.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SequenceNumber({})", self.0)
    }
}

/// Text that is not a decimal sequence number (empty, a non-digit, or more than 129 digits).
///
/// ```
/// use nagare_consumer::SequenceNumber;
///
/// let err = "12a".parse::<SequenceNumber>().unwrap_err();
/// assert_eq!(err.0, "12a");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a Kinesis sequence number: {0:?}")]
pub struct InvalidSequenceNumber(pub String);

/// The longest sequence number the API allows (`0|[1-9]\d{0,128}`).
const MAX_DIGITS: usize = 129;

impl FromStr for SequenceNumber {
    type Err = InvalidSequenceNumber;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidSequenceNumber(s.to_owned()));
        }
        let trimmed = s.trim_start_matches('0');
        let digits = if trimmed.is_empty() { "0" } else { trimmed };
        if digits.len() > MAX_DIGITS {
            return Err(InvalidSequenceNumber(s.to_owned()));
        }
        Ok(SequenceNumber(digits.to_owned()))
    }
}

/// A position in a shard as the lease table records it: a sentinel, or a sequence number
/// plus the index of a user record inside a KPL aggregate (0 for plain records).
///
/// Ordering follows KCL's `ExtendedSequenceNumber`: `AT_TIMESTAMP < TRIM_HORIZON < LATEST <`
/// every real position `< SHARD_END`; real positions order by sequence number, then by
/// sub-sequence number.
///
/// ```
/// use nagare_consumer::ExtendedSequenceNumber;
///
/// let a = ExtendedSequenceNumber::at("100".parse().unwrap(), 2);
/// let b = ExtendedSequenceNumber::at("100".parse().unwrap(), 3);
/// assert!(ExtendedSequenceNumber::TrimHorizon < a && a < b);
/// assert!(b < ExtendedSequenceNumber::ShardEnd);
/// assert_eq!(ExtendedSequenceNumber::ShardEnd.to_string(), "SHARD_END");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExtendedSequenceNumber {
    /// `TRIM_HORIZON`: start at the oldest record still in the shard.
    TrimHorizon,
    /// `LATEST`: start after the newest record at the time of the first read.
    Latest,
    /// `AT_TIMESTAMP`: start at the configured timestamp.
    AtTimestamp,
    /// `SHARD_END`: every record of the (closed) shard has been processed.
    ShardEnd,
    /// A record (and a user record inside it, when it is an aggregate).
    Sequence {
        /// The Kinesis record's sequence number.
        sequence: SequenceNumber,
        /// Index of the user record inside the aggregate; 0 for plain records.
        sub_sequence: u64,
    },
}

impl ExtendedSequenceNumber {
    /// The position of user record `sub_sequence` of the record `sequence`.
    pub fn at(sequence: SequenceNumber, sub_sequence: u64) -> Self {
        ExtendedSequenceNumber::Sequence {
            sequence,
            sub_sequence,
        }
    }

    /// The text stored in the lease table's `checkpoint` attribute.
    pub fn checkpoint_text(&self) -> &str {
        match self {
            ExtendedSequenceNumber::TrimHorizon => "TRIM_HORIZON",
            ExtendedSequenceNumber::Latest => "LATEST",
            ExtendedSequenceNumber::AtTimestamp => "AT_TIMESTAMP",
            ExtendedSequenceNumber::ShardEnd => "SHARD_END",
            ExtendedSequenceNumber::Sequence { sequence, .. } => sequence.as_str(),
        }
    }

    /// The value stored in `checkpointSubSequenceNumber` (0 for sentinels).
    pub fn sub_sequence(&self) -> u64 {
        match self {
            ExtendedSequenceNumber::Sequence { sub_sequence, .. } => *sub_sequence,
            _ => 0,
        }
    }

    /// The sequence number, when this is a real position.
    pub fn sequence(&self) -> Option<&SequenceNumber> {
        match self {
            ExtendedSequenceNumber::Sequence { sequence, .. } => Some(sequence),
            _ => None,
        }
    }

    /// Parse the pair of lease attributes `checkpoint` / `checkpointSubSequenceNumber`.
    pub fn from_checkpoint(text: &str, sub_sequence: u64) -> Result<Self, InvalidSequenceNumber> {
        Ok(match text {
            "TRIM_HORIZON" => ExtendedSequenceNumber::TrimHorizon,
            "LATEST" => ExtendedSequenceNumber::Latest,
            "AT_TIMESTAMP" => ExtendedSequenceNumber::AtTimestamp,
            "SHARD_END" => ExtendedSequenceNumber::ShardEnd,
            other => ExtendedSequenceNumber::at(other.parse()?, sub_sequence),
        })
    }

    /// True for the three starting sentinels (nothing of the shard processed yet).
    pub fn is_initial(&self) -> bool {
        matches!(
            self,
            ExtendedSequenceNumber::TrimHorizon
                | ExtendedSequenceNumber::Latest
                | ExtendedSequenceNumber::AtTimestamp
        )
    }

    fn rank(&self) -> i8 {
        match self {
            ExtendedSequenceNumber::AtTimestamp => -3,
            ExtendedSequenceNumber::TrimHorizon => -2,
            ExtendedSequenceNumber::Latest => -1,
            ExtendedSequenceNumber::Sequence { .. } => 0,
            ExtendedSequenceNumber::ShardEnd => 1,
        }
    }
}

impl Ord for ExtendedSequenceNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (
                ExtendedSequenceNumber::Sequence {
                    sequence: a,
                    sub_sequence: sa,
                },
                ExtendedSequenceNumber::Sequence {
                    sequence: b,
                    sub_sequence: sb,
                },
            ) => a.cmp(b).then(sa.cmp(sb)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for ExtendedSequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for ExtendedSequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtendedSequenceNumber::Sequence {
                sequence,
                sub_sequence,
            } => write!(f, "{sequence}/{sub_sequence}"),
            sentinel => f.write_str(sentinel.checkpoint_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(s: &str) -> SequenceNumber {
        s.parse().unwrap()
    }

    #[test]
    fn orders_by_value_not_text() {
        assert!(seq("9") < seq("10"));
        assert!(seq("0009") == seq("9"));
        assert_eq!(seq("000").as_str(), "0");
        assert!("".parse::<SequenceNumber>().is_err());
        assert!("1".repeat(130).parse::<SequenceNumber>().is_err());
    }

    #[test]
    fn sentinels_order_like_kcl() {
        use ExtendedSequenceNumber as E;
        let mut v = vec![
            E::ShardEnd,
            E::at(seq("5"), 1),
            E::Latest,
            E::at(seq("5"), 0),
            E::TrimHorizon,
            E::AtTimestamp,
            E::at(seq("40"), 0),
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                E::AtTimestamp,
                E::TrimHorizon,
                E::Latest,
                E::at(seq("5"), 0),
                E::at(seq("5"), 1),
                E::at(seq("40"), 0),
                E::ShardEnd,
            ]
        );
    }

    #[test]
    fn checkpoint_text_round_trips() {
        for e in [
            ExtendedSequenceNumber::TrimHorizon,
            ExtendedSequenceNumber::Latest,
            ExtendedSequenceNumber::AtTimestamp,
            ExtendedSequenceNumber::ShardEnd,
            ExtendedSequenceNumber::at(seq("123"), 7),
        ] {
            let back =
                ExtendedSequenceNumber::from_checkpoint(e.checkpoint_text(), e.sub_sequence());
            assert_eq!(back, Ok(e));
        }
    }
}
