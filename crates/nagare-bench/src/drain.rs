//! `get-records-drain`: pre-fill the stream with PutRecords, then read every shard from
//! TRIM_HORIZON with GetRecords until it has returned everything that was put into it.
//! Only the drain is timed.

use crate::BenchArgs;
use crate::client::{self, Failure};
use crate::cpu::CpuMeter;
use crate::put_records::{Budget, put_loops};
use crate::report::{Report, Totals, round};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::ShardIteratorType;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default pre-fill size.
pub const DEFAULT_RECORDS: u64 = 200_000;
/// Consecutive failed GetRecords calls on one shard before the drain gives up.
const MAX_ERROR_ATTEMPTS: u32 = 10;
/// Consecutive empty responses on a shard that still owes records before the drain gives up.
/// Kinesis may return empty pages mid-stream, so one empty page is not the end.
const MAX_EMPTY_PAGES: u32 = 200;

/// What one shard's drain measured.
#[derive(Default)]
struct ShardDrain {
    latencies_ms: Vec<f64>,
    calls: u64,
    short: Option<String>,
}

/// Drain `shard` until `expected` records were read.
async fn drain_shard(
    client: &Client,
    stream: &str,
    shard: &str,
    expected: u64,
    limit: i32,
    totals: &Totals,
) -> anyhow::Result<ShardDrain> {
    let mut out = ShardDrain::default();
    let mut iterator = client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("GetShardIterator {shard}")))?
        .shard_iterator
        .ok_or_else(|| anyhow::anyhow!("GetShardIterator {shard}: no iterator"))?;
    let mut read = 0u64;
    let mut errors = 0u32;
    let mut empty = 0u32;
    let mut attempt = 0u32;
    while read < expected {
        let started = Instant::now();
        let result = client
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit)
            .send()
            .await;
        out.calls += 1;
        match result {
            Ok(page) => {
                out.latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
                errors = 0;
                attempt = 0;
                let n = page.records().len() as u64;
                let bytes: u64 = page
                    .records()
                    .iter()
                    .map(|r| r.data().as_ref().len() as u64)
                    .sum();
                read += n;
                Totals::add(&totals.records, n);
                Totals::add(&totals.bytes, bytes);
                match page.next_shard_iterator() {
                    Some(next) => iterator = next.to_owned(),
                    None => {
                        out.short = Some(format!("{shard}: closed after {read}/{expected}"));
                        break;
                    }
                }
                if n == 0 {
                    empty += 1;
                    if empty >= MAX_EMPTY_PAGES {
                        out.short = Some(format!(
                            "{shard}: {empty} empty pages after {read}/{expected}"
                        ));
                        break;
                    }
                } else {
                    empty = 0;
                }
            }
            Err(e) => {
                match client::classify(&e) {
                    Failure::Throttle => Totals::add(&totals.throttles, 1),
                    Failure::Error => {
                        Totals::add(&totals.errors, 1);
                        errors += 1;
                        if errors >= MAX_ERROR_ATTEMPTS {
                            return Err(anyhow::Error::new(e)
                                .context(format!("GetRecords {shard} failed {errors} times")));
                        }
                    }
                }
                tokio::time::sleep(client::backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
    Ok(out)
}

/// The `get-records-drain` scenario.
pub async fn run(
    client: &Client,
    stream: &str,
    shard_ids: &[String],
    args: &BenchArgs,
    connections: usize,
) -> anyhow::Result<Report> {
    let target = args.records.unwrap_or(DEFAULT_RECORDS);
    // Pre-fill: no time limit (a day stands for "until done"), only the record count.
    let fill_totals = Arc::new(Totals::default());
    let fill_started = Instant::now();
    let fill = put_loops(
        client,
        stream,
        connections,
        args.batch,
        args.record_size,
        Arc::new(Budget::new(Duration::from_secs(86_400), Some(target))),
        Arc::clone(&fill_totals),
    )
    .await?;
    let fill_secs = fill_started.elapsed().as_secs_f64();
    let filled = Totals::get(&fill_totals.records);
    eprintln!(
        "nagare-bench: pre-filled {filled} records in {fill_secs:.1} s; draining {} shards",
        shard_ids.len()
    );

    let totals = Arc::new(Totals::default());
    let cpu = CpuMeter::start(args.server_pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(shard_ids.len());
    let mut expected_by_shard: HashMap<String, u64> = fill.per_shard;
    for shard in shard_ids {
        let expected = expected_by_shard.remove(shard).unwrap_or(0);
        let client = client.clone();
        let stream = stream.to_owned();
        let shard = shard.clone();
        let totals = Arc::clone(&totals);
        let limit = args.get_limit;
        tasks.push(tokio::spawn(async move {
            drain_shard(&client, &stream, &shard, expected, limit, &totals).await
        }));
    }
    if !expected_by_shard.is_empty() {
        eprintln!(
            "nagare-bench: records landed on shards not listed as open: {:?}",
            expected_by_shard
        );
    }
    let mut latencies = Vec::new();
    let mut calls = 0u64;
    let mut short = Vec::new();
    for task in tasks {
        let shard = task.await??;
        latencies.extend(shard.latencies_ms);
        calls += shard.calls;
        short.extend(shard.short);
    }
    let elapsed = started.elapsed();
    let cpu = cpu.finish();
    for s in &short {
        eprintln!("nagare-bench: drain stopped short on {s}");
    }

    let mut report = Report::new(
        crate::Scenario::GetRecordsDrain.name(),
        &totals,
        elapsed,
        &mut latencies,
    );
    report.set_cpu(&cpu);
    report.set("prefill_records", filled.into());
    report.set("prefill_secs", round(fill_secs, 3).into());
    report.set(
        "prefill_records_per_s",
        round(filled as f64 / fill_secs.max(1e-9), 1).into(),
    );
    report.set("prefill_errors", Totals::get(&fill_totals.errors).into());
    report.set(
        "prefill_throttles",
        Totals::get(&fill_totals.throttles).into(),
    );
    report.set("batch", args.batch.into());
    report.set("get_limit", args.get_limit.into());
    report.set("get_calls", calls.into());
    report.set("complete", short.is_empty().into());
    report.set("latency_kind", "get_records_request".into());
    Ok(report)
}
