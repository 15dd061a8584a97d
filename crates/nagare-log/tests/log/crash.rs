//! Crash recovery: damage files the way a crash (or a bad disk) would, reopen, and check that
//! the acknowledged prefix survived and that damage is reported, never served.
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use nagare_log::{AppendError, FsyncPolicy, LogConfig, Offset, ReadError, RecoveryKind};

use crate::common::*;

const LEN: usize = 60;

fn segments(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().unwrap() == ext)
        .collect();
    v.sort();
    v
}

/// Bytes of frames in a segment file: up to its last non-zero byte (every record ends with
/// non-zero value bytes; under `Always` the writer keeps zeros ahead of the data).
fn data_len(path: &Path) -> u64 {
    let bytes = fs::read(path).unwrap();
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |p| p as u64 + 1)
}

/// Writes `batches` batches of 3 records into log "l"; returns (config, segment data length
/// before the last batch, after it).
fn build(dir: &Path, batches: i64, segment_max_bytes: u64) -> (LogConfig, u64, u64) {
    let cfg = config(FsyncPolicy::Always, segment_max_bytes);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = open(dir, &cfg);
        let log = store.create_log("l").unwrap();
        for i in 0..batches - 1 {
            append_n(&log, i, 3, LEN).await;
        }
        let last = segments(&dir.join("l"), "log").pop().unwrap();
        let before = data_len(&last);
        append_n(&log, batches, 3, LEN).await;
        let after = data_len(&last);
        assert!(after > before, "last batch must land in the same segment");
        (cfg, before, after)
    })
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn check_prefix(dir: &Path, cfg: &LogConfig, expect_end: u64) -> nagare_log::LogStore {
    let store = open(dir, cfg);
    let log = store.log("l").unwrap();
    assert_eq!(
        log.end(),
        Offset(expect_end),
        "report: {:?}",
        store.recovery_report()
    );
    let all = read_all(&log, Offset(0));
    assert_eq!(all.len() as u64, expect_end);
    all.iter().for_each(|r| check_record(r, LEN));
    store
}

#[test]
fn should_recover_after_torn_write_at_every_byte_of_the_last_batch() {
    let src = tempfile::tempdir().unwrap();
    let (cfg, before, after) = build(src.path(), 12, 1 << 20);
    let work = tempfile::tempdir().unwrap();
    for cut in before..after {
        let dir = work.path().join(cut.to_string());
        copy_dir(src.path(), &dir);
        let seg = segments(&dir.join("l"), "log").pop().unwrap();
        OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let store = check_prefix(&dir, &cfg, 33);
        let report = store.recovery_report();
        if cut > before {
            assert!(
                matches!(report.as_slice(), [e] if e.kind == RecoveryKind::TruncatedTail { bytes_removed: cut - before }),
                "cut {cut}: {report:?}"
            );
        } else {
            assert!(report.is_empty(), "{report:?}");
        }
        // The log is writable after recovery and the result survives another reopen.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(append_n(&store.log("l").unwrap(), 99, 2, LEN));
        drop(store);
        let store = check_prefix(&dir, &cfg, 35);
        assert!(store.recovery_report().is_empty());
        drop(store);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn should_cut_garbage_appended_after_the_tail() {
    let src = tempfile::tempdir().unwrap();
    let (cfg, _, after) = build(src.path(), 10, 1 << 20);
    let garbage: [&[u8]; 4] = [
        &[1u8; 4096],                                       // a block of junk
        b"\xff\xff\xff\xff garbage!",                       // a wild length
        &[64, 0, 0, 0, 1, 2, 3, 4, 1, 0, 0, 0, 1, 0, 0, 0], // plausible header, bad CRC
        &[7u8; 31],                                         // shorter than a header
    ];
    for (i, g) in garbage.iter().enumerate() {
        let dir = src.path().join(format!("copy{i}"));
        copy_dir(&src.path().join("l"), &dir.join("l"));
        let seg = segments(&dir.join("l"), "log").pop().unwrap();
        let mut bytes = fs::read(&seg).unwrap();
        bytes.extend_from_slice(g);
        fs::write(&seg, bytes).unwrap();
        let store = check_prefix(&dir, &cfg, 30);
        let report = store.recovery_report();
        assert_eq!(report.len(), 1, "{report:?}");
        assert_eq!(report[0].position, after);
        assert_eq!(fs::metadata(&seg).unwrap().len(), after);
    }
}

#[test]
fn should_keep_zeros_after_the_tail_as_room_for_appends_without_a_report() {
    let src = tempfile::tempdir().unwrap();
    let (cfg, _, after) = build(src.path(), 10, 1 << 20);
    let seg = segments(&src.path().join("l"), "log").pop().unwrap();
    let mut bytes = fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]);
    fs::write(&seg, &bytes).unwrap();
    let file_len = bytes.len() as u64;
    assert!(file_len > after + 4096 - 1);
    let store = check_prefix(src.path(), &cfg, 30);
    assert!(
        store.recovery_report().is_empty(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(fs::metadata(&seg).unwrap().len(), file_len, "zeros kept");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(append_n(&store.log("l").unwrap(), 50, 2, LEN));
    drop(store);
    let store = check_prefix(src.path(), &cfg, 32);
    assert!(store.recovery_report().is_empty());
}

#[test]
fn should_trim_zeros_left_after_a_sealed_segment_without_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _, _) = build(dir.path(), 40, 2048);
    let segs = segments(&dir.path().join("l"), "log");
    assert!(segs.len() >= 3, "{segs:?}");
    // Power loss right after a roll: the trailer reached the disk, the shrink did not.
    let sealed_len = fs::metadata(&segs[1]).unwrap().len();
    let mut bytes = fs::read(&segs[1]).unwrap();
    bytes.extend_from_slice(&[0u8; 1000]);
    fs::write(&segs[1], &bytes).unwrap();
    let store = check_prefix(dir.path(), &cfg, 120);
    assert!(
        store.recovery_report().is_empty(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(fs::metadata(&segs[1]).unwrap().len(), sealed_len);
}

#[test]
fn sealed_segments_hold_only_their_frames() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, _) = build(dir.path(), 40, 2048);
    let segs = segments(&dir.path().join("l"), "log");
    assert!(segs.len() >= 3, "{segs:?}");
    for sealed in &segs[..segs.len() - 1] {
        assert_eq!(
            fs::metadata(sealed).unwrap().len(),
            data_len(sealed),
            "{sealed:?}"
        );
    }
    let active = segs.last().unwrap();
    assert!(
        fs::metadata(active).unwrap().len() > data_len(active),
        "small appends under Always keep zeros ahead of the data"
    );
}

#[test]
fn should_report_not_serve_bit_flips_in_a_middle_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _, _) = build(dir.path(), 60, 2048);
    let segs = segments(&dir.path().join("l"), "log");
    assert!(segs.len() >= 4, "{segs:?}");
    let victim = &segs[1];
    let victim_base: u64 = victim
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut bytes = fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    fs::write(victim, &bytes).unwrap();

    let store = open(dir.path(), &cfg); // opening is not prevented
    let log = store.log("l").unwrap();
    assert_eq!(log.end(), Offset(180));
    let mut at = Offset(0);
    let mut served = Vec::new();
    let err = loop {
        match log.read(at, 5, usize::MAX) {
            Ok(b) if b.records.is_empty() => panic!("corruption not detected"),
            Ok(b) => {
                at = b.next;
                served.extend(b.records);
            }
            Err(e) => break e,
        }
    };
    served.iter().for_each(|r| check_record(r, LEN));
    let ReadError::Corrupt {
        segment, offset, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*segment, Offset(victim_base));
    assert_eq!(*offset, at);
    assert!(err.to_string().contains("corrupt"), "{err}");
    let report = store.recovery_report();
    assert!(
        report
            .iter()
            .any(|e| e.segment == Offset(victim_base)
                && matches!(e.kind, RecoveryKind::Corrupt { .. })),
        "{report:?}"
    );
    // Later segments are still served.
    let later: u64 = segs[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let rest = read_all(&log, Offset(later));
    assert_eq!(rest.len() as u64, 180 - later);
    rest.iter().for_each(|r| check_record(r, LEN));
}

#[test]
fn should_rebuild_a_lost_sealed_index_and_drop_data_after_a_torn_sealed_segment() {
    let src = tempfile::tempdir().unwrap();
    let (cfg, _, _) = build(src.path(), 40, 2048);
    let l = src.path().join("l");
    let idx = segments(&l, "idx");
    // 1. A sealed index lost, data whole: rebuilt, nothing lost.
    let a = src.path().join("a");
    copy_dir(&l, &a.join("l"));
    fs::remove_file(a.join("l").join(idx[1].file_name().unwrap())).unwrap();
    let store = check_prefix(&a, &cfg, 120);
    let report = store.recovery_report();
    assert!(
        matches!(report.as_slice(), [e] if e.kind == RecoveryKind::IndexRebuilt),
        "{report:?}"
    );
    drop(store);
    let store = check_prefix(&a, &cfg, 120);
    assert!(store.recovery_report().is_empty());

    // 2. Power loss before the roll was synced: the sealed segment lost its trailer and its
    //    tail. Its valid prefix becomes the tail; later segments (unacknowledged) go.
    let b = src.path().join("b");
    copy_dir(&l, &b.join("l"));
    let segs = segments(&b.join("l"), "log");
    fs::remove_file(b.join("l").join(idx[1].file_name().unwrap())).unwrap();
    let len = fs::metadata(&segs[1]).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let second_base: u64 = segs[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let third_base: u64 = segs[2]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let store = check_prefix(&b, &cfg, third_base - 3);
    let report = store.recovery_report();
    let dropped = report
        .iter()
        .filter(|e| matches!(e.kind, RecoveryKind::DroppedSegment { .. }))
        .count();
    assert_eq!(dropped, segs.len() - 2, "{report:?}");
    assert!(report.iter().any(|e| e.segment == Offset(second_base)
        && matches!(e.kind, RecoveryKind::TruncatedTail { .. })));
}

#[test]
fn should_ignore_a_damaged_tail_index() {
    let src = tempfile::tempdir().unwrap();
    let (cfg, _, _) = build(src.path(), 30, 1 << 20);
    let idx = segments(&src.path().join("l"), "idx").pop().unwrap();
    for (i, content) in [vec![0xAB; 100], vec![0; 48], Vec::new()]
        .into_iter()
        .enumerate()
    {
        let dir = src.path().join(format!("c{i}"));
        copy_dir(&src.path().join("l"), &dir.join("l"));
        fs::write(dir.join("l").join(idx.file_name().unwrap()), content).unwrap();
        check_prefix(&dir, &cfg, 90);
    }
}

#[tokio::test]
async fn should_poison_the_log_after_a_failed_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(FsyncPolicy::Always, 1 << 20);
    let store = open(dir.path(), &cfg);
    let log = store.create_log("l").unwrap();
    append_n(&log, 1, 2, LEN).await;
    log.inject_fsync_failure();
    let v = [1u8; 10];
    let rec = [nagare_log::AppendRecord {
        key: b"",
        value: &v,
    }];
    let err = log.append(2, &rec).await.unwrap_err();
    assert!(matches!(err, AppendError::Poisoned { .. }), "{err:?}");
    assert!(err.to_string().contains("injected fsync failure"), "{err}");
    let err = log.append(3, &rec).await.unwrap_err();
    assert!(matches!(err, AppendError::Poisoned { .. }), "{err:?}");
    // The unacknowledged record is not visible; the durable prefix still reads.
    assert_eq!(log.end(), Offset(2));
    assert_eq!(read_all(&log, Offset(0)).len(), 2);
    assert!(store.sync_all().is_err());
    // Other logs are unaffected.
    let other = store.create_log("m").unwrap();
    append_n(&other, 1, 1, LEN).await;
}
