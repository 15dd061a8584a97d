//! The few protobuf (proto2) wire primitives the aggregated-record messages need: varints,
//! tags and length-delimited fields, and skipping of unknown fields.
//!
//! Decoding follows protobuf-java (what KCL parses with) where inputs are odd: a varint may
//! take up to 10 bytes and bits past 64 are dropped; a field number of 0, wire types 6 and 7,
//! an end-group tag outside a group, a negative or overlong length, or truncation are errors;
//! a known field number with an unexpected wire type is skipped like an unknown field.

use std::fmt;

/// Wire types (the low three bits of a tag).
pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const START_GROUP: u8 = 3;
pub(crate) const END_GROUP: u8 = 4;
pub(crate) const FIXED32: u8 = 5;

/// How deep groups may nest before the input is refused (protobuf-java's recursion limit).
const MAX_DEPTH: u32 = 100;

/// Why a protobuf message could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The input ended inside a varint, a length-delimited field or a fixed-width value.
    Truncated,
    /// A varint longer than 10 bytes.
    MalformedVarint,
    /// A tag with field number 0.
    InvalidTag,
    /// Wire type 6 or 7.
    InvalidWireType(u8),
    /// A length prefix that is negative as a 32-bit integer (protobuf-java reads it so).
    NegativeLength,
    /// An end-group tag with no open group, or a group closed by another field number.
    UnbalancedGroup,
    /// Groups nested deeper than protobuf-java allows.
    TooDeep,
    /// A required field (`partition_key_index` or `data` of `Record`, `key` of `Tag`) is absent.
    MissingRequired(&'static str),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated message"),
            WireError::MalformedVarint => f.write_str("varint longer than 10 bytes"),
            WireError::InvalidTag => f.write_str("tag with field number 0"),
            WireError::InvalidWireType(t) => write!(f, "invalid wire type {t}"),
            WireError::NegativeLength => f.write_str("negative length prefix"),
            WireError::UnbalancedGroup => f.write_str("unbalanced group tags"),
            WireError::TooDeep => f.write_str("groups nested too deeply"),
            WireError::MissingRequired(field) => write!(f, "required field {field} is missing"),
        }
    }
}

impl std::error::Error for WireError {}

/// Bytes a varint encoding of `v` takes (1..=10).
pub(crate) const fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn put_tag(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire_type));
}

/// A length-delimited field: tag, length, bytes.
pub(crate) fn put_bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Encoded size of a length-delimited field whose field number is below 16 (one-byte tag).
pub(crate) const fn bytes_field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// A cursor over one message's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or(WireError::Truncated)?;
            self.buf = rest;
            // Bits past the 64th are dropped, as protobuf-java does.
            value |= u64::from(b & 0x7f).checked_shl(7 * i).unwrap_or(0);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(WireError::MalformedVarint)
    }

    /// The next tag as (field number, wire type).
    pub(crate) fn tag(&mut self) -> Result<(u32, u8), WireError> {
        // protobuf-java reads tags as 32-bit varints: the upper bits are dropped.
        let raw = self.varint()? as u32;
        let field = raw >> 3;
        if field == 0 {
            return Err(WireError::InvalidTag);
        }
        Ok((field, (raw & 7) as u8))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The payload of a length-delimited field (after its tag).
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        // The length is a 32-bit varint in protobuf-java; a negative one is an error.
        let len = self.varint()? as u32;
        if len > i32::MAX as u32 {
            return Err(WireError::NegativeLength);
        }
        self.take(len as usize)
    }

    /// Skip the value of a field whose tag was just read.
    pub(crate) fn skip(&mut self, field: u32, wire_type: u8) -> Result<(), WireError> {
        self.skip_at_depth(field, wire_type, 0)
    }

    fn skip_at_depth(&mut self, field: u32, wire_type: u8, depth: u32) -> Result<(), WireError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.take(4).map(drop),
            START_GROUP => {
                if depth >= MAX_DEPTH {
                    return Err(WireError::TooDeep);
                }
                loop {
                    let (f, wt) = self.tag()?;
                    if wt == END_GROUP {
                        return if f == field {
                            Ok(())
                        } else {
                            Err(WireError::UnbalancedGroup)
                        };
                    }
                    self.skip_at_depth(f, wt, depth + 1)?;
                }
            }
            END_GROUP => Err(WireError::UnbalancedGroup),
            other => Err(WireError::InvalidWireType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_len_matches_encoding_at_boundaries() {
        for v in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "value {v}");
        }
    }

    #[test]
    fn rejects_varint_longer_than_ten_bytes() {
        let bytes = [0xffu8; 11];
        assert_eq!(
            Reader::new(&bytes).varint(),
            Err(WireError::MalformedVarint)
        );
    }

    #[test]
    fn drops_bits_past_64_like_protobuf_java() {
        // Ten bytes whose last one carries bits beyond 2^64.
        let mut bytes = [0xffu8; 10];
        bytes[9] = 0x7f;
        assert_eq!(Reader::new(&bytes).varint(), Ok(u64::MAX));
    }

    #[test]
    fn rejects_field_number_zero_and_bad_wire_types() {
        assert_eq!(Reader::new(&[0x02]).tag(), Err(WireError::InvalidTag));
        let mut r = Reader::new(&[0x0e]);
        let (f, wt) = r.tag().expect("tag");
        assert_eq!(r.skip(f, wt), Err(WireError::InvalidWireType(6)));
    }

    #[test]
    fn skips_nested_groups_and_rejects_mismatched_end() {
        // group 5 { varint field 1 = 1; group 6 { } } then end of group 5.
        let ok = [0x2b, 0x08, 0x01, 0x33, 0x34, 0x2c];
        let mut r = Reader::new(&ok);
        let (f, wt) = r.tag().expect("tag");
        assert_eq!(r.skip(f, wt), Ok(()));
        assert!(r.is_empty());
        // group 5 closed by end-group 6.
        let bad = [0x2b, 0x34];
        let mut r = Reader::new(&bad);
        let (f, wt) = r.tag().expect("tag");
        assert_eq!(r.skip(f, wt), Err(WireError::UnbalancedGroup));
    }

    #[test]
    fn rejects_negative_and_overlong_lengths() {
        // length 0xffffffff as a 32-bit varint is -1.
        let neg = [0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(Reader::new(&neg).bytes(), Err(WireError::NegativeLength));
        assert_eq!(
            Reader::new(&[0x05, 1, 2]).bytes(),
            Err(WireError::Truncated)
        );
    }

    proptest! {
        #[test]
        fn varint_round_trips(v in any::<u64>()) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            prop_assert_eq!(out.len(), varint_len(v));
            let mut r = Reader::new(&out);
            prop_assert_eq!(r.varint(), Ok(v));
            prop_assert!(r.is_empty());
        }

        #[test]
        fn skipping_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&bytes);
            while !r.is_empty() {
                let Ok((f, wt)) = r.tag() else { break };
                if r.skip(f, wt).is_err() {
                    break;
                }
            }
        }
    }
}
