//! The read path: offset reads and time lookups.
//!
//! A read takes the state lock only to locate the segment and its nearest index entry, then
//! `pread`s outside the lock. Records are `Bytes` slices of one read buffer per chunk. Every
//! frame is CRC-checked before any of its records is returned; damage yields
//! `ReadError::Corrupt` and a [`RecoveryEvent`] (reported once per position).

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::codec::RecordIter;
use crate::error::ReadError;
use crate::index::{self, IndexEntry};
use crate::log::{CachedSegment, Log, LogShared, SealedSegment};
use crate::segment::{self, CursorError, FrameCursor};
use crate::{LogRecord, Offset, ReadBatch, RecoveryEvent, RecoveryKind};

/// Where to read: a segment, its readable length, and a start position from the index.
struct Located {
    base: u64,
    /// One past the last offset this segment may hold.
    end: u64,
    file: Arc<File>,
    readable: u64,
    entries: Option<Arc<Vec<IndexEntry>>>,
    /// For the active segment, the floor entry found under the lock.
    active_entry: Option<IndexEntry>,
}

impl LogShared {
    fn io_err(&self, e: std::io::Error) -> ReadError {
        ReadError::Io {
            log: self.name.clone(),
            source: e,
        }
    }

    fn corrupt(&self, base: u64, position: u64, offset: u64, reason: String) -> ReadError {
        let ev = RecoveryEvent {
            log: self.name.clone(),
            segment: Offset(base),
            position,
            kind: RecoveryKind::Corrupt {
                reason: reason.clone(),
            },
        };
        {
            let mut events = self.events.lock();
            if !events.contains(&ev) {
                tracing::error!(log = %self.name, segment = base, position, %reason, "corrupt segment data");
                events.push(ev);
            }
        }
        ReadError::Corrupt {
            log: self.name.clone(),
            segment: Offset(base),
            position,
            offset: Offset(offset),
            reason,
        }
    }

    /// Finds the segment holding `offset` (`offset >= start`), or None if it was trimmed.
    fn locate(&self, offset: u64, ts: Option<i64>) -> Result<Option<Located>, ReadError> {
        let sealed: SealedSegment = {
            let st = self.state.lock();
            if offset < st.start {
                return Ok(None);
            }
            let a = &st.active;
            if offset >= a.base {
                let entry = match ts {
                    Some(t) => index::floor_by_time(&a.index, t),
                    None => index::floor_by_offset(&a.index, offset - a.base),
                };
                return Ok(Some(Located {
                    base: a.base,
                    end: st.next,
                    file: Arc::clone(&a.file),
                    readable: a.len,
                    entries: None,
                    active_entry: entry,
                }));
            }
            let i = st.sealed.partition_point(|s| s.base <= offset);
            match i.checked_sub(1).and_then(|i| st.sealed.get(i)) {
                Some(s) => s.clone(),
                None => return Ok(None),
            }
        };
        // Sealed: open (or reuse) the file and its index outside the state lock.
        let cached = {
            let cache = self.reader_cache.lock();
            cache
                .as_ref()
                .filter(|c| c.base == sealed.base)
                .map(|c| (Arc::clone(&c.file), Arc::clone(&c.entries)))
        };
        let (file, entries) = match cached {
            Some(c) => c,
            None => {
                let file = File::open(segment::log_path(&self.dir, sealed.base))
                    .map_err(|e| self.io_err(e))?;
                let entries = Arc::new(self.load_sealed_index(&sealed));
                let file = Arc::new(file);
                *self.reader_cache.lock() = Some(CachedSegment {
                    base: sealed.base,
                    file: Arc::clone(&file),
                    entries: Arc::clone(&entries),
                });
                (file, entries)
            }
        };
        Ok(Some(Located {
            base: sealed.base,
            end: sealed.end,
            file,
            readable: sealed.len,
            entries: Some(entries),
            active_entry: None,
        }))
    }

    /// Loads a sealed index; on damage falls back to no entries (reads scan from the
    /// segment start: slower, still correct).
    fn load_sealed_index(&self, s: &SealedSegment) -> Vec<IndexEntry> {
        let len = (s.entry_count as usize).saturating_mul(index::ENTRY_LEN);
        let loaded = File::open(segment::idx_path(&self.dir, s.base))
            .and_then(|f| segment::read_at(&f, 0, len));
        match loaded {
            Ok(buf) if buf.len() == len && crc32c::crc32c(&buf) == s.entries_crc => {
                index::decode_entries(&buf)
            }
            _ => {
                tracing::warn!(log = %self.name, segment = s.base, "sealed index unreadable; scanning");
                Vec::new()
            }
        }
    }

    fn read_chunk(max_bytes: usize) -> usize {
        (max_bytes.min(16 << 20) + 64 * 1024).max(256 * 1024)
    }
}

impl Log {
    /// Visible records with offset `>= max(from, start())`, at most `max_records` and about
    /// `max_bytes` of keys+values — but always at least one record if one is visible, even if
    /// it alone exceeds `max_bytes`.
    pub fn read(
        &self,
        from: Offset,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<ReadBatch, ReadError> {
        let sh = &self.shared;
        if sh.deleted.load(Ordering::Acquire) {
            return Err(ReadError::Deleted(sh.name.clone()));
        }
        let visible = sh.progress.borrow().visible;
        let mut cur = from.0.max(sh.state.lock().start);
        let mut records = Vec::new();
        let mut bytes = 0usize;
        // The byte budget is enforced per record below (a record is taken if it is the first
        // or if it fits), so the loop only stops early on the record count.
        'segments: while cur < visible && records.len() < max_records {
            let Some(loc) = sh.locate(cur, None)? else {
                // Trimmed under us: continue from the new start.
                cur = cur.max(sh.state.lock().start);
                continue;
            };
            if cur >= loc.end {
                return Err(sh.corrupt(
                    loc.base,
                    loc.readable,
                    cur,
                    "offsets missing after segment end".into(),
                ));
            }
            let entry = match &loc.entries {
                Some(e) => index::floor_by_offset(e, cur - loc.base),
                None => loc.active_entry,
            };
            let start_pos = entry.map_or(0, |e| u64::from(e.position));
            let mut cursor = FrameCursor::new(
                &loc.file,
                start_pos,
                loc.readable,
                LogShared::read_chunk(max_bytes),
            );
            loop {
                let (pos, h, frame) = match cursor.next_frame() {
                    Ok(Some(f)) => f,
                    Ok(None) => {
                        if cur < loc.end {
                            if !records.is_empty() {
                                break 'segments;
                            }
                            return Err(sh.corrupt(
                                loc.base,
                                cursor.position(),
                                cur,
                                "segment ends before its last offset".into(),
                            ));
                        }
                        continue 'segments;
                    }
                    Err(CursorError::Io(e)) => return Err(sh.io_err(e)),
                    Err(e @ CursorError::Bad { position, .. }) => {
                        if !records.is_empty() {
                            break 'segments; // serve the good prefix; the next read reports
                        }
                        return Err(sh.corrupt(loc.base, position, cur, e.describe()));
                    }
                };
                if h.end_offset() <= cur {
                    continue;
                }
                if h.base_offset > cur {
                    if !records.is_empty() {
                        break 'segments;
                    }
                    return Err(sh.corrupt(
                        loc.base,
                        pos,
                        cur,
                        format!(
                            "offset gap: expected {cur}, found batch at {}",
                            h.base_offset
                        ),
                    ));
                }
                for (i, (key, value)) in RecordIter::new(frame, &h).enumerate() {
                    let offset = h.base_offset + i as u64;
                    if offset < cur {
                        continue;
                    }
                    if offset >= visible || records.len() >= max_records {
                        break 'segments;
                    }
                    let size = key.len() + value.len();
                    if !records.is_empty() && bytes + size > max_bytes {
                        break 'segments;
                    }
                    bytes += size;
                    records.push(LogRecord {
                        offset: Offset(offset),
                        timestamp_ms: h.timestamp_ms,
                        key,
                        value,
                    });
                    cur = offset + 1;
                }
            }
        }
        Ok(ReadBatch {
            records,
            next: Offset(cur),
        })
    }

    /// The first retained record with timestamp `>= timestamp_ms`, or `end()`. On an I/O
    /// error or corruption it returns the nearest earlier indexed offset (never a later one,
    /// so no record is skipped); see [`Log::try_offset_at_or_after`].
    pub fn offset_at_or_after(&self, timestamp_ms: i64) -> Offset {
        match self.try_offset_at_or_after(timestamp_ms) {
            Ok(o) => o,
            Err((fallback, e)) => {
                tracing::warn!(log = %self.shared.name, error = %e, "time lookup fell back");
                fallback
            }
        }
    }

    /// Like [`Log::offset_at_or_after`], reporting errors with a safe fallback offset.
    pub fn try_offset_at_or_after(&self, timestamp_ms: i64) -> Result<Offset, (Offset, ReadError)> {
        let sh = &self.shared;
        let end = self.end();
        // Segment choice from metadata: timestamps never decrease, so the first segment
        // whose newest timestamp is >= t holds the answer.
        let base = {
            let st = sh.state.lock();
            let i = st.sealed.partition_point(|s| s.max_ts < timestamp_ms);
            let first_sealed = st.sealed.get(i);
            match first_sealed {
                Some(s) if s.first_ts >= timestamp_ms => return Ok(Offset(s.base).min(end)),
                Some(s) => s.base,
                None => match st.active.max_ts {
                    Some(m) if m >= timestamp_ms => {
                        if st.active.first_ts.is_some_and(|f| f >= timestamp_ms) {
                            return Ok(Offset(st.active.base).min(end));
                        }
                        st.active.base
                    }
                    _ => return Ok(end),
                },
            }
        };
        let loc = match sh.locate(base, Some(timestamp_ms)) {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(self.start().min(end)),
            Err(e) => return Err((Offset(base), e)),
        };
        let entry = match &loc.entries {
            Some(e) => index::floor_by_time(e, timestamp_ms),
            None => loc.active_entry,
        };
        let (start_pos, fallback) = entry.map_or((0, loc.base), |e| {
            (u64::from(e.position), loc.base + u64::from(e.rel_offset))
        });
        let mut cursor = FrameCursor::new(&loc.file, start_pos, loc.readable, 256 * 1024);
        loop {
            match cursor.next_frame() {
                Ok(Some((_, h, _))) if h.timestamp_ms >= timestamp_ms => {
                    return Ok(Offset(h.base_offset).min(end));
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(Offset(loc.end).min(end)),
                Err(CursorError::Io(e)) => return Err((Offset(fallback), sh.io_err(e))),
                Err(e @ CursorError::Bad { position, .. }) => {
                    let err = sh.corrupt(loc.base, position, fallback, e.describe());
                    return Err((Offset(fallback), err));
                }
            }
        }
    }
}
