//! The SDK client and the few control-plane calls every scenario needs.

use aws_credential_types::Credentials;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Region};
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use std::time::{Duration, Instant};

/// Error code of a throttled request or record.
pub const THROTTLE_CODE: &str = "ProvisionedThroughputExceededException";

/// Build a client for `endpoint` over plain HTTP.
///
/// The SDK's own retries are switched off: the scenarios retry throttled and failed calls
/// themselves so that every throttle and error is counted instead of hidden inside the SDK.
pub fn build(endpoint: &str, region: &str, connections: usize) -> anyhow::Result<Client> {
    anyhow::ensure!(
        endpoint.starts_with("http://"),
        "the benchmark speaks plain HTTP; endpoint must start with http:// (got {endpoint})"
    );
    // `build_http` is hidden from the docs but public: it is the smithy connector without TLS,
    // which is what a loopback benchmark wants (no handshake, no rustls in the profile).
    let http = aws_smithy_http_client::Builder::new()
        .pool_max_idle_per_host(connections)
        .build_http();
    let config = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "AKIDNAGAREBENCH",
            "nagare-bench-secret",
            None,
            None,
            "nagare-bench",
        ))
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    Ok(Client::from_conf(config))
}

/// How a failed call should be counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// ProvisionedThroughputExceeded: counted as a throttle and retried.
    Throttle,
    /// Anything else: counted as an error and retried a bounded number of times.
    Error,
}

/// Classify an SDK error by its wire error code.
pub fn classify<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Failure {
    if err.code() == Some(THROTTLE_CODE) {
        Failure::Throttle
    } else {
        Failure::Error
    }
}

/// Backoff before retry number `attempt` (0-based): 20 ms doubling, capped at 1 s, with jitter.
pub fn backoff(attempt: u32) -> Duration {
    let base = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let jitter = rand::random_range(0..=base / 2);
    Duration::from_millis(base / 2 + jitter)
}

/// What [`ensure_stream`] found or made.
pub struct StreamSetup {
    /// True when this run created the stream (and so should delete it).
    pub created: bool,
    /// Open shard ids, in ListShards order.
    pub shard_ids: Vec<String>,
}

/// Create `stream` with `shards` shards unless it exists, wait for ACTIVE, list its shards.
pub async fn ensure_stream(
    client: &Client,
    stream: &str,
    shards: u32,
) -> anyhow::Result<StreamSetup> {
    let shard_count = i32::try_from(shards)?;
    let created = match client
        .create_stream()
        .stream_name(stream)
        .shard_count(shard_count)
        .send()
        .await
    {
        Ok(_) => true,
        Err(e) if e.code() == Some("ResourceInUseException") => false,
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("CreateStream {stream}")));
        }
    };
    wait_active(client, stream).await?;
    let mut shard_ids = Vec::new();
    let mut next_token: Option<String> = None;
    loop {
        let req = match &next_token {
            Some(t) => client.list_shards().next_token(t),
            None => client.list_shards().stream_name(stream),
        };
        let out = req
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e).context(format!("ListShards {stream}")))?;
        for shard in out.shards() {
            let open = shard
                .sequence_number_range()
                .is_none_or(|r| r.ending_sequence_number().is_none());
            if open {
                shard_ids.push(shard.shard_id().to_owned());
            }
        }
        match out.next_token() {
            Some(t) => next_token = Some(t.to_owned()),
            None => break,
        }
    }
    anyhow::ensure!(!shard_ids.is_empty(), "stream {stream} has no open shards");
    Ok(StreamSetup { created, shard_ids })
}

async fn wait_active(client: &Client, stream: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let out = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| {
                anyhow::Error::new(e).context(format!("DescribeStreamSummary {stream}"))
            })?;
        let status = out
            .stream_description_summary()
            .map(|s| s.stream_status().as_str().to_owned())
            .unwrap_or_default();
        if status == "ACTIVE" {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "stream {stream} not ACTIVE after 120 s (status {status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Delete `stream` (without waiting for it to disappear).
pub async fn delete_stream(client: &Client, stream: &str) -> anyhow::Result<()> {
    client
        .delete_stream()
        .stream_name(stream)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("DeleteStream {stream}")))?;
    Ok(())
}

/// A random partition key (16 hex digits), so records spread over all shards.
pub fn random_partition_key<R: rand::Rng>(rng: &mut R) -> String {
    format!("{:016x}", rng.random::<u64>())
}
