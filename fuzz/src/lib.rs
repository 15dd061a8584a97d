//! The properties the fuzz targets check, shared so a crash input can be replayed from a
//! test as well as from `cargo fuzz run`.
//!
//! - [`json_request`]: any bytes, as a JSON request for every operation, go through the proto
//!   layer's parse → typecheck → validate path without panicking; and whatever `json_to_cbor`
//!   accepts comes out as well-formed CBOR.
//! - [`cbor_request`]: any bytes, as a CBOR request: `cbor_to_json` either fails with a bare
//!   SerializationException or yields a JSON object (the invariant the envelope relies on to
//!   skip its JSON checks), which then goes through [`json_request`]'s path; and it agrees
//!   with the general decoder on what is well-formed.
//! - [`event_stream`]: any bytes, as an event-stream message, raw and with CRCs made valid;
//!   what decodes re-encodes to a message that decodes the same.

use nagare_proto::cbor;
use nagare_proto::conformance::check_request;
use nagare_proto::eventstream;
use nagare_proto::ops::Operation;
use nagare_proto::{ErrorCode, WireError};

pub fn json_request(body: &[u8]) {
    for op in Operation::ALL {
        let _ = check_request(op, body);
    }
    if let Ok(c) = cbor::json_to_cbor(body)
        && let Err(e) = cbor::decode(&c)
    {
        assert!(
            c.is_empty(),
            "json_to_cbor wrote malformed CBOR ({e}): {c:02x?}"
        );
    }
}

pub fn cbor_request(body: &[u8]) {
    let general = cbor::decode(body);
    if let Ok(v) = &general {
        let again = v.to_vec();
        let back = cbor::decode(&again).expect("the encoder's output decodes");
        assert_eq!(back.to_vec(), again, "re-encoding is stable");
    }
    match cbor::cbor_to_json(body) {
        Ok(json) => {
            assert!(general.is_ok(), "cbor_to_json accepted what decode refused");
            let v: serde_json::Value = match serde_json::from_slice(&json) {
                Ok(v) => v,
                Err(e) => panic!("not JSON ({e}): {}", String::from_utf8_lossy(&json)),
            };
            assert!(v.is_object(), "not an object: {v}");
            json_request(&json);
        }
        Err(e) => assert_eq!(e, WireError::bare(ErrorCode::Serialization)),
    }
}

/// Overwrites the length and both CRCs so that the decoder's checks past them are reached.
fn with_valid_framing(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 16 || data.len() > u32::MAX as usize {
        return None;
    }
    let mut m = data.to_vec();
    let total = m.len();
    m[..4].copy_from_slice(&(total as u32).to_be_bytes());
    let prelude_crc = crc32(&m[..8]);
    m[8..12].copy_from_slice(&prelude_crc.to_be_bytes());
    let crc = crc32(&m[..total - 4]);
    m[total - 4..].copy_from_slice(&crc.to_be_bytes());
    Some(m)
}

/// CRC-32 (IEEE), bitwise: the fuzz crate keeps its dependencies to the code under test.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn round_trip(buf: &[u8]) {
    let mut rest = buf;
    while let Ok((msg, used)) = eventstream::decode(rest) {
        assert!(used > 0 && used <= rest.len());
        let headers: Vec<(&str, eventstream::HeaderValue)> = msg
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let mut again = Vec::new();
        eventstream::encode(&mut again, &headers, &msg.payload);
        let (back, n) = eventstream::decode(&again).expect("the encoder's output decodes");
        assert_eq!(n, again.len());
        assert_eq!(back.headers, msg.headers);
        assert_eq!(back.payload, msg.payload);
        rest = &rest[used..];
    }
}

pub fn event_stream(data: &[u8]) {
    round_trip(data);
    if let Some(framed) = with_valid_framing(data) {
        round_trip(&framed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("seeds")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("seeds")
            .map(|e| {
                let path = e.expect("entry").path();
                (
                    path.display().to_string(),
                    std::fs::read(&path).expect("read"),
                )
            })
            .collect();
        files.sort();
        assert!(!files.is_empty());
        files
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn seeds_are_valid_inputs_and_pass() {
        for (name, json) in seeds("json_request") {
            serde_json::from_slice::<serde_json::Value>(&json).expect(&name);
            json_request(&json);
        }
        for (name, body) in seeds("cbor_request") {
            cbor::cbor_to_json(&body).expect(&name);
            cbor_request(&body);
        }
        for (name, bytes) in seeds("event_stream") {
            let (_, used) = eventstream::decode(&bytes).expect(&name);
            assert!(used <= bytes.len());
            event_stream(&bytes);
        }
    }
}
