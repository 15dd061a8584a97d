//! Sends each line of a file as one user record (aggregation on, partition key = line number)
//! and exits once every record is acknowledged.
//!
//! ```text
//! cargo run -p nagare-producer --example send_lines -- --endpoint http://127.0.0.1:4567 --stream NAME FILE
//! ```
//!
//! Credentials come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (and
//! `AWS_SESSION_TOKEN`) when set, else fixed fake ones (fine for Nagare). Exit status 1 if
//! any record failed.

use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use clap::Parser;
use nagare_producer::{Producer, ProducerConfig};
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Send each line of FILE as one Kinesis user record")]
struct Args {
    /// Kinesis endpoint URL.
    #[arg(long)]
    endpoint: String,
    /// Stream to put to (must exist).
    #[arg(long)]
    stream: String,
    /// Region for request signing.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// The file; each line (without its line ending) becomes one record.
    file: PathBuf,
}

fn credentials() -> Credentials {
    match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) => Credentials::new(
            id,
            secret,
            std::env::var("AWS_SESSION_TOKEN").ok(),
            None,
            "environment",
        ),
        _ => Credentials::new(
            "AKIDNAGAREEXAMPLE",
            "nagare-example-secret",
            None,
            None,
            "static",
        ),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = std::fs::read(&args.file)?;
    let client = aws_sdk_kinesis::Client::from_conf(
        aws_sdk_kinesis::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(args.region.clone()))
            .endpoint_url(&args.endpoint)
            .credentials_provider(credentials())
            .build(),
    );
    let producer = Producer::new(client, ProducerConfig::default());
    let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop(); // the newline ending the last line does not start another one
    }
    let acks: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            producer.put(&args.stream, (i + 1).to_string(), line.to_vec(), None)
        })
        .collect();
    let (mut failed, mut kinesis_records) = (0usize, HashSet::new());
    for (i, ack) in acks.into_iter().enumerate() {
        match ack.await {
            Ok(o) => {
                kinesis_records.insert((o.shard_id, o.sequence_number));
            }
            Err(e) => {
                failed += 1;
                eprintln!("line {}: {e}", i + 1);
            }
        }
    }
    producer.shutdown().await;
    println!(
        "sent {} of {} lines to {} in {} Kinesis records",
        lines.len() - failed,
        lines.len(),
        args.stream,
        kinesis_records.len()
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
