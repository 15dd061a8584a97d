//! Producer throughput: user records/s through [`Producer`] with aggregation on and off, for
//! small records, printed as one JSON line per run (comparable with `nagare bench
//! put-records`, which drives raw PutRecords with the same SDK client settings).
//!
//! ```text
//! cargo build --release -p nagare-cli -p nagare-producer --examples
//! target/release/nagare serve --listen 127.0.0.1:4567 --data-dir /tmp/n --fsync never --throughput-limits off &
//! target/release/examples/producer_bench --endpoint http://127.0.0.1:4567 --aggregation both
//! target/release/nagare bench put-records --endpoint http://127.0.0.1:4567
//! ```
//!
//! Each run creates a fresh stream (deleted afterwards), puts records with random partition
//! keys as fast as the producer takes them for `--duration-secs`, then waits for every
//! acknowledgement; the rate is acknowledged user records over the time to the last one.
//! Records go in through `Producer::put_many` in batches of `--batch` (default 256);
//! `--batch 1` uses `Producer::put`, one future per record.
//! The producer's rate limiter is off unless `--rate-limit` is given (run the server with
//! `--throughput-limits off`).

use aws_credential_types::Credentials;
use aws_sdk_kinesis::config::{BehaviorVersion, Region};
use aws_smithy_types::retry::RetryConfig;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use nagare_producer::{Producer, ProducerConfig};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Aggregation {
    On,
    Off,
    Both,
}

#[derive(Parser)]
struct Args {
    /// Kinesis endpoint (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    endpoint: String,
    /// Which producer configurations to run.
    #[arg(long, value_enum, default_value = "both")]
    aggregation: Aggregation,
    /// Shards of the stream each run creates.
    #[arg(long, default_value_t = 4)]
    shards: i32,
    /// Bytes of data per user record.
    #[arg(long, default_value_t = 100)]
    record_size: usize,
    /// How long records are put (acknowledgements are awaited after).
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Concurrent PutRecords requests (KPL MaxConnections).
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Per-shard rate limit in percent of the shard limit (default: off).
    #[arg(long)]
    rate_limit: Option<u64>,
    /// Unacknowledged records the generator keeps in flight (default: 20,000 without
    /// aggregation, which keeps every connection busy with 500-entry requests; 400,000 with
    /// it, since one request then carries some 40,000 user records).
    #[arg(long)]
    window: Option<usize>,
    /// User records per `Producer::put_many` call; 1 puts each record with `Producer::put`
    /// (a future per record).
    #[arg(long, default_value_t = 256)]
    batch: usize,
}

fn client(endpoint: &str, connections: usize) -> aws_sdk_kinesis::Client {
    // The same client as `nagare bench`: plain HTTP connector, no SDK retries.
    let http = aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(connections)
        .build_http();
    aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                "AKIDNAGAREBENCH",
                "nagare-bench-secret",
                None,
                None,
                "bench",
            ))
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .build(),
    )
}

async fn run(args: &Args, aggregation: bool) -> anyhow::Result<serde_json::Value> {
    let kinesis = client(&args.endpoint, args.connections);
    let stream = format!(
        "producer-bench-{}-{:08x}",
        if aggregation { "agg" } else { "raw" },
        rand::random::<u32>()
    );
    kinesis
        .create_stream()
        .stream_name(&stream)
        .shard_count(args.shards)
        .send()
        .await?;
    loop {
        let s = kinesis
            .describe_stream_summary()
            .stream_name(&stream)
            .send()
            .await?;
        if s.stream_description_summary()
            .map(|d| d.stream_status().as_str())
            == Some("ACTIVE")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config = ProducerConfig::builder()
        .aggregation_enabled(aggregation)
        .max_connections(args.connections)
        .rate_limit(args.rate_limit)
        .build()?;
    let producer = Producer::new(kinesis.clone(), config);
    let payload = Bytes::from(vec![b'x'; args.record_size]);
    let window = args
        .window
        .unwrap_or(if aggregation { 400_000 } else { 20_000 });
    let batch = args.batch.max(1);
    let mut pending = FuturesUnordered::new();
    let mut batches = FuturesUnordered::new();
    let mut in_flight = 0usize;
    let (mut put, mut acked, mut failed, mut kinesis_records, mut max_attempts) =
        (0u64, 0u64, 0u64, 0u64, 0u32);
    let mut key = rand::random::<u64>();
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(args.duration_secs);
    let mut tally = |r: Result<nagare_producer::PutOutcome, nagare_producer::PutError>| match r {
        Ok(o) => {
            acked += 1;
            kinesis_records += u64::from(o.sub_sequence == 0);
            max_attempts = max_attempts.max(o.attempts);
        }
        Err(e) => {
            if failed == 0 {
                eprintln!("producer_bench: {e}");
            }
            failed += 1;
        }
    };
    loop {
        if in_flight < window && Instant::now() < end {
            if batch == 1 {
                for _ in 0..256 {
                    // A cheap spread of partition keys over the whole hash space.
                    key = key
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    pending.push(producer.put(
                        &stream,
                        format!("{key:016x}"),
                        payload.clone(),
                        None,
                    ));
                }
                put += 256;
                in_flight += 256;
            } else {
                let records = (0..batch).map(|_| {
                    key = key
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (format!("{key:016x}"), payload.clone())
                });
                batches.push(producer.put_many(&stream, records));
                put += batch as u64;
                in_flight += batch;
            }
            continue;
        }
        let done = if batch == 1 {
            pending.next().await.map(|r| {
                tally(r);
                1
            })
        } else {
            batches.next().await.map(|rs: Vec<_>| {
                let n = rs.len();
                rs.into_iter().for_each(&mut tally);
                n
            })
        };
        match done {
            Some(n) => in_flight -= n,
            None => {
                if Instant::now() >= end {
                    break;
                }
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    producer.shutdown().await;
    let _ = kinesis.delete_stream().stream_name(&stream).send().await;
    Ok(serde_json::json!({
        "scenario": "producer",
        "aggregation": aggregation,
        "endpoint": args.endpoint,
        "shards": args.shards,
        "record_size": args.record_size,
        "connections": args.connections,
        "rate_limit": args.rate_limit,
        "window": window,
        "batch": batch,
        "user_records_put": put,
        "user_records_acked": acked,
        "user_records_failed": failed,
        "kinesis_records": kinesis_records,
        "max_attempts": max_attempts,
        "elapsed_secs": elapsed,
        "user_records_per_sec": acked as f64 / elapsed,
        "user_mib_per_sec": acked as f64 * args.record_size as f64 / elapsed / 1048576.0,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let modes: &[bool] = match args.aggregation {
        Aggregation::On => &[true],
        Aggregation::Off => &[false],
        Aggregation::Both => &[false, true],
    };
    for &aggregation in modes {
        let line = run(&args, aggregation).await?;
        println!("{line}");
    }
    Ok(())
}
