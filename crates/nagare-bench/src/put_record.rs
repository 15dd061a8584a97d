//! `put-record`: N tasks, each sending single-record PutRecord calls back to back.

use crate::BenchArgs;
use crate::client::{self, Failure};
use crate::cpu::CpuMeter;
use crate::put_records::Budget;
use crate::report::{Report, Totals};
use aws_sdk_kinesis::Client;
use aws_smithy_types::Blob;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Consecutive non-throttle failures of one record before it is dropped.
const MAX_ERROR_ATTEMPTS: u32 = 10;
/// How long after the end of the timed phase a throttled record is still retried.
const RETRY_GRACE: Duration = Duration::from_secs(60);

/// Put one record, retrying throttles and errors; returns true once it was acknowledged.
/// The latency of each successful call goes to `latencies_ms`.
pub(crate) async fn put_one(
    client: &Client,
    stream: &str,
    data: &[u8],
    key: &str,
    give_up_at: Instant,
    totals: &Totals,
    latencies_ms: &mut Vec<f64>,
) -> bool {
    let mut attempt = 0u32;
    let mut error_attempts = 0u32;
    loop {
        if error_attempts >= MAX_ERROR_ATTEMPTS || Instant::now() > give_up_at {
            Totals::add(&totals.dropped, 1);
            return false;
        }
        let started = Instant::now();
        let result = client
            .put_record()
            .stream_name(stream)
            .data(Blob::new(data))
            .partition_key(key)
            .send()
            .await;
        match result {
            Ok(_) => {
                latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
                Totals::add(&totals.records, 1);
                Totals::add(&totals.bytes, data.len() as u64);
                return true;
            }
            Err(e) => match client::classify(&e) {
                Failure::Throttle => Totals::add(&totals.throttles, 1),
                Failure::Error => {
                    if error_attempts == 0 {
                        eprintln!("nagare-bench: PutRecord failed: {e:?}");
                    }
                    Totals::add(&totals.errors, 1);
                    error_attempts += 1;
                }
            },
        }
        tokio::time::sleep(client::backoff(attempt)).await;
        attempt += 1;
    }
}

/// The `put-record` scenario.
pub async fn run(
    client: &Client,
    stream: &str,
    args: &BenchArgs,
    connections: usize,
) -> anyhow::Result<Report> {
    let budget = Arc::new(Budget::new(args.duration(), args.records));
    let totals = Arc::new(Totals::default());
    let payload: Arc<[u8]> = (0..args.record_size)
        .map(|_| rand::random::<u8>())
        .collect();
    let cpu = CpuMeter::start(args.server_pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let client = client.clone();
        let stream = stream.to_owned();
        let budget = Arc::clone(&budget);
        let totals = Arc::clone(&totals);
        let payload = Arc::clone(&payload);
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::from_os_rng();
            let mut latencies = Vec::new();
            let give_up_at = budget.deadline() + RETRY_GRACE;
            while budget.claim(1) == 1 {
                let key = client::random_partition_key(&mut rng);
                put_one(
                    &client,
                    &stream,
                    &payload,
                    &key,
                    give_up_at,
                    &totals,
                    &mut latencies,
                )
                .await;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    let mut report = Report::new(
        crate::Scenario::PutRecord.name(),
        &totals,
        elapsed,
        &mut latencies,
    );
    report.set_cpu(&cpu);
    report.set("requests", latencies.len().into());
    report.set("latency_kind", "put_record_request".into());
    Ok(report)
}
