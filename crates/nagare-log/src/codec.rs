//! The batch frame: the unit of atomicity, of CRC protection and of I/O.
//!
//! ```text
//! 0   u32 frame_len      total bytes of this frame, header included
//! 4   u32 crc32c         over bytes [0..4) and [8..frame_len)
//! 8   u8  version (=1), u8 flags (=0), u16 reserved (=0)
//! 12  u32 record_count   >= 1
//! 16  u64 base_offset    offset of the first record
//! 24  i64 timestamp_ms   one timestamp for the whole batch
//! 32  record_count x { u32 key_len, u32 value_len, key bytes, value bytes }
//! ```
//! All integers little-endian. The version byte is a persisted discriminant: never reuse a
//! value for a different layout.
//!
//! Invariant: a frame that passes [`validate`] has exactly `record_count` records whose
//! lengths add up to `frame_len`, so [`RecordIter`] never reads outside the frame.

use bytes::Bytes;

use crate::AppendRecord;

pub(crate) const HEADER_LEN: usize = 32;
pub(crate) const RECORD_OVERHEAD: usize = 8;
const VERSION: u8 = 1;

/// The fixed part of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    pub len: u32,
    pub count: u32,
    pub base_offset: u64,
    pub timestamp_ms: i64,
}

impl FrameHeader {
    /// One past the last offset in this frame.
    pub fn end_offset(&self) -> u64 {
        self.base_offset + u64::from(self.count)
    }
}

/// Why bytes are not a valid frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Fewer bytes than the header or than `frame_len` say: a torn write, or read more.
    Incomplete { need: usize },
    /// The bytes are damaged or not a frame.
    Corrupt(&'static str),
}

pub(crate) fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

pub(crate) fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

pub(crate) fn i64_at(buf: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// Encoded size of a batch.
pub(crate) fn encoded_len(records: &[AppendRecord<'_>]) -> usize {
    HEADER_LEN
        + records
            .iter()
            .map(|r| RECORD_OVERHEAD + r.key.len() + r.value.len())
            .sum::<usize>()
}

/// Encodes one batch into `buf` (cleared first; its capacity is reused, so the hot path does
/// not allocate once the buffer has grown to the largest batch size).
/// Precondition: `records` is non-empty and `encoded_len(records)` fits in a `u32`.
pub(crate) fn encode_batch(
    buf: &mut Vec<u8>,
    base_offset: u64,
    timestamp_ms: i64,
    records: &[AppendRecord<'_>],
) {
    let len = encoded_len(records);
    buf.clear();
    buf.reserve(len);
    buf.extend_from_slice(&(len as u32).to_le_bytes());
    buf.extend_from_slice(&0u32.to_le_bytes()); // CRC placeholder
    buf.extend_from_slice(&[VERSION, 0, 0, 0]);
    buf.extend_from_slice(&(records.len() as u32).to_le_bytes());
    buf.extend_from_slice(&base_offset.to_le_bytes());
    buf.extend_from_slice(&timestamp_ms.to_le_bytes());
    for r in records {
        buf.extend_from_slice(&(r.key.len() as u32).to_le_bytes());
        buf.extend_from_slice(&(r.value.len() as u32).to_le_bytes());
        buf.extend_from_slice(r.key);
        buf.extend_from_slice(r.value);
    }
    let crc = frame_crc(buf);
    if let Some(slot) = buf.get_mut(4..8) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
}

fn frame_crc(frame: &[u8]) -> u32 {
    let head = frame.get(0..4).unwrap_or_default();
    let rest = frame.get(8..).unwrap_or_default();
    crc32c::crc32c_append(crc32c::crc32c(head), rest)
}

/// Parses the header at the start of `buf` without checking the CRC. Use it to learn how
/// many bytes the frame needs; never trust records before [`validate`].
pub(crate) fn peek_header(buf: &[u8]) -> Result<FrameHeader, FrameError> {
    if buf.len() < HEADER_LEN {
        return Err(FrameError::Incomplete { need: HEADER_LEN });
    }
    let len = u32_at(buf, 0).ok_or(FrameError::Incomplete { need: HEADER_LEN })?;
    let count = u32_at(buf, 12).ok_or(FrameError::Incomplete { need: HEADER_LEN })?;
    let base_offset = u64_at(buf, 16).ok_or(FrameError::Incomplete { need: HEADER_LEN })?;
    let timestamp_ms = i64_at(buf, 24).ok_or(FrameError::Incomplete { need: HEADER_LEN })?;
    if (len as usize) < HEADER_LEN + RECORD_OVERHEAD {
        return Err(FrameError::Corrupt("frame length smaller than one record"));
    }
    if buf.get(8..12) != Some(&[VERSION, 0, 0, 0][..]) {
        return Err(FrameError::Corrupt("unknown frame version or flags"));
    }
    if count == 0 || count as usize > (len as usize - HEADER_LEN) / RECORD_OVERHEAD {
        return Err(FrameError::Corrupt(
            "record count does not fit the frame length",
        ));
    }
    Ok(FrameHeader {
        len,
        count,
        base_offset,
        timestamp_ms,
    })
}

/// Fully validates the frame at the start of `buf`: header, CRC and record layout.
pub(crate) fn validate(buf: &[u8]) -> Result<FrameHeader, FrameError> {
    let h = peek_header(buf)?;
    let frame = buf.get(..h.len as usize).ok_or(FrameError::Incomplete {
        need: h.len as usize,
    })?;
    if u32_at(frame, 4) != Some(frame_crc(frame)) {
        return Err(FrameError::Corrupt("CRC32C mismatch"));
    }
    // Walk the record lengths: they must tile the frame exactly.
    let mut pos = HEADER_LEN;
    for _ in 0..h.count {
        let k = u32_at(frame, pos).ok_or(FrameError::Corrupt("record header past frame end"))?;
        let v =
            u32_at(frame, pos + 4).ok_or(FrameError::Corrupt("record header past frame end"))?;
        pos = pos
            .checked_add(RECORD_OVERHEAD + k as usize + v as usize)
            .ok_or(FrameError::Corrupt("record length overflow"))?;
        if pos > frame.len() {
            return Err(FrameError::Corrupt("record past frame end"));
        }
    }
    if pos != frame.len() {
        return Err(FrameError::Corrupt("trailing bytes after the last record"));
    }
    Ok(h)
}

/// Iterates the records of a validated frame held in `frame` (exactly one frame), yielding
/// zero-copy `(key, value)` slices of it.
pub(crate) struct RecordIter {
    frame: Bytes,
    pos: usize,
    left: u32,
}

impl RecordIter {
    /// Precondition: `frame` passed [`validate`] and is exactly `header.len` bytes.
    pub fn new(frame: Bytes, header: &FrameHeader) -> Self {
        Self {
            frame,
            pos: HEADER_LEN,
            left: header.count,
        }
    }
}

impl Iterator for RecordIter {
    type Item = (Bytes, Bytes);

    fn next(&mut self) -> Option<(Bytes, Bytes)> {
        if self.left == 0 {
            return None;
        }
        let k = u32_at(&self.frame, self.pos)? as usize;
        let v = u32_at(&self.frame, self.pos + 4)? as usize;
        let ks = self.pos + RECORD_OVERHEAD;
        let vs = ks + k;
        let ve = vs + v;
        if ve > self.frame.len() {
            return None; // unreachable for validated frames
        }
        self.pos = ve;
        self.left -= 1;
        Some((self.frame.slice(ks..vs), self.frame.slice(vs..ve)))
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use proptest::prelude::*;

    fn encode(base: u64, ts: i64, recs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let recs: Vec<AppendRecord<'_>> = recs
            .iter()
            .map(|(k, v)| AppendRecord { key: k, value: v })
            .collect();
        let mut buf = Vec::new();
        encode_batch(&mut buf, base, ts, &recs);
        assert_eq!(buf.len(), encoded_len(&recs));
        buf
    }

    proptest! {
        #[test]
        fn batch_round_trips(
            base in any::<u64>().prop_map(|b| b / 2),
            ts in any::<i64>(),
            recs in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..20), prop::collection::vec(any::<u8>(), 0..300)),
                1..20),
        ) {
            let buf = encode(base, ts, &recs);
            let h = validate(&buf).unwrap();
            prop_assert_eq!(h.len as usize, buf.len());
            prop_assert_eq!(h.count as usize, recs.len());
            prop_assert_eq!(h.base_offset, base);
            prop_assert_eq!(h.timestamp_ms, ts);
            let got: Vec<(Vec<u8>, Vec<u8>)> = RecordIter::new(Bytes::from(buf), &h)
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect();
            prop_assert_eq!(got, recs);
        }

        #[test]
        fn any_single_bit_flip_is_rejected(
            recs in prop::collection::vec(
                (prop::collection::vec(any::<u8>(), 0..8), prop::collection::vec(any::<u8>(), 0..64)),
                1..5),
            bit in any::<prop::sample::Index>(),
        ) {
            let mut buf = encode(7, 42, &recs);
            let i = bit.index(buf.len() * 8);
            buf[i / 8] ^= 1 << (i % 8);
            prop_assert!(validate(&buf).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = validate(&bytes);
        }
    }

    #[test]
    fn rejects_malformed_input() {
        let good = encode(3, 9, &[(b"k".to_vec(), b"value".to_vec())]);
        assert!(validate(&good).is_ok());
        // Truncated anywhere: incomplete, never accepted.
        for cut in 0..good.len() {
            assert!(
                matches!(validate(&good[..cut]), Err(FrameError::Incomplete { .. })),
                "cut at {cut}"
            );
        }
        // Zeros (preallocated / hole after power loss).
        assert!(matches!(validate(&[0u8; 64]), Err(FrameError::Corrupt(_))));
        // Count of zero.
        let mut bad = good.clone();
        bad[12..16].copy_from_slice(&0u32.to_le_bytes());
        assert!(validate(&bad).is_err());
        // Record lengths that do not tile the frame, even with a matching CRC.
        let mut bad = good.clone();
        bad[32..36].copy_from_slice(&100u32.to_le_bytes());
        let crc = frame_crc(&bad);
        bad[4..8].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            validate(&bad),
            Err(FrameError::Corrupt("record past frame end"))
        );
        // Garbage appended after a frame is not part of it.
        let mut two = good.clone();
        two.extend_from_slice(b"garbage garbage garbage garbage garbage");
        assert_eq!(validate(&two).unwrap().len as usize, good.len());
    }
}
