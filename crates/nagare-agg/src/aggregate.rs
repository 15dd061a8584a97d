//! Building aggregated records: `MAGIC ‖ protobuf(AggregatedRecord) ‖ MD5(protobuf)`.
//!
//! [`AggregateBuilder`] adds user records one at a time and knows the exact encoded size at
//! every step, so a producer can stop before a size limit ([`AggregateBuilder::size_with`]).
//! The partition-key and explicit-hash-key tables hold each distinct key once, in order of
//! first use; fields are written in field-number order (tables, then records), which is the
//! byte layout the KPL and the reference aggregators produce.

use crate::wire::{self, LEN, VARINT};
use crate::{DIGEST_LEN, MAGIC, Record};
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Field numbers of `AggregatedRecord` and `Record` (spec §5). Fixed by the KPL format.
const AGG_PARTITION_KEY_TABLE: u32 = 1;
const AGG_EXPLICIT_HASH_KEY_TABLE: u32 = 2;
const AGG_RECORDS: u32 = 3;
const REC_PARTITION_KEY_INDEX: u32 = 1;
const REC_EXPLICIT_HASH_KEY_INDEX: u32 = 2;
const REC_DATA: u32 = 3;

/// Bytes an aggregate has before any record: magic and digest.
const FRAME_LEN: usize = MAGIC.len() + DIGEST_LEN;

/// One key table with its reverse index. Keys live in one string buffer and are found by a
/// 64-bit hash ([`key_hash`]) with chaining, so adding a key does not allocate per key: a producer
/// with a distinct partition key per record adds one per user record.
#[derive(Clone, Debug, Default)]
struct KeyTable {
    bytes: String,
    /// (start, end) of each key in `bytes`, by index.
    spans: Vec<(usize, usize)>,
    /// Hash → the first index with that hash.
    index: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    /// Next index with the same hash (`u32::MAX`: none).
    chain: Vec<u32>,
}

/// Where a key is or would go.
#[derive(Clone, Copy, Debug)]
struct Slot {
    index: u64,
    new: bool,
    hash: u64,
}

/// The table's hash of a key: FxHash-style, eight bytes per step (byte-at-a-time FNV-1a
/// cost a producer with a distinct key per record a noticeable share of its CPU). Never
/// stored or sent, so it only has to spread keys over the buckets; the final fold brings
/// the well-mixed high bits down to the low bits the map indexes by.
fn key_hash(key: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let step = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let mut chunks = key.as_bytes().chunks_exact(8);
    let mut h = step(0, key.len() as u64);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = step(h, u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        for (w, b) in word.iter_mut().zip(rest) {
            *w = *b;
        }
        h = step(h, u64::from_le_bytes(word));
    }
    h ^ (h >> 32)
}

/// The table's keys are already hashes.
#[derive(Clone, Copy, Debug, Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl KeyTable {
    fn len(&self) -> usize {
        self.spans.len()
    }

    fn key(&self, i: usize) -> &str {
        self.spans
            .get(i)
            .and_then(|&(a, b)| self.bytes.get(a..b))
            .unwrap_or_default()
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.key(i))
    }

    /// The index `key` has or would get.
    fn slot(&self, key: &str) -> Slot {
        let hash = key_hash(key);
        let mut next = self.index.get(&hash).copied();
        while let Some(i) = next.filter(|&i| i != u32::MAX) {
            if self.key(i as usize) == key {
                return Slot {
                    index: u64::from(i),
                    new: false,
                    hash,
                };
            }
            next = self.chain.get(i as usize).copied();
        }
        Slot {
            index: self.len() as u64,
            new: true,
            hash,
        }
    }

    fn insert(&mut self, key: &str, slot: Slot) {
        if !slot.new {
            return;
        }
        let i = self.len() as u32;
        let start = self.bytes.len();
        self.bytes.push_str(key);
        self.spans.push((start, self.bytes.len()));
        // Newest first in the chain of its hash.
        let previous = self.index.insert(slot.hash, i).unwrap_or(u32::MAX);
        self.chain.push(previous);
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
        self.index.clear();
        self.chain.clear();
    }
}

/// A record's place in the builder, computed once for sizing and pushing.
struct Plan {
    pk: Slot,
    ehk: Option<Slot>,
    /// Bytes the new table entries add.
    tables: usize,
    /// Length of the encoded `Record` message.
    inner: usize,
    /// `encoded_len` after the push.
    size: usize,
}

/// Builds one aggregated record incrementally.
///
/// ```
/// use nagare_agg::{AggregateBuilder, deaggregate};
///
/// let mut b = AggregateBuilder::new();
/// let size = b.size_with("pk-1", None, 5);
/// b.push("pk-1", None, b"hello");
/// assert_eq!(b.encoded_len(), size);
/// b.push("pk-2", Some("42"), b"world");
/// let bytes = b.finish();
/// assert_eq!(bytes.len(), b.encoded_len());
///
/// let users = deaggregate("a", &bytes);
/// assert_eq!(users.len(), 2);
/// assert_eq!(users[1].record.explicit_hash_key.as_deref(), Some("42"));
/// assert_eq!(users[1].sub_sequence_number, 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct AggregateBuilder {
    partition_keys: KeyTable,
    explicit_hash_keys: KeyTable,
    /// Encoded size of the table fields (1 and 2) written so far.
    tables_len: usize,
    /// The encoded `records` fields (3), each with its tag and length.
    records: Vec<u8>,
    count: usize,
}

impl AggregateBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// User records added so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True before the first [`push`](Self::push).
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size in bytes of [`finish`](Self::finish)'s output right now (magic, protobuf, MD5).
    pub fn encoded_len(&self) -> usize {
        FRAME_LEN + self.tables_len + self.records.len()
    }

    /// Size [`encoded_len`](Self::encoded_len) would have after pushing a record with these
    /// keys and `data_len` bytes of data. Exact, so a caller can stay under a limit.
    pub fn size_with(
        &self,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data_len: usize,
    ) -> usize {
        self.plan(partition_key, explicit_hash_key, data_len).size
    }

    fn plan(&self, partition_key: &str, explicit_hash_key: Option<&str>, data_len: usize) -> Plan {
        let pk = self.partition_keys.slot(partition_key);
        let mut tables = 0;
        if pk.new {
            tables += wire::bytes_field_len(partition_key.len());
        }
        let mut inner = 1 + wire::varint_len(pk.index) + wire::bytes_field_len(data_len);
        let ehk = explicit_hash_key.map(|ehk| {
            let slot = self.explicit_hash_keys.slot(ehk);
            if slot.new {
                tables += wire::bytes_field_len(ehk.len());
            }
            inner += 1 + wire::varint_len(slot.index);
            slot
        });
        Plan {
            pk,
            ehk,
            tables,
            inner,
            size: self.encoded_len() + tables + wire::bytes_field_len(inner),
        }
    }

    /// Add a user record. Keys already in a table are referenced, not repeated.
    pub fn push(&mut self, partition_key: &str, explicit_hash_key: Option<&str>, data: &[u8]) {
        let plan = self.plan(partition_key, explicit_hash_key, data.len());
        self.commit(&plan, partition_key, explicit_hash_key, data);
    }

    /// Add a user record only if the aggregate stays within `max_size` bytes; returns whether
    /// it was added. One key lookup, where [`size_with`](Self::size_with) followed by
    /// [`push`](Self::push) takes two.
    ///
    /// ```
    /// let mut b = nagare_agg::AggregateBuilder::new();
    /// assert!(b.try_push("k", None, &[0; 100], 200));
    /// assert!(!b.try_push("k", None, &[0; 100], 200));
    /// assert_eq!(b.len(), 1);
    /// ```
    pub fn try_push(
        &mut self,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data: &[u8],
        max_size: usize,
    ) -> bool {
        let plan = self.plan(partition_key, explicit_hash_key, data.len());
        if plan.size > max_size {
            return false;
        }
        self.commit(&plan, partition_key, explicit_hash_key, data);
        true
    }

    fn commit(
        &mut self,
        plan: &Plan,
        partition_key: &str,
        explicit_hash_key: Option<&str>,
        data: &[u8],
    ) {
        self.partition_keys.insert(partition_key, plan.pk);
        if let (Some(ehk), Some(slot)) = (explicit_hash_key, plan.ehk) {
            self.explicit_hash_keys.insert(ehk, slot);
        }
        self.tables_len += plan.tables;
        let out = &mut self.records;
        out.reserve(wire::bytes_field_len(plan.inner));
        wire::put_tag(out, AGG_RECORDS, LEN);
        wire::put_varint(out, plan.inner as u64);
        wire::put_tag(out, REC_PARTITION_KEY_INDEX, VARINT);
        wire::put_varint(out, plan.pk.index);
        if let Some(slot) = plan.ehk {
            wire::put_tag(out, REC_EXPLICIT_HASH_KEY_INDEX, VARINT);
            wire::put_varint(out, slot.index);
        }
        wire::put_bytes_field(out, REC_DATA, data);
        self.count += 1;
    }

    /// The aggregated record: magic, protobuf, MD5 of the protobuf. The builder is left as it
    /// was (call [`clear`](Self::clear) to reuse it).
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        for key in self.partition_keys.keys() {
            wire::put_bytes_field(&mut out, AGG_PARTITION_KEY_TABLE, key.as_bytes());
        }
        for key in self.explicit_hash_keys.keys() {
            wire::put_bytes_field(&mut out, AGG_EXPLICIT_HASH_KEY_TABLE, key.as_bytes());
        }
        out.extend_from_slice(&self.records);
        let digest = Md5::digest(out.get(MAGIC.len()..).unwrap_or_default());
        out.extend_from_slice(&digest);
        out
    }

    /// Forget every record, keeping the allocations.
    pub fn clear(&mut self) {
        self.partition_keys.clear();
        self.explicit_hash_keys.clear();
        self.tables_len = 0;
        self.records.clear();
        self.count = 0;
    }
}

/// Aggregate `records` into one Kinesis record's data (all of them, whatever the size).
///
/// ```
/// use nagare_agg::{Record, aggregate, deaggregate};
///
/// let records = vec![
///     Record::new("k1", b"one".to_vec()),
///     Record::new("k1", b"two".to_vec()).with_explicit_hash_key("7"),
/// ];
/// let data = aggregate(&records);
/// let back: Vec<Record> = deaggregate("a", &data).into_iter().map(|u| u.record).collect();
/// assert_eq!(back, records);
/// ```
pub fn aggregate(records: &[Record]) -> Vec<u8> {
    let mut b = AggregateBuilder::new();
    for r in records {
        b.push(&r.partition_key, r.explicit_hash_key.as_deref(), &r.data);
    }
    b.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{DecodedAggregate, decode};
    use proptest::prelude::*;

    #[test]
    fn matches_reference_aggregator_bytes() {
        // aws-kinesis-agg 1.2.3: add_user_record('pk1', b'hello'), ('pk2', b'world', '123').
        let expected = "f3899ac20a03706b310a03706b3212033132331a0908001a0568656c6c6f1a0b\
                        080110001a05776f726c64cb48b8211afb3c05f4c31852c9aff58e";
        let data = aggregate(&[
            Record::new("pk1", b"hello".to_vec()),
            Record::new("pk2", b"world".to_vec()).with_explicit_hash_key("123"),
        ]);
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn deduplicates_key_tables() {
        let mut b = AggregateBuilder::new();
        for i in 0..10 {
            b.push(&format!("k{}", i % 3), Some("5"), &[i]);
        }
        let DecodedAggregate {
            partition_key_table,
            explicit_hash_key_table,
            records,
        } = decode(&b.finish()).expect("decodes");
        assert_eq!(partition_key_table, ["k0", "k1", "k2"]);
        assert_eq!(explicit_hash_key_table, ["5"]);
        assert_eq!(records.len(), 10);
        assert_eq!(records[4].partition_key_index, 1);
    }

    #[test]
    fn key_table_chains_keys_with_equal_hashes() {
        let mut t = KeyTable::default();
        // Force a collision: insert two keys under one hash by hand.
        let a = Slot {
            index: 0,
            new: true,
            hash: 7,
        };
        t.insert("x", a);
        let b = Slot {
            index: 1,
            new: true,
            hash: 7,
        };
        t.insert("y", b);
        assert_eq!(t.index.get(&7), Some(&1));
        assert_eq!(t.chain, [u32::MAX, 0]);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["x", "y"]);
    }

    #[test]
    fn clear_allows_reuse() {
        let mut b = AggregateBuilder::new();
        b.push("x", None, b"1");
        b.clear();
        assert!(b.is_empty());
        b.push("y", None, b"2");
        assert_eq!(b.finish(), aggregate(&[Record::new("y", b"2".to_vec())]));
    }

    /// Records whose explicit hash keys are valid 128-bit decimals (de-aggregation checks them).
    pub(crate) fn arb_record() -> impl Strategy<Value = Record> {
        (
            "[a-c]{1,3}|\\PC{1,20}",
            proptest::option::of(any::<u128>().prop_map(|v| v.to_string())),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(pk, ehk, data)| Record {
                partition_key: pk,
                explicit_hash_key: ehk,
                data,
            })
    }

    proptest! {
        #[test]
        fn size_accounting_is_exact(records in proptest::collection::vec(arb_record(), 0..40)) {
            let mut b = AggregateBuilder::new();
            for r in &records {
                let predicted =
                    b.size_with(&r.partition_key, r.explicit_hash_key.as_deref(), r.data.len());
                b.push(&r.partition_key, r.explicit_hash_key.as_deref(), &r.data);
                prop_assert_eq!(b.encoded_len(), predicted);
            }
            prop_assert_eq!(b.finish().len(), b.encoded_len());
        }

        #[test]
        fn aggregate_round_trips_through_deaggregate(
            records in proptest::collection::vec(arb_record(), 1..40),
        ) {
            let data = aggregate(&records);
            let users = crate::deaggregate("outer", &data);
            prop_assert_eq!(users.len(), records.len());
            for (i, (u, r)) in users.iter().zip(&records).enumerate() {
                prop_assert_eq!(&u.record, r);
                prop_assert_eq!(u.sub_sequence_number, i as u64);
                prop_assert!(u.aggregated);
            }
        }
    }
}
