//! Run one consumer worker and print every user record's data as one line on stdout,
//! checkpointing after each batch.
//!
//! ```text
//! cargo run -p nagare-consumer --example print_records -- \
//!     --endpoint http://127.0.0.1:4567 --stream orders --app order-printer \
//!     --dynamodb-endpoint http://127.0.0.1:8000
//! ```
//!
//! Leases live in the DynamoDB table named after `--app` (created if missing) at
//! `--dynamodb-endpoint` (any DynamoDB-compatible server, e.g. `dynalite`; without the flag,
//! DynamoDB itself in `--region`). Start several copies with the same `--app` and they share
//! the shards; stop one with Ctrl-C (or SIGTERM) and it checkpoints and hands its leases over.
//! Logs go to stderr (`RUST_LOG=nagare_consumer=info` for lease activity).

use clap::Parser;
use nagare_consumer::{
    CheckpointError, DynamoDbLeaseStore, FanOutConfig, InitialPosition, PollingConfig,
    ProcessRecordsInput, RecordProcessor, Retrieval, ShutdownRequestedInput, Worker,
};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(about = "Print a Kinesis stream's records, one per line, with checkpoints in DynamoDB")]
struct Args {
    /// Kinesis endpoint (e.g. a Nagare server).
    #[arg(long)]
    endpoint: String,
    /// Stream to read.
    #[arg(long)]
    stream: String,
    /// Application name: the lease table's name (and the fan-out consumer's name).
    #[arg(long)]
    app: String,
    /// DynamoDB-compatible endpoint for the lease table (default: DynamoDB in --region).
    #[arg(long)]
    dynamodb_endpoint: Option<String>,
    /// Region for both clients.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Worker identity (default: random). Unique per running copy.
    #[arg(long)]
    worker_id: Option<String>,
    /// Read with SubscribeToShard (enhanced fan-out) instead of GetRecords.
    #[arg(long)]
    fan_out: bool,
    /// Start shards without a checkpoint at the newest record instead of the oldest.
    #[arg(long)]
    latest: bool,
    /// Pause after an empty GetRecords, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    idle_ms: u64,
}

/// Prints records and checkpoints once they are written out.
struct Printer;

impl Printer {
    async fn checkpoint(cp: &nagare_consumer::Checkpointer) {
        match cp.checkpoint().await {
            // Another worker has the shard now; it resumes from the last checkpoint.
            Ok(()) | Err(CheckpointError::LeaseLost) => {}
            Err(e) => tracing::warn!(shard = %cp.shard_id(), error = %e, "checkpoint failed"),
        }
    }
}

impl RecordProcessor for Printer {
    async fn process_records(&mut self, input: ProcessRecordsInput) {
        {
            let mut out = std::io::stdout().lock();
            for r in &input.records {
                let _ = out.write_all(&r.data);
                let _ = out.write_all(b"\n");
            }
            if out.flush().is_err() {
                // stdout closed (e.g. piped into `head`): do not checkpoint unprinted records.
                return;
            }
        }
        Self::checkpoint(&input.checkpointer).await;
    }

    async fn shutdown_requested(&mut self, input: ShutdownRequestedInput) {
        Self::checkpoint(&input.checkpointer).await;
    }
}

fn credentials() -> (String, String, Option<String>) {
    // Emulators accept anything; real services get the usual environment variables.
    (
        std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "AKIDEXAMPLE".into()),
        std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "example-secret".into()),
        std::env::var("AWS_SESSION_TOKEN").ok(),
    )
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "no SIGTERM handler; Ctrl-C only"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "nagare_consumer=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let (akid, secret, token) = credentials();

    let kinesis = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesis::config::Region::new(args.region.clone()))
            .credentials_provider(aws_sdk_kinesis::config::Credentials::new(
                &akid,
                &secret,
                token.clone(),
                None,
                "print_records",
            ))
            .endpoint_url(&args.endpoint)
            .build(),
    );
    let mut dynamo = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(args.region.clone()))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            &akid,
            &secret,
            token,
            None,
            "print_records",
        ));
    if let Some(url) = &args.dynamodb_endpoint {
        dynamo = dynamo.endpoint_url(url);
    }
    let store = DynamoDbLeaseStore::new(
        aws_sdk_dynamodb::Client::from_conf(dynamo.build()),
        &args.app,
    );

    let retrieval = if args.fan_out {
        Retrieval::FanOut(FanOutConfig::new(&args.app))
    } else {
        Retrieval::Polling(PollingConfig {
            idle_time_between_reads: Duration::from_millis(args.idle_ms),
            ..PollingConfig::default()
        })
    };
    let mut builder = Worker::builder(kinesis, &args.stream, Arc::new(store), |_shard: &str| {
        Printer
    })
    .retrieval(retrieval)
    .initial_position(if args.latest {
        InitialPosition::Latest
    } else {
        InitialPosition::TrimHorizon
    });
    if let Some(id) = &args.worker_id {
        builder = builder.worker_id(id);
    }
    let worker = builder.build();
    let handle = worker.handle();
    tokio::spawn(async move {
        stop_requested().await;
        tracing::info!("stopping: checkpointing and releasing leases");
        handle.shutdown().await;
    });
    worker.run().await?;
    Ok(())
}
