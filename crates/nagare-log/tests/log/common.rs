//! Shared helpers.
use std::path::Path;
use std::time::Duration;

use nagare_log::{AppendRecord, FsyncPolicy, Log, LogConfig, LogStore, Offset};

pub fn config(fsync: FsyncPolicy, segment_max_bytes: u64) -> LogConfig {
    LogConfig {
        fsync,
        segment_max_bytes,
        segment_max_age: Duration::from_secs(3600),
        index_interval_bytes: 256,
        ..LogConfig::default()
    }
}

pub fn open(dir: &Path, cfg: &LogConfig) -> LogStore {
    LogStore::open(dir, cfg.clone()).unwrap()
}

/// Deterministic content for offset `o` so any record can be checked on its own.
pub fn value_for(o: u64, len: usize) -> Vec<u8> {
    let mut v = format!("value-{o}-").into_bytes();
    while v.len() < len {
        v.push(b'a' + (o % 26) as u8);
    }
    v.truncate(len.max(8));
    v
}

pub fn key_for(o: u64) -> Vec<u8> {
    format!("k{o}").into_bytes()
}

/// Appends `n` records whose content is derived from their offsets (batch of `n`).
pub async fn append_n(log: &Log, ts: i64, n: usize, len: usize) -> nagare_log::AppendAck {
    let first = log_end_written(log);
    let keys: Vec<Vec<u8>> = (0..n as u64).map(|i| key_for(first + i)).collect();
    let vals: Vec<Vec<u8>> = (0..n as u64).map(|i| value_for(first + i, len)).collect();
    let recs: Vec<AppendRecord<'_>> = keys
        .iter()
        .zip(&vals)
        .map(|(k, v)| AppendRecord { key: k, value: v })
        .collect();
    let ack = log.append(ts, &recs).await.unwrap();
    assert_eq!(ack.first.0, first, "offsets derived from end() must match");
    ack
}

fn log_end_written(log: &Log) -> u64 {
    log.end().0
}

/// Reads everything visible from `from`, in small batches.
pub fn read_all(log: &Log, from: Offset) -> Vec<nagare_log::LogRecord> {
    let mut out = Vec::new();
    let mut at = from;
    loop {
        let b = log.read(at, 7, 1000).unwrap();
        if b.records.is_empty() {
            assert_eq!(b.next, at.max(log.start()));
            return out;
        }
        assert_eq!(b.next.0, b.records.last().unwrap().offset.0 + 1);
        at = b.next;
        out.extend(b.records);
    }
}

pub fn check_record(r: &nagare_log::LogRecord, len: usize) {
    let o = r.offset.0;
    assert_eq!(r.key, key_for(o), "key of {o}");
    assert_eq!(r.value, value_for(o, len), "value of {o}");
}
