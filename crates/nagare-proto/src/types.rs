//! JSON representations of the model's scalar types (spec §1.3).

use crate::{ErrorCode, WireError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serializer};

/// Integers arrive as JSON numbers; AWS floors fractional values (kinesalite does too) and
/// values beyond i64 saturate so range validation still reports them.
pub fn de_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<serde_json::Number>::deserialize(d)?;
    Ok(v.map(|n| {
        n.as_i64().unwrap_or_else(|| {
            let f = n.as_f64().unwrap_or(0.0).floor();
            if f >= i64::MAX as f64 {
                i64::MAX
            } else if f <= i64::MIN as f64 {
                i64::MIN
            } else {
                f as i64
            }
        })
    }))
}

/// Timestamps arrive as epoch seconds (int or float); kept as epoch milliseconds.
pub fn de_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<serde_json::Number>::deserialize(d)?;
    Ok(v.map(|n| {
        let secs = n.as_f64().unwrap_or(0.0);
        (secs * 1000.0).round() as i64
    }))
}

/// Timestamps leave as epoch seconds with millisecond precision.
pub fn ser_timestamp<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*ms as f64 / 1000.0)
}

pub fn ser_opt_timestamp<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => ser_timestamp(ms, s),
        None => s.serialize_none(),
    }
}

/// Decodes a base64 blob into `out`, returning the decoded length. Errors carry AWS's
/// SerializationException texts.
pub fn decode_blob(text: &str, out: &mut Vec<u8>) -> Result<usize, WireError> {
    let fail = |why: String| {
        WireError::new(
            ErrorCode::Serialization,
            format!("'{text}' can not be converted to a Blob: {why}"),
        )
    };
    if text.len() % 4 != 0 {
        return Err(fail(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        )));
    }
    let bytes = text.as_bytes();
    let body_end = bytes.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    if let Some(bad) = bytes.iter().enumerate().find_map(|(i, &b)| {
        let ok =
            b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || (b == b'=' && i >= body_end);
        (!ok).then_some(b)
    }) {
        return Err(fail(format!("Invalid Base64 character: '{}'", bad as char)));
    }
    let start = out.len();
    out.resize(start + text.len() / 4 * 3, 0);
    match STANDARD.decode_slice(bytes, &mut out[start..]) {
        Ok(n) => {
            out.truncate(start + n);
            Ok(n)
        }
        Err(_) => {
            out.truncate(start);
            Err(fail(
                "Invalid last non-pad Base64 character dectected".into(),
            ))
        }
    }
}

/// Appends the base64 text of `data` to `out` (no intermediate String).
pub fn encode_blob_into(data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let n = STANDARD.encode_slice(data, &mut out[start..]).unwrap_or(0);
    out.truncate(start + n);
}

pub fn encode_blob(data: &[u8]) -> String {
    STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_blob_with_bad_length() {
        let e = decode_blob("abc", &mut Vec::new()).expect_err("bad");
        assert_eq!(
            e.message.as_deref(),
            Some(
                "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
            )
        );
    }

    #[test]
    fn rejects_blob_with_bad_character() {
        let e = decode_blob("ab!d", &mut Vec::new()).expect_err("bad");
        assert_eq!(
            e.message.as_deref(),
            Some("'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'")
        );
        assert!(decode_blob("a=bc", &mut Vec::new()).is_err());
    }

    #[test]
    fn rejects_non_canonical_padding() {
        let e = decode_blob("YR==", &mut Vec::new()).expect_err("bad");
        assert!(
            e.message
                .unwrap_or_default()
                .ends_with("Invalid last non-pad Base64 character dectected")
        );
    }

    proptest! {
        #[test]
        fn blob_round_trips(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut text = Vec::new();
            encode_blob_into(&data, &mut text);
            let text = String::from_utf8(text).expect("ascii");
            prop_assert_eq!(&text, &encode_blob(&data));
            let mut out = vec![7u8];
            let n = decode_blob(&text, &mut out).expect("valid");
            prop_assert_eq!(n, data.len());
            prop_assert_eq!(&out[1..], &data[..]);
        }
    }
}
