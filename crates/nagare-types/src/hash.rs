//! The 128-bit hash key space. Partition keys map to it by MD5 read as a big-endian integer.

use md5::{Digest, Md5};
use std::fmt;
use std::str::FromStr;

/// A point in the unsigned 128-bit hash key space. On the wire it is a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HashKey(pub u128);

impl HashKey {
    pub const MIN: HashKey = HashKey(0);
    pub const MAX: HashKey = HashKey(u128::MAX);
}

impl fmt::Display for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A decimal string that is not a hash key (too large, empty or not digits).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a 128-bit unsigned decimal: {0:?}")]
pub struct InvalidHashKey(pub String);

impl FromStr for HashKey {
    type Err = InvalidHashKey;
    /// Accepts plain decimal digits (leading zeros allowed: the wire pattern rejects them first).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidHashKey(s.to_owned()));
        }
        s.parse::<u128>()
            .map(HashKey)
            .map_err(|_| InvalidHashKey(s.to_owned()))
    }
}

/// MD5 of the UTF-8 key, as a big-endian unsigned integer (what KCL and AWS compute).
pub fn hash_partition_key(partition_key: &str) -> HashKey {
    let digest: [u8; 16] = Md5::digest(partition_key.as_bytes()).into();
    HashKey(u128::from_be_bytes(digest))
}

/// An inclusive range of hash keys owned by one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashKeyRange {
    pub start: HashKey,
    pub end: HashKey,
}

impl HashKeyRange {
    pub const FULL: HashKeyRange = HashKeyRange {
        start: HashKey::MIN,
        end: HashKey::MAX,
    };

    pub fn contains(&self, key: HashKey) -> bool {
        self.start <= key && key <= self.end
    }

    /// The ranges CreateStream gives `n` shards: `step = floor(2^128 / n)`, shard `i` owns
    /// `[step*i, step*(i+1) - 1]`, the last one ends at `2^128 - 1` (as AWS and kinesalite).
    pub fn uniform(n: u32) -> Vec<HashKeyRange> {
        if n <= 1 {
            // floor(2^128 / 1) does not fit in u128; one shard owns everything.
            return vec![HashKeyRange::FULL];
        }
        let n = u128::from(n);
        // floor(2^128 / n) computed without overflow: (2^128 - 1) / n, plus one when n divides 2^128.
        let step = u128::MAX / n + u128::from(u128::MAX % n == n - 1);
        (0..n)
            .map(|i| HashKeyRange {
                start: HashKey(step * i),
                end: if i + 1 == n {
                    HashKey::MAX
                } else {
                    HashKey(step * (i + 1) - 1)
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hashes_partition_key_like_aws() {
        // md5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(
            hash_partition_key("a").0,
            0x0cc175b9c0f1b6a831c399e269772661
        );
    }

    #[test]
    fn uniform_ranges_match_aws_for_two_shards() {
        let r = HashKeyRange::uniform(2);
        assert_eq!(
            r[0].end.to_string(),
            "170141183460469231731687303715884105727"
        );
        assert_eq!(
            r[1].start.to_string(),
            "170141183460469231731687303715884105728"
        );
        assert_eq!(r[1].end, HashKey::MAX);
    }

    #[test]
    fn one_shard_owns_the_whole_space() {
        assert_eq!(HashKeyRange::uniform(1), vec![HashKeyRange::FULL]);
    }

    #[test]
    fn rejects_out_of_range_hash_key() {
        assert!(
            "340282366920938463463374607431768211456"
                .parse::<HashKey>()
                .is_err()
        );
        assert!("-1".parse::<HashKey>().is_err());
        assert!("".parse::<HashKey>().is_err());
    }

    proptest! {
        #[test]
        fn uniform_ranges_partition_the_space(n in 1u32..2000) {
            let r = HashKeyRange::uniform(n);
            prop_assert_eq!(r.len(), n as usize);
            prop_assert_eq!(r.first().map(|x| x.start), Some(HashKey::MIN));
            prop_assert_eq!(r.last().map(|x| x.end), Some(HashKey::MAX));
            for w in r.windows(2) {
                prop_assert_eq!(w[0].end.0 + 1, w[1].start.0);
            }
        }

        #[test]
        fn hash_key_decimal_round_trips(v in any::<u128>()) {
            prop_assert_eq!(HashKey(v).to_string().parse::<HashKey>(), Ok(HashKey(v)));
        }
    }
}
