//! API behaviour: append/read/roll/time lookup/wait/retention/delete/reopen.
use std::time::Duration;

use nagare_log::{
    AppendError, AppendRecord, FsyncPolicy, Log, LogConfig, LogError, LogStore, Offset,
};

use crate::common::*;

#[tokio::test]
async fn append_read_roll_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(FsyncPolicy::Always, 2048);
    let store = open(dir.path(), &cfg);
    let log = store.create_log("s-1").unwrap();
    assert_eq!((log.start(), log.end()), (Offset(0), Offset(0)));
    assert_eq!(log.last_timestamp_ms(), None);
    for i in 0..40 {
        let ack = append_n(&log, 1000 + i, 3, 100).await;
        assert_eq!(ack.count, 3);
        assert_eq!(ack.timestamp_ms, 1000 + i);
    }
    assert_eq!(log.end(), Offset(120));
    assert_eq!(log.last_timestamp_ms(), Some(1039));
    let all = read_all(&log, Offset(0));
    assert_eq!(all.len(), 120);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.offset, Offset(i as u64));
        assert_eq!(r.timestamp_ms, 1000 + i as i64 / 3);
        check_record(r, 100);
    }
    // A read from the middle is positioned exactly.
    let b = log.read(Offset(61), 2, usize::MAX).unwrap();
    assert_eq!(b.records.len(), 2);
    assert_eq!(b.records[0].offset, Offset(61));
    assert_eq!(b.next, Offset(63));
    // Past the end: empty, next = from.
    let b = log.read(Offset(500), 10, 10).unwrap();
    assert!(b.records.is_empty());
    assert_eq!(b.next, Offset(500));
    let disk = log.disk_bytes();
    assert!(disk > 120 * 100);
    drop((log, store));

    let store = open(dir.path(), &cfg);
    assert!(
        store.recovery_report().is_empty(),
        "{:?}",
        store.recovery_report()
    );
    assert_eq!(store.log_names(), vec!["s-1".to_string()]);
    let log = store.log("s-1").unwrap();
    assert_eq!(log.end(), Offset(120));
    assert_eq!(log.last_timestamp_ms(), Some(1039));
    let all = read_all(&log, Offset(0));
    assert_eq!(all.len(), 120);
    all.iter().for_each(|r| check_record(r, 100));
    // Appends continue the offsets and keep time monotonic.
    let ack = append_n(&log, 5, 1, 100).await;
    assert_eq!(ack.first, Offset(120));
    assert_eq!(ack.timestamp_ms, 1039);
}

#[tokio::test]
async fn byte_limit_returns_at_least_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &config(FsyncPolicy::Never, 1 << 20));
    let log = store.create_log("big").unwrap();
    let big = vec![9u8; 300_000];
    log.append(
        1,
        &[AppendRecord {
            key: b"",
            value: &big,
        }],
    )
    .await
    .unwrap();
    append_n(&log, 2, 10, 50).await;
    let b = log.read(Offset(0), 100, 10).unwrap();
    assert_eq!(b.records.len(), 1);
    assert_eq!(b.records[0].value.len(), 300_000);
    let b = log.read(Offset(1), 100, 120).unwrap();
    assert_eq!(
        b.records.len(),
        2,
        "58+58 bytes fit in 120, a third does not"
    );
    let b = log.read(Offset(1), 3, usize::MAX).unwrap();
    assert_eq!(b.records.len(), 3);
}

#[tokio::test]
async fn rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(FsyncPolicy::Never, 1 << 20);
    cfg.max_batch_bytes = 1000;
    let store = open(dir.path(), &cfg);
    assert!(matches!(
        store.create_log("a/b"),
        Err(LogError::InvalidName(_))
    ));
    assert!(matches!(
        store.create_log(".."),
        Err(LogError::InvalidName(_))
    ));
    let log = store.create_log("x").unwrap();
    assert!(matches!(
        store.create_log("x"),
        Err(LogError::AlreadyExists(_))
    ));
    assert!(matches!(log.append(0, &[]).await, Err(AppendError::Empty)));
    let v = vec![0u8; 2000];
    let r = log
        .append(
            0,
            &[AppendRecord {
                key: b"",
                value: &v,
            }],
        )
        .await;
    assert!(matches!(r, Err(AppendError::TooLarge { .. })), "{r:?}");
    assert!(matches!(
        store.delete_log("nope"),
        Err(LogError::NotFound(_))
    ));
}

#[tokio::test]
async fn time_lookup_is_monotonic_and_exact() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &config(FsyncPolicy::Never, 1500));
    let log = store.create_log("t").unwrap();
    assert_eq!(log.offset_at_or_after(0), Offset(0));
    // Batch i has timestamp 10*i; batch 7 asks for an older time and is clamped.
    for i in 0..30i64 {
        let ts = if i == 7 { 5 } else { 10 * i };
        let ack = append_n(&log, ts, 2, 60).await;
        assert_eq!(ack.timestamp_ms, if i == 7 { 60 } else { 10 * i });
    }
    assert_eq!(log.offset_at_or_after(i64::MIN), Offset(0));
    assert_eq!(log.offset_at_or_after(0), Offset(0));
    assert_eq!(log.offset_at_or_after(1), Offset(2));
    assert_eq!(log.offset_at_or_after(60), Offset(12));
    assert_eq!(log.offset_at_or_after(61), Offset(16));
    assert_eq!(log.offset_at_or_after(155), Offset(32));
    assert_eq!(log.offset_at_or_after(290), Offset(58));
    assert_eq!(log.offset_at_or_after(291), Offset(60));
    // Retention moves the answer forward, never before start.
    log.trim_older_than(100).unwrap();
    let s = log.start();
    assert!(s.0 > 0);
    assert_eq!(log.offset_at_or_after(0), s);
    assert_eq!(log.offset_at_or_after(155), Offset(32));
}

#[tokio::test]
async fn retention_deletes_whole_segments_and_offsets_keep_counting() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(FsyncPolicy::Always, 1200);
    let store = open(dir.path(), &cfg);
    let log = store.create_log("r").unwrap();
    for i in 0..50 {
        append_n(&log, i, 2, 100).await;
    }
    let before = log.disk_bytes();
    assert_eq!(log.trim_older_than(0).unwrap(), 0);
    let reclaimed = log.trim_older_than(25).unwrap();
    assert!(reclaimed > 0);
    assert!(log.disk_bytes() < before);
    let start = log.start();
    assert!(start.0 > 0 && start.0 <= 50, "{start}");
    let all = read_all(&log, Offset(0));
    assert_eq!(all.first().unwrap().offset, start);
    assert_eq!(all.len() as u64, 100 - start.0);
    // Everything, including the active segment.
    log.trim_older_than(1000).unwrap();
    assert_eq!(log.start(), Offset(100));
    assert_eq!(log.end(), Offset(100));
    assert!(log.read(Offset(0), 10, 100).unwrap().records.is_empty());
    drop((log, store));
    let store = open(dir.path(), &cfg);
    let log = store.log("r").unwrap();
    assert_eq!((log.start(), log.end()), (Offset(100), Offset(100)));
    assert_eq!(append_n(&log, 2000, 1, 10).await.first, Offset(100));
}

#[tokio::test]
async fn roll_by_age_uses_batch_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(FsyncPolicy::Never, 1 << 20);
    cfg.segment_max_age = Duration::from_millis(100);
    let store = open(dir.path(), &cfg);
    let log = store.create_log("age").unwrap();
    for i in 0..10 {
        append_n(&log, i * 50, 1, 10).await;
    }
    let segs = std::fs::read_dir(dir.path().join("age"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "log")
        .count();
    assert_eq!(segs, 5);
    assert_eq!(read_all(&log, Offset(0)).len(), 10);
}

#[tokio::test]
async fn waiters_wake_on_append_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), &config(FsyncPolicy::Always, 1 << 20));
    let log = store.create_log("w").unwrap();
    let l2 = log.clone();
    let waiter = tokio::spawn(async move {
        l2.wait_past(Offset(0)).await;
        l2.end()
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    append_n(&log, 1, 1, 10).await;
    assert_eq!(waiter.await.unwrap(), Offset(1));
    // Already past: returns at once.
    log.wait_past(Offset(0)).await;

    let l3 = log.clone();
    let waiter = tokio::spawn(async move { l3.wait_past(Offset(100)).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.delete_log("w").unwrap();
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(store.log("w").is_none());
    assert!(!dir.path().join("w").exists());
    assert!(matches!(
        log.append(
            1,
            &[AppendRecord {
                key: b"",
                value: b"x"
            }]
        )
        .await,
        Err(AppendError::Deleted(_))
    ));
    assert!(log.read(Offset(0), 1, 1).is_err());
    // The name can be reused; the new log starts empty.
    let again = store.create_log("w").unwrap();
    assert_eq!(again.end(), Offset(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_share_fsyncs_and_all_records_survive() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(FsyncPolicy::Always, 64 * 1024);
    let store = open(dir.path(), &cfg);
    let log = store.create_log("c").unwrap();
    let mut tasks = Vec::new();
    for t in 0..8u8 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..50u32 {
                let v = [t; 40];
                let k = i.to_le_bytes();
                let ack = log
                    .append(i64::from(i), &[AppendRecord { key: &k, value: &v }])
                    .await
                    .unwrap();
                assert!(log.end() > ack.first, "acked implies visible");
                acks.push((ack.first, t, i));
            }
            acks
        }));
    }
    let mut acks = Vec::new();
    for t in tasks {
        acks.extend(t.await.unwrap());
    }
    assert_eq!(log.end(), Offset(400));
    drop((log, store));
    let store = open(dir.path(), &cfg);
    let log = store.log("c").unwrap();
    let all = read_all(&log, Offset(0));
    assert_eq!(all.len(), 400);
    for (o, t, i) in acks {
        let r = &all[o.0 as usize];
        assert_eq!(r.value.as_ref(), &[t; 40]);
        assert_eq!(r.key.as_ref(), &i.to_le_bytes());
    }
}

#[tokio::test]
async fn interval_policy_flushes_in_background() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(FsyncPolicy::Interval(Duration::from_millis(10)), 4096);
    let store = LogStore::open(dir.path(), cfg.clone()).unwrap();
    let log = store.create_log("i").unwrap();
    for i in 0..20 {
        append_n(&log, i, 5, 50).await;
    }
    assert_eq!(log.end(), Offset(100));
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.sync_all().unwrap();
    drop((log, store));
    let store = open(dir.path(), &cfg);
    assert_eq!(read_all(&store.log("i").unwrap(), Offset(0)).len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_commit_thread_acknowledges_appends_to_many_logs() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        commit_threads: 1,
        ..config(FsyncPolicy::Always, 64 * 1024)
    };
    let store = open(dir.path(), &cfg);
    let logs: Vec<_> = (0..6)
        .map(|i| store.create_log(&format!("m{i}")).unwrap())
        .collect();
    let mut tasks = Vec::new();
    for (i, log) in logs.iter().enumerate() {
        for t in 0..3 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..40u32 {
                    let k = n.to_le_bytes();
                    let v = [t as u8; 30];
                    let recs = vec![AppendRecord { key: &k, value: &v }; 1 + (t + i) % 3];
                    log.append(i64::from(n), &recs).await.unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ends: Vec<_> = logs.iter().map(Log::end).collect();
    drop((logs, store));
    let store = open(dir.path(), &cfg);
    for (i, end) in ends.into_iter().enumerate() {
        let all = read_all(&store.log(&format!("m{i}")).unwrap(), Offset(0));
        assert_eq!(Offset(all.len() as u64), end, "log m{i}");
    }
}

#[tokio::test]
async fn appends_through_a_handle_that_outlives_its_store_are_still_durable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(FsyncPolicy::Always, 64 * 1024);
    let store = open(dir.path(), &cfg);
    let log = store.create_log("late").unwrap();
    append_n(&log, 1, 3, 20).await;
    // Dropping the store stops its commit threads; the handle's appends must not hang.
    drop(store);
    let ack = tokio::time::timeout(Duration::from_secs(10), append_n(&log, 2, 2, 20))
        .await
        .expect("append after the store was dropped completes");
    assert_eq!(ack.first, Offset(3));
    drop(log);
    let store = open(dir.path(), &cfg);
    assert_eq!(read_all(&store.log("late").unwrap(), Offset(0)).len(), 5);
}
