//! `nagare`: the Kinesis-compatible streaming server and its tools.
//!
//! `nagare serve` runs the server with an embedded data directory; no other service is needed.

use clap::{Parser, Subcommand, ValueEnum};
use nagare_engine::EngineConfig;
use nagare_log::{FsyncPolicy, LogConfig};
use nagare_server::ServerConfig;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "nagare",
    version,
    about = "A durable, Amazon Kinesis Data Streams-compatible streaming server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (HTTP/1.1 and cleartext HTTP/2 on one port).
    Serve(ServeArgs),
    /// Benchmark any Kinesis endpoint through the AWS SDK; prints one JSON line.
    Bench(nagare_bench::BenchArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Fsync {
    /// Acknowledge a write only after it is fsynced (concurrent writes share one fsync).
    Always,
    /// Fsync every --fsync-interval-ms; a power loss may lose the last interval, a crash not.
    Interval,
    /// Never fsync (tests and throwaway data).
    Never,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NAGARE_LISTEN", default_value = "127.0.0.1:4567")]
    listen: SocketAddr,
    /// Directory holding the logs and metadata (created if missing).
    #[arg(long, env = "NAGARE_DATA_DIR", default_value = "./nagare-data")]
    data_dir: PathBuf,
    /// Region used in ARNs.
    #[arg(long, env = "NAGARE_REGION", default_value = "us-east-1")]
    region: String,
    /// Account id used in ARNs and error messages.
    #[arg(long, env = "NAGARE_ACCOUNT_ID", default_value = "000000000000")]
    account_id: String,
    /// How long a new stream stays CREATING.
    #[arg(long, env = "NAGARE_CREATE_STREAM_MS", default_value_t = 0)]
    create_stream_ms: u64,
    /// How long a stream stays UPDATING after a change.
    #[arg(long, env = "NAGARE_UPDATE_STREAM_MS", default_value_t = 0)]
    update_stream_ms: u64,
    /// How long a deleted stream stays DELETING.
    #[arg(long, env = "NAGARE_DELETE_STREAM_MS", default_value_t = 0)]
    delete_stream_ms: u64,
    /// Account-wide open shard quota.
    #[arg(long, env = "NAGARE_SHARD_LIMIT", default_value_t = 20_000)]
    shard_limit: u32,
    /// Enforce AWS's throughput limits: per shard 1 MiB/s and 1,000 records/s of writes,
    /// 2 MiB/s and 5 calls/s of GetRecords, and the control-plane call rates.
    #[arg(
        long,
        env = "NAGARE_THROUGHPUT_LIMITS",
        value_enum,
        default_value = "on"
    )]
    throughput_limits: Switch,
    /// When an acknowledged write is on disk.
    #[arg(long, env = "NAGARE_FSYNC", value_enum, default_value = "always")]
    fsync: Fsync,
    /// Interval for --fsync interval.
    #[arg(long, env = "NAGARE_FSYNC_INTERVAL_MS", default_value_t = 100)]
    fsync_interval_ms: u64,
    /// Threads running group-commit fsyncs under --fsync always (one log's fsync at a time
    /// each). More keep more fsyncs in flight for devices with parallel queues; fewer gather
    /// more records per fsync and spend less CPU.
    #[arg(long, env = "NAGARE_FSYNC_THREADS", default_value_t = 2,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    fsync_threads: u16,
    /// SubscribeToShard streams end after this many seconds (AWS: 300); clients resubscribe.
    #[arg(long, env = "NAGARE_SUBSCRIPTION_LIFETIME_SECS", default_value_t = 300)]
    subscription_lifetime_secs: u64,
    /// Also serve HTTPS (ALPN h2 and http/1.1) on this address.
    #[arg(long, env = "NAGARE_TLS_LISTEN")]
    tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for --tls-listen (with --tls-key).
    #[arg(
        long,
        env = "NAGARE_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-listen.
    #[arg(long, env = "NAGARE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Generate a certificate for localhost/127.0.0.1 at start (written under the data dir, in
    /// tls/nagare-cert.pem; the path is logged) instead of --tls-cert/--tls-key.
    #[arg(long, env = "NAGARE_TLS_SELF_SIGNED")]
    tls_self_signed: bool,
    /// Seconds between passes that delete segments past retention.
    #[arg(long, env = "NAGARE_RETENTION_CHECK_SECS", default_value_t = 60)]
    retention_check_secs: u64,
}

impl ServeArgs {
    fn config(&self) -> ServerConfig {
        let fsync = match self.fsync {
            Fsync::Always => FsyncPolicy::Always,
            Fsync::Interval => FsyncPolicy::Interval(Duration::from_millis(self.fsync_interval_ms)),
            Fsync::Never => FsyncPolicy::Never,
        };
        ServerConfig {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            engine: EngineConfig {
                region: self.region.clone(),
                account_id: self.account_id.clone(),
                create_delay: Duration::from_millis(self.create_stream_ms),
                update_delay: Duration::from_millis(self.update_stream_ms),
                delete_delay: Duration::from_millis(self.delete_stream_ms),
                shard_limit: self.shard_limit,
                throughput_limits: self.throughput_limits == Switch::On,
                subscription_lifetime: Duration::from_secs(self.subscription_lifetime_secs.max(1)),
                subscription_heartbeat: Duration::from_millis(1000),
                log: LogConfig {
                    fsync,
                    commit_threads: usize::from(self.fsync_threads),
                    ..LogConfig::default()
                },
            },
            retention_interval: Duration::from_secs(self.retention_check_secs.max(1)),
            tls: self.tls_listen.map(|listen| nagare_server::tls::TlsConfig {
                listen,
                cert: match (&self.tls_cert, &self.tls_key) {
                    (Some(cert), Some(key)) => nagare_server::tls::CertSource::Files {
                        cert: cert.clone(),
                        key: key.clone(),
                    },
                    _ => nagare_server::tls::CertSource::SelfSigned {
                        dir: self.data_dir.join("tls"),
                    },
                },
            }),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Each shard's log keeps a few files open; thousands of shards need more than the usual
    // soft limit of 1024, so raise it to the hard limit.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
    if args.tls_listen.is_some() && args.tls_cert.is_none() && !args.tls_self_signed {
        anyhow::bail!(
            "--tls-listen needs a certificate: --tls-cert and --tls-key, or --tls-self-signed"
        );
    }
    let server = nagare_server::start(args.config()).await?;
    // Tools (tests, scripts) read this line to find a port-0 server.
    println!("nagare listening on http://{}", server.addr);
    if let Some((addr, cert)) = &server.tls {
        println!(
            "nagare listening on https://{addr} (certificate {})",
            cert.display()
        );
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NAGARE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => rt.block_on(serve(args)),
        Command::Bench(args) => rt.block_on(nagare_bench::run(args)),
    }
}
