//! CBOR (RFC 8949) and the `application/x-amz-cbor-1.1` protocol (spec §1.3).
//!
//! Two layers:
//! - A general decoder/encoder over [`Value`]. The decoder accepts every well-formed item,
//!   definite and indefinite length alike (Jackson, behind the Java SDKs, writes indefinite
//!   maps and arrays), and turns malformed input into a [`DecodeError`]: it never panics,
//!   never recurses past [`MAX_DEPTH`], and never trusts a declared length beyond what the
//!   remaining input could hold (so a 2⁶⁴-element header allocates nothing).
//! - [`transcode`]: the Kinesis mapping. The server has one request model, the JSON one;
//!   CBOR is only a codec in front of it. [`cbor_to_json`] turns a request body into the JSON
//!   the JSON path would have received (byte strings → base64 text, epoch-millisecond
//!   timestamps → epoch seconds), and [`json_to_cbor`] turns a JSON response body into what
//!   the Java SDK expects (base64 `Data` → byte strings, epoch seconds → tag 1 + integer
//!   epoch milliseconds). Both stream: neither builds a tree.

pub mod transcode;

pub use transcode::{
    BLOB_MEMBERS, JsonToCborError, TAG_EPOCH, TIMESTAMP_MEMBERS, cbor_to_json, json_to_cbor,
    ser_error,
};

use std::borrow::Cow;

/// Deepest nesting of arrays, maps and tags accepted. Kinesis requests nest four levels at
/// most (PutRecords: body → `Records` → entry → member); 64 leaves room for unknown members
/// while bounding the decoder's stack.
pub const MAX_DEPTH: usize = 64;

const MAJOR_UNSIGNED: u8 = 0;
const MAJOR_NEGATIVE: u8 = 1;
const MAJOR_BYTES: u8 = 2;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const MAJOR_TAG: u8 = 6;
const BREAK: u8 = 0xff;

/// One CBOR data item. Strings borrow from the input when they were encoded definite-length.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Unsigned(u64),
    /// The integer `-1 - n`, so the full major-type-1 range fits.
    Negative(u64),
    Bytes(Cow<'a, [u8]>),
    Text(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Entries in input order; duplicate keys are kept (the JSON layer decides).
    Map(Vec<(Value<'a>, Value<'a>)>),
    Tag(u64, Box<Value<'a>>),
    Bool(bool),
    Null,
    Undefined,
    /// An unassigned simple value: 0..=19 or 32..=255 (20..=23 are the variants above and
    /// 24..=31 are not well-formed).
    Simple(u8),
    /// Half precision, kept as its bits (there is no stable `f16`).
    F16(u16),
    F32(f32),
    F64(f64),
}

impl<'a> Value<'a> {
    /// A text string.
    pub fn text(s: impl Into<Cow<'a, str>>) -> Self {
        Value::Text(s.into())
    }

    /// A map with text keys, in the given order.
    pub fn map<K: Into<Cow<'a, str>>>(entries: impl IntoIterator<Item = (K, Value<'a>)>) -> Self {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Text(k.into()), v))
                .collect(),
        )
    }

    /// The value of the first entry under text key `key`, if this is a map.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Map(entries) => entries.iter().find_map(|(k, v)| match k {
                Value::Text(t) if t == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value as an `i128` if it is an integer of either sign.
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Unsigned(n) => Some(i128::from(*n)),
            Value::Negative(n) => Some(-1 - i128::from(*n)),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The encoded bytes (definite lengths, shortest arguments).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode(self, &mut out);
        out
    }
}

/// Why input is not well-formed CBOR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed CBOR at byte {offset}: {kind}")]
pub struct DecodeError {
    /// Where the offending item (or missing byte) starts.
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("the input ends inside an item")]
    Truncated,
    #[error("additional information {0} is reserved")]
    ReservedInfo(u8),
    #[error("a declared length exceeds the remaining input")]
    LengthBeyondInput,
    #[error("nesting deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("a text string is not valid UTF-8")]
    InvalidUtf8,
    #[error("a break stop code outside an indefinite-length item")]
    UnexpectedBreak,
    #[error("an indefinite-length string chunk is not a definite string of the same type")]
    BadChunk,
    #[error("indefinite length is not allowed for this major type")]
    IndefiniteNotAllowed,
    #[error("a two-byte simple value below 32")]
    BadSimple,
    #[error("bytes follow the top-level item")]
    TrailingBytes,
}

/// An item's head: major type and argument, already interpreted.
#[derive(Clone, Copy, Debug)]
enum Head {
    Unsigned(u64),
    Negative(u64),
    /// `None` = indefinite length.
    Bytes(Option<u64>),
    Text(Option<u64>),
    Array(Option<u64>),
    Map(Option<u64>),
    Tag(u64),
    Bool(bool),
    Null,
    Undefined,
    Simple(u8),
    F16(u16),
    F32(f32),
    F64(f64),
    Break,
}

/// A text string's bytes, whose head is at `at`.
fn utf8(bytes: &[u8], at: usize) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| DecodeError {
        offset: at,
        kind: DecodeErrorKind::InvalidUtf8,
    })
}

/// A cursor over the input. Every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type Result<T, E = DecodeError> = std::result::Result<T, E>;

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn fail<T>(&self, offset: usize, kind: DecodeErrorKind) -> Result<T> {
        Err(DecodeError { offset, kind })
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let Some(bytes) = self.buf.get(self.pos..self.pos + N) else {
            return self.fail(self.buf.len(), DecodeErrorKind::Truncated);
        };
        self.pos += N;
        let mut a = [0u8; N];
        a.copy_from_slice(bytes);
        Ok(a)
    }

    /// The next `n` bytes of a string whose head started at `at`.
    fn take(&mut self, n: u64, at: usize) -> Result<&'a [u8]> {
        let n = match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => n,
            _ => return self.fail(at, DecodeErrorKind::LengthBeyondInput),
        };
        let bytes = self.buf.get(self.pos..self.pos + n).unwrap_or_default();
        self.pos += n;
        Ok(bytes)
    }

    /// Consumes a break stop code if one is next.
    fn at_break(&mut self) -> Result<bool> {
        match self.buf.get(self.pos) {
            Some(&BREAK) => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => self.fail(self.pos, DecodeErrorKind::Truncated),
        }
    }

    fn head(&mut self) -> Result<Head> {
        let at = self.pos;
        let [initial] = self.take_array::<1>()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        if major == 7 {
            return match info {
                20 => Ok(Head::Bool(false)),
                21 => Ok(Head::Bool(true)),
                22 => Ok(Head::Null),
                23 => Ok(Head::Undefined),
                24 => {
                    let [b] = self.take_array::<1>()?;
                    if b < 32 {
                        self.fail(at, DecodeErrorKind::BadSimple)
                    } else {
                        Ok(Head::Simple(b))
                    }
                }
                25 => Ok(Head::F16(u16::from_be_bytes(self.take_array()?))),
                26 => Ok(Head::F32(f32::from_be_bytes(self.take_array()?))),
                27 => Ok(Head::F64(f64::from_be_bytes(self.take_array()?))),
                28..=30 => self.fail(at, DecodeErrorKind::ReservedInfo(info)),
                31 => Ok(Head::Break),
                _ => Ok(Head::Simple(info)),
            };
        }
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24 => Some(u64::from(self.take_array::<1>()?[0])),
            25 => Some(u64::from(u16::from_be_bytes(self.take_array()?))),
            26 => Some(u64::from(u32::from_be_bytes(self.take_array()?))),
            27 => Some(u64::from_be_bytes(self.take_array()?)),
            28..=30 => return self.fail(at, DecodeErrorKind::ReservedInfo(info)),
            _ => None,
        };
        let definite = |arg: Option<u64>| match arg {
            Some(n) => Ok(n),
            None => self.fail(at, DecodeErrorKind::IndefiniteNotAllowed),
        };
        Ok(match major {
            MAJOR_UNSIGNED => Head::Unsigned(definite(arg)?),
            MAJOR_NEGATIVE => Head::Negative(definite(arg)?),
            MAJOR_BYTES => Head::Bytes(arg),
            MAJOR_TEXT => Head::Text(arg),
            MAJOR_ARRAY => Head::Array(arg),
            MAJOR_MAP => Head::Map(arg),
            _ => Head::Tag(definite(arg)?),
        })
    }

    /// A definite container's element count, refused if the input cannot hold that many
    /// items (`per_item` bytes each at least) — before anything is allocated for them.
    fn count(&self, n: u64, per_item: u64, at: usize) -> Result<usize> {
        match n.checked_mul(per_item).map(usize::try_from) {
            Some(Ok(need)) if need <= self.remaining() => Ok(n as usize),
            _ => self.fail(at, DecodeErrorKind::LengthBeyondInput),
        }
    }

    /// The chunks of an indefinite-length string of `major`, each passed to `each` with the
    /// offset of its head.
    fn chunks<E: From<DecodeError>>(
        &mut self,
        major: u8,
        mut each: impl FnMut(&'a [u8], usize) -> Result<(), E>,
    ) -> Result<(), E> {
        while !self.at_break()? {
            let at = self.pos;
            match (major, self.head()?) {
                (MAJOR_BYTES, Head::Bytes(Some(n))) | (MAJOR_TEXT, Head::Text(Some(n))) => {
                    let chunk = self.take(n, at)?;
                    each(chunk, at)?;
                }
                _ => {
                    return Err(DecodeError {
                        offset: at,
                        kind: DecodeErrorKind::BadChunk,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    /// Refuses to go one level deeper than [`MAX_DEPTH`].
    fn deeper(&self, depth: usize, at: usize) -> Result<usize> {
        if depth >= MAX_DEPTH {
            self.fail(at, DecodeErrorKind::TooDeep)
        } else {
            Ok(depth + 1)
        }
    }

    fn item(&mut self, depth: usize) -> Result<Value<'a>> {
        let at = self.pos;
        let head = self.head()?;
        self.value(head, at, depth)
    }

    fn value(&mut self, head: Head, at: usize, depth: usize) -> Result<Value<'a>> {
        Ok(match head {
            Head::Unsigned(n) => Value::Unsigned(n),
            Head::Negative(n) => Value::Negative(n),
            Head::Bytes(Some(n)) => Value::Bytes(Cow::Borrowed(self.take(n, at)?)),
            Head::Bytes(None) => {
                let mut all = Vec::new();
                self.chunks(MAJOR_BYTES, |c, _| {
                    all.extend_from_slice(c);
                    Ok::<_, DecodeError>(())
                })?;
                Value::Bytes(Cow::Owned(all))
            }
            Head::Text(Some(n)) => Value::Text(Cow::Borrowed(utf8(self.take(n, at)?, at)?)),
            Head::Text(None) => {
                // Each chunk must be valid UTF-8 on its own (RFC 8949 §3.2.3).
                let mut all = String::new();
                self.chunks(MAJOR_TEXT, |c, at| {
                    all.push_str(utf8(c, at)?);
                    Ok::<_, DecodeError>(())
                })?;
                Value::Text(Cow::Owned(all))
            }
            Head::Array(len) => {
                let depth = self.deeper(depth, at)?;
                let mut items = Vec::new();
                match len {
                    Some(n) => {
                        let n = self.count(n, 1, at)?;
                        items.reserve_exact(n);
                        for _ in 0..n {
                            items.push(self.item(depth)?);
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            items.push(self.item(depth)?);
                        }
                    }
                }
                Value::Array(items)
            }
            Head::Map(len) => {
                let depth = self.deeper(depth, at)?;
                let mut entries = Vec::new();
                match len {
                    Some(n) => {
                        let n = self.count(n, 2, at)?;
                        entries.reserve_exact(n);
                        for _ in 0..n {
                            let k = self.item(depth)?;
                            entries.push((k, self.item(depth)?));
                        }
                    }
                    None => {
                        while !self.at_break()? {
                            let k = self.item(depth)?;
                            entries.push((k, self.item(depth)?));
                        }
                    }
                }
                Value::Map(entries)
            }
            Head::Tag(tag) => {
                let depth = self.deeper(depth, at)?;
                Value::Tag(tag, Box::new(self.item(depth)?))
            }
            Head::Bool(b) => Value::Bool(b),
            Head::Null => Value::Null,
            Head::Undefined => Value::Undefined,
            Head::Simple(s) => Value::Simple(s),
            Head::F16(bits) => Value::F16(bits),
            Head::F32(f) => Value::F32(f),
            Head::F64(f) => Value::F64(f),
            Head::Break => return self.fail(at, DecodeErrorKind::UnexpectedBreak),
        })
    }

    fn finish(&self) -> Result<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            self.fail(self.pos, DecodeErrorKind::TrailingBytes)
        }
    }
}

/// Decodes exactly one item spanning all of `input`.
pub fn decode(input: &[u8]) -> Result<Value<'_>> {
    let mut r = Reader::new(input);
    let v = r.item(0)?;
    r.finish()?;
    Ok(v)
}

/// An item head with the shortest argument encoding.
fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    match arg {
        0..=23 => out.push(m | arg as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

fn write_text(out: &mut Vec<u8>, s: &str) {
    write_head(out, MAJOR_TEXT, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends `value` with definite lengths and shortest arguments. A [`Value::Simple`] outside
/// its documented range is written as given and so decodes as something else.
pub fn encode(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Unsigned(n) => write_head(out, MAJOR_UNSIGNED, *n),
        Value::Negative(n) => write_head(out, MAJOR_NEGATIVE, *n),
        Value::Bytes(b) => {
            write_head(out, MAJOR_BYTES, b.len() as u64);
            out.extend_from_slice(b);
        }
        Value::Text(t) => write_text(out, t),
        Value::Array(items) => {
            write_head(out, MAJOR_ARRAY, items.len() as u64);
            items.iter().for_each(|i| encode(i, out));
        }
        Value::Map(entries) => {
            write_head(out, MAJOR_MAP, entries.len() as u64);
            for (k, v) in entries {
                encode(k, out);
                encode(v, out);
            }
        }
        Value::Tag(tag, inner) => {
            write_head(out, MAJOR_TAG, *tag);
            encode(inner, out);
        }
        Value::Bool(false) => out.push(0xf4),
        Value::Bool(true) => out.push(0xf5),
        Value::Null => out.push(0xf6),
        Value::Undefined => out.push(0xf7),
        Value::Simple(s @ 0..=23) => out.push(0xe0 | s),
        Value::Simple(s) => out.extend_from_slice(&[0xf8, *s]),
        Value::F16(bits) => {
            out.push(0xf9);
            out.extend_from_slice(&bits.to_be_bytes());
        }
        Value::F32(f) => {
            out.push(0xfa);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::F64(f) => {
            out.push(0xfb);
            out.extend_from_slice(&f.to_be_bytes());
        }
    }
}

/// IEEE 754 half precision → f64 (exact: every half is representable).
pub fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind(input: &[u8]) -> DecodeErrorKind {
        decode(input).expect_err("malformed").kind
    }

    /// Any value, with every float bit pattern (NaN payloads included).
    pub(crate) fn arb_value() -> impl Strategy<Value = Value<'static>> {
        let leaf = prop_oneof![
            any::<u64>().prop_map(Value::Unsigned),
            any::<u64>().prop_map(Value::Negative),
            (0u64..30).prop_map(Value::Unsigned),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Value::Bytes(b.into())),
            any::<String>().prop_map(|s| Value::Text(s.into())),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
            Just(Value::Undefined),
            prop_oneof![0u8..=19, 32u8..=255].prop_map(Value::Simple),
            any::<u16>().prop_map(Value::F16),
            any::<u32>().prop_map(|b| Value::F32(f32::from_bits(b))),
            any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
        ];
        leaf.prop_recursive(6, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..6)
                    .prop_map(Value::Map),
                (any::<u64>(), inner).prop_map(|(t, v)| Value::Tag(t, Box::new(v))),
            ]
        })
    }

    fn has_nan(v: &Value<'_>) -> bool {
        match v {
            Value::F16(b) => f16_to_f64(*b).is_nan(),
            Value::F32(f) => f.is_nan(),
            Value::F64(f) => f.is_nan(),
            Value::Array(items) => items.iter().any(has_nan),
            Value::Map(entries) => entries.iter().any(|(k, v)| has_nan(k) || has_nan(v)),
            Value::Tag(_, inner) => has_nan(inner),
            _ => false,
        }
    }

    /// Encodes the way Jackson may: indefinite-length containers, strings split into chunks
    /// (`split` picks the cut points), and non-shortest integer arguments.
    fn encode_indefinite(v: &Value<'_>, split: &mut impl FnMut(usize) -> usize, out: &mut Vec<u8>) {
        match v {
            Value::Bytes(b) => {
                out.push(0x5f);
                let mut rest: &[u8] = b;
                while !rest.is_empty() {
                    let (chunk, tail) = rest.split_at(split(rest.len()).clamp(1, rest.len()));
                    encode(&Value::Bytes(chunk.into()), out);
                    rest = tail;
                }
                out.push(BREAK);
            }
            Value::Text(t) => {
                out.push(0x7f);
                let mut rest: &str = t;
                while !rest.is_empty() {
                    let mut cut = split(rest.len()).clamp(1, rest.len());
                    while !rest.is_char_boundary(cut) {
                        cut += 1;
                    }
                    let (chunk, tail) = rest.split_at(cut);
                    encode(&Value::text(chunk), out);
                    rest = tail;
                }
                out.push(BREAK);
            }
            Value::Array(items) => {
                out.push(0x9f);
                items.iter().for_each(|i| encode_indefinite(i, split, out));
                out.push(BREAK);
            }
            Value::Map(entries) => {
                out.push(0xbf);
                for (k, v) in entries {
                    encode_indefinite(k, split, out);
                    encode_indefinite(v, split, out);
                }
                out.push(BREAK);
            }
            Value::Tag(t, inner) => {
                write_head(out, MAJOR_TAG, *t);
                encode_indefinite(inner, split, out);
            }
            // An 8-byte argument where a shorter one would do is still well-formed.
            Value::Unsigned(n) => {
                out.push(0x1b);
                out.extend_from_slice(&n.to_be_bytes());
            }
            other => encode(other, out),
        }
    }

    proptest! {
        #[test]
        fn values_round_trip(v in arb_value()) {
            let bytes = v.to_vec();
            let back = decode(&bytes).expect("decodes what it encoded");
            prop_assert_eq!(&back.to_vec(), &bytes, "bit-exact re-encoding");
            if !has_nan(&v) {
                prop_assert_eq!(back, v);
            }
        }

        #[test]
        fn indefinite_and_chunked_encodings_decode_to_the_same_value(
            v in arb_value(),
            cuts in proptest::collection::vec(1usize..8, 1..16),
        ) {
            let mut i = 0;
            let mut split = |len: usize| {
                i += 1;
                cuts[i % cuts.len()].min(len)
            };
            let mut bytes = Vec::new();
            encode_indefinite(&v, &mut split, &mut bytes);
            let back = decode(&bytes).expect("well-formed");
            prop_assert_eq!(back.to_vec(), v.to_vec());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = decode(&bytes) {
                prop_assert_eq!(decode(&v.to_vec()).expect("re-decodes").to_vec(), v.to_vec());
            }
        }

        #[test]
        fn every_strict_prefix_is_rejected(v in arb_value()) {
            let bytes = v.to_vec();
            for end in 0..bytes.len() {
                let e = decode(&bytes[..end]).expect_err("a prefix is incomplete");
                prop_assert!(
                    matches!(e.kind, DecodeErrorKind::Truncated | DecodeErrorKind::LengthBeyondInput),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn decodes_rfc_8949_appendix_a_examples() {
        let cases: &[(&[u8], Value<'_>)] = &[
            (&[0x00], Value::Unsigned(0)),
            (&[0x17], Value::Unsigned(23)),
            (&[0x18, 0x18], Value::Unsigned(24)),
            (&[0x19, 0x03, 0xe8], Value::Unsigned(1000)),
            (
                &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Value::Unsigned(u64::MAX),
            ),
            (&[0x20], Value::Negative(0)),
            (&[0x38, 0x63], Value::Negative(99)),
            (
                &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Value::Negative(u64::MAX),
            ),
            (&[0xf9, 0x3c, 0x00], Value::F16(0x3c00)),
            (&[0xfa, 0x47, 0xc3, 0x50, 0x00], Value::F32(100000.0)),
            (
                &[0xfb, 0x3f, 0xf1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
                Value::F64(1.1),
            ),
            (&[0xf4], Value::Bool(false)),
            (&[0xf6], Value::Null),
            (&[0xf7], Value::Undefined),
            (&[0xf0], Value::Simple(16)),
            (&[0xf8, 0xff], Value::Simple(255)),
            (
                &[0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0],
                Value::Tag(1, Box::new(Value::Unsigned(1363896240))),
            ),
            (
                &[0x44, 0x01, 0x02, 0x03, 0x04],
                Value::Bytes(vec![1, 2, 3, 4].into()),
            ),
            (&[0x62, 0xc3, 0xbc], Value::text("\u{fc}")),
            (
                &[0x5f, 0x42, 0x01, 0x02, 0x43, 0x03, 0x04, 0x05, 0xff],
                Value::Bytes(vec![1, 2, 3, 4, 5].into()),
            ),
            (
                &[
                    0x7f, 0x65, b's', b't', b'r', b'e', b'a', 0x64, b'm', b'i', b'n', b'g', 0xff,
                ],
                Value::text("streaming"),
            ),
            (&[0x9f, 0xff], Value::Array(vec![])),
            (
                &[0x9f, 0x01, 0x82, 0x02, 0x03, 0x9f, 0x04, 0x05, 0xff, 0xff],
                Value::Array(vec![
                    Value::Unsigned(1),
                    Value::Array(vec![Value::Unsigned(2), Value::Unsigned(3)]),
                    Value::Array(vec![Value::Unsigned(4), Value::Unsigned(5)]),
                ]),
            ),
            (
                &[
                    0xbf, 0x61, b'a', 0x01, 0x61, b'b', 0x9f, 0x02, 0x03, 0xff, 0xff,
                ],
                Value::map([
                    ("a", Value::Unsigned(1)),
                    (
                        "b",
                        Value::Array(vec![Value::Unsigned(2), Value::Unsigned(3)]),
                    ),
                ]),
            ),
            (
                &[0xa2, 0x01, 0x02, 0x03, 0x04],
                Value::Map(vec![
                    (Value::Unsigned(1), Value::Unsigned(2)),
                    (Value::Unsigned(3), Value::Unsigned(4)),
                ]),
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(
                &decode(bytes).expect("well-formed"),
                expected,
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn encodes_shortest_arguments() {
        assert_eq!(Value::Unsigned(23).to_vec(), [0x17]);
        assert_eq!(Value::Unsigned(24).to_vec(), [0x18, 24]);
        assert_eq!(Value::Unsigned(256).to_vec(), [0x19, 1, 0]);
        assert_eq!(Value::Unsigned(65536).to_vec(), [0x1a, 0, 1, 0, 0]);
        assert_eq!(
            Value::Unsigned(1 << 32).to_vec(),
            [0x1b, 0, 0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(Value::Negative(0).to_vec(), [0x20]);
        assert_eq!(Value::text("a").to_vec(), [0x61, b'a']);
    }

    #[test]
    fn converts_half_precision_floats() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc400), -4.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 5.960464477539063e-8);
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
        assert_eq!(f16_to_f64(0x8000).to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn rejects_truncated_input() {
        assert_eq!(kind(&[]), DecodeErrorKind::Truncated);
        assert_eq!(kind(&[0x19, 0x01]), DecodeErrorKind::Truncated);
        assert_eq!(kind(&[0xfb, 0, 0, 0]), DecodeErrorKind::Truncated);
        assert_eq!(kind(&[0x82, 0x01, 0x19]), DecodeErrorKind::Truncated);
        assert_eq!(kind(&[0x9f, 0x01]), DecodeErrorKind::Truncated);
        assert_eq!(kind(&[0xbf, 0x61, b'a']), DecodeErrorKind::Truncated);
        assert_eq!(kind(&[0x5f, 0x41, 0x00]), DecodeErrorKind::Truncated);
        assert_eq!(kind(&[0xc1]), DecodeErrorKind::Truncated);
    }

    #[test]
    fn rejects_lengths_beyond_the_input_without_allocating() {
        let huge = [0xff; 8];
        for major in [0x5b, 0x7b, 0x9b, 0xbb] {
            let mut input = vec![major];
            input.extend_from_slice(&huge);
            let e = decode(&input).expect_err("bad length");
            assert_eq!(
                e,
                DecodeError {
                    offset: 0,
                    kind: DecodeErrorKind::LengthBeyondInput
                }
            );
        }
        // 2^63 map entries would overflow the 2-items-per-entry check.
        assert_eq!(
            kind(&[0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            DecodeErrorKind::LengthBeyondInput
        );
        assert_eq!(kind(&[0x45, 1, 2, 3]), DecodeErrorKind::LengthBeyondInput);
        assert_eq!(kind(&[0x83, 1, 2]), DecodeErrorKind::LengthBeyondInput);
        assert_eq!(kind(&[0xa2, 1, 2, 3]), DecodeErrorKind::LengthBeyondInput);
    }

    #[test]
    fn rejects_depth_bombs() {
        for opener in [0x81u8, 0x9f, 0xa1, 0xbf, 0xc1, 0xd8] {
            let mut input = vec![opener; 100_000];
            input.push(0x00);
            assert_eq!(kind(&input), DecodeErrorKind::TooDeep, "{opener:#x}");
        }
        // Exactly MAX_DEPTH levels are fine.
        let mut input = vec![0x81; MAX_DEPTH];
        input.push(0x00);
        assert!(decode(&input).is_ok());
        input.insert(0, 0x81);
        assert_eq!(kind(&input), DecodeErrorKind::TooDeep);
    }

    #[test]
    fn rejects_invalid_utf8_text() {
        assert_eq!(
            decode(&[0x62, 0xc3, 0x28]).expect_err("bad"),
            DecodeError {
                offset: 0,
                kind: DecodeErrorKind::InvalidUtf8
            }
        );
        // A character split across chunks is invalid even though the whole would not be.
        assert_eq!(
            decode(&[0x7f, 0x61, 0xc3, 0x61, 0xbc, 0xff]).expect_err("split"),
            DecodeError {
                offset: 1,
                kind: DecodeErrorKind::InvalidUtf8
            }
        );
        assert_eq!(kind(&[0x61, 0xff]), DecodeErrorKind::InvalidUtf8);
    }

    #[test]
    fn rejects_other_malformations() {
        assert_eq!(kind(&[0x1c]), DecodeErrorKind::ReservedInfo(28));
        assert_eq!(kind(&[0xfe]), DecodeErrorKind::ReservedInfo(30));
        assert_eq!(kind(&[0x1f]), DecodeErrorKind::IndefiniteNotAllowed);
        assert_eq!(kind(&[0x3f]), DecodeErrorKind::IndefiniteNotAllowed);
        assert_eq!(kind(&[0xdf, 0x00]), DecodeErrorKind::IndefiniteNotAllowed);
        assert_eq!(kind(&[0xff]), DecodeErrorKind::UnexpectedBreak);
        assert_eq!(kind(&[0x82, 0x01, 0xff]), DecodeErrorKind::UnexpectedBreak);
        // A key without a value.
        assert_eq!(
            kind(&[0xbf, 0x61, b'a', 0xff]),
            DecodeErrorKind::UnexpectedBreak
        );
        // Chunks must be definite strings of the same major type.
        assert_eq!(kind(&[0x5f, 0x61, b'a', 0xff]), DecodeErrorKind::BadChunk);
        assert_eq!(kind(&[0x7f, 0x7f, 0xff, 0xff]), DecodeErrorKind::BadChunk);
        assert_eq!(kind(&[0x5f, 0x01, 0xff]), DecodeErrorKind::BadChunk);
        assert_eq!(kind(&[0xf8, 0x17]), DecodeErrorKind::BadSimple);
        assert_eq!(
            decode(&[0xa0, 0x00]).expect_err("trailing"),
            DecodeError {
                offset: 1,
                kind: DecodeErrorKind::TrailingBytes
            }
        );
    }
}
