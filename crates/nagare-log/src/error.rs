//! One error enum per operation. Display texts say what happened and why.

use std::io;
use std::path::PathBuf;

use crate::Offset;

/// `LogStore::open` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error("cannot open log store directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// A store-level operation on a log failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("log {0:?} already exists")]
    AlreadyExists(String),
    #[error("log {0:?} does not exist")]
    NotFound(String),
    #[error(
        "invalid log name {0:?}: must be 1-200 characters of [A-Za-z0-9_.-] and not \".\" or \"..\""
    )]
    InvalidName(String),
    #[error("log {0:?} was deleted")]
    Deleted(String),
    #[error(
        "log {log:?} is poisoned by an earlier failed write or fsync ({reason}); reopen the store"
    )]
    Poisoned { log: String, reason: String },
    #[error("I/O error on log {log:?}: {source}")]
    Io {
        log: String,
        #[source]
        source: io::Error,
    },
}

/// `Log::append` failed; nothing of the batch was acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    #[error(
        "log {log:?} is poisoned by an earlier failed write or fsync ({reason}); no write is accepted until the store is reopened"
    )]
    Poisoned { log: String, reason: String },
    #[error("log {0:?} was deleted")]
    Deleted(String),
    #[error("empty batch: append needs at least one record")]
    Empty,
    #[error("batch of {size} encoded bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("I/O error appending to log {log:?} (the log is now poisoned): {source}")]
    Io {
        log: String,
        #[source]
        source: io::Error,
    },
}

/// `Log::read` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    #[error(
        "log {log:?}: corrupt data in segment {segment} at byte {position} (reading offset {offset}): {reason}; refusing to serve it"
    )]
    Corrupt {
        log: String,
        segment: Offset,
        position: u64,
        offset: Offset,
        reason: String,
    },
    #[error("log {0:?} was deleted")]
    Deleted(String),
    #[error("I/O error reading log {log:?}: {source}")]
    Io {
        log: String,
        #[source]
        source: io::Error,
    },
}
