//! Shard identifiers: `shardId-` followed by a 12-digit zero-padded index.

use std::fmt;
use std::str::FromStr;

/// A shard's index within its stream. Indices are allocated in creation order and never
/// reused, so a child shard always has a larger index than its parents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardId(pub u32);

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shardId-{:012}", self.0)
    }
}

/// The text is not a shard id this service could have issued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a shard id: {0:?}")]
pub struct InvalidShardId(pub String);

impl FromStr for ShardId {
    type Err = InvalidShardId;
    /// Accepts `shardId-000000000001` and, like AWS/kinesalite, the lax forms `shardId-1` and `1`
    /// (indices up to 2147483647).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix("shardId-").unwrap_or(s);
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidShardId(s.to_owned()));
        }
        match digits.parse::<u64>() {
            Ok(v) if v <= i32::MAX as u64 => Ok(ShardId(v as u32)),
            _ => Err(InvalidShardId(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_with_twelve_digits() {
        assert_eq!(ShardId(3).to_string(), "shardId-000000000003");
    }

    #[test]
    fn parses_lax_forms() {
        assert_eq!("shardId-000000000007".parse(), Ok(ShardId(7)));
        assert_eq!("shardId-7".parse(), Ok(ShardId(7)));
        assert_eq!("7".parse(), Ok(ShardId(7)));
    }

    #[test]
    fn rejects_malformed_shard_ids() {
        for bad in ["", "shardId-", "shard-1", "shardId-x", "2147483648", "-1"] {
            assert!(bad.parse::<ShardId>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn shard_id_round_trips(v in 0u32..=i32::MAX as u32) {
            prop_assert_eq!(ShardId(v).to_string().parse::<ShardId>(), Ok(ShardId(v)));
        }
    }
}
