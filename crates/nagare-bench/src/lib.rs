//! `nagare bench`: a load generator for any Kinesis Data Streams endpoint.
//!
//! By default it talks to the endpoint only through the official `aws-sdk-kinesis` crate, so the
//! same run can be pointed at Nagare, kinesalite or anything else that speaks the Kinesis API,
//! and the numbers include the cost a real SDK client pays (signing, JSON, base64). With
//! `--client raw` the put-record scenario sends the same signed requests through a lean client
//! ([`raw`]) so that, on a small machine, the load generator does not take the cores the server
//! under test needs.
//!
//! Layout:
//! - [`client`]: SDK client over plain HTTP, error classification, stream setup and teardown.
//! - [`report`]: the one JSON line each run prints, and percentiles.
//! - [`raw`]: the lean signed HTTP/1.1 client of `--client raw`.
//! - [`cpu`]: CPU seconds of the client and (with `--server-pid`) the server, from `/proc`.
//! - one module per scenario: [`put_records`], [`put_record`], [`drain`], [`latency`].
//!
//! Every run prints exactly one JSON line on stdout; progress and warnings go to stderr.

use clap::ValueEnum;
use std::time::Duration;

pub mod client;
pub mod cpu;
pub mod drain;
pub mod latency;
pub mod put_record;
pub mod put_records;
pub mod raw;
pub mod report;

/// Which workload to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// PutRecords batches from N concurrent connections.
    PutRecords,
    /// Single-record PutRecord calls from N concurrent connections.
    PutRecord,
    /// Pre-fill the stream, then drain every shard from TRIM_HORIZON; only the drain is timed.
    GetRecordsDrain,
    /// Put→visible latency: a fixed-rate producer and one busy poller per shard.
    Latency,
    /// Put→delivered latency: the same producer, and one SubscribeToShard per shard.
    PushLatency,
}

impl Scenario {
    /// Name used in the JSON line (the same spelling as on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::PutRecords => "put-records",
            Scenario::PutRecord => "put-record",
            Scenario::GetRecordsDrain => "get-records-drain",
            Scenario::Latency => "latency",
            Scenario::PushLatency => "push-latency",
        }
    }
}

/// Which client sends the timed data-plane calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientKind {
    /// The official aws-sdk-kinesis crate: what an application pays per call.
    Sdk,
    /// A lean signed HTTP/1.1 client (put-record only): measures the server, not the client.
    Raw,
}

impl ClientKind {
    /// Name used in the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Sdk => "sdk",
            ClientKind::Raw => "raw",
        }
    }
}

/// Arguments of `nagare bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Workload to run.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Kinesis endpoint (plain HTTP).
    #[arg(
        long,
        env = "NAGARE_BENCH_ENDPOINT",
        default_value = "http://127.0.0.1:4567"
    )]
    pub endpoint: String,
    /// Region for request signing.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Stream to use; created if missing (and then deleted afterwards unless --keep).
    /// Default: a fresh `nagare-bench-<scenario>-<random>` name.
    #[arg(long)]
    pub stream: Option<String>,
    /// Shard count of a stream the tool creates.
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
    /// Concurrent connections (each one a task with its own request loop).
    /// Default: 8 for put-records and the drain's pre-fill, 16 for put-record, 32 in-flight puts for latency.
    #[arg(long)]
    pub connections: Option<usize>,
    /// Records per PutRecords request (1..=500).
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// How long the timed phase of put-records, put-record and latency runs.
    #[arg(long, default_value_t = 15.0)]
    pub duration_secs: f64,
    /// Stop after this many records (put scenarios); for get-records-drain the pre-fill size
    /// (default 200000). Whichever of --records and --duration-secs comes first ends a put run.
    #[arg(long)]
    pub records: Option<u64>,
    /// GetRecords Limit.
    #[arg(long, default_value_t = 10_000)]
    pub get_limit: i32,
    /// Records per second the latency producer puts.
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Latency scenario: records put during the first seconds are not in the percentiles
    /// (they pay for opening connections). They still count as produced and visible.
    #[arg(long, default_value_t = 1.0)]
    pub warmup_secs: f64,
    /// Client of the timed calls. Control-plane calls always go through the SDK.
    #[arg(long, value_enum, default_value_t = ClientKind::Sdk)]
    pub client: ClientKind,
    /// Keep the stream after the run.
    #[arg(long)]
    pub keep: bool,
    /// Process id of the server, when it runs on this machine: its CPU time in the timed phase
    /// is then reported next to the client's.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Free-form label copied into the JSON line (e.g. the server's name).
    #[arg(long)]
    pub label: Option<String>,
}

impl BenchArgs {
    fn connections(&self) -> usize {
        self.connections
            .unwrap_or(match self.scenario {
                Scenario::PutRecords | Scenario::GetRecordsDrain => 8,
                Scenario::PutRecord => 16,
                Scenario::Latency | Scenario::PushLatency => 32,
            })
            .max(1)
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_secs.max(0.0))
    }

    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (1..=500).contains(&self.batch),
            "--batch must be in 1..=500"
        );
        anyhow::ensure!(self.record_size >= 1, "--record-size must be at least 1");
        anyhow::ensure!(
            self.record_size <= 1024 * 1024,
            "--record-size must be at most 1 MiB"
        );
        anyhow::ensure!(self.shards >= 1, "--shards must be at least 1");
        anyhow::ensure!(
            (1..=10_000).contains(&self.get_limit),
            "--get-limit must be in 1..=10000"
        );
        anyhow::ensure!(self.rate >= 1, "--rate must be at least 1");
        anyhow::ensure!(
            self.client == ClientKind::Sdk || self.scenario == Scenario::PutRecord,
            "--client raw is implemented for put-record only"
        );
        if matches!(self.scenario, Scenario::Latency | Scenario::PushLatency) {
            anyhow::ensure!(
                self.record_size >= latency::STAMP_LEN,
                "latency needs --record-size >= {}",
                latency::STAMP_LEN
            );
        }
        Ok(())
    }
}

/// Run one scenario and print its JSON line on stdout.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    args.validate()?;
    let connections = args.connections();
    let kinesis = client::build(&args.endpoint, &args.region, connections)?;
    let stream = args.stream.clone().unwrap_or_else(|| {
        format!(
            "nagare-bench-{}-{:08x}",
            args.scenario.name(),
            rand::random::<u32>()
        )
    });
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok();
    let setup = client::ensure_stream(&kinesis, &stream, args.shards).await?;
    eprintln!(
        "nagare-bench: {} on {} stream {stream} ({} shards, created={})",
        args.scenario.name(),
        args.endpoint,
        setup.shard_ids.len(),
        setup.created
    );

    let result = match args.scenario {
        Scenario::PutRecords => put_records::run(&kinesis, &stream, &args, connections).await,
        Scenario::PutRecord => put_record::run(&kinesis, &stream, &args, connections).await,
        Scenario::GetRecordsDrain => {
            drain::run(&kinesis, &stream, &setup.shard_ids, &args, connections).await
        }
        Scenario::Latency | Scenario::PushLatency => {
            latency::run(&kinesis, &stream, &setup.shard_ids, &args, connections).await
        }
    };

    // Tear down even when the scenario failed, so a failed run leaves nothing behind.
    if setup.created && !args.keep {
        if let Err(e) = client::delete_stream(&kinesis, &stream).await {
            eprintln!("nagare-bench: could not delete stream {stream}: {e:#}");
        }
    }

    let mut report = result?;
    report.set("endpoint", args.endpoint.clone().into());
    report.set("stream", stream.into());
    report.set("shards", setup.shard_ids.len().into());
    report.set("connections", connections.into());
    report.set("record_size", args.record_size.into());
    // Other work on the machine skews a local benchmark; the 1-minute load average at the
    // start shows whether the run had the machine to itself.
    if let Some(load) = loadavg.and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok()) {
        report.set("loadavg_1m_at_start", load.into());
    }
    if let Some(label) = &args.label {
        report.set("label", label.clone().into());
    }
    println!("{}", report.to_json_line());
    Ok(())
}
