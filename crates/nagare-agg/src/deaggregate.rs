//! Reading aggregated records, with the rules of KCL's `AggregatorUtil.deaggregate`.
//!
//! [`decode`] is the strict parser: it says why data is not a valid aggregate. [`deaggregate`]
//! and [`deaggregate_in_range`] never fail: data that is not an aggregate (shorter than the
//! magic, another magic, 16 bytes or less after it, an MD5 mismatch, a protobuf that does not
//! parse) comes back as one plain record with sub-sequence number 0, exactly as KCL treats it.
//! A well-formed aggregate yields one user record per `Record`, numbered 0, 1, 2, ….
//!
//! Two KCL behaviours inside a well-formed aggregate are kept on purpose:
//! - a user record whose effective hash key (explicit hash key, else MD5 of the partition
//!   key) is outside the shard's range drops every user record of that aggregate, since the
//!   aggregate was written under a stale shard map and another shard's reader owns them;
//! - a record that cannot be resolved (a table index out of bounds, an explicit hash key that
//!   is not a number) ends the aggregate there, keeping the records before it (KCL logs the
//!   exception and goes on with the next Kinesis record).

#[cfg(test)]
use crate::wire;
use crate::wire::{LEN, Reader, VARINT, WireError};
use crate::{DIGEST_LEN, MAGIC, Record, UserRecord};
use md5::{Digest, Md5};
use nagare_types::{HashKey, HashKeyRange, hash_partition_key};
use std::fmt;

/// A parsed `AggregatedRecord` message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedAggregate {
    /// Field 1: partition keys referenced by index.
    pub partition_key_table: Vec<String>,
    /// Field 2: explicit hash keys referenced by index.
    pub explicit_hash_key_table: Vec<String>,
    /// Field 3: the user records, in order.
    pub records: Vec<DecodedRecord>,
}

/// A parsed `Record` message (its `tags` are read and dropped: neither KPL nor KCL uses them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodedRecord {
    /// Index into [`DecodedAggregate::partition_key_table`].
    pub partition_key_index: u64,
    /// Index into [`DecodedAggregate::explicit_hash_key_table`], when present.
    pub explicit_hash_key_index: Option<u64>,
    /// The user record's data.
    pub data: Vec<u8>,
}

/// Why data is not a valid aggregated record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than 4 bytes, or another 4-byte prefix than the magic.
    NoMagic,
    /// 16 bytes or less after the magic: no room for a digest and a message.
    TooShort,
    /// The trailing 16 bytes are not the MD5 of the protobuf.
    DigestMismatch,
    /// The protobuf does not parse as an `AggregatedRecord`.
    Protobuf(WireError),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NoMagic => f.write_str("no aggregated-record magic"),
            DecodeError::TooShort => f.write_str("no room for a message and an MD5 digest"),
            DecodeError::DigestMismatch => f.write_str("MD5 digest does not match the message"),
            DecodeError::Protobuf(e) => write!(f, "malformed AggregatedRecord: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Protobuf(e) => Some(e),
            DecodeError::NoMagic | DecodeError::TooShort | DecodeError::DigestMismatch => None,
        }
    }
}

impl From<WireError> for DecodeError {
    fn from(e: WireError) -> Self {
        DecodeError::Protobuf(e)
    }
}

/// True when `data` starts with the aggregated-record magic (a cheap first check; the data can
/// still fail [`decode`]).
pub fn has_magic(data: &[u8]) -> bool {
    data.starts_with(&MAGIC)
}

/// Parse aggregated-record data strictly: check magic, length and MD5, then the protobuf.
///
/// ```
/// use nagare_agg::{DecodeError, Record, aggregate, decode};
///
/// let data = aggregate(&[Record::new("k", b"v".to_vec())]);
/// let agg = decode(&data).unwrap();
/// assert_eq!(agg.partition_key_table, ["k"]);
/// assert_eq!(agg.records[0].data, b"v");
/// assert_eq!(decode(b"plain"), Err(DecodeError::NoMagic));
/// ```
pub fn decode(data: &[u8]) -> Result<DecodedAggregate, DecodeError> {
    let body = data.strip_prefix(&MAGIC).ok_or(DecodeError::NoMagic)?;
    if body.len() <= DIGEST_LEN {
        return Err(DecodeError::TooShort);
    }
    let (message, digest) = body.split_at(body.len() - DIGEST_LEN);
    if Md5::digest(message).as_slice() != digest {
        return Err(DecodeError::DigestMismatch);
    }
    Ok(parse_aggregated_record(message)?)
}

/// The string of a `string` field. protobuf-java (KCL) decodes proto2 strings leniently,
/// replacing invalid UTF-8; so does this.
fn string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn parse_aggregated_record(message: &[u8]) -> Result<DecodedAggregate, WireError> {
    let mut out = DecodedAggregate::default();
    let mut r = Reader::new(message);
    while !r.is_empty() {
        match r.tag()? {
            (1, LEN) => out.partition_key_table.push(string(r.bytes()?)),
            (2, LEN) => out.explicit_hash_key_table.push(string(r.bytes()?)),
            (3, LEN) => out.records.push(parse_record(r.bytes()?)?),
            // Unknown fields, and known ones with another wire type, are skipped (protobuf-java).
            (field, wire_type) => r.skip(field, wire_type)?,
        }
    }
    Ok(out)
}

fn parse_record(message: &[u8]) -> Result<DecodedRecord, WireError> {
    let mut partition_key_index = None;
    let mut explicit_hash_key_index = None;
    let mut data = None;
    let mut r = Reader::new(message);
    while !r.is_empty() {
        match r.tag()? {
            // Repeated occurrences of a singular field: the last one wins.
            (1, VARINT) => partition_key_index = Some(r.varint()?),
            (2, VARINT) => explicit_hash_key_index = Some(r.varint()?),
            (3, LEN) => data = Some(r.bytes()?),
            (4, LEN) => parse_tag(r.bytes()?)?,
            (field, wire_type) => r.skip(field, wire_type)?,
        }
    }
    Ok(DecodedRecord {
        partition_key_index: partition_key_index
            .ok_or(WireError::MissingRequired("Record.partition_key_index"))?,
        explicit_hash_key_index,
        data: data
            .ok_or(WireError::MissingRequired("Record.data"))?
            .to_vec(),
    })
}

/// Checks a `Tag` (its required `key` must be there) and drops it.
fn parse_tag(message: &[u8]) -> Result<(), WireError> {
    let mut has_key = false;
    let mut r = Reader::new(message);
    while !r.is_empty() {
        match r.tag()? {
            (1, LEN) => {
                r.bytes()?;
                has_key = true;
            }
            (field, wire_type) => r.skip(field, wire_type)?,
        }
    }
    if has_key {
        Ok(())
    } else {
        Err(WireError::MissingRequired("Tag.key"))
    }
}

/// What KCL's `new BigInteger(explicitHashKey)` makes of an explicit hash key.
enum ParsedHashKey {
    Key(HashKey),
    /// A number outside `[0, 2^128 - 1]`: never in any shard's range.
    OutOfRange,
    /// Not a number (`NumberFormatException` in KCL).
    Invalid,
}

fn parse_explicit_hash_key(s: &str) -> ParsedHashKey {
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return ParsedHashKey::Invalid;
    }
    let zero = digits.bytes().all(|b| b == b'0');
    if negative && !zero {
        return ParsedHashKey::OutOfRange;
    }
    match digits.parse::<u128>() {
        Ok(v) => ParsedHashKey::Key(HashKey(v)),
        Err(_) => ParsedHashKey::OutOfRange,
    }
}

/// The key a user record routes by: its explicit hash key if it has one, else MD5 of its
/// partition key. `None` for an explicit hash key that is not a 128-bit unsigned decimal.
pub fn effective_hash_key(partition_key: &str, explicit_hash_key: Option<&str>) -> Option<HashKey> {
    match explicit_hash_key {
        None => Some(hash_partition_key(partition_key)),
        Some(ehk) => match parse_explicit_hash_key(ehk) {
            ParsedHashKey::Key(k) => Some(k),
            ParsedHashKey::OutOfRange | ParsedHashKey::Invalid => None,
        },
    }
}

/// De-aggregate one Kinesis record read from any shard (the whole hash key range).
///
/// `partition_key` is the Kinesis record's own key: a plain record keeps it. Sequence number
/// and arrival time are the Kinesis record's, shared by every user record it yields.
///
/// ```
/// use nagare_agg::{Record, aggregate, deaggregate};
///
/// // A plain record passes through.
/// let plain = deaggregate("key", b"not aggregated");
/// assert_eq!(plain.len(), 1);
/// assert!(!plain[0].aggregated);
/// assert_eq!(plain[0].record.partition_key, "key");
///
/// // An aggregate expands, numbered by sub-sequence.
/// let data = aggregate(&[Record::new("x", b"1".to_vec()), Record::new("y", b"2".to_vec())]);
/// let users = deaggregate("a", &data);
/// assert_eq!(users.iter().map(|u| u.sub_sequence_number).collect::<Vec<_>>(), [0, 1]);
/// assert_eq!(users[1].record.data, b"2");
/// ```
pub fn deaggregate(partition_key: &str, data: &[u8]) -> Vec<UserRecord> {
    deaggregate_in_range(partition_key, data, HashKeyRange::FULL)
}

/// De-aggregate one Kinesis record read from a shard owning `range`. If any user record's
/// effective hash key is outside `range`, none of the aggregate's user records is returned
/// (KCL's rule; see the module docs).
///
/// ```
/// use nagare_agg::{Record, aggregate, deaggregate_in_range};
/// use nagare_types::{HashKey, HashKeyRange, hash_partition_key};
///
/// let data = aggregate(&[Record::new("x", b"1".to_vec())]);
/// let owner = HashKeyRange { start: hash_partition_key("x"), end: HashKey::MAX };
/// assert_eq!(deaggregate_in_range("a", &data, owner).len(), 1);
/// let other = HashKeyRange { start: HashKey(0), end: HashKey(0) };
/// assert!(deaggregate_in_range("a", &data, other).is_empty());
/// ```
pub fn deaggregate_in_range(
    partition_key: &str,
    data: &[u8],
    range: HashKeyRange,
) -> Vec<UserRecord> {
    let agg = match decode(data) {
        Ok(agg) => agg,
        Err(_) => {
            return vec![UserRecord {
                record: Record::new(partition_key, data.to_vec()),
                sub_sequence_number: 0,
                aggregated: false,
            }];
        }
    };
    let DecodedAggregate {
        partition_key_table: pks,
        explicit_hash_key_table: ehks,
        records,
    } = agg;
    let mut out = Vec::with_capacity(records.len());
    for (sub, rec) in records.into_iter().enumerate() {
        // KCL indexes with `(int) index`: the low 32 bits, as a signed int.
        let lookup = |table: &[String], index: u64| -> Option<String> {
            usize::try_from(index as i32)
                .ok()
                .and_then(|i| table.get(i).cloned())
        };
        let Some(pk) = lookup(&pks, rec.partition_key_index) else {
            break;
        };
        let ehk = match rec.explicit_hash_key_index {
            None => None,
            Some(i) => match lookup(&ehks, i) {
                Some(ehk) => Some(ehk),
                None => break,
            },
        };
        let key = match &ehk {
            None => hash_partition_key(&pk),
            Some(ehk) => match parse_explicit_hash_key(ehk) {
                ParsedHashKey::Key(k) => k,
                ParsedHashKey::OutOfRange => {
                    out.clear();
                    break;
                }
                ParsedHashKey::Invalid => break,
            },
        };
        if !range.contains(key) {
            out.clear();
            break;
        }
        out.push(UserRecord {
            record: Record {
                partition_key: pk,
                explicit_hash_key: ehk,
                data: rec.data,
            },
            sub_sequence_number: sub as u64,
            aggregated: true,
        });
    }
    out
}

/// Wraps a hand-made protobuf message in magic and digest (tests only).
#[cfg(test)]
pub(crate) fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(message);
    out.extend_from_slice(&Md5::digest(message));
    out
}

/// Encode a whole `AggregatedRecord` field by field (tests only: lets them build odd inputs).
#[cfg(test)]
pub(crate) fn put_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    wire::put_bytes_field(out, field, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate;
    use crate::aggregate::tests::arb_record;
    use proptest::prelude::*;

    fn record_msg(pk_index: u64, ehk_index: Option<u64>, data: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        wire::put_tag(&mut m, 1, VARINT);
        wire::put_varint(&mut m, pk_index);
        if let Some(i) = ehk_index {
            wire::put_tag(&mut m, 2, VARINT);
            wire::put_varint(&mut m, i);
        }
        put_field(&mut m, 3, data);
        m
    }

    fn plain(pk: &str, data: &[u8]) -> Vec<UserRecord> {
        vec![UserRecord {
            record: Record::new(pk, data.to_vec()),
            sub_sequence_number: 0,
            aggregated: false,
        }]
    }

    #[test]
    fn short_or_foreign_data_is_a_plain_record() {
        for data in [
            &b""[..],
            b"abc",
            b"\xf3\x89\x9a",
            b"hello world",
            b"\xf3\x89\x9a\xc3xxxxxxxxxxxxxxxxxxx",
        ] {
            assert_eq!(deaggregate("pk", data), plain("pk", data));
        }
    }

    #[test]
    fn sixteen_bytes_after_magic_is_a_plain_record() {
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&Md5::digest(b""));
        assert_eq!(decode(&data), Err(DecodeError::TooShort));
        assert_eq!(deaggregate("pk", &data), plain("pk", &data));
    }

    #[test]
    fn digest_mismatch_is_a_plain_record() {
        let mut data = aggregate(&[Record::new("k", b"v".to_vec())]);
        let last = data.len() - 1;
        data[last] ^= 1;
        assert_eq!(decode(&data), Err(DecodeError::DigestMismatch));
        assert_eq!(deaggregate("pk", &data), plain("pk", &data));
    }

    #[test]
    fn unparsable_protobuf_is_a_plain_record() {
        // A Record without its required data field.
        let mut msg = Vec::new();
        put_field(&mut msg, 1, b"k");
        let mut rec = Vec::new();
        wire::put_tag(&mut rec, 1, VARINT);
        wire::put_varint(&mut rec, 0);
        put_field(&mut msg, 3, &rec);
        let data = frame(&msg);
        assert_eq!(
            decode(&data),
            Err(DecodeError::Protobuf(WireError::MissingRequired(
                "Record.data"
            )))
        );
        assert_eq!(deaggregate("pk", &data), plain("pk", &data));
        // Truncated message.
        let data = frame(&[0x0a, 0x05, b'a']);
        assert_eq!(deaggregate("pk", &data), plain("pk", &data));
    }

    #[test]
    fn tolerates_unknown_fields() {
        let mut msg = Vec::new();
        put_field(&mut msg, 1, b"k");
        // Unknown fields at the top level: varint 9, fixed32 10, fixed64 11, bytes 12.
        msg.extend_from_slice(&[0x48, 0x2a, 0x55, 1, 2, 3, 4, 0x59, 1, 2, 3, 4, 5, 6, 7, 8]);
        put_field(&mut msg, 12, b"ignored");
        let mut rec = record_msg(0, None, b"data");
        // An unknown field and a tag inside the record.
        put_field(&mut rec, 7, b"x");
        let mut tag = Vec::new();
        put_field(&mut tag, 1, b"tk");
        put_field(&mut tag, 2, b"tv");
        put_field(&mut rec, 4, &tag);
        put_field(&mut msg, 3, &rec);
        let users = deaggregate("outer", &frame(&msg));
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].record, Record::new("k", b"data".to_vec()));
        assert!(users[0].aggregated);
    }

    #[test]
    fn empty_aggregate_yields_nothing() {
        // A valid message with a key table and no records: KCL emits no user record.
        let mut msg = Vec::new();
        put_field(&mut msg, 1, b"k");
        assert!(deaggregate("pk", &frame(&msg)).is_empty());
    }

    #[test]
    fn bad_table_index_keeps_records_before_it() {
        let mut msg = Vec::new();
        put_field(&mut msg, 1, b"k");
        put_field(&mut msg, 3, &record_msg(0, None, b"first"));
        put_field(&mut msg, 3, &record_msg(5, None, b"bad"));
        put_field(&mut msg, 3, &record_msg(0, None, b"after"));
        let users = deaggregate("pk", &frame(&msg));
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].record.data, b"first");
    }

    #[test]
    fn partition_key_index_uses_low_32_bits_like_kcl() {
        let mut msg = Vec::new();
        put_field(&mut msg, 1, b"k");
        put_field(&mut msg, 3, &record_msg(1 << 32, None, b"wraps"));
        let users = deaggregate("pk", &frame(&msg));
        assert_eq!(users[0].record.partition_key, "k");
    }

    #[test]
    fn record_outside_shard_range_drops_the_whole_aggregate() {
        let records = [
            Record::new("x", b"1".to_vec()).with_explicit_hash_key("10"),
            Record::new("x", b"2".to_vec()).with_explicit_hash_key("20"),
            Record::new("x", b"3".to_vec()).with_explicit_hash_key("99"),
        ];
        let data = aggregate(&records);
        let range = |s, e| HashKeyRange {
            start: HashKey(s),
            end: HashKey(e),
        };
        assert_eq!(deaggregate_in_range("a", &data, range(0, 99)).len(), 3);
        assert!(deaggregate_in_range("a", &data, range(0, 50)).is_empty());
        assert!(deaggregate_in_range("a", &data, range(15, 100)).is_empty());
    }

    #[test]
    fn explicit_hash_keys_follow_java_biginteger() {
        let one =
            |ehk: &str| aggregate(&[Record::new("k", b"v".to_vec()).with_explicit_hash_key(ehk)]);
        let two = |ehk: &str| {
            aggregate(&[
                Record::new("k", b"ok".to_vec()),
                Record::new("k", b"v".to_vec()).with_explicit_hash_key(ehk),
            ])
        };
        assert_eq!(deaggregate("a", &one("+5"))[0].record.data, b"v");
        assert_eq!(deaggregate("a", &one("-0")).len(), 1);
        // Negative or beyond 2^128 - 1: outside every range, so the aggregate is dropped.
        assert!(deaggregate("a", &two("-1")).is_empty());
        assert!(deaggregate("a", &two("340282366920938463463374607431768211456")).is_empty());
        // Not a number: KCL stops at the exception and keeps what came before.
        let kept = deaggregate("a", &two("12a"));
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].record.data, b"ok");
    }

    #[test]
    fn invalid_utf8_keys_are_replaced_like_protobuf_java() {
        let mut msg = Vec::new();
        put_field(&mut msg, 1, b"k\xff");
        put_field(&mut msg, 3, &record_msg(0, None, b"d"));
        assert_eq!(
            deaggregate("a", &frame(&msg))[0].record.partition_key,
            "k\u{fffd}"
        );
    }

    proptest! {
        #[test]
        fn decode_never_panics_on_framed_garbage(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let data = frame(&body);
            let users = deaggregate("pk", &data);
            if decode(&data).is_err() {
                prop_assert_eq!(users, plain("pk", &data));
            }
        }

        #[test]
        fn decode_never_panics_on_raw_garbage(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = deaggregate("pk", &data);
        }

        #[test]
        fn corrupting_any_byte_is_detected(
            records in proptest::collection::vec(arb_record(), 1..8),
            pos in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut data = aggregate(&records);
            let i = pos.index(data.len());
            data[i] ^= flip;
            // Magic, message or digest changed: never an aggregate any more.
            prop_assert!(decode(&data).is_err());
            prop_assert_eq!(deaggregate("pk", &data), plain("pk", &data));
        }

        #[test]
        fn decode_round_trips_tables(records in proptest::collection::vec(arb_record(), 1..30)) {
            let agg = decode(&aggregate(&records)).expect("valid aggregate");
            prop_assert_eq!(agg.records.len(), records.len());
            for (d, r) in agg.records.iter().zip(&records) {
                let pk = &agg.partition_key_table[d.partition_key_index as usize];
                prop_assert_eq!(pk, &r.partition_key);
                let ehk = d.explicit_hash_key_index.map(|i| agg.explicit_hash_key_table[i as usize].clone());
                prop_assert_eq!(&ehk, &r.explicit_hash_key);
                prop_assert_eq!(&d.data, &r.data);
            }
        }
    }
}
