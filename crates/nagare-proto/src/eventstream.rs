//! The `application/vnd.amazon.eventstream` framing (spec §1.7), used by SubscribeToShard.
//!
//! ```text
//! total_len:u32 | headers_len:u32 | prelude_crc:u32 | headers | payload | message_crc:u32
//! ```
//! Big-endian; CRC-32 (IEEE) of the first 8 bytes, then of everything before the last 4.
//! A header is `name_len:u8 | name | type:u8 | value`.

use std::fmt;

/// Largest message accepted by the decoder (16 MiB) and largest headers section (128 KiB).
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;
pub const MAX_HEADERS: usize = 128 * 1024;
const PRELUDE: usize = 12;

/// A header value (the types of the format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Vec<u8>),
    String(String),
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl HeaderValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::String(s) => Some(s),
            HeaderValue::Bool(_)
            | HeaderValue::Byte(_)
            | HeaderValue::Short(_)
            | HeaderValue::Int(_)
            | HeaderValue::Long(_)
            | HeaderValue::Bytes(_)
            | HeaderValue::Timestamp(_)
            | HeaderValue::Uuid(_) => None,
        }
    }
}

/// One decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<(String, HeaderValue)>,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Why bytes are not a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// More bytes are needed (a partial message at the end of a buffer).
    Incomplete,
    BadLength,
    PreludeCrc,
    MessageCrc,
    BadHeader,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Incomplete => "incomplete message",
            DecodeError::BadLength => "message or header length out of bounds",
            DecodeError::PreludeCrc => "prelude CRC mismatch",
            DecodeError::MessageCrc => "message CRC mismatch",
            DecodeError::BadHeader => "malformed header",
        })
    }
}

impl std::error::Error for DecodeError {}

fn put_header(out: &mut Vec<u8>, name: &str, value: &HeaderValue) {
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    match value {
        HeaderValue::Bool(true) => out.push(0),
        HeaderValue::Bool(false) => out.push(1),
        HeaderValue::Byte(v) => {
            out.push(2);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Short(v) => {
            out.push(3);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Int(v) => {
            out.push(4);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Long(v) => {
            out.push(5);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Bytes(b) => {
            out.push(6);
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(b);
        }
        HeaderValue::String(s) => {
            out.push(7);
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        HeaderValue::Timestamp(v) => {
            out.push(8);
            out.extend_from_slice(&v.to_be_bytes());
        }
        HeaderValue::Uuid(u) => {
            out.push(9);
            out.extend_from_slice(u);
        }
    }
}

/// Appends one message. Header names must be ≤ 255 bytes and byte/string values ≤ 65535
/// bytes (all of ours are short constants).
pub fn encode(out: &mut Vec<u8>, headers: &[(&str, HeaderValue)], payload: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; PRELUDE]);
    for (name, value) in headers {
        put_header(out, name, value);
    }
    let headers_len = out.len() - start - PRELUDE;
    out.extend_from_slice(payload);
    let total = out.len() - start + 4;
    out[start..start + 4].copy_from_slice(&(total as u32).to_be_bytes());
    out[start + 4..start + 8].copy_from_slice(&(headers_len as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out[start..start + 8]);
    out[start + 8..start + 12].copy_from_slice(&prelude_crc.to_be_bytes());
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if b.len() < n {
        return Err(DecodeError::BadHeader);
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Ok(h)
}

fn arr<const N: usize>(b: &mut &[u8]) -> Result<[u8; N], DecodeError> {
    let s = take(b, N)?;
    let mut a = [0u8; N];
    a.copy_from_slice(s);
    Ok(a)
}

fn decode_headers(mut b: &[u8]) -> Result<Vec<(String, HeaderValue)>, DecodeError> {
    let mut headers = Vec::new();
    while !b.is_empty() {
        let [n] = arr::<1>(&mut b)?;
        let name = std::str::from_utf8(take(&mut b, usize::from(n))?)
            .map_err(|_| DecodeError::BadHeader)?
            .to_owned();
        let [kind] = arr::<1>(&mut b)?;
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(i8::from_be_bytes(arr(&mut b)?)),
            3 => HeaderValue::Short(i16::from_be_bytes(arr(&mut b)?)),
            4 => HeaderValue::Int(i32::from_be_bytes(arr(&mut b)?)),
            5 => HeaderValue::Long(i64::from_be_bytes(arr(&mut b)?)),
            6 | 7 => {
                let len = u16::from_be_bytes(arr(&mut b)?);
                let v = take(&mut b, usize::from(len))?;
                if kind == 6 {
                    HeaderValue::Bytes(v.to_vec())
                } else {
                    HeaderValue::String(
                        std::str::from_utf8(v)
                            .map_err(|_| DecodeError::BadHeader)?
                            .to_owned(),
                    )
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(arr(&mut b)?)),
            9 => HeaderValue::Uuid(arr(&mut b)?),
            _ => return Err(DecodeError::BadHeader),
        };
        headers.push((name, value));
    }
    Ok(headers)
}

/// Decodes the message at the start of `buf`; returns it and the bytes it used.
pub fn decode(buf: &[u8]) -> Result<(Message, usize), DecodeError> {
    let prelude: [u8; PRELUDE] = buf
        .get(..PRELUDE)
        .and_then(|p| p.try_into().ok())
        .ok_or(DecodeError::Incomplete)?;
    let total = u32::from_be_bytes([prelude[0], prelude[1], prelude[2], prelude[3]]) as usize;
    let headers_len = u32::from_be_bytes([prelude[4], prelude[5], prelude[6], prelude[7]]) as usize;
    let prelude_crc = u32::from_be_bytes([prelude[8], prelude[9], prelude[10], prelude[11]]);
    if crc32fast::hash(&prelude[..8]) != prelude_crc {
        return Err(DecodeError::PreludeCrc);
    }
    if !(PRELUDE + 4..=MAX_MESSAGE).contains(&total)
        || headers_len > MAX_HEADERS
        || headers_len > total - PRELUDE - 4
    {
        return Err(DecodeError::BadLength);
    }
    let msg = buf.get(..total).ok_or(DecodeError::Incomplete)?;
    let (body, crc) = msg.split_at(total - 4);
    let crc = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != crc {
        return Err(DecodeError::MessageCrc);
    }
    let headers = decode_headers(&body[PRELUDE..PRELUDE + headers_len])?;
    let payload = body[PRELUDE + headers_len..].to_vec();
    Ok((Message { headers, payload }, total))
}

/// An `event` message of the given type carrying `payload` in `content_type`.
pub fn event(out: &mut Vec<u8>, event_type: &str, content_type: &str, payload: &[u8]) {
    encode(
        out,
        &[
            (":message-type", HeaderValue::String("event".into())),
            (":event-type", HeaderValue::String(event_type.into())),
            (":content-type", HeaderValue::String(content_type.into())),
        ],
        payload,
    );
}

/// An `exception` message (a modelled error after the stream started).
pub fn exception(out: &mut Vec<u8>, exception_type: &str, content_type: &str, payload: &[u8]) {
    encode(
        out,
        &[
            (":message-type", HeaderValue::String("exception".into())),
            (
                ":exception-type",
                HeaderValue::String(exception_type.into()),
            ),
            (":content-type", HeaderValue::String(content_type.into())),
        ],
        payload,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header_value() -> impl Strategy<Value = HeaderValue> {
        prop_oneof![
            any::<bool>().prop_map(HeaderValue::Bool),
            any::<i8>().prop_map(HeaderValue::Byte),
            any::<i16>().prop_map(HeaderValue::Short),
            any::<i32>().prop_map(HeaderValue::Int),
            any::<i64>().prop_map(HeaderValue::Long),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(HeaderValue::Bytes),
            "\\PC{0,40}".prop_map(HeaderValue::String),
            any::<i64>().prop_map(HeaderValue::Timestamp),
            any::<[u8; 16]>().prop_map(HeaderValue::Uuid),
        ]
    }

    proptest! {
        #[test]
        fn messages_round_trip(
            headers in proptest::collection::vec(("[a-z:-]{1,20}", header_value()), 0..6),
            payload in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut out = Vec::new();
            let refs: Vec<(&str, HeaderValue)> = headers.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
            encode(&mut out, &refs, &payload);
            out.extend_from_slice(b"trailing");
            let (m, used) = decode(&out).expect("decodes");
            prop_assert_eq!(used, out.len() - 8);
            prop_assert_eq!(m.payload, payload);
            prop_assert_eq!(m.headers, headers);
        }

        #[test]
        fn never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn matches_the_spec_layout() {
        let mut out = Vec::new();
        event(
            &mut out,
            "initial-response",
            "application/x-amz-json-1.1",
            b"{}",
        );
        let total = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(total, out.len());
        let (m, _) = decode(&out).unwrap();
        assert_eq!(
            m.header(":event-type").and_then(HeaderValue::as_str),
            Some("initial-response")
        );
        assert_eq!(m.payload, b"{}");
    }

    #[test]
    fn rejects_corrupt_and_truncated_messages() {
        let mut out = Vec::new();
        event(
            &mut out,
            "SubscribeToShardEvent",
            "application/x-amz-json-1.1",
            b"{\"Records\":[]}",
        );
        assert_eq!(decode(&out[..out.len() - 1]), Err(DecodeError::Incomplete));
        let mut bad = out.clone();
        bad[20] ^= 1;
        assert_eq!(decode(&bad), Err(DecodeError::MessageCrc));
        let mut bad = out.clone();
        bad[1] ^= 1;
        assert_eq!(decode(&bad), Err(DecodeError::PreludeCrc));
    }
}
