//! [`Log`]: one append-only log. Shared state, the append path and retention live here;
//! reads are in [`crate::read`], fsync jobs in [`crate::sync`].
//!
//! Locking: `state` (a `parking_lot::Mutex`, never held across an `.await` or an fsync) guards
//! the segment list and the write position; appends encode and `pwrite` under it, which keeps
//! frames contiguous and in offset order. Lock order: `state` → `reader_cache`; the
//! `sync_running` flag lock is only taken alone.

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use tokio::sync::watch;

use crate::codec;
use crate::error::{AppendError, LogError};
use crate::index::{self, IndexEntry, Trailer};
use crate::segment::{self, wants_index_entry};
use crate::{AppendAck, AppendRecord, FsyncPolicy, LogConfig, Offset, RecoveryEvent};

/// A handle to one log. Cheap to clone; all clones share the same state.
#[derive(Clone)]
pub struct Log {
    pub(crate) shared: Arc<LogShared>,
}

/// What readers and waiters observe, published through a `watch` channel so that
/// `wait_past` and group-commit waiters wake without polling.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Progress {
    /// One past the last record readers may see.
    pub visible: u64,
    /// Timestamp of the record before `visible`.
    pub visible_ts: Option<i64>,
    /// One past the last fsynced record (under `Never`: last written).
    pub durable: u64,
    /// The log was deleted or the store dropped: waiters must return.
    pub closed: bool,
}

pub(crate) struct LogShared {
    pub name: String,
    pub dir: PathBuf,
    pub config: Arc<LogConfig>,
    pub state: Mutex<LogState>,
    pub progress: watch::Sender<Progress>,
    /// True while an fsync job is queued or running for this log; guards against
    /// spawning redundant jobs. Std-style blocking lock: only held for a flag flip.
    pub sync_running: Mutex<bool>,
    /// The store's group-commit thread (`Always` only).
    pub committer: Option<Arc<crate::sync::Committer>>,
    /// Serializes whole fsync jobs (group commit leader, interval flusher, `sync_all`).
    pub sync_job: Mutex<()>,
    /// Set once by the first failed write or fsync; never cleared (reopen to recover).
    pub poison: OnceLock<String>,
    pub deleted: AtomicBool,
    /// Set by appends under `Interval`; cleared by the flusher before it syncs.
    pub dirty: AtomicBool,
    /// Fault injection for tests: the next fsync job fails as if the disk reported EIO.
    pub fail_next_sync: AtomicBool,
    /// Store-wide report; reads append corruption they find.
    pub events: Arc<Mutex<Vec<RecoveryEvent>>>,
    /// One open sealed segment (file + its index) for catch-up readers. Bounded: one per log.
    pub reader_cache: Mutex<Option<CachedSegment>>,
}

pub(crate) struct CachedSegment {
    pub base: u64,
    pub file: Arc<File>,
    pub entries: Arc<Vec<IndexEntry>>,
}

/// A sealed (immutable) segment, described from its index trailer.
#[derive(Clone, Debug)]
pub(crate) struct SealedSegment {
    pub base: u64,
    /// One past its last offset; equals the next segment's base.
    pub end: u64,
    /// Readable bytes (the sealed length).
    pub len: u64,
    pub first_ts: i64,
    pub max_ts: i64,
    pub entry_count: u64,
    pub entries_crc: u32,
}

/// Zeros written ahead of the data of small appends (see `ActiveSegment::allocated`).
pub(crate) const PREZERO_CHUNK: u64 = 256 * 1024;
/// Appends larger than this do not zero ahead: their own size change is amortised already,
/// and zeroing would double the bytes a bulk writer sends to the device.
const PREZERO_MAX_BATCH: usize = 64 * 1024;
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];

/// The segment being appended to.
pub(crate) struct ActiveSegment {
    pub base: u64,
    pub file: Arc<File>,
    pub idx_file: Arc<File>,
    /// Bytes written (all complete frames).
    pub len: u64,
    /// File bytes already written, frames or zeros (`>= len`). Under `Always`, small appends
    /// keep up to [`PREZERO_CHUNK`] of zeros ahead of `len`: overwriting written blocks leaves
    /// the inode unchanged, so the group-commit fdatasync skips its inode write (one of its
    /// three device round trips on ext4). Readers and recovery never go past `len`/valid frames.
    pub allocated: u64,
    /// Sparse index of the whole segment (bounded by segment_max_bytes / interval).
    pub index: Vec<IndexEntry>,
    /// `index[..idx_persisted]` has been claimed by a sync job for writing to `idx_file`.
    pub idx_persisted: usize,
    pub first_ts: Option<i64>,
    pub max_ts: Option<i64>,
}

pub(crate) struct LogState {
    /// First retained offset.
    pub start: u64,
    /// One past the last written record (visible or not).
    pub next: u64,
    /// Timestamp of the last written batch.
    pub last_ts: Option<i64>,
    /// Sorted by base, contiguous: `sealed[i].end == sealed[i+1].base`, last `.end == active.base`.
    pub sealed: VecDeque<SealedSegment>,
    pub active: ActiveSegment,
    /// Reusable encode buffer: the append hot path does not allocate per record.
    pub buf: Vec<u8>,
    /// Sealed files whose data or index may not be durable yet; the next sync covers them.
    pub pending_sync: Vec<Arc<File>>,
    /// A segment file was created or removed since the last directory fsync.
    pub dir_dirty: bool,
}

impl LogShared {
    pub fn poisoned_reason(&self) -> Option<&str> {
        self.poison.get().map(String::as_str)
    }

    /// Marks the log poisoned (first reason wins) and wakes every waiter.
    pub fn poison(&self, reason: String) {
        tracing::error!(log = %self.name, %reason, "log poisoned");
        let _ = self.poison.set(reason);
        self.progress.send_modify(|_| {});
    }

    pub fn close(&self) {
        self.progress.send_modify(|p| p.closed = true);
    }

    fn append_io_error(&self, e: std::io::Error) -> AppendError {
        self.poison(format!("write failed: {e}"));
        AppendError::Io {
            log: self.name.clone(),
            source: e,
        }
    }

    fn check_writable(&self) -> Result<(), AppendError> {
        if self.deleted.load(Ordering::Acquire) {
            return Err(AppendError::Deleted(self.name.clone()));
        }
        if let Some(reason) = self.poisoned_reason() {
            return Err(AppendError::Poisoned {
                log: self.name.clone(),
                reason: reason.to_string(),
            });
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at `st.next`. Caller holds the state lock.
    /// The sealed files are queued for the next sync (not synced here: no fsync under the lock).
    pub fn roll(&self, st: &mut LogState) -> std::io::Result<()> {
        let a = &st.active;
        if a.allocated > a.len {
            // A sealed segment is exactly its frames (recovery checks the trailer's length);
            // the pending sync below makes the shorter size durable with the data.
            a.file.set_len(a.len)?;
        }
        let first_ts = a.first_ts.unwrap_or_default();
        let max_ts = a.max_ts.unwrap_or(first_ts);
        let mut idx = Vec::new();
        index::encode_entries(&a.index, &mut idx);
        let entries_crc = crc32c::crc32c(&idx);
        let trailer = Trailer {
            entry_count: a.index.len() as u64,
            end_offset: st.next,
            seg_len: a.len,
            first_ts,
            max_ts,
            entries_crc,
        };
        trailer.encode(&mut idx);
        a.idx_file.write_all_at(&idx, 0)?;
        let sealed = SealedSegment {
            base: a.base,
            end: st.next,
            len: a.len,
            first_ts,
            max_ts,
            entry_count: a.index.len() as u64,
            entries_crc,
        };
        let new_active = new_active_segment(&self.dir, st.next)?;
        let old = std::mem::replace(&mut st.active, new_active);
        if self.config.fsync != FsyncPolicy::Never {
            st.pending_sync.push(old.file);
            st.pending_sync.push(old.idx_file);
        }
        st.sealed.push_back(sealed);
        st.dir_dirty = true;
        Ok(())
    }

    fn append_locked(
        &self,
        timestamp_ms: i64,
        records: &[AppendRecord<'_>],
        size: usize,
    ) -> Result<AppendAck, AppendError> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        self.check_writable()?;
        let ts = st.last_ts.map_or(timestamp_ms, |l| l.max(timestamp_ms));
        let a = &st.active;
        let too_big = a.len > 0 && a.len + size as u64 > self.config.segment_max_bytes;
        let too_old = a.first_ts.is_some_and(|f| {
            let age = ts.saturating_sub(f);
            age > 0 && age as u128 >= self.config.segment_max_age.as_millis()
        });
        if too_big || too_old {
            self.roll(st).map_err(|e| self.append_io_error(e))?;
        }
        let base = st.next;
        codec::encode_batch(&mut st.buf, base, ts, records);
        let pos = st.active.len;
        st.active
            .file
            .write_all_at(&st.buf, pos)
            .map_err(|e| self.append_io_error(e))?;
        let count = records.len() as u32;
        let end = pos + size as u64;
        if self.config.fsync == FsyncPolicy::Always
            && size <= PREZERO_MAX_BATCH
            && end > st.active.allocated
        {
            let target = (end + PREZERO_CHUNK).min(self.config.segment_max_bytes.max(end));
            // Only an optimisation: if it fails (a full disk), the batch is still written and
            // the log stays writable; whatever zeros landed are harmless (recovery keeps or
            // trims them, readers stop at `len`).
            match write_zeros(&st.active.file, end, target) {
                Ok(()) => st.active.allocated = target,
                Err(e) => tracing::debug!(log = %self.name, error = %e, "zero-ahead skipped"),
            }
        }
        let a = &mut st.active;
        a.allocated = a.allocated.max(end);
        if wants_index_entry(a.index.last(), pos, self.config.index_interval_bytes) {
            a.index.push(IndexEntry {
                rel_offset: (base - a.base) as u32,
                position: pos as u32,
                timestamp_ms: ts,
            });
        }
        a.len = pos + size as u64;
        a.first_ts.get_or_insert(ts);
        a.max_ts = Some(ts);
        st.next = base + u64::from(count);
        st.last_ts = Some(ts);
        if self.config.fsync != FsyncPolicy::Always {
            // Visible once written; publish while still holding the lock so `visible` only
            // grows in offset order.
            let next = st.next;
            self.progress.send_modify(|p| {
                p.visible = next;
                p.visible_ts = Some(ts);
                if self.config.fsync == FsyncPolicy::Never {
                    p.durable = next;
                }
            });
            if matches!(self.config.fsync, FsyncPolicy::Interval(_)) {
                self.dirty.store(true, Ordering::Release);
            }
        }
        Ok(AppendAck {
            first: Offset(base),
            count,
            timestamp_ms: ts,
        })
    }
}

/// Writes zeros over `[from, to)` of `file`.
fn write_zeros(file: &File, from: u64, to: u64) -> std::io::Result<()> {
    let mut at = from;
    while at < to {
        let n = (to - at).min(ZEROS.len() as u64) as usize;
        let zeros = ZEROS
            .get(..n)
            .ok_or_else(|| std::io::Error::other("zero chunk longer than the zero buffer"))?;
        file.write_all_at(zeros, at)?;
        at += n as u64;
    }
    Ok(())
}

/// Creates the files of a new, empty active segment.
pub(crate) fn new_active_segment(
    dir: &std::path::Path,
    base: u64,
) -> std::io::Result<ActiveSegment> {
    let file = segment::open_rw(&segment::log_path(dir, base), true)?;
    let idx_file = segment::open_rw(&segment::idx_path(dir, base), true)?;
    Ok(ActiveSegment {
        base,
        file: Arc::new(file),
        idx_file: Arc::new(idx_file),
        len: 0,
        allocated: 0,
        index: Vec::new(),
        idx_persisted: 0,
        first_ts: None,
        max_ts: None,
    })
}

impl Log {
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Appends one batch atomically (all records or none survive a crash) with one timestamp
    /// for the whole batch. The stored timestamp is `max(timestamp_ms, last stored)` so time
    /// never goes backwards within a log (returned in the ack). Resolves once durable per the
    /// fsync policy. An empty `records` slice is an error ([`AppendError::Empty`]).
    ///
    /// Cancel safety: if the future is dropped after the write, the batch may still become
    /// durable and visible (it was simply not acknowledged).
    pub async fn append(
        &self,
        timestamp_ms: i64,
        records: &[AppendRecord<'_>],
    ) -> Result<AppendAck, AppendError> {
        if records.is_empty() {
            return Err(AppendError::Empty);
        }
        let size = codec::encoded_len(records);
        if size > self.shared.config.max_batch_bytes {
            return Err(AppendError::TooLarge {
                size,
                limit: self.shared.config.max_batch_bytes,
            });
        }
        let ack = self.shared.append_locked(timestamp_ms, records, size)?;
        if self.shared.config.fsync == FsyncPolicy::Always {
            let target = ack.first.0 + u64::from(ack.count);
            crate::sync::wait_durable(&self.shared, target).await?;
        }
        Ok(ack)
    }

    /// First retained offset.
    pub fn start(&self) -> Offset {
        Offset(self.shared.state.lock().start)
    }

    /// One past the last visible record (never below `start()`).
    pub fn end(&self) -> Offset {
        let visible = self.shared.progress.borrow().visible;
        Offset(visible.max(self.shared.state.lock().start))
    }

    /// Timestamp of the last visible record.
    pub fn last_timestamp_ms(&self) -> Option<i64> {
        self.shared.progress.borrow().visible_ts
    }

    /// Returns when `end() > offset`, or the log was deleted, or the store dropped. Callers
    /// re-check `end()` (and whether the log still exists).
    pub async fn wait_past(&self, offset: Offset) {
        let mut rx = self.shared.progress.subscribe();
        let _ = rx.wait_for(|p| p.visible > offset.0 || p.closed).await;
    }

    /// Bytes on disk (segment data and indexes).
    pub fn disk_bytes(&self) -> u64 {
        let st = self.shared.state.lock();
        let sealed: u64 = st
            .sealed
            .iter()
            .map(|s| s.len + s.entry_count * index::ENTRY_LEN as u64 + index::TRAILER_LEN as u64)
            .sum();
        sealed + st.active.len + (st.active.idx_persisted * index::ENTRY_LEN) as u64
    }

    /// Retention: deletes whole segments whose newest record is older than `cutoff_ms` (the
    /// active segment too if all of it is older; it is replaced by an empty segment so offsets
    /// keep counting across restarts). Returns the bytes reclaimed.
    pub fn trim_older_than(&self, cutoff_ms: i64) -> Result<u64, LogError> {
        let sh = &self.shared;
        let io_err = |e| LogError::Io {
            log: sh.name.clone(),
            source: e,
        };
        if sh.deleted.load(Ordering::Acquire) {
            return Err(LogError::Deleted(sh.name.clone()));
        }
        let mut doomed = Vec::new();
        let mut reclaimed = 0;
        let replaced_active = {
            let mut guard = sh.state.lock();
            let st = &mut *guard;
            while st.sealed.front().is_some_and(|s| s.max_ts < cutoff_ms) {
                let Some(s) = st.sealed.pop_front() else {
                    break;
                };
                reclaimed += s.len + s.entry_count * index::ENTRY_LEN as u64;
                doomed.push(s.base);
            }
            let active_old = st.sealed.is_empty()
                && st.active.len > 0
                && st.active.max_ts.is_some_and(|m| m < cutoff_ms);
            if active_old {
                if let Some(reason) = sh.poisoned_reason() {
                    return Err(LogError::Poisoned {
                        log: sh.name.clone(),
                        reason: reason.to_string(),
                    });
                }
                let new_active = new_active_segment(&sh.dir, st.next).map_err(io_err)?;
                let old = std::mem::replace(&mut st.active, new_active);
                reclaimed += old.len;
                doomed.push(old.base);
                st.dir_dirty = true;
            }
            st.start = st.sealed.front().map_or(st.active.base, |s| s.base);
            active_old
        };
        if doomed.is_empty() {
            return Ok(0);
        }
        if replaced_active && sh.config.fsync != FsyncPolicy::Never {
            // The new empty segment carries the next offset across a restart: make its
            // directory entry durable before the old segment (the only other record of it) goes.
            segment::sync_dir(&sh.dir).map_err(io_err)?;
        }
        {
            let mut cache = sh.reader_cache.lock();
            if cache.as_ref().is_some_and(|c| doomed.contains(&c.base)) {
                *cache = None;
            }
        }
        for base in doomed {
            for path in [
                segment::log_path(&sh.dir, base),
                segment::idx_path(&sh.dir, base),
            ] {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(e)),
                }
            }
        }
        if sh.config.fsync != FsyncPolicy::Never {
            segment::sync_dir(&sh.dir).map_err(io_err)?;
        }
        Ok(reclaimed)
    }

    /// Test hook: makes the next fsync of this log fail (as an EIO from the disk would), which
    /// poisons the log. Not for production use.
    #[doc(hidden)]
    pub fn inject_fsync_failure(&self) {
        self.shared.fail_next_sync.store(true, Ordering::Release);
    }

    /// Forces everything written so far to disk (graceful shutdown, tests).
    pub fn sync(&self) -> Result<(), LogError> {
        crate::sync::sync_once(&self.shared).map_err(|reason| LogError::Poisoned {
            log: self.shared.name.clone(),
            reason,
        })
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("name", &self.shared.name)
            .finish()
    }
}
