//! Shard iterators: a self-contained, HMAC-authenticated position, so GetRecords needs no
//! server-side iterator state and iterators stay valid across restarts (the key is persisted).
//!
//! Layout before base64: `version:u8 | tag:u32 | shard:u32 | offset:u64 | issued_ms:i64 |
//! name_len:u8 | name | mac[16]` (big-endian), mac = HMAC-SHA256(key, everything before it).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use nagare_types::{ShardId, StreamTag};
use sha2::Sha256;

const VERSION: u8 = 1;
const MAC_LEN: usize = 16;

/// What an iterator points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IteratorPosition {
    pub stream: String,
    pub tag: StreamTag,
    pub shard: ShardId,
    pub offset: u64,
    pub issued_ms: i64,
}

/// Signs and verifies iterators.
#[derive(Clone)]
pub struct IteratorCodec {
    /// Keyed once; cloned per use (cheaper than re-keying).
    keyed: Hmac<Sha256>,
}

impl IteratorCodec {
    /// `None` only if the HMAC rejects the key, which HMAC-SHA256 never does.
    pub fn new(key: [u8; 32]) -> Option<Self> {
        Some(IteratorCodec {
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?,
        })
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut m = self.keyed.clone();
        m.update(data);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    pub fn encode(&self, p: &IteratorPosition) -> String {
        let name = p.stream.as_bytes();
        let mut buf = Vec::with_capacity(26 + name.len() + MAC_LEN);
        buf.push(VERSION);
        buf.extend_from_slice(&p.tag.get().to_be_bytes());
        buf.extend_from_slice(&p.shard.0.to_be_bytes());
        buf.extend_from_slice(&p.offset.to_be_bytes());
        buf.extend_from_slice(&p.issued_ms.to_be_bytes());
        buf.push(name.len() as u8);
        buf.extend_from_slice(name);
        let mac = self.mac(&buf);
        buf.extend_from_slice(&mac);
        STANDARD.encode(buf)
    }

    /// `None` for anything this server did not issue (garbage, truncation, tampering).
    pub fn decode(&self, text: &str) -> Option<IteratorPosition> {
        let buf = STANDARD.decode(text).ok()?;
        let (body, mac) = buf.split_at_checked(buf.len().checked_sub(MAC_LEN)?)?;
        if !constant_time_eq(&self.mac(body), mac) {
            return None;
        }
        let (&version, rest) = body.split_first()?;
        if version != VERSION {
            return None;
        }
        let (tag, rest) = rest.split_first_chunk::<4>()?;
        let (shard, rest) = rest.split_first_chunk::<4>()?;
        let (offset, rest) = rest.split_first_chunk::<8>()?;
        let (issued, rest) = rest.split_first_chunk::<8>()?;
        let (&len, name) = rest.split_first()?;
        if name.len() != usize::from(len) {
            return None;
        }
        Some(IteratorPosition {
            stream: String::from_utf8(name.to_vec()).ok()?,
            tag: StreamTag::new(u32::from_be_bytes(*tag)),
            shard: ShardId(u32::from_be_bytes(*shard)),
            offset: u64::from_be_bytes(*offset),
            issued_ms: i64::from_be_bytes(*issued),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn iterator_round_trips(name in "[a-zA-Z0-9_.-]{1,128}", tag in any::<u32>(), shard in any::<u32>(), off in any::<u64>(), ms in any::<i64>()) {
            let c = IteratorCodec::new([7; 32]).expect("key");
            let p = IteratorPosition { stream: name, tag: StreamTag::new(tag), shard: ShardId(shard), offset: off, issued_ms: ms };
            let text = c.encode(&p);
            prop_assert!(text.len() <= 512);
            prop_assert_eq!(c.decode(&text), Some(p));
        }

        #[test]
        fn rejects_tampered_iterators(flip in 0usize..60, bit in 0u8..8) {
            let c = IteratorCodec::new([7; 32]).expect("key");
            let p = IteratorPosition { stream: "s".into(), tag: StreamTag::new(1), shard: ShardId(2), offset: 3, issued_ms: 4 };
            let mut raw = STANDARD.decode(c.encode(&p)).expect("b64");
            let i = flip % raw.len();
            raw[i] ^= 1 << bit;
            prop_assert_eq!(c.decode(&STANDARD.encode(raw)), None);
        }
    }

    #[test]
    fn rejects_garbage_and_foreign_keys() {
        let c = IteratorCodec::new([7; 32]).expect("key");
        assert_eq!(c.decode("not base64!"), None);
        assert_eq!(c.decode(""), None);
        let p = IteratorPosition {
            stream: "s".into(),
            tag: StreamTag::new(1),
            shard: ShardId(2),
            offset: 3,
            issued_ms: 4,
        };
        assert_eq!(
            IteratorCodec::new([8; 32])
                .expect("key")
                .decode(&c.encode(&p)),
            None
        );
    }
}
