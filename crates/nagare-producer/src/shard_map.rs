//! The stream's open shards by hash range, for predicting where a record lands.

use nagare_types::{HashKey, HashKeyRange};
use std::sync::Arc;

/// One open shard as ListShards describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShardRange {
    pub shard_id: Arc<str>,
    pub range: HashKeyRange,
}

/// Open shards sorted by starting hash key.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShardMap {
    shards: Vec<ShardRange>,
}

impl ShardMap {
    pub(crate) fn new(mut shards: Vec<ShardRange>) -> Self {
        shards.sort_by_key(|s| s.range.start);
        ShardMap { shards }
    }

    pub(crate) fn shards(&self) -> &[ShardRange] {
        &self.shards
    }

    /// Index of the shard owning `key`, if the map has one.
    pub(crate) fn predict(&self, key: HashKey) -> Option<usize> {
        let i = self.shards.partition_point(|s| s.range.start <= key);
        let i = i.checked_sub(1)?;
        self.shards
            .get(i)
            .filter(|s| s.range.contains(key))
            .map(|_| i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: u32) -> ShardMap {
        ShardMap::new(
            HashKeyRange::uniform(n)
                .into_iter()
                .enumerate()
                .rev()
                .map(|(i, range)| ShardRange {
                    shard_id: format!("shardId-{i:012}").into(),
                    range,
                })
                .collect(),
        )
    }

    #[test]
    fn predicts_the_shard_owning_a_hash_key() {
        let m = map(4);
        assert_eq!(m.predict(HashKey(0)), Some(0));
        assert_eq!(m.predict(HashKey::MAX), Some(3));
        let second = HashKeyRange::uniform(4)[1];
        assert_eq!(m.predict(second.start), Some(1));
        assert_eq!(m.predict(second.end), Some(1));
        assert_eq!(&*m.shards()[1].shard_id, "shardId-000000000001");
    }

    #[test]
    fn gaps_and_empty_maps_predict_nothing() {
        assert_eq!(ShardMap::default().predict(HashKey(5)), None);
        let m = ShardMap::new(vec![ShardRange {
            shard_id: "s".into(),
            range: HashKeyRange {
                start: HashKey(10),
                end: HashKey(20),
            },
        }]);
        assert_eq!(m.predict(HashKey(5)), None);
        assert_eq!(m.predict(HashKey(21)), None);
        assert_eq!(m.predict(HashKey(15)), Some(0));
    }
}
