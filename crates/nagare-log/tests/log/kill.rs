//! Process-kill test: a child process (this test binary re-executed with an env var) appends
//! under `FsyncPolicy::Always` and prints every acknowledged batch; the parent SIGKILLs it at
//! random moments and checks after each kill that every acknowledged record is intact.
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nagare_log::{AppendRecord, FsyncPolicy, LogStore, Offset};

use crate::common::config;

const DIR_ENV: &str = "NAGARE_LOG_KILL_CHILD_DIR";
const ROUND_ENV: &str = "NAGARE_LOG_KILL_CHILD_ROUND";
const ROUNDS: u64 = 50;

fn value(round: u64, task: u64, seq: u64, i: u64) -> Vec<u8> {
    let mut v = format!("r{round}-t{task}-s{seq}-i{i}|").into_bytes();
    let len = 20 + ((seq * 7 + i * 13) % 300) as usize;
    while v.len() < len {
        v.push(b'a' + ((seq + i + v.len() as u64) % 26) as u8);
    }
    v
}

/// The child: only does something when re-executed by the parent.
#[test]
fn kill_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let round: u64 = std::env::var(ROUND_ENV).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let store = LogStore::open(dir.as_ref(), config(FsyncPolicy::Always, 16 * 1024)).unwrap();
        let log = match store.log("k") {
            Some(l) => l,
            None => store.create_log("k").unwrap(),
        };
        let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
        writeln!(out.lock().unwrap(), "READY").unwrap();
        let mut tasks = Vec::new();
        for task in 0..4u64 {
            let (log, out) = (log.clone(), Arc::clone(&out));
            tasks.push(tokio::spawn(async move {
                for seq in 0.. {
                    let n = 1 + (seq * 31 + task) % 12;
                    let vals: Vec<Vec<u8>> = (0..n).map(|i| value(round, task, seq, i)).collect();
                    let recs: Vec<AppendRecord<'_>> = vals
                        .iter()
                        .map(|v| AppendRecord { key: b"", value: v })
                        .collect();
                    let ack = log.append(round as i64, &recs).await.unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ACK {} {} {task} {seq}", ack.first.0, ack.count).unwrap();
                    o.flush().unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn acknowledged_records_survive_sigkill() {
    if std::env::var(DIR_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    // (first offset, count, round, task, seq) of every acknowledged batch.
    let mut acked: Vec<(u64, u64, u64, u64, u64)> = Vec::new();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill::kill_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir.path())
            .env(ROUND_ENV, round.to_string())
            .env("RUST_BACKTRACE", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the child to have recovered and started, then kill it mid-append.
        let mut lines = Vec::new();
        loop {
            let l = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("child did not start");
            // libtest prints "test kill::kill_child ... " on the same line first.
            if l.ends_with("READY") {
                break;
            }
            lines.push(l);
        }
        std::thread::sleep(Duration::from_millis(5 + rng.below(120)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        for l in lines.iter().filter_map(|l| l.strip_prefix("ACK ")) {
            let f: Vec<u64> = l.split(' ').map(|x| x.parse().unwrap()).collect();
            acked.push((f[0], f[1], round, f[2], f[3]));
        }
        // Reopen and check every acknowledged record so far.
        let store = LogStore::open(dir.path(), config(FsyncPolicy::Never, 16 * 1024)).unwrap();
        let Some(log) = store.log("k") else {
            assert!(acked.is_empty());
            continue;
        };
        let mut all = Vec::new();
        let mut at = Offset(0);
        loop {
            let b = log.read(at, 10_000, usize::MAX).unwrap();
            if b.records.is_empty() {
                break;
            }
            at = b.next;
            all.extend(b.records);
        }
        assert_eq!(all.len() as u64, log.end().0);
        for &(first, count, r, task, seq) in &acked {
            for i in 0..count {
                let rec = all.get((first + i) as usize).unwrap_or_else(|| {
                    panic!(
                        "round {round}: acknowledged offset {} lost (end {})",
                        first + i,
                        log.end()
                    )
                });
                assert_eq!(
                    rec.value,
                    value(r, task, seq, i),
                    "round {round}: offset {}",
                    first + i
                );
            }
        }
    }
    assert!(
        acked.len() > 50,
        "too few acknowledged batches to mean anything: {}",
        acked.len()
    );
    eprintln!(
        "kill test: {ROUNDS} rounds, {} acknowledged batches, {:?}",
        acked.len(),
        started.elapsed()
    );
}
