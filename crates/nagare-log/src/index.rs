//! The sparse per-segment index and the sealed-segment trailer.
//!
//! `.idx` file = `n x IndexEntry (16 B)` [+ `Trailer (56 B)` once the segment is sealed].
//! Entries are sorted by offset and (because stored timestamps never decrease within a log)
//! by timestamp. The first batch of every segment has an entry.
//!
//! Invariant for the active segment: an entry is written to the file only after the data it
//! points to was fsynced, so a persisted entry marks a durable, hole-free prefix (the
//! recovery starting point). The trailer's own CRC makes a torn seal detectable.

use crate::codec::{i64_at, u32_at, u64_at};

pub(crate) const ENTRY_LEN: usize = 16;
pub(crate) const TRAILER_LEN: usize = 56;
const TRAILER_MAGIC: &[u8; 8] = b"NGIDX\0v1";

/// Points at the batch starting at `base + rel_offset`, at byte `position` of the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub rel_offset: u32,
    pub position: u32,
    pub timestamp_ms: i64,
}

pub(crate) fn encode_entries(entries: &[IndexEntry], out: &mut Vec<u8>) {
    out.reserve(entries.len() * ENTRY_LEN);
    for e in entries {
        out.extend_from_slice(&e.rel_offset.to_le_bytes());
        out.extend_from_slice(&e.position.to_le_bytes());
        out.extend_from_slice(&e.timestamp_ms.to_le_bytes());
    }
}

/// Decodes whole entries; a trailing partial entry is ignored.
pub(crate) fn decode_entries(buf: &[u8]) -> Vec<IndexEntry> {
    buf.chunks_exact(ENTRY_LEN)
        .filter_map(|c| {
            Some(IndexEntry {
                rel_offset: u32_at(c, 0)?,
                position: u32_at(c, 4)?,
                timestamp_ms: i64_at(c, 8)?,
            })
        })
        .collect()
}

/// Everything `open` needs to know about a sealed segment without reading its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub entry_count: u64,
    /// One past the last offset in the segment.
    pub end_offset: u64,
    /// Length of the segment file when sealed.
    pub seg_len: u64,
    pub first_ts: i64,
    pub max_ts: i64,
    /// CRC32C of the entry bytes, checked when the entries are loaded for a read.
    pub entries_crc: u32,
}

impl Trailer {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(TRAILER_MAGIC);
        out.extend_from_slice(&self.entry_count.to_le_bytes());
        out.extend_from_slice(&self.end_offset.to_le_bytes());
        out.extend_from_slice(&self.seg_len.to_le_bytes());
        out.extend_from_slice(&self.first_ts.to_le_bytes());
        out.extend_from_slice(&self.max_ts.to_le_bytes());
        out.extend_from_slice(&self.entries_crc.to_le_bytes());
        let crc = crc32c::crc32c(out.get(start..).unwrap_or_default());
        out.extend_from_slice(&crc.to_le_bytes());
    }

    /// Decodes and checks a trailer (exactly `TRAILER_LEN` bytes).
    pub fn decode(buf: &[u8]) -> Option<Trailer> {
        if buf.len() != TRAILER_LEN || buf.get(0..8)? != TRAILER_MAGIC {
            return None;
        }
        if crc32c::crc32c(buf.get(..52)?) != u32_at(buf, 52)? {
            return None;
        }
        Some(Trailer {
            entry_count: u64_at(buf, 8)?,
            end_offset: u64_at(buf, 16)?,
            seg_len: u64_at(buf, 24)?,
            first_ts: i64_at(buf, 32)?,
            max_ts: i64_at(buf, 40)?,
            entries_crc: u32_at(buf, 48)?,
        })
    }
}

/// The last entry at or before relative offset `rel` (None if `rel` precedes all entries).
pub(crate) fn floor_by_offset(entries: &[IndexEntry], rel: u64) -> Option<IndexEntry> {
    let i = entries.partition_point(|e| u64::from(e.rel_offset) <= rel);
    i.checked_sub(1).and_then(|i| entries.get(i)).copied()
}

/// The last entry whose batch timestamp is `< ts`: the first batch with timestamp `>= ts`
/// is at or after it.
pub(crate) fn floor_by_time(entries: &[IndexEntry], ts: i64) -> Option<IndexEntry> {
    let i = entries.partition_point(|e| e.timestamp_ms < ts);
    i.checked_sub(1).and_then(|i| entries.get(i)).copied()
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_and_trailer_round_trip(
            raw in prop::collection::vec((any::<u32>(), any::<u32>(), any::<i64>()), 0..50),
            t in (any::<u64>(), any::<u64>(), any::<u64>(), any::<i64>(), any::<i64>(), any::<u32>()),
        ) {
            let entries: Vec<IndexEntry> = raw.iter().map(|&(r, p, ts)| IndexEntry {
                rel_offset: r, position: p, timestamp_ms: ts }).collect();
            let mut buf = Vec::new();
            encode_entries(&entries, &mut buf);
            prop_assert_eq!(decode_entries(&buf), entries);
            let tr = Trailer { entry_count: t.0, end_offset: t.1, seg_len: t.2, first_ts: t.3,
                max_ts: t.4, entries_crc: t.5 };
            let mut tb = Vec::new();
            tr.encode(&mut tb);
            prop_assert_eq!(tb.len(), TRAILER_LEN);
            prop_assert_eq!(Trailer::decode(&tb), Some(tr));
        }
    }

    #[test]
    fn rejects_damaged_trailer() {
        let tr = Trailer {
            entry_count: 3,
            end_offset: 10,
            seg_len: 999,
            first_ts: 1,
            max_ts: 2,
            entries_crc: 5,
        };
        let mut tb = Vec::new();
        tr.encode(&mut tb);
        for i in 0..tb.len() {
            let mut bad = tb.clone();
            bad[i] ^= 0x10;
            assert_eq!(Trailer::decode(&bad), None, "flip at {i}");
        }
        assert_eq!(Trailer::decode(&tb[..55]), None);
    }

    #[test]
    fn floor_lookups() {
        let e = |r, ts| IndexEntry {
            rel_offset: r,
            position: r * 10,
            timestamp_ms: ts,
        };
        let entries = [e(0, 5), e(10, 5), e(20, 9)];
        assert_eq!(floor_by_offset(&entries, 0).unwrap().rel_offset, 0);
        assert_eq!(floor_by_offset(&entries, 15).unwrap().rel_offset, 10);
        assert_eq!(floor_by_offset(&entries, 99).unwrap().rel_offset, 20);
        assert_eq!(floor_by_offset(&[], 3), None);
        assert_eq!(floor_by_time(&entries, 5), None);
        assert_eq!(floor_by_time(&entries, 6).unwrap().rel_offset, 10);
        assert_eq!(floor_by_time(&entries, 100).unwrap().rel_offset, 20);
    }
}
