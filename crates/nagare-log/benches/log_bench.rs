//! nagare-log benchmark: `cargo bench -p nagare-log [-- --scale 0.1] [--dir /path]`.
//!
//! Prints, for one disk: plain-file fsync bandwidth (the physical reference), append
//! throughput under `FsyncPolicy::Always` with 8 concurrent appenders (100 B records in
//! batches of 500; 10 KB records single and in batches of 100), tail-follow and catch-up read
//! throughput, RSS while writing 5 GB, and the time to open 5 GB in 1,000 segments.
//! `--scale` (or `NAGARE_BENCH_SCALE`) multiplies every data size. Data goes to a temp dir
//! under `--dir` (default: the system temp dir) and is deleted at the end.
#![expect(clippy::unwrap_used, clippy::indexing_slicing)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nagare_log::{AppendRecord, FsyncPolicy, LogConfig, LogStore, Offset};

const MB: f64 = 1_000_000.0;

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Sequential writes of `chunk_bytes` each followed by fdatasync.
fn plain_file(dir: &Path, bytes: u64, chunk_bytes: usize) -> f64 {
    let path = dir.join("plain.bin");
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let chunk = vec![0x5au8; chunk_bytes];
    let t = Instant::now();
    let mut written = 0;
    while written < bytes {
        f.write_all(&chunk).unwrap();
        f.sync_data().unwrap();
        written += chunk.len() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).unwrap();
    written as f64 / MB / secs
}

struct AppendResult {
    mb_s: f64,
    rec_s: f64,
    bytes: u64,
}

/// `appenders` tasks append batches of `batch` records of `size` bytes to `log` until
/// `total_bytes` of values were acknowledged.
async fn append_load(
    log: nagare_log::Log,
    appenders: usize,
    size: usize,
    batch: usize,
    total_bytes: u64,
) -> AppendResult {
    let done = Arc::new(AtomicU64::new(0));
    let recs_done = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for a in 0..appenders {
        let (log, done, recs_done) = (log.clone(), done.clone(), recs_done.clone());
        tasks.push(tokio::spawn(async move {
            let value = vec![a as u8; size];
            let key = [a as u8; 8];
            let recs: Vec<AppendRecord<'_>> = (0..batch)
                .map(|_| AppendRecord {
                    key: &key,
                    value: &value,
                })
                .collect();
            let per = (size * batch) as u64;
            while done.fetch_add(per, Ordering::Relaxed) < total_bytes {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                log.append(now.as_millis() as i64, &recs).await.unwrap();
                recs_done.fetch_add(batch as u64, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let recs = recs_done.load(Ordering::Relaxed);
    let bytes = recs * size as u64;
    AppendResult {
        mb_s: bytes as f64 / MB / secs,
        rec_s: recs as f64 / secs,
        bytes,
    }
}

fn cfg(seg: u64) -> LogConfig {
    LogConfig {
        fsync: FsyncPolicy::Always,
        segment_max_bytes: seg,
        ..LogConfig::default()
    }
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let scale: f64 = arg("--scale")
        .or_else(|| std::env::var("NAGARE_BENCH_SCALE").ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let base: PathBuf = arg("--dir").map_or_else(std::env::temp_dir, PathBuf::from);
    let tmp = tempfile::Builder::new()
        .prefix("nagare-log-bench")
        .tempdir_in(&base)
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let gb = |x: f64| (x * scale * 1e9) as u64;
    println!("nagare-log bench: scale {scale}, dir {}", dir.display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // 1. Physical reference. This disk's fsync bandwidth varies from run to run (a shared
    // VM), so take the best of several interleaved runs.
    let mut runs = Vec::new();
    for _ in 0..3 {
        for chunk in [1usize << 20, 16 << 20] {
            runs.push((chunk, plain_file(&dir, gb(0.5), chunk)));
        }
    }
    let plain = runs.iter().map(|r| r.1).fold(0.0, f64::max);
    let show: Vec<String> = runs
        .iter()
        .map(|(c, b)| format!("{}MiB:{b:.0}", c >> 20))
        .collect();
    println!(
        "plain file, sequential writes + fdatasync each: best {plain:.0} MB/s (runs {})",
        show.join(" ")
    );

    // 2. 100 B records, batches of 500, 8 appenders, Always; a tail follower concurrently.
    let store = LogStore::open(&dir.join("a"), cfg(64 << 20)).unwrap();
    let log = store.create_log("small").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let follower = {
        let (log, stop) = (log.clone(), stop.clone());
        rt.spawn(async move {
            let mut at = Offset(0);
            let mut n = 0u64;
            let t = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let b = log.read(at, 10_000, 4 << 20).unwrap();
                if b.records.is_empty() {
                    let _ = tokio::time::timeout(
                        Duration::from_millis(50),
                        log.wait_past(Offset(at.0.saturating_sub(1)).max(at)),
                    )
                    .await;
                    continue;
                }
                n += b.records.len() as u64;
                at = b.next;
            }
            (n, t.elapsed().as_secs_f64())
        })
    };
    let r = rt.block_on(append_load(log.clone(), 8, 100, 500, gb(0.2)));
    stop.store(true, Ordering::Relaxed);
    let (tail_n, tail_secs) = rt.block_on(follower).unwrap();
    println!(
        "append 100 B x 500/batch, 8 appenders, Always: {:.0} MB/s, {:.0} records/s ({:.0} MB)",
        r.mb_s,
        r.rec_s,
        r.bytes as f64 / MB
    );
    println!(
        "  concurrent tail follower: {:.0} records/s ({} records)",
        tail_n as f64 / tail_secs,
        tail_n
    );
    // Catch-up read of everything from offset 0.
    let t = Instant::now();
    let (mut at, mut n, mut bytes) = (Offset(0), 0u64, 0u64);
    loop {
        let b = log.read(at, 100_000, 8 << 20).unwrap();
        if b.records.is_empty() {
            break;
        }
        n += b.records.len() as u64;
        bytes += b
            .records
            .iter()
            .map(|r| (r.key.len() + r.value.len()) as u64)
            .sum::<u64>();
        at = b.next;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "  catch-up read (page cache): {:.0} records/s, {:.0} MB/s",
        n as f64 / s,
        bytes as f64 / MB / s
    );
    drop((log, store));

    // 3. 10 KB records, 8 appenders, Always: one record per append, and batches of 100.
    let store = LogStore::open(&dir.join("b"), cfg(64 << 20)).unwrap();
    let r1 = rt.block_on(append_load(
        store.create_log("ten-k-1").unwrap(),
        8,
        10_000,
        1,
        gb(0.5),
    ));
    println!(
        "append 10 KB x 1/append, 8 appenders, Always: {:.0} MB/s ({:.0}% of plain), {:.0} records/s",
        r1.mb_s,
        100.0 * r1.mb_s / plain,
        r1.rec_s
    );
    let r100 = rt.block_on(append_load(
        store.create_log("ten-k-100").unwrap(),
        8,
        10_000,
        100,
        gb(1.0),
    ));
    println!(
        "append 10 KB x 100/batch, 8 appenders, Always: {:.0} MB/s ({:.0}% of plain), {:.0} records/s",
        r100.mb_s,
        100.0 * r100.mb_s / plain,
        r100.rec_s
    );
    let log = store.log("ten-k-100").unwrap();
    let t = Instant::now();
    let (mut at, mut bytes) = (Offset(0), 0u64);
    loop {
        let b = log.read(at, 10_000, 8 << 20).unwrap();
        if b.records.is_empty() {
            break;
        }
        bytes += b.records.iter().map(|r| r.value.len() as u64).sum::<u64>();
        at = b.next;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "  catch-up read of 10 KB records: {:.0} MB/s, {:.0} records/s",
        bytes as f64 / MB / s,
        at.0 as f64 / s
    );
    drop((log, store));
    std::fs::remove_dir_all(dir.join("a")).unwrap();
    std::fs::remove_dir_all(dir.join("b")).unwrap();

    // 4. RSS while writing 5 GB (5 MiB segments -> ~1,000 segments), then open time.
    // 5% headroom so five 1 MB batches fit a segment: ~1,000 segments for 5 GB.
    let seg = ((5e9 * scale * 1.05) as u64 / 1000).max(64 << 10);
    let store = LogStore::open(&dir.join("c"), cfg(seg)).unwrap();
    let log = store.create_log("big").unwrap();
    let total = gb(5.0);
    let step = total / 10;
    print!("RSS MiB while writing {:.1} GB:", total as f64 / 1e9);
    let t = Instant::now();
    let rss0 = rss_mib();
    let mut rss = vec![rss0];
    for _ in 0..10 {
        rt.block_on(append_load(log.clone(), 8, 10_000, 100, step));
        rss.push(rss_mib());
        print!(" {:.0}", rss.last().unwrap());
        std::io::stdout().flush().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!("  ({:.0} MB/s)", total as f64 / MB / secs);
    let max = rss.iter().cloned().fold(0.0, f64::max);
    println!(
        "  RSS growth over the run: {:.1} MiB (start {:.0}, max {:.0})",
        max - rss[1],
        rss0,
        max
    );
    let segments = std::fs::read_dir(dir.join("c").join("big"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "log")
        })
        .count();
    drop((log, store));
    let cold = std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok();
    let t = Instant::now();
    let store = LogStore::open(&dir.join("c"), cfg(seg)).unwrap();
    let open = t.elapsed();
    let log = store.log("big").unwrap();
    println!(
        "open {:.1} GB in {segments} segments: {:.1} ms ({} page cache), end offset {}",
        log.disk_bytes() as f64 / 1e9,
        open.as_secs_f64() * 1e3,
        if cold { "cold" } else { "warm" },
        log.end()
    );
    let t = Instant::now();
    let mid = Offset(log.end().0 / 2);
    let b = log.read(mid, 1, usize::MAX).unwrap();
    assert_eq!(b.records[0].offset, mid);
    println!(
        "  first read at the middle offset: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let when = b.records[0].timestamp_ms;
    let o = log.offset_at_or_after(when);
    println!(
        "  time lookup: {:.2} ms (offset {o})",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop((log, store));
    drop(tmp);
    println!("bench data deleted");
}
