//! `put-records`: N tasks, each sending PutRecords batches back to back.

use crate::BenchArgs;
use crate::client::{self, Failure, THROTTLE_CODE};
use crate::cpu::CpuMeter;
use crate::report::{Report, Totals};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use aws_smithy_types::Blob;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Consecutive non-throttle failures of one batch before its records are dropped.
const MAX_ERROR_ATTEMPTS: u32 = 10;
/// How long after the end of the timed phase throttled records are still retried.
const RETRY_GRACE: Duration = Duration::from_secs(60);

/// Where a put loop stops: at a deadline or once `limit` records were claimed.
pub(crate) struct Budget {
    deadline: Instant,
    limit: u64,
    claimed: AtomicU64,
}

impl Budget {
    pub(crate) fn new(duration: Duration, limit: Option<u64>) -> Self {
        Budget {
            deadline: Instant::now() + duration,
            limit: limit.unwrap_or(u64::MAX),
            claimed: AtomicU64::new(0),
        }
    }

    /// Claim up to `want` records; 0 means stop.
    pub(crate) fn claim(&self, want: u64) -> u64 {
        if Instant::now() >= self.deadline {
            return 0;
        }
        let mut cur = self.claimed.load(Ordering::Relaxed);
        loop {
            let n = want.min(self.limit.saturating_sub(cur));
            if n == 0 {
                return 0;
            }
            match self.claimed.compare_exchange_weak(
                cur,
                cur + n,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return n,
                Err(actual) => cur = actual,
            }
        }
    }

    pub(crate) fn deadline(&self) -> Instant {
        self.deadline
    }
}

/// What one put task measured.
#[derive(Default)]
pub(crate) struct TaskStats {
    /// Milliseconds per PutRecords call.
    pub latencies_ms: Vec<f64>,
    /// Acknowledged records per shard id.
    pub per_shard: HashMap<String, u64>,
}

/// Run `connections` PutRecords loops until the budget is spent.
pub(crate) async fn put_loops(
    client: &Client,
    stream: &str,
    connections: usize,
    batch: usize,
    record_size: usize,
    budget: Arc<Budget>,
    totals: Arc<Totals>,
) -> anyhow::Result<TaskStats> {
    // One random payload shared by every record: generating fresh bytes per record would only
    // spend client CPU, which competes with the server on a small machine.
    let payload: Arc<[u8]> = (0..record_size).map(|_| rand::random::<u8>()).collect();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = client.clone();
        let stream = stream.to_owned();
        let budget = Arc::clone(&budget);
        let totals = Arc::clone(&totals);
        let payload = Arc::clone(&payload);
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::from_os_rng();
            let mut stats = TaskStats::default();
            loop {
                let n = budget.claim(batch as u64);
                if n == 0 {
                    break;
                }
                let keys = (0..n)
                    .map(|_| client::random_partition_key(&mut rng))
                    .collect();
                put_batch(
                    &client, &stream, &payload, keys, &budget, &totals, &mut stats,
                )
                .await;
            }
            stats
        }));
    }
    let mut all = TaskStats::default();
    for task in tasks {
        let stats = task.await?;
        all.latencies_ms.extend(stats.latencies_ms);
        for (shard, n) in stats.per_shard {
            *all.per_shard.entry(shard).or_default() += n;
        }
    }
    Ok(all)
}

/// Put one batch (records `payload` under each of `keys`), retrying failed records like a
/// producer would: throttles are retried with backoff until the grace period ends, other
/// failures up to [`MAX_ERROR_ATTEMPTS`] times.
async fn put_batch(
    client: &Client,
    stream: &str,
    payload: &[u8],
    keys: Vec<String>,
    budget: &Budget,
    totals: &Totals,
    stats: &mut TaskStats,
) {
    let mut pending: Vec<usize> = (0..keys.len()).collect();
    let mut attempt = 0u32;
    let mut error_attempts = 0u32;
    while !pending.is_empty() {
        if error_attempts >= MAX_ERROR_ATTEMPTS || Instant::now() > budget.deadline() + RETRY_GRACE
        {
            Totals::add(&totals.dropped, pending.len() as u64);
            return;
        }
        let entries: Vec<PutRecordsRequestEntry> = pending
            .iter()
            .map(|&i| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(payload))
                    .partition_key(keys[i].as_str())
                    .build()
                    .expect("data and partition key are set")
            })
            .collect();
        let started = Instant::now();
        let result = client
            .put_records()
            .stream_name(stream)
            .set_records(Some(entries))
            .send()
            .await;
        let failure = match result {
            Ok(out) if out.records().len() == pending.len() => {
                stats
                    .latencies_ms
                    .push(started.elapsed().as_secs_f64() * 1e3);
                let mut failed = Vec::new();
                let mut throttled = false;
                let mut ok = 0u64;
                for (entry, &i) in out.records().iter().zip(&pending) {
                    match entry.error_code() {
                        None => {
                            ok += 1;
                            if let Some(shard) = entry.shard_id() {
                                match stats.per_shard.get_mut(shard) {
                                    Some(n) => *n += 1,
                                    None => {
                                        stats.per_shard.insert(shard.to_owned(), 1);
                                    }
                                }
                            }
                        }
                        Some(code) => {
                            if code == THROTTLE_CODE {
                                throttled = true;
                                Totals::add(&totals.throttles, 1);
                            } else {
                                Totals::add(&totals.errors, 1);
                            }
                            failed.push(i);
                        }
                    }
                }
                Totals::add(&totals.records, ok);
                Totals::add(&totals.bytes, ok * payload.len() as u64);
                pending = failed;
                if pending.is_empty() {
                    return;
                }
                if throttled {
                    Failure::Throttle
                } else {
                    Failure::Error
                }
            }
            Ok(out) => {
                eprintln!(
                    "nagare-bench: PutRecords returned {} results for {} records",
                    out.records().len(),
                    pending.len()
                );
                Totals::add(&totals.errors, 1);
                Failure::Error
            }
            Err(e) => {
                let failure = client::classify(&e);
                match failure {
                    Failure::Throttle => Totals::add(&totals.throttles, 1),
                    Failure::Error => {
                        if error_attempts == 0 {
                            eprintln!("nagare-bench: PutRecords failed: {e:?}");
                        }
                        Totals::add(&totals.errors, 1);
                    }
                }
                failure
            }
        };
        if failure == Failure::Error {
            error_attempts += 1;
        }
        tokio::time::sleep(client::backoff(attempt)).await;
        attempt += 1;
    }
}

/// The `put-records` scenario.
pub async fn run(
    client: &Client,
    stream: &str,
    args: &BenchArgs,
    connections: usize,
) -> anyhow::Result<Report> {
    let budget = Arc::new(Budget::new(args.duration(), args.records));
    let totals = Arc::new(Totals::default());
    let cpu = CpuMeter::start(args.server_pid);
    let started = Instant::now();
    let mut stats = put_loops(
        client,
        stream,
        connections,
        args.batch,
        args.record_size,
        budget,
        Arc::clone(&totals),
    )
    .await?;
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    let mut report = Report::new(
        crate::Scenario::PutRecords.name(),
        &totals,
        elapsed,
        &mut stats.latencies_ms,
    );
    report.set_cpu(&cpu);
    report.set("batch", args.batch.into());
    report.set("requests", stats.latencies_ms.len().into());
    report.set("latency_kind", "put_records_request".into());
    Ok(report)
}
