//! Recovery: rebuilding a log's in-memory state from its directory after any shutdown.
//!
//! Mode: **truncate the torn tail, report a corrupt middle** (never serve either).
//! - Sealed segments are trusted from their 56-byte index trailer (no data read). A missing or
//!   invalid trailer means power was lost before the roll that sealed it was synced; then every
//!   later segment holds only unacknowledged data. The segment is scanned: if it is whole it is
//!   re-indexed, otherwise it becomes the tail and later segments are removed.
//! - The tail segment is scanned from the last persisted index entry whose frame verifies
//!   (entries are only persisted after their data was fsynced, so everything before it is
//!   durable and hole-free), validating CRCs and offsets, and truncated at the first bad frame.
//! - Bit flips inside sealed segments are found by reads (`ReadError::Corrupt`).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::index::{self, IndexEntry, Trailer};
use crate::log::{ActiveSegment, LogState, SealedSegment, new_active_segment};
use crate::segment::{self, FrameCursor, wants_index_entry};
use crate::{FsyncPolicy, LogConfig, Offset, RecoveryEvent, RecoveryKind};

const SCAN_CHUNK: usize = 1 << 20;

pub(crate) fn recover_log(
    dir: &Path,
    name: &str,
    config: &LogConfig,
) -> io::Result<(LogState, Vec<RecoveryEvent>)> {
    let mut events = Vec::new();
    let event = |base: u64, position: u64, kind: RecoveryKind| RecoveryEvent {
        log: name.to_string(),
        segment: Offset(base),
        position,
        kind,
    };
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(b) = entry.file_name().to_str().and_then(segment::parse_log_name) {
            bases.push(b);
        }
    }
    bases.sort_unstable();
    let Some(&last_base) = bases.last() else {
        let active = new_active_segment(dir, 0)?;
        return Ok((state_from(VecDeque::new(), active, 0, None), events));
    };

    let mut sealed = VecDeque::new();
    let mut tail = last_base;
    for (i, pair) in bases.windows(2).enumerate() {
        let (&base, &next_base) = match pair {
            [a, b] => (a, b),
            _ => continue,
        };
        if let Some(t) = read_trailer(dir, base) {
            let path = segment::log_path(dir, base);
            let mut file_len = fs::metadata(&path)?.len();
            if file_len > t.seg_len {
                // Zeros written ahead of the data whose removal at sealing was not yet
                // durable (power loss right after the roll): not data, drop them quietly.
                let file = OpenOptions::new().read(true).write(true).open(&path)?;
                if is_zero_range(&file, t.seg_len, file_len)? {
                    file.set_len(t.seg_len)?;
                    file.sync_all()?;
                    file_len = t.seg_len;
                }
            }
            if file_len != t.seg_len {
                let reason = format!(
                    "segment file is {file_len} bytes but was sealed at {} bytes",
                    t.seg_len
                );
                events.push(event(
                    base,
                    t.seg_len.min(file_len),
                    RecoveryKind::Corrupt { reason },
                ));
            }
            if t.end_offset != next_base {
                let reason = format!(
                    "sealed end {} but next segment starts at {next_base}",
                    t.end_offset
                );
                events.push(event(base, t.seg_len, RecoveryKind::Corrupt { reason }));
            }
            sealed.push_back(sealed_from(base, &t));
            continue;
        }
        // No valid trailer: rebuild it if the segment is whole, else it is the torn tail.
        let file = File::open(segment::log_path(dir, base))?;
        let file_len = file.metadata()?.len();
        let scan = scan_frames(
            &file,
            base,
            0,
            base,
            file_len,
            config.index_interval_bytes,
            Vec::new(),
        )?;
        if scan.valid_end == file_len && scan.next == next_base && scan.valid_end > 0 {
            let t = write_sealed_index(dir, base, &scan)?;
            events.push(event(base, 0, RecoveryKind::IndexRebuilt));
            sealed.push_back(sealed_from(base, &t));
            continue;
        }
        for &later in bases.get(i + 1..).unwrap_or_default() {
            let len = fs::metadata(segment::log_path(dir, later)).map_or(0, |m| m.len());
            remove_segment(dir, later)?;
            events.push(event(
                later,
                0,
                RecoveryKind::DroppedSegment { bytes_removed: len },
            ));
        }
        segment::sync_dir(dir)?;
        tail = base;
        break;
    }

    let prev_ts = sealed.back().map(|s: &SealedSegment| s.max_ts);
    let (active, next, tail_events) = recover_tail(dir, name, tail, config)?;
    events.extend(tail_events);
    let last_ts = active.max_ts.or(prev_ts);
    Ok((state_from(sealed, active, next, last_ts), events))
}

fn state_from(
    sealed: VecDeque<SealedSegment>,
    active: ActiveSegment,
    next: u64,
    last_ts: Option<i64>,
) -> LogState {
    LogState {
        start: sealed.front().map_or(active.base, |s| s.base),
        next,
        last_ts,
        sealed,
        active,
        buf: Vec::new(),
        pending_sync: Vec::new(),
        dir_dirty: false,
    }
}

fn sealed_from(base: u64, t: &Trailer) -> SealedSegment {
    SealedSegment {
        base,
        end: t.end_offset,
        len: t.seg_len,
        first_ts: t.first_ts,
        max_ts: t.max_ts,
        entry_count: t.entry_count,
        entries_crc: t.entries_crc,
    }
}

fn remove_segment(dir: &Path, base: u64) -> io::Result<()> {
    for p in [segment::log_path(dir, base), segment::idx_path(dir, base)] {
        match fs::remove_file(p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The trailer of a sealed index, if present and intact (56 bytes read).
fn read_trailer(dir: &Path, base: u64) -> Option<Trailer> {
    let f = File::open(segment::idx_path(dir, base)).ok()?;
    let len = f.metadata().ok()?.len();
    let tl = index::TRAILER_LEN as u64;
    if len < tl || (len - tl) % index::ENTRY_LEN as u64 != 0 {
        return None;
    }
    let buf = segment::read_at(&f, len - tl, index::TRAILER_LEN).ok()?;
    let t = Trailer::decode(&buf)?;
    (t.entry_count == (len - tl) / index::ENTRY_LEN as u64 && t.end_offset > base).then_some(t)
}

struct Scan {
    entries: Vec<IndexEntry>,
    valid_end: u64,
    next: u64,
    first_ts: Option<i64>,
    max_ts: Option<i64>,
    /// Frames validated by this scan.
    frames: u64,
    /// Why the scan stopped before `limit`, if it did.
    stop: Option<String>,
}

/// Validates frames from `pos` (expected to hold offset `expected`) up to `limit`,
/// extending `entries` with the same sparse-index rule the writer uses.
fn scan_frames(
    file: &File,
    base: u64,
    pos: u64,
    expected: u64,
    limit: u64,
    interval: u32,
    mut entries: Vec<IndexEntry>,
) -> io::Result<Scan> {
    let mut cursor = FrameCursor::new(file, pos, limit, SCAN_CHUNK);
    let mut s = Scan {
        entries: Vec::new(),
        valid_end: pos,
        next: expected,
        first_ts: None,
        max_ts: None,
        frames: 0,
        stop: None,
    };
    loop {
        match cursor.next_frame() {
            Ok(Some((at, h, _))) => {
                if h.base_offset != s.next || h.end_offset() - base > u64::from(u32::MAX) {
                    s.stop = Some(format!(
                        "batch offset {} where {} was expected",
                        h.base_offset, s.next
                    ));
                    break;
                }
                let indexed = entries.last().is_some_and(|e| u64::from(e.position) == at);
                if !indexed && wants_index_entry(entries.last(), at, interval) {
                    entries.push(IndexEntry {
                        rel_offset: (h.base_offset - base) as u32,
                        position: at as u32,
                        timestamp_ms: h.timestamp_ms,
                    });
                }
                s.first_ts.get_or_insert(h.timestamp_ms);
                s.max_ts = Some(h.timestamp_ms);
                s.next = h.end_offset();
                s.valid_end = at + u64::from(h.len);
                s.frames += 1;
            }
            Ok(None) => break,
            Err(segment::CursorError::Io(e)) => return Err(e),
            Err(e) => {
                s.stop = Some(e.describe());
                break;
            }
        }
    }
    s.entries = entries;
    Ok(s)
}

fn write_sealed_index(dir: &Path, base: u64, scan: &Scan) -> io::Result<Trailer> {
    let mut buf = Vec::new();
    index::encode_entries(&scan.entries, &mut buf);
    let first_ts = scan.first_ts.unwrap_or_default();
    let t = Trailer {
        entry_count: scan.entries.len() as u64,
        end_offset: scan.next,
        seg_len: scan.valid_end,
        first_ts,
        max_ts: scan.max_ts.unwrap_or(first_ts),
        entries_crc: crc32c::crc32c(&buf),
    };
    t.encode(&mut buf);
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(segment::idx_path(dir, base))?;
    f.write_all_at(&buf, 0)?;
    f.sync_all()?;
    Ok(t)
}

/// True if every byte of `[from, to)` in `file` is zero.
fn is_zero_range(file: &File, from: u64, to: u64) -> io::Result<bool> {
    let mut at = from;
    while at < to {
        let n = (to - at).min(SCAN_CHUNK as u64) as usize;
        let chunk = segment::read_at(file, at, n)?;
        if chunk.len() < n || chunk.iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// True if a valid frame holding `offset` first starts at `pos`.
fn frame_verifies(file: &File, pos: u64, offset: u64, limit: u64) -> bool {
    let mut c = FrameCursor::new(file, pos, limit, 64 * 1024);
    matches!(c.next_frame(), Ok(Some((_, h, _))) if h.base_offset == offset)
}

/// Recovers the tail (active) segment; returns it with the next offset.
fn recover_tail(
    dir: &Path,
    name: &str,
    base: u64,
    config: &LogConfig,
) -> io::Result<(ActiveSegment, u64, Vec<RecoveryEvent>)> {
    let mut events = Vec::new();
    let file = segment::open_rw(&segment::log_path(dir, base), false)?;
    let file_len = file.metadata()?.len();
    let idx_file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(segment::idx_path(dir, base))?;
    let idx_len = idx_file.metadata()?.len() as usize;
    let idx = segment::read_at(&idx_file, 0, idx_len)?;
    // A sealed trailer on the tail (crash right after sealing) is dropped; entries are kept.
    let n = match idx.len().checked_sub(index::TRAILER_LEN) {
        Some(at) if at % index::ENTRY_LEN == 0 => match idx.get(at..).and_then(Trailer::decode) {
            Some(t) => (t.entry_count as usize).min(at / index::ENTRY_LEN),
            None => idx.len() / index::ENTRY_LEN,
        },
        _ => idx.len() / index::ENTRY_LEN,
    };
    let mut entries = index::decode_entries(idx.get(..n * index::ENTRY_LEN).unwrap_or_default());
    // Entries must start at position 0 and increase; drop everything from the first that does not.
    let mut ok = 0;
    for (i, e) in entries.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| entries.get(p));
        let sane = match prev {
            None => e.position == 0 && e.rel_offset == 0,
            Some(p) => {
                e.position > p.position
                    && e.rel_offset > p.rel_offset
                    && e.timestamp_ms >= p.timestamp_ms
            }
        };
        if !sane || u64::from(e.position) >= file_len {
            break;
        }
        ok = i + 1;
    }
    entries.truncate(ok);
    // Last known-good point: the newest persisted entry whose frame verifies.
    while let Some(e) = entries.last() {
        if frame_verifies(
            &file,
            u64::from(e.position),
            base + u64::from(e.rel_offset),
            file_len,
        ) {
            break;
        }
        entries.pop();
    }
    let persisted = entries.len();
    let (pos, expected) = entries.last().map_or((0, base), |e| {
        (u64::from(e.position), base + u64::from(e.rel_offset))
    });
    let first_ts = entries.first().map(|e| e.timestamp_ms);
    let scan = scan_frames(
        &file,
        base,
        pos,
        expected,
        file_len,
        config.index_interval_bytes,
        entries,
    )?;
    // Zeros after the last frame were written ahead of the data (see
    // `ActiveSegment::allocated`): keep them for the next appends; anything else is torn.
    let zero_tail = scan.valid_end < file_len && is_zero_range(&file, scan.valid_end, file_len)?;
    if scan.valid_end < file_len && !zero_tail {
        let removed = file_len - scan.valid_end;
        tracing::warn!(log = name, segment = base, position = scan.valid_end, removed, reason = ?scan.stop, "truncating torn tail");
        file.set_len(scan.valid_end)?;
        file.sync_all()?;
        events.push(RecoveryEvent {
            log: name.to_string(),
            segment: Offset(base),
            position: scan.valid_end,
            kind: RecoveryKind::TruncatedTail {
                bytes_removed: removed,
            },
        });
    }
    idx_file.set_len((persisted * index::ENTRY_LEN) as u64)?;
    let mut active = ActiveSegment {
        base,
        file: Arc::new(file),
        idx_file: Arc::new(idx_file),
        len: scan.valid_end,
        allocated: if zero_tail { file_len } else { scan.valid_end },
        index: scan.entries,
        idx_persisted: persisted,
        first_ts: first_ts.or(scan.first_ts),
        max_ts: scan.max_ts,
    };
    // What the scan found past the known-good point may be in the page cache only (process
    // crash): make it durable now, since it will be served as acknowledged.
    if config.fsync != FsyncPolicy::Never && scan.frames > 1 {
        active.file.sync_data()?;
        let mut buf = Vec::new();
        index::encode_entries(active.index.get(persisted..).unwrap_or_default(), &mut buf);
        active
            .idx_file
            .write_all_at(&buf, (persisted * index::ENTRY_LEN) as u64)?;
        active.idx_persisted = active.index.len();
    }
    Ok((active, scan.next, events))
}
