//! Segment files: naming, positioned I/O and a frame cursor used by reads, time lookups and
//! recovery.
//!
//! A segment is `<base:020>.log` (frames, back to back, no file header) plus
//! `<base:020>.idx` (see [`crate::index`]). Only whole, validated frames ever leave
//! [`FrameCursor`].

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::codec::{self, FrameError, FrameHeader};
use crate::index::IndexEntry;

pub(crate) fn log_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

pub(crate) fn idx_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.idx"))
}

/// The base offset encoded in a segment file name `<20 digits>.log`.
pub(crate) fn parse_log_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn open_rw(path: &Path, create_new: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true);
    if create_new {
        o.create_new(true);
    }
    o.open(path)
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads up to `len` bytes at `pos` (fewer only at end of file) into one fresh buffer.
pub(crate) fn read_at(file: &File, pos: u64, len: usize) -> io::Result<Bytes> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let Some(dst) = buf.get_mut(filled..) else {
            break;
        };
        match file.read_at(dst, pos + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}

/// True if a batch at `position` needs an index entry, given the segment's last entry.
/// Shared by the writer and by recovery so both build the same sparse index.
pub(crate) fn wants_index_entry(last: Option<&IndexEntry>, position: u64, interval: u32) -> bool {
    match last {
        None => true,
        Some(e) => position >= u64::from(e.position) + u64::from(interval),
    }
}

/// Why a [`FrameCursor`] stopped early.
#[derive(Debug)]
pub(crate) enum CursorError {
    Io(io::Error),
    /// Bytes at `position` are not a valid frame. `torn` = the frame runs past the readable
    /// end (what a crash mid-write leaves), as opposed to damaged content.
    Bad {
        position: u64,
        reason: &'static str,
        torn: bool,
    },
}

impl CursorError {
    pub fn describe(&self) -> String {
        match self {
            CursorError::Io(e) => format!("I/O error: {e}"),
            CursorError::Bad { reason, torn, .. } if *torn => format!("torn frame: {reason}"),
            CursorError::Bad { reason, .. } => (*reason).to_string(),
        }
    }
}

/// Walks validated frames of one segment from a start position up to `limit` bytes,
/// reading `chunk`-sized buffers (more if one frame is larger). Frames are returned as
/// `Bytes` slices of the shared read buffer: no per-record copy.
pub(crate) struct FrameCursor<'a> {
    file: &'a File,
    limit: u64,
    chunk: usize,
    buf: Bytes,
    buf_pos: u64,
    off: usize,
}

impl<'a> FrameCursor<'a> {
    pub fn new(file: &'a File, start: u64, limit: u64, chunk: usize) -> Self {
        Self {
            file,
            limit,
            chunk: chunk.max(codec::HEADER_LEN),
            buf: Bytes::new(),
            buf_pos: start,
            off: 0,
        }
    }

    /// Byte position of the next frame.
    pub fn position(&self) -> u64 {
        self.buf_pos + self.off as u64
    }

    /// The next frame: `(position, header, frame bytes)`, `None` at `limit`.
    pub fn next_frame(&mut self) -> Result<Option<(u64, FrameHeader, Bytes)>, CursorError> {
        loop {
            let at = self.position();
            if at >= self.limit {
                return Ok(None);
            }
            let rest = self.buf.get(self.off..).unwrap_or_default();
            match codec::validate(rest) {
                Ok(h) => {
                    let end = self.off + h.len as usize;
                    let frame = self.buf.slice(self.off..end);
                    self.off = end;
                    if at + u64::from(h.len) > self.limit {
                        return Err(CursorError::Bad {
                            position: at,
                            reason: "frame extends past the segment's readable end",
                            torn: true,
                        });
                    }
                    return Ok(Some((at, h, frame)));
                }
                Err(FrameError::Incomplete { need }) => {
                    let avail = self.limit - at;
                    if need as u64 > avail {
                        return Err(CursorError::Bad {
                            position: at,
                            reason: "incomplete frame at the end of the segment",
                            torn: true,
                        });
                    }
                    if rest.len() >= need {
                        // validate() asked for no more than it had: cannot happen; avoid a loop.
                        return Err(CursorError::Bad {
                            position: at,
                            reason: "frame length inconsistent",
                            torn: false,
                        });
                    }
                    let want = (need.max(self.chunk) as u64).min(avail) as usize;
                    self.buf = read_at(self.file, at, want).map_err(CursorError::Io)?;
                    self.buf_pos = at;
                    self.off = 0;
                    if self.buf.len() < need {
                        return Err(CursorError::Bad {
                            position: at,
                            reason: "segment file is shorter than expected",
                            torn: true,
                        });
                    }
                }
                Err(FrameError::Corrupt(reason)) => {
                    return Err(CursorError::Bad {
                        position: at,
                        reason,
                        torn: false,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::AppendRecord;

    #[test]
    fn names_round_trip_and_reject_others() {
        let p = log_path(Path::new("/x"), 42);
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_log_name(name), Some(42));
        assert_eq!(parse_log_name("42.log"), None);
        assert_eq!(parse_log_name("0000000000000000004a.log"), None);
        assert_eq!(parse_log_name("00000000000000000042.idx"), None);
    }

    #[test]
    fn cursor_walks_frames_across_chunks_and_stops_at_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let file = open_rw(&path, true).unwrap();
        let mut all = Vec::new();
        let mut buf = Vec::new();
        let val = vec![7u8; 100];
        for i in 0..10u64 {
            let recs = [AppendRecord {
                key: b"k",
                value: &val,
            }];
            codec::encode_batch(&mut buf, i, 5, &recs);
            all.extend_from_slice(&buf);
        }
        let torn = all.len() - 3;
        file.write_all_at(&all[..torn], 0).unwrap();
        let mut c = FrameCursor::new(&file, 0, torn as u64, 50);
        let mut n = 0;
        let err = loop {
            match c.next_frame() {
                Ok(Some((_, h, _))) => {
                    assert_eq!(h.base_offset, n);
                    n += 1;
                }
                Ok(None) => panic!("torn tail not detected"),
                Err(e) => break e,
            }
        };
        assert_eq!(n, 9);
        assert!(matches!(err, CursorError::Bad { torn: true, .. }));
    }
}
