//! The harness: a real `nagare` server and a real `dynalite` as child processes, SDK clients
//! for them, and producers that remember every acknowledged record.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use nagare_consumer::{LeaseConfig, PollingConfig, SequenceNumber};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Log to the test output when `RUST_LOG` is set (e.g. `RUST_LOG=nagare_consumer=debug`).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("workspace root")
        .to_path_buf()
}

/// The `nagare` binary: `$NAGARE_BIN`, else `target/debug/nagare` (built once if missing).
fn nagare_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("NAGARE_BIN") {
            return PathBuf::from(p);
        }
        let root = workspace_root();
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        let bin = target.join("debug").join("nagare");
        if !bin.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args(["build", "-p", "nagare-cli"])
                .current_dir(&root)
                .status()
                .expect("run cargo build -p nagare-cli");
            assert!(status.success(), "cargo build -p nagare-cli failed");
        }
        bin
    })
    .clone()
}

/// Read lines from `child`'s stdout until one starts with `prefix`; return the rest.
async fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return Some(rest.to_owned());
            }
        }
        None
    })
    .await
    .expect("server start timed out")
    .unwrap_or_else(|| panic!("process exited before printing {prefix:?}"));
    // Keep draining so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    found
}

/// A `nagare serve` process on a free port with its data in a temporary directory.
pub struct Nagare {
    _child: Child,
    _dir: tempfile::TempDir,
    pub client: Client,
}

impl Nagare {
    pub async fn start() -> Nagare {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[&str]) -> Nagare {
        init_tracing();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(nagare_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--fsync", "never", "--throughput-limits", "off"])
            .args(extra)
            .env("NAGARE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nagare");
        let url = wait_for_line(&mut child, "nagare listening on ").await;
        let client = kinesis_client(&url);
        Nagare {
            _child: child,
            _dir: dir,
            client,
        }
    }

    /// Create `name` with `shards` shards and wait until it is ACTIVE.
    pub async fn create_stream(&self, name: &str, shards: i32) {
        self.client
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
            .expect("CreateStream");
        self.wait_active(name).await;
    }

    pub async fn wait_active(&self, name: &str) {
        for _ in 0..600 {
            let out = self
                .client
                .describe_stream_summary()
                .stream_name(name)
                .send()
                .await
                .expect("DescribeStreamSummary");
            let status = out
                .stream_description_summary()
                .map(|s| s.stream_status().as_str().to_owned());
            if status.as_deref() == Some("ACTIVE") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("stream {name} never became ACTIVE");
    }
}

pub fn kinesis_client(url: &str) -> Client {
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .endpoint_url(url)
        .build();
    Client::from_conf(conf)
}

/// A `dynalite` process (from `tests/dynamo/node_modules`, installed by `npm ci`) on a free
/// port, in memory.
pub struct Dynalite {
    _child: Child,
    pub client: aws_sdk_dynamodb::Client,
}

impl Dynalite {
    pub async fn start() -> Dynalite {
        init_tracing();
        let dir = workspace_root().join("tests").join("dynamo");
        let cli = dir.join("node_modules").join("dynalite").join("cli.js");
        if !cli.exists() {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .expect("run npm ci in tests/dynamo");
            assert!(status.success(), "npm ci in tests/dynamo failed");
        }
        // dynalite treats `--port 0` as "default port", so pick a free one ourselves; retry
        // if another process grabs it in between.
        for _ in 0..5 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                l.local_addr().expect("addr").port()
            };
            let mut child = Command::new("node")
                .arg(&cli)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--createTableMs", "20", "--deleteTableMs", "20"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("spawn node (dynalite)");
            let started = tokio::time::timeout(Duration::from_secs(30), async {
                let stdout = child.stdout.take().expect("stdout");
                let mut lines = BufReader::new(stdout).lines();
                let line = lines.next_line().await.ok().flatten();
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                line
            })
            .await
            .ok()
            .flatten();
            if started.is_some_and(|l| l.starts_with("Dynalite listening")) {
                let conf = aws_sdk_dynamodb::Config::builder()
                    .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                    .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                    .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                        "AKID", "SECRET", None, None, "test",
                    ))
                    .endpoint_url(format!("http://127.0.0.1:{port}"))
                    .build();
                return Dynalite {
                    _child: child,
                    client: aws_sdk_dynamodb::Client::from_conf(conf),
                };
            }
        }
        panic!("dynalite did not start");
    }
}

/// Fast timings: failover in about a second instead of ten.
pub fn fast_leases() -> LeaseConfig {
    LeaseConfig {
        failover_time: Duration::from_millis(1_500),
        take_interval: Some(Duration::from_millis(300)),
        shard_sync_interval: Duration::from_millis(500),
        parent_shard_poll_interval: Duration::from_millis(100),
        ..LeaseConfig::default()
    }
}

pub fn fast_polling() -> PollingConfig {
    PollingConfig {
        max_records: 10_000,
        idle_time_between_reads: Duration::from_millis(50),
        min_time_between_calls: Duration::from_millis(5),
    }
}

/// One acknowledged user record.
#[derive(Clone, Debug)]
pub struct Ack {
    pub key: String,
    pub n: u64,
    pub shard: String,
    pub sequence: SequenceNumber,
    pub sub_sequence: u64,
}

/// What a producer writes.
#[derive(Clone, Debug)]
pub struct ProduceSpec {
    pub stream: String,
    pub producer: usize,
    pub keys: usize,
    pub per_key: u64,
    /// Pack this many consecutive records of one key into a KPL aggregate (1 = plain).
    pub aggregate: u64,
    /// Kinesis records per PutRecords call (at most 500).
    pub batch: usize,
    /// Pause between PutRecords calls (to spread writes over a test).
    pub pause: Duration,
}

pub fn payload(key: &str, n: u64) -> String {
    format!("{key}#{n}")
}

pub fn parse_payload(data: &[u8]) -> (String, u64) {
    let s = std::str::from_utf8(data).expect("utf8 payload");
    let (k, n) = s.rsplit_once('#').expect("key#n payload");
    (k.to_owned(), n.parse().expect("n"))
}

/// Write `spec.keys × spec.per_key` records (key-major rounds, n ascending per key),
/// `spec.batch` Kinesis records per PutRecords, waiting for each call; returns every acknowledged user
/// record. Per key, write order is n order.
pub async fn produce(client: Client, spec: ProduceSpec) -> Vec<Ack> {
    let keys: Vec<String> = (0..spec.keys)
        .map(|k| format!("p{}-k{k}", spec.producer))
        .collect();
    // (key, first n, count) per Kinesis record.
    let mut units = Vec::new();
    let mut n = 0;
    while n < spec.per_key {
        let count = spec.aggregate.min(spec.per_key - n);
        for k in &keys {
            units.push((k.clone(), n, count));
        }
        n += count;
    }
    let mut acks = Vec::with_capacity((spec.keys as u64 * spec.per_key) as usize);
    for chunk in units.chunks(spec.batch.clamp(1, 500)) {
        let entries: Vec<PutRecordsRequestEntry> = chunk
            .iter()
            .map(|(k, first, count)| {
                let data = if spec.aggregate > 1 {
                    let users: Vec<nagare_agg::Record> = (*first..first + count)
                        .map(|i| nagare_agg::Record::new(k.clone(), payload(k, i).into_bytes()))
                        .collect();
                    nagare_agg::aggregate(&users)
                } else {
                    payload(k, *first).into_bytes()
                };
                PutRecordsRequestEntry::builder()
                    .partition_key(k)
                    .data(Blob::new(data))
                    .build()
                    .expect("entry")
            })
            .collect();
        let out = client
            .put_records()
            .stream_name(&spec.stream)
            .set_records(Some(entries))
            .send()
            .await
            .expect("PutRecords");
        assert_eq!(
            out.failed_record_count().unwrap_or(0),
            0,
            "a failed entry would break per-key order (throughput limits are off)"
        );
        for ((k, first, count), r) in chunk.iter().zip(out.records()) {
            let sequence: SequenceNumber = r.sequence_number().expect("seq").parse().expect("seq");
            for (sub, i) in (*first..first + count).enumerate() {
                acks.push(Ack {
                    key: k.clone(),
                    n: i,
                    shard: r.shard_id().expect("shard").to_owned(),
                    sequence: sequence.clone(),
                    sub_sequence: if spec.aggregate > 1 { sub as u64 } else { 0 },
                });
            }
        }
        if !spec.pause.is_zero() {
            tokio::time::sleep(spec.pause).await;
        }
    }
    acks
}

/// Wait until `cond` holds, polling every 50 ms, or panic after `limit` with `what`.
pub async fn eventually(limit: Duration, what: &str, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
