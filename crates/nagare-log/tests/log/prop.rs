//! Model-based property test: any interleaving of appends, reads, time lookups, segment rolls
//! (tiny segments), retention cuts and reopens returns exactly what was appended and not
//! trimmed.
use std::path::Path;

use nagare_log::{AppendRecord, FsyncPolicy, Log, LogStore, Offset};
use proptest::prelude::*;

use crate::common::config;

#[derive(Clone, Debug)]
enum Op {
    Append {
        n: usize,
        len: usize,
        dt: i64,
    },
    Read {
        from: u64,
        max_records: usize,
        max_bytes: usize,
    },
    TimeLookup {
        back: i64,
    },
    Trim {
        back: i64,
    },
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..12, 0usize..200, -5i64..20).prop_map(|(n, len, dt)| Op::Append { n, len, dt }),
        3 => (0u64..400, 1usize..50, 0usize..3000)
            .prop_map(|(from, max_records, max_bytes)| Op::Read { from, max_records, max_bytes }),
        1 => (-10i64..200).prop_map(|back| Op::TimeLookup { back }),
        1 => (0i64..150).prop_map(|back| Op::Trim { back }),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct Rec {
    key: Vec<u8>,
    value: Vec<u8>,
    ts: i64,
}

struct Model {
    recs: Vec<Rec>,
    start: u64,
    clock: i64,
}

impl Model {
    fn expected_read(&self, from: u64, max_records: usize, max_bytes: usize) -> Vec<(u64, Rec)> {
        let mut out = Vec::new();
        let mut bytes = 0;
        for o in from.max(self.start)..self.recs.len() as u64 {
            let r = &self.recs[o as usize];
            let size = r.key.len() + r.value.len();
            if out.len() >= max_records || (!out.is_empty() && bytes + size > max_bytes) {
                break;
            }
            bytes += size;
            out.push((o, r.clone()));
        }
        out
    }
}

fn open_log(dir: &Path, policy: FsyncPolicy, seg: u64) -> (LogStore, Log) {
    let store = LogStore::open(dir, config(policy, seg)).unwrap();
    assert!(
        store.recovery_report().is_empty(),
        "{:?}",
        store.recovery_report()
    );
    let log = match store.log("p") {
        Some(l) => l,
        None => store.create_log("p").unwrap(),
    };
    (store, log)
}

fn run(ops: Vec<Op>, always: bool, seg: u64) {
    let policy = if always {
        FsyncPolicy::Always
    } else {
        FsyncPolicy::Never
    };
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut store, mut log) = open_log(dir.path(), policy, seg);
    let mut m = Model {
        recs: Vec::new(),
        start: 0,
        clock: 1000,
    };
    for op in ops {
        match op {
            Op::Append { n, len, dt } => {
                m.clock += dt;
                let o = m.recs.len();
                let keys: Vec<Vec<u8>> =
                    (0..n).map(|i| format!("k{}", o + i).into_bytes()).collect();
                let vals: Vec<Vec<u8>> = (0..n).map(|i| vec![((o + i) % 251) as u8; len]).collect();
                let recs: Vec<AppendRecord<'_>> = keys
                    .iter()
                    .zip(&vals)
                    .map(|(k, v)| AppendRecord { key: k, value: v })
                    .collect();
                let ack = rt.block_on(log.append(m.clock, &recs)).unwrap();
                let ts = m.recs.last().map_or(m.clock, |r| r.ts.max(m.clock));
                assert_eq!(ack.first, Offset(o as u64));
                assert_eq!(ack.count as usize, n);
                assert_eq!(ack.timestamp_ms, ts);
                for (key, value) in keys.into_iter().zip(vals) {
                    m.recs.push(Rec { key, value, ts });
                }
            }
            Op::Read {
                from,
                max_records,
                max_bytes,
            } => {
                let b = log.read(Offset(from), max_records, max_bytes).unwrap();
                let got: Vec<(u64, Rec)> = b
                    .records
                    .iter()
                    .map(|r| {
                        (
                            r.offset.0,
                            Rec {
                                key: r.key.to_vec(),
                                value: r.value.to_vec(),
                                ts: r.timestamp_ms,
                            },
                        )
                    })
                    .collect();
                let want = m.expected_read(from, max_records, max_bytes);
                assert_eq!(got, want, "read from {from}");
                let next = want.last().map_or(from.max(m.start), |(o, _)| o + 1);
                assert_eq!(b.next, Offset(next));
            }
            Op::TimeLookup { back } => {
                let t = m.clock - back;
                let want = (m.start..m.recs.len() as u64)
                    .find(|&o| m.recs[o as usize].ts >= t)
                    .unwrap_or(m.recs.len() as u64);
                assert_eq!(log.offset_at_or_after(t), Offset(want), "time {t}");
            }
            Op::Trim { back } => {
                let cutoff = m.clock - back;
                log.trim_older_than(cutoff).unwrap();
                let start = log.start().0;
                assert!(start >= m.start, "start went backwards");
                // Only records older than the cutoff may go, and only whole segments: the
                // newest record is kept unless it too is older than the cutoff.
                for o in m.start..start.min(m.recs.len() as u64) {
                    assert!(
                        m.recs[o as usize].ts < cutoff,
                        "trimmed {o} with ts >= cutoff"
                    );
                }
                if m.recs.last().is_some_and(|r| r.ts >= cutoff) {
                    assert!(start < m.recs.len() as u64);
                }
                m.start = start;
            }
            Op::Reopen => {
                drop(log);
                drop(store);
                (store, log) = open_log(dir.path(), policy, seg);
                assert_eq!(log.start(), Offset(m.start));
            }
        }
        assert_eq!(log.end(), Offset(m.recs.len() as u64));
        assert_eq!(log.last_timestamp_ms(), m.recs.last().map(|r| r.ts));
    }
    let all = m.expected_read(0, usize::MAX, usize::MAX);
    let got = log.read(Offset(0), usize::MAX, usize::MAX).unwrap();
    assert_eq!(got.records.len(), all.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_interleaving_returns_what_was_appended_and_not_trimmed(
        ops in prop::collection::vec(op(), 1..60),
        always in any::<bool>(),
        seg in prop_oneof![Just(1024u64), Just(3000), Just(1 << 20)],
    ) {
        run(ops, always, seg);
    }
}
