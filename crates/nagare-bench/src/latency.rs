//! `latency` and `push-latency`: put→visible and put→delivered latency.
//!
//! One producer puts single records at a fixed rate, each carrying the wall-clock time of its
//! first put attempt. For `latency`, one poller per shard calls GetRecords in a loop without
//! sleeping; for `push-latency`, one SubscribeToShard per shard (enhanced fan-out) receives
//! them. Either way each record's `now - stamp` is recorded. Both sides run in this process,
//! so the two clocks are the same clock. With `--server-pid`, `push-latency` also samples the
//! server's resident memory while its subscriptions are open (`--shards 100` = 100 open
//! subscriptions).

use crate::BenchArgs;
use crate::client::{self, Failure};
use crate::cpu::CpuMeter;
use crate::put_record::{Sender, put_one};
use crate::report::{Report, Totals, round};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{ShardIteratorType, StartingPosition, SubscribeToShardEventStream};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// Bytes at the start of each record holding the put time (µs since the epoch, big-endian).
pub const STAMP_LEN: usize = 8;
/// How long pollers keep looking for records still in flight after the producer stops.
const DRAIN_GRACE: Duration = Duration::from_secs(5);
/// Consecutive failed GetRecords calls on one shard before its poller gives up.
const MAX_ERROR_ATTEMPTS: u32 = 10;

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Poll `shard` from `iterator` until `stop`; returns the latencies (ms) of records seen that
/// were put at or after `measure_from` (µs since the epoch).
async fn poll_shard(
    client: Client,
    shard: String,
    mut iterator: String,
    limit: i32,
    measure_from: u64,
    stop: Arc<AtomicBool>,
    seen: Arc<Totals>,
) -> anyhow::Result<Vec<f64>> {
    let mut latencies = Vec::new();
    let mut errors = 0u32;
    let mut attempt = 0u32;
    while !stop.load(Ordering::Relaxed) {
        let result = client
            .get_records()
            .shard_iterator(&iterator)
            .limit(limit)
            .send()
            .await;
        match result {
            Ok(page) => {
                let now = now_micros();
                errors = 0;
                attempt = 0;
                for record in page.records() {
                    let data = record.data().as_ref();
                    if let Some(stamp) = data.get(..STAMP_LEN) {
                        let mut buf = [0u8; STAMP_LEN];
                        buf.copy_from_slice(stamp);
                        let sent = u64::from_be_bytes(buf);
                        if sent >= measure_from {
                            latencies.push(now.saturating_sub(sent) as f64 / 1e3);
                        }
                    }
                    Totals::add(&seen.records, 1);
                    Totals::add(&seen.bytes, data.len() as u64);
                }
                match page.next_shard_iterator() {
                    Some(next) => iterator = next.to_owned(),
                    None => break,
                }
            }
            Err(e) => {
                match client::classify(&e) {
                    Failure::Throttle => Totals::add(&seen.throttles, 1),
                    Failure::Error => {
                        Totals::add(&seen.errors, 1);
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
    Ok(latencies)
}

/// Latencies (ms) of records in one SubscribeToShard event, put at or after `measure_from`.
fn stamp_latencies(
    records: &[aws_sdk_kinesis::types::Record],
    measure_from: u64,
    seen: &Totals,
    out: &mut Vec<f64>,
) {
    let now = now_micros();
    for record in records {
        let data = record.data().as_ref();
        if let Some(stamp) = data.get(..STAMP_LEN) {
            let mut buf = [0u8; STAMP_LEN];
            buf.copy_from_slice(stamp);
            let sent = u64::from_be_bytes(buf);
            if sent >= measure_from {
                out.push(now.saturating_sub(sent) as f64 / 1e3);
            }
        }
        Totals::add(&seen.records, 1);
        Totals::add(&seen.bytes, data.len() as u64);
    }
}

/// Receives `shard` through SubscribeToShard from LATEST until `stop` (resubscribing from the
/// last continuation if the server ends the stream).
async fn subscribe_shard(
    client: Client,
    consumer_arn: String,
    shard: String,
    measure_from: u64,
    stop: Arc<AtomicBool>,
    seen: Arc<Totals>,
    ready: Arc<Semaphore>,
) -> anyhow::Result<Vec<f64>> {
    let mut latencies = Vec::new();
    let mut position = StartingPosition::builder()
        .r#type(ShardIteratorType::Latest)
        .build()?;
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let mut out = client
            .subscribe_to_shard()
            .consumer_arn(&consumer_arn)
            .shard_id(&shard)
            .starting_position(position.clone())
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("SubscribeToShard {shard}")))?;
        if first {
            ready.add_permits(1);
            first = false;
        }
        loop {
            let next =
                tokio::time::timeout(Duration::from_millis(200), out.event_stream.recv()).await;
            match next {
                Err(_) if stop.load(Ordering::Relaxed) => return Ok(latencies),
                Err(_) => continue,
                Ok(Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(ev)))) => {
                    stamp_latencies(ev.records(), measure_from, &seen, &mut latencies);
                    let cont = ev.continuation_sequence_number();
                    if !cont.is_empty() {
                        position = StartingPosition::builder()
                            .r#type(ShardIteratorType::AfterSequenceNumber)
                            .sequence_number(cont)
                            .build()?;
                    }
                }
                Ok(Ok(Some(_))) => {}
                Ok(Ok(None)) | Ok(Err(_)) => break,
            }
        }
    }
    Ok(latencies)
}

/// Registers (or finds) the benchmark's consumer and waits until it is ACTIVE.
async fn bench_consumer(client: &Client, stream: &str) -> anyhow::Result<String> {
    let summary = client
        .describe_stream_summary()
        .stream_name(stream)
        .send()
        .await?;
    let stream_arn = summary
        .stream_description_summary()
        .map(|s| s.stream_arn().to_owned())
        .ok_or_else(|| anyhow::anyhow!("DescribeStreamSummary {stream}: no summary"))?;
    let arn = match client
        .register_stream_consumer()
        .stream_arn(&stream_arn)
        .consumer_name("nagare-bench")
        .send()
        .await
    {
        Ok(out) => out.consumer().map(|c| c.consumer_arn().to_owned()),
        Err(_) => client
            .describe_stream_consumer()
            .stream_arn(&stream_arn)
            .consumer_name("nagare-bench")
            .send()
            .await?
            .consumer_description()
            .map(|c| c.consumer_arn().to_owned()),
    }
    .ok_or_else(|| anyhow::anyhow!("no consumer ARN"))?;
    for _ in 0..600 {
        let d = client
            .describe_stream_consumer()
            .consumer_arn(&arn)
            .send()
            .await?;
        if d.consumer_description()
            .map(|c| c.consumer_status().as_str())
            == Some("ACTIVE")
        {
            return Ok(arn);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("consumer {arn} did not become ACTIVE")
}

/// Resident memory of `pid` in KiB (`VmRSS` from /proc), Linux only.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix("VmRSS:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// The `latency` (GetRecords polling) and `push-latency` (SubscribeToShard) scenarios.
pub async fn run(
    client: &Client,
    stream: &str,
    shard_ids: &[String],
    args: &BenchArgs,
    connections: usize,
) -> anyhow::Result<Report> {
    let push = args.scenario == crate::Scenario::PushLatency;
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Totals::default());
    // The first puts also open the connections; leave them out of the percentiles.
    let warmup = Duration::from_secs_f64(args.warmup_secs.max(0.0));
    let measure_from = now_micros() + warmup.as_micros() as u64;
    let rss_before = args.server_pid.and_then(rss_kib);
    let consumers: Vec<_> = if push {
        let arn = bench_consumer(client, stream).await?;
        // Every subscription is open (LATEST taken) before the first put.
        let ready = Arc::new(Semaphore::new(0));
        let tasks = shard_ids
            .iter()
            .map(|shard| {
                tokio::spawn(subscribe_shard(
                    client.clone(),
                    arn.clone(),
                    shard.clone(),
                    measure_from,
                    Arc::clone(&stop),
                    Arc::clone(&seen),
                    Arc::clone(&ready),
                ))
            })
            .collect();
        let _all = ready.acquire_many(shard_ids.len() as u32).await?;
        tasks
    } else {
        poll_all(client, stream, shard_ids, args, measure_from, &stop, &seen).await?
    };
    let rss_peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = args.server_pid.map(|pid| {
        let peak = Arc::clone(&rss_peak);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    let report = produce(client, stream, args, connections, &stop, &seen, consumers).await;
    if let Some(s) = sampler {
        let _ = s.await;
    }
    let mut report = report?;
    report.set(
        "latency_kind",
        if push {
            "put_to_delivered"
        } else {
            "put_to_visible"
        }
        .into(),
    );
    if push {
        report.set("subscriptions", shard_ids.len().into());
    }
    if let Some(before) = rss_before {
        report.set("server_rss_kib_before", before.into());
        report.set(
            "server_rss_kib_peak",
            rss_peak.load(Ordering::Relaxed).into(),
        );
    }
    Ok(report)
}

/// Starts one GetRecords poller per shard (iterators taken before the first put).
async fn poll_all(
    client: &Client,
    stream: &str,
    shard_ids: &[String],
    args: &BenchArgs,
    measure_from: u64,
    stop: &Arc<AtomicBool>,
    seen: &Arc<Totals>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<anyhow::Result<Vec<f64>>>>> {
    // Iterators are taken before the first put, so LATEST starts before every record.
    let mut iterators = Vec::with_capacity(shard_ids.len());
    for shard in shard_ids {
        let it = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::Latest)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("GetShardIterator {shard}")))?
            .shard_iterator
            .ok_or_else(|| anyhow::anyhow!("GetShardIterator {shard}: no iterator"))?;
        iterators.push((shard.clone(), it));
    }
    Ok(iterators
        .into_iter()
        .map(|(shard, it)| {
            tokio::spawn(poll_shard(
                client.clone(),
                shard,
                it,
                args.get_limit,
                measure_from,
                Arc::clone(stop),
                Arc::clone(seen),
            ))
        })
        .collect())
}

/// Runs the fixed-rate producer, then collects the consumers' latencies.
async fn produce(
    client: &Client,
    stream: &str,
    args: &BenchArgs,
    connections: usize,
    stop: &Arc<AtomicBool>,
    seen: &Arc<Totals>,
    pollers: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<f64>>>>,
) -> anyhow::Result<Report> {
    // Producer: keeps `rate` records/s by issuing each put as its own task, at most
    // `connections` in flight. If the endpoint cannot keep up, the achieved rate drops and
    // is reported as such.
    let put_totals = Arc::new(Totals::default());
    let in_flight = Arc::new(Semaphore::new(connections));
    let rate = f64::from(args.rate);
    let duration = args.duration();
    let tick = Duration::from_secs_f64(1.0 / rate).max(Duration::from_millis(1));
    let mut ticker = tokio::time::interval(tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rng = StdRng::from_os_rng();
    let mut puts = Vec::new();
    let mut issued = 0u64;
    let cpu = CpuMeter::start(args.server_pid);
    let started = Instant::now();
    let give_up_at = started + duration + Duration::from_secs(60);
    loop {
        ticker.tick().await;
        let elapsed = started.elapsed();
        if elapsed >= duration {
            break;
        }
        let due = (rate * elapsed.as_secs_f64()) as u64;
        while issued < due {
            let permit = Arc::clone(&in_flight).acquire_owned().await?;
            let mut data = vec![0u8; args.record_size];
            data[..STAMP_LEN].copy_from_slice(&now_micros().to_be_bytes());
            let key = client::random_partition_key(&mut rng);
            let mut sender = Sender::Sdk(client.clone());
            let stream = stream.to_owned();
            let totals = Arc::clone(&put_totals);
            puts.push(tokio::spawn(async move {
                let mut ignored = Vec::new();
                put_one(
                    &mut sender,
                    &stream,
                    &data,
                    &key,
                    give_up_at,
                    &totals,
                    &mut ignored,
                )
                .await;
                drop(permit);
            }));
            issued += 1;
        }
    }
    for put in puts {
        put.await?;
    }
    let produce_secs = started.elapsed();
    let cpu = cpu.finish();
    let acked = Totals::get(&put_totals.records);

    let grace_end = Instant::now() + DRAIN_GRACE;
    while Totals::get(&seen.records) < acked && Instant::now() < grace_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for poller in pollers {
        latencies.extend(poller.await??);
    }
    let visible = Totals::get(&seen.records);
    if visible < acked {
        eprintln!("nagare-bench: only {visible} of {acked} acknowledged records became visible");
    }

    // records/bytes/secs describe what the producer achieved; latency covers what was seen.
    let totals = Totals::default();
    Totals::add(&totals.records, acked);
    Totals::add(&totals.bytes, Totals::get(&put_totals.bytes));
    Totals::add(
        &totals.errors,
        Totals::get(&put_totals.errors) + Totals::get(&seen.errors),
    );
    Totals::add(
        &totals.throttles,
        Totals::get(&put_totals.throttles) + Totals::get(&seen.throttles),
    );
    Totals::add(&totals.dropped, Totals::get(&put_totals.dropped));
    let mut report = Report::new(args.scenario.name(), &totals, produce_secs, &mut latencies);
    report.set_cpu(&cpu);
    report.set("rate", args.rate.into());
    report.set("warmup_secs", args.warmup_secs.into());
    report.set("latency_samples", latencies.len().into());
    report.set("visible", visible.into());
    report.set(
        "max_ms",
        latencies
            .last()
            .map_or(serde_json::Value::Null, |&m| round(m, 3).into()),
    );
    Ok(report)
}
