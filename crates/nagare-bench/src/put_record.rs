//! `put-record`: N tasks, each sending single-record PutRecord calls back to back.

use crate::client::{self, Failure};
use crate::cpu::CpuMeter;
use crate::put_records::Budget;
use crate::raw::{self, RawConn, RawEndpoint};
use crate::report::{Report, Totals};
use crate::{BenchArgs, ClientKind};
use aws_sdk_kinesis::Client;
use aws_smithy_types::Blob;
use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Consecutive non-throttle failures of one record before it is dropped.
const MAX_ERROR_ATTEMPTS: u32 = 10;
/// How long after the end of the timed phase a throttled record is still retried.
const RETRY_GRACE: Duration = Duration::from_secs(60);

/// What sends PutRecord calls: the SDK, or the lean raw client of `--client raw`.
pub(crate) enum Sender {
    Sdk(Client),
    Raw(RawConn),
}

impl Sender {
    /// One PutRecord call; on failure, how to count it and what to print.
    async fn put(&mut self, stream: &str, data: &[u8], key: &str) -> Result<(), (Failure, String)> {
        match self {
            Sender::Sdk(client) => client
                .put_record()
                .stream_name(stream)
                .data(Blob::new(data))
                .partition_key(key)
                .send()
                .await
                .map(drop)
                .map_err(|e| (client::classify(&e), format!("{e:?}"))),
            Sender::Raw(conn) => {
                let mut body =
                    Vec::with_capacity(64 + stream.len() + key.len() + data.len() * 4 / 3);
                body.extend_from_slice(b"{\"StreamName\":");
                raw::json_string(&mut body, stream);
                body.extend_from_slice(b",\"PartitionKey\":");
                raw::json_string(&mut body, key);
                body.extend_from_slice(b",\"Data\":\"");
                let at = body.len();
                let b64_len = base64::encoded_len(data.len(), true).unwrap_or(0);
                body.resize(at + b64_len, 0);
                let written = BASE64_STANDARD
                    .encode_slice(data, &mut body[at..])
                    .unwrap_or(0);
                body.truncate(at + written);
                body.extend_from_slice(b"\"}");
                conn.call("Kinesis_20131202.PutRecord", &body)
                    .await
                    .map(drop)
                    .map_err(|e| (e.failure, e.detail))
            }
        }
    }
}

/// Put one record, retrying throttles and errors; returns true once it was acknowledged.
/// The latency of each successful call goes to `latencies_ms`.
pub(crate) async fn put_one(
    sender: &mut Sender,
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
        match sender.put(stream, data, key).await {
            Ok(()) => {
                latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
                Totals::add(&totals.records, 1);
                Totals::add(&totals.bytes, data.len() as u64);
                return true;
            }
            Err((Failure::Throttle, _)) => Totals::add(&totals.throttles, 1),
            Err((Failure::Error, detail)) => {
                if error_attempts == 0 {
                    eprintln!("nagare-bench: PutRecord failed: {detail}");
                }
                Totals::add(&totals.errors, 1);
                error_attempts += 1;
            }
        }
        tokio::time::sleep(client::backoff(attempt)).await;
        attempt += 1;
    }
}

/// One request loop per sender until the budget is spent; the latencies of every call.
async fn put_loops(
    senders: Vec<Sender>,
    stream: String,
    budget: Arc<Budget>,
    totals: Arc<Totals>,
    payload: Arc<[u8]>,
) -> anyhow::Result<Vec<f64>> {
    let mut tasks = Vec::with_capacity(senders.len());
    for mut sender in senders {
        let stream = stream.clone();
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
                    &mut sender,
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
    Ok(latencies)
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
    let raw = match args.client {
        ClientKind::Sdk => None,
        ClientKind::Raw => Some(RawEndpoint::new(&args.endpoint, &args.region)?),
    };
    let senders: Vec<Sender> = (0..connections)
        .map(|_| match &raw {
            Some(endpoint) => Sender::Raw(RawConn::new(Arc::clone(endpoint))),
            None => Sender::Sdk(client.clone()),
        })
        .collect();
    let loops = put_loops(
        senders,
        stream.to_owned(),
        Arc::clone(&budget),
        Arc::clone(&totals),
        payload,
    );
    let cpu = CpuMeter::start(args.server_pid);
    let started = Instant::now();
    let mut latencies = if raw.is_some() {
        // The lean client runs on one thread of its own: its tasks then never wake each other
        // across cores, which on a 2-core box shared with the server costs more than the work.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        tokio::task::spawn_blocking(move || rt.block_on(loops)).await??
    } else {
        loops.await?
    };
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
    report.set("client", args.client.name().into());
    Ok(report)
}
