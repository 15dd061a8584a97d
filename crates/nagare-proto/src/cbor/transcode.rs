//! The Kinesis mapping between `x-amz-cbor-1.1` and `x-amz-json-1.1` bodies (spec §1.3).
//!
//! Requests: [`cbor_to_json`] streams a CBOR body straight into the JSON the JSON path would
//! have received: byte strings → base64 text, epoch-millisecond timestamps → epoch seconds
//! (exact decimal text, no float rounding), integers stay integers, floats stay floats.
//! Responses: [`json_to_cbor`] streams a JSON body through `serde_json`'s deserializer into
//! CBOR, borrowing strings from the input and decoding base64 straight into the output.
//!
//! Which members are blobs and timestamps is decided by member name, as the model names them
//! ([`BLOB_MEMBERS`], [`TIMESTAMP_MEMBERS`]). A value of the wrong kind under such a name (a
//! text `Data`, or a user tag whose key is `Timestamp`) passes through unchanged, so the JSON
//! path's type checks see it exactly as a JSON client would have sent it.

use super::{
    BREAK, DecodeError, DecodeErrorKind, Head, MAJOR_ARRAY, MAJOR_BYTES, MAJOR_MAP, MAJOR_NEGATIVE,
    MAJOR_TAG, MAJOR_TEXT, MAJOR_UNSIGNED, Reader, f16_to_f64, utf8, write_head, write_text,
};
use crate::types::{decode_blob, encode_blob_into};
use crate::{ErrorCode, WireError};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::Write as _;

/// Members whose model type is `blob`: CBOR byte strings, base64 text in JSON.
pub const BLOB_MEMBERS: [&str; 1] = ["Data"];

/// Members whose model type is `timestamp`: CBOR epoch milliseconds, JSON epoch seconds.
pub const TIMESTAMP_MEMBERS: [&str; 7] = [
    "Timestamp",
    "StreamCreationTimestamp",
    "ApproximateArrivalTimestamp",
    "ConsumerCreationTimestamp",
    "StartedAt",
    "EndedAt",
    "EarliestAllowedEndAt",
];

/// RFC 8949 tag 1, "epoch-based date/time". The Java SDKs put epoch *milliseconds* under it
/// (not the RFC's seconds); we read and write it the same way.
pub const TAG_EPOCH: u64 = 1;

// ---------------------------------------------------------------------------------------------
// CBOR request → JSON request
// ---------------------------------------------------------------------------------------------

/// How a member's value is transcoded, by the member's name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Member {
    Blob,
    Timestamp,
    Other,
}

impl Member {
    fn of(name: &[u8]) -> Member {
        if BLOB_MEMBERS.iter().any(|m| m.as_bytes() == name) {
            Member::Blob
        } else if TIMESTAMP_MEMBERS.iter().any(|m| m.as_bytes() == name) {
            Member::Timestamp
        } else {
            Member::Other
        }
    }
}

/// Why a CBOR request has no JSON equivalent. Both kinds answer a bare SerializationException
/// (as unparseable JSON does); the distinction is for tests.
#[derive(Debug, thiserror::Error)]
enum ToJsonError {
    #[error(transparent)]
    Malformed(#[from] DecodeError),
    #[error("a top level other than a map, or a value JSON cannot hold")]
    NotJson,
}

/// Appends `s` as the inside of a JSON string literal (no quotes).
fn escape_json(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

/// Epoch milliseconds `sign × magnitude` as JSON epoch seconds with three decimals, exact.
fn write_seconds_from_millis(out: &mut Vec<u8>, negative: bool, millis: u128) {
    if negative && millis != 0 {
        out.push(b'-');
    }
    let _ = write!(out, "{}.{:03}", millis / 1000, millis % 1000);
}

/// A finite float as a JSON number that stays a float (`5.0`, not `5`).
fn write_float(out: &mut Vec<u8>, f: f64) -> Result<(), ToJsonError> {
    if !f.is_finite() {
        return Err(ToJsonError::NotJson);
    }
    let _ = write!(out, "{f:?}");
    Ok(())
}

/// Writes an integer `sign × magnitude`; in a timestamp it is epoch milliseconds.
fn write_int(out: &mut Vec<u8>, negative: bool, magnitude: u128, millis: bool) {
    if millis {
        write_seconds_from_millis(out, negative, magnitude);
    } else {
        if negative {
            out.push(b'-');
        }
        let _ = write!(out, "{magnitude}");
    }
}

/// Transcodes the item whose head was just read.
fn item_to_json(
    r: &mut Reader<'_>,
    head: Head,
    at: usize,
    member: Member,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), ToJsonError> {
    let millis = member == Member::Timestamp;
    match head {
        Head::Unsigned(n) => write_int(out, false, u128::from(n), millis),
        Head::Negative(n) => write_int(out, true, u128::from(n) + 1, millis),
        Head::Bytes(len) => {
            out.push(b'"');
            match len {
                Some(n) => encode_blob_into(r.take(n, at)?, out),
                None => {
                    // Base64 works in 3-byte groups that chunks need not respect.
                    let mut all = Vec::new();
                    r.chunks(MAJOR_BYTES, |c, _| {
                        all.extend_from_slice(c);
                        Ok::<_, DecodeError>(())
                    })?;
                    encode_blob_into(&all, out);
                }
            }
            out.push(b'"');
        }
        Head::Text(len) => {
            out.push(b'"');
            match len {
                Some(n) => {
                    escape_json(out, utf8(r.take(n, at)?, at)?);
                }
                None => {
                    r.chunks(MAJOR_TEXT, |c, at| {
                        escape_json(out, utf8(c, at)?);
                        Ok::<_, DecodeError>(())
                    })?;
                }
            }
            out.push(b'"');
        }
        Head::Array(len) => {
            let depth = r.deeper(depth, at)?;
            out.push(b'[');
            let mut first = true;
            let mut next = |r: &mut Reader<'_>, out: &mut Vec<u8>| {
                if !std::mem::take(&mut first) {
                    out.push(b',');
                }
                let at = r.pos;
                let head = r.head()?;
                item_to_json(r, head, at, Member::Other, depth, out)
            };
            match len {
                Some(n) => {
                    for _ in 0..r.count(n, 1, at)? {
                        next(r, out)?;
                    }
                }
                None => {
                    while !r.at_break()? {
                        next(r, out)?;
                    }
                }
            }
            out.push(b']');
        }
        Head::Map(len) => {
            let depth = r.deeper(depth, at)?;
            out.push(b'{');
            let mut first = true;
            let mut next = |r: &mut Reader<'_>, out: &mut Vec<u8>| {
                if !std::mem::take(&mut first) {
                    out.push(b',');
                }
                let key_at = r.pos;
                let key_head = r.head()?;
                if !matches!(key_head, Head::Text(_)) {
                    return Err(ToJsonError::NotJson);
                }
                let start = out.len();
                item_to_json(r, key_head, key_at, Member::Other, depth, out)?;
                // Member names need no escaping, so the written key (less its quotes) is
                // the name itself whenever it is one.
                let written = out.get(start + 1..out.len() - 1).unwrap_or_default();
                let member = Member::of(written);
                out.push(b':');
                let at = r.pos;
                let head = r.head()?;
                item_to_json(r, head, at, member, depth, out)
            };
            match len {
                Some(n) => {
                    for _ in 0..r.count(n, 2, at)? {
                        next(r, out)?;
                    }
                }
                None => {
                    while !r.at_break()? {
                        next(r, out)?;
                    }
                }
            }
            out.push(b'}');
        }
        Head::Tag(tag) => {
            let depth = r.deeper(depth, at)?;
            let inner_at = r.pos;
            let inner = r.head()?;
            match (tag, inner) {
                // Tag 1 says "a time" whatever the member is called; the Java SDKs put
                // milliseconds under it.
                (TAG_EPOCH, Head::Unsigned(_) | Head::Negative(_)) => {
                    item_to_json(r, inner, inner_at, Member::Timestamp, depth, out)?;
                }
                (TAG_EPOCH, Head::F16(_) | Head::F32(_) | Head::F64(_)) => {
                    item_to_json(r, inner, inner_at, Member::Timestamp, depth, out)?;
                }
                // Bignums (RFC 8949 §3.4.3) up to 128 bits become plain integers.
                (2 | 3, Head::Bytes(len)) => {
                    let mut magnitude: u128 = 0;
                    let mut digits = 0usize;
                    let mut add = |c: &[u8]| {
                        for &b in c {
                            if magnitude != 0 || b != 0 {
                                digits += 1;
                            }
                            magnitude = magnitude.wrapping_shl(8) | u128::from(b);
                        }
                        digits <= 16
                    };
                    let fits = match len {
                        Some(n) => add(r.take(n, inner_at)?),
                        None => {
                            let mut fits = true;
                            r.chunks(MAJOR_BYTES, |c, _| {
                                fits &= add(c);
                                Ok::<_, DecodeError>(())
                            })?;
                            fits
                        }
                    };
                    let negative = tag == 3;
                    let magnitude = if negative {
                        magnitude.checked_add(1)
                    } else {
                        Some(magnitude)
                    };
                    match magnitude {
                        Some(m) if fits => write_int(out, negative, m, millis),
                        _ => return Err(ToJsonError::NotJson),
                    }
                }
                // Other tags carry no meaning for Kinesis: the tagged value stands.
                _ => item_to_json(r, inner, inner_at, member, depth, out)?,
            }
        }
        Head::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        // JSON has no `undefined`; like `null`, it means absent.
        Head::Null | Head::Undefined => out.extend_from_slice(b"null"),
        Head::Simple(_) => return Err(ToJsonError::NotJson),
        Head::F16(bits) => float_to_json(out, f16_to_f64(bits), millis)?,
        Head::F32(f) => float_to_json(out, f64::from(f), millis)?,
        Head::F64(f) => float_to_json(out, f, millis)?,
        Head::Break => {
            return Err(DecodeError {
                offset: at,
                kind: DecodeErrorKind::UnexpectedBreak,
            }
            .into());
        }
    }
    Ok(())
}

fn float_to_json(out: &mut Vec<u8>, f: f64, millis: bool) -> Result<(), ToJsonError> {
    write_float(out, if millis { f / 1000.0 } else { f })
}

fn to_json(input: &[u8]) -> Result<Vec<u8>, ToJsonError> {
    let mut r = Reader::new(input);
    let head = r.head()?;
    if !matches!(head, Head::Map(_)) {
        return Err(ToJsonError::NotJson);
    }
    // Base64 grows blobs by a third; everything else shrinks or stays about the same.
    let mut out = Vec::with_capacity(input.len() + input.len() / 3 + 16);
    item_to_json(&mut r, head, 0, Member::Other, 0, &mut out)?;
    r.finish()?;
    Ok(out)
}

/// Transcodes a CBOR request body into the JSON request the JSON path expects. The result is
/// always a JSON object. Malformed CBOR, a top level other than a map, or a value JSON cannot
/// hold (a non-text map key, NaN, an unassigned simple value) is a bare SerializationException,
/// as unparseable JSON is.
pub fn cbor_to_json(input: &[u8]) -> Result<Vec<u8>, WireError> {
    to_json(input).map_err(|_| WireError::bare(ErrorCode::Serialization))
}

// ---------------------------------------------------------------------------------------------
// JSON response → CBOR response
// ---------------------------------------------------------------------------------------------

/// A response body the server produced is not JSON (a server bug).
#[derive(Debug, thiserror::Error)]
#[error("response body is not JSON: {0}")]
pub struct JsonToCborError(#[from] serde_json::Error);

/// Transcodes a JSON response body for a CBOR client: base64 `Data` → byte strings, epoch
/// seconds in timestamp members → tag 1 + integer epoch milliseconds, integers → CBOR
/// integers, everything else its natural CBOR form. Maps and arrays are written
/// indefinite-length, as AWS's Jackson does, so nothing is counted ahead. An empty body (an
/// operation without output) stays empty.
///
/// Tag 1 on timestamps: AWS sends integer milliseconds, with the tag optional to the Java
/// SDKs (Jackson reads through tags). We write it because it is exactly what the Java SDK
/// writes for the same members in requests, so one request/response pair has one timestamp
/// encoding, and it marks the integer as a time for generic CBOR tools.
pub fn json_to_cbor(json: &[u8]) -> Result<Vec<u8>, JsonToCborError> {
    if json.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(json.len());
    let mut de = serde_json::Deserializer::from_slice(json);
    ToCbor {
        out: &mut out,
        member: Member::Other,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(out)
}

/// A WireError as a CBOR body: `{"__type": code, "message": text}` (`Message` for
/// SerializationException, as in JSON), indefinite-length like AWS's.
pub fn ser_error(err: &WireError) -> Vec<u8> {
    let mut out = vec![(MAJOR_MAP << 5) | 31];
    write_text(&mut out, "__type");
    write_text(&mut out, err.code.as_str());
    if let Some(m) = &err.message {
        write_text(&mut out, err.code.message_key());
        write_text(&mut out, m);
    }
    out.push(BREAK);
    out
}

/// Integer epoch milliseconds under tag 1.
fn write_millis(out: &mut Vec<u8>, millis: i128) {
    write_head(out, MAJOR_TAG, TAG_EPOCH);
    let clamp = |m: i128| u64::try_from(m).unwrap_or(u64::MAX);
    if millis >= 0 {
        write_head(out, MAJOR_UNSIGNED, clamp(millis));
    } else {
        write_head(out, MAJOR_NEGATIVE, clamp(-1 - millis));
    }
}

/// Streams one JSON value into CBOR.
struct ToCbor<'o> {
    out: &'o mut Vec<u8>,
    member: Member,
}

impl<'de> DeserializeSeed<'de> for ToCbor<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ToCbor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<(), E> {
        self.out.push(if b { 0xf5 } else { 0xf4 });
        Ok(())
    }

    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        if self.member == Member::Timestamp {
            write_millis(self.out, i128::from(n) * 1000);
        } else {
            write_head(self.out, MAJOR_UNSIGNED, n);
        }
        Ok(())
    }

    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        if self.member == Member::Timestamp {
            write_millis(self.out, i128::from(n) * 1000);
        } else if n >= 0 {
            write_head(self.out, MAJOR_UNSIGNED, n as u64);
        } else {
            write_head(self.out, MAJOR_NEGATIVE, !n as u64);
        }
        Ok(())
    }

    fn visit_f64<E>(self, f: f64) -> Result<(), E> {
        let millis = (f * 1000.0).round();
        if self.member == Member::Timestamp && millis.abs() < 9.2e18 {
            write_millis(self.out, millis as i128);
        } else {
            self.out.push(0xfb);
            self.out.extend_from_slice(&f.to_be_bytes());
        }
        Ok(())
    }

    fn visit_str<E>(self, s: &str) -> Result<(), E> {
        if self.member == Member::Blob && s.len() % 4 == 0 {
            // Non-empty when padded, as the length is a multiple of 4.
            let padding = s.bytes().rev().take(2).filter(|&b| b == b'=').count();
            let len = s.len() / 4 * 3 - padding;
            let start = self.out.len();
            write_head(self.out, MAJOR_BYTES, len as u64);
            let data_start = self.out.len();
            match decode_blob(s, self.out) {
                Ok(n) if n == len => return Ok(()),
                // Not base64 after all: not a blob, whatever its name.
                Ok(_) | Err(_) => {
                    debug_assert!(self.out.len() <= data_start + len);
                    self.out.truncate(start)
                }
            }
        }
        write_text(self.out, s);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.push(0xf6);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push((MAJOR_ARRAY << 5) | 31);
        while seq
            .next_element_seed(ToCbor {
                out: &mut *self.out,
                member: Member::Other,
            })?
            .is_some()
        {}
        self.out.push(BREAK);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push((MAJOR_MAP << 5) | 31);
        while let Some(member) = map.next_key_seed(KeyToCbor(&mut *self.out))? {
            map.next_value_seed(ToCbor {
                out: &mut *self.out,
                member,
            })?;
        }
        self.out.push(BREAK);
        Ok(())
    }
}

/// Writes a map key and says how its value is transcoded.
struct KeyToCbor<'o>(&'o mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for KeyToCbor<'_> {
    type Value = Member;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Member, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyToCbor<'_> {
    type Value = Member;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, s: &str) -> Result<Member, E> {
        write_text(self.0, s);
        Ok(Member::of(s.as_bytes()))
    }
}

#[cfg(test)]
mod tests;
