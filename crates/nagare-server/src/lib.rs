//! The Kinesis-compatible HTTP server: awsJson1.1 over HTTP/1.1 and cleartext HTTP/2
//! (prior knowledge) on one port.
//!
//! - [`protocol`]: the envelope checks and response framing of spec §1.1–1.2.
//! - [`handlers`]: one thin function per operation.
//! - [`error`]: engine failure kinds → wire codes (exhaustive).
//! - [`subscribe`]: SubscribeToShard's event-stream responses.
//! - [`tls`]: the HTTPS listener.
//! - [`metrics_http`]: `GET /metrics` (Prometheus) and `GET /metrics/json` on the same port.
//!
//! [`start`] binds and serves until the returned [`RunningServer`] is shut down.

pub mod error;
pub mod handlers;
pub mod metrics_http;
pub mod protocol;
pub mod subscribe;
pub mod tls;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::routing::get;
use axum::serve::ListenerExt;
use futures::FutureExt;
use http::{Response, StatusCode};
use nagare_engine::clock::{Clock, SystemClock};
use nagare_engine::{Engine, EngineConfig};
use protocol::Envelope;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Largest request body accepted: a 10 MiB record base64-encodes to ~13.4 MiB, plus keys.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Everything `nagare serve` configures.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub engine: EngineConfig,
    /// How often whole segments past retention are deleted.
    pub retention_interval: Duration,
    /// An HTTPS listener beside the plain one.
    pub tls: Option<tls::TlsConfig>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open data directory: {0}")]
    Engine(#[from] nagare_engine::OpenError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot set up TLS: {0}")]
    Tls(#[from] tls::TlsError),
}

/// A server running on a Tokio runtime.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The HTTPS address and the certificate clients should trust, when TLS is on.
    pub tls: Option<(SocketAddr, PathBuf)>,
    pub engine: Engine,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, then syncs every log.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        let served = self.task.await.map_err(std::io::Error::other)?;
        if let Err(e) = self.engine.sync_all() {
            tracing::error!(error = %e, "final sync failed");
        }
        served
    }

    /// Resolves when the server stops on its own (it does not, short of an I/O error).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// The router: `GET /metrics` and `GET /metrics/json` answer metrics; every other path and
/// method (other methods on those two paths included) goes to the one Kinesis handler, as AWS
/// ignores paths.
///
/// The metrics come from the global recorder, which [`start_with_clock`] installs before the
/// engine opens; a caller building this router around its own engine must have called
/// [`nagare_metrics::install`] before opening it, or the engine's handles are no-ops.
pub fn router(engine: Engine) -> Router {
    let registry = nagare_metrics::install();
    Router::new()
        .route(
            metrics_http::PROMETHEUS_PATH,
            get(move || async move { metrics_http::prometheus(registry) }).fallback(handle),
        )
        .route(
            metrics_http::JSON_PATH,
            get(move || async move { metrics_http::json(registry) }).fallback(handle),
        )
        .fallback(handle)
        .with_state(engine)
}

async fn handle(State(engine): State<Engine>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return protocol::respond(StatusCode::PAYLOAD_TOO_LARGE, None, Vec::new());
    };
    match protocol::envelope(&parts.method, &parts.headers, parts.uri.query(), &bytes) {
        Envelope::Reply(r) => r,
        Envelope::Call(call) if call.op == nagare_proto::ops::Operation::SubscribeToShard => {
            subscribe::respond(&engine, call.body(&bytes), call.encoding).await
        }
        Envelope::Call(call) => {
            let op = call.op;
            // A bug must cost one request an InternalFailure, never the connection.
            let result = AssertUnwindSafe(handlers::dispatch(&engine, op, call.body(&bytes)))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    tracing::error!(operation = op.name(), "handler panicked");
                    Err(error::ServiceError(nagare_proto::WireError::new(
                        nagare_proto::ErrorCode::InternalFailure,
                        "Internal service failure.",
                    )))
                })
                // The handlers answer JSON; a CBOR request gets it transcoded.
                .and_then(|body| call.encode_reply(body).map_err(error::ServiceError));
            let outcome = if result.is_ok() { "ok" } else { "error" };
            metrics::counter!("nagare_requests_total", "operation" => op.name(), "outcome" => outcome).increment(1);
            match result {
                Ok(body) => {
                    protocol::respond(StatusCode::OK, Some(call.encoding.content_type()), body)
                }
                Err(error::ServiceError(e)) => protocol::error_response(&e, call.encoding),
            }
        }
    }
}

/// Opens the data directory, binds and serves in the background.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

pub async fn start_with_clock(
    config: ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, StartError> {
    // Before the engine opens: it registers every stream's metric handles as it loads them,
    // and a handle stays bound to the recorder installed at that moment.
    if !nagare_metrics::install().is_global() {
        tracing::warn!(
            "another metrics recorder was installed first; Nagare's metrics go to it and /metrics stays empty"
        );
    }
    let data_dir = config.data_dir.clone();
    let engine_config = config.engine.clone();
    let engine = tokio::task::spawn_blocking(move || Engine::open(&data_dir, engine_config, clock))
        .await
        .map_err(|e| StartError::Bind {
            addr: config.listen,
            source: std::io::Error::other(e),
        })??;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let (tx, mut rx) = watch::channel(false);
    let app = router(engine.clone());
    let tls = match &config.tls {
        Some(t) => {
            let (server_config, cert_path) = tls::server_config(&t.cert)?;
            let listener =
                TcpListener::bind(t.listen)
                    .await
                    .map_err(|source| StartError::Bind {
                        addr: t.listen,
                        source,
                    })?;
            let tls_addr = listener.local_addr().map_err(|source| StartError::Bind {
                addr: t.listen,
                source,
            })?;
            tokio::spawn(tls::serve(listener, server_config, app.clone(), rx.clone()));
            tracing::info!(addr = %tls_addr, cert = %cert_path.display(), "nagare listening with TLS");
            Some((tls_addr, cert_path))
        }
        None => None,
    };
    let mut stop = rx.clone();
    // Responses are written as soon as they are ready, and SubscribeToShard events are small
    // writes on a long-lived connection: without TCP_NODELAY, Nagle's algorithm holds an event
    // back until the client's delayed ACK (tens of milliseconds).
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|v| *v).await;
            })
            .await
    });
    let retention_engine = engine.clone();
    let interval = config.retention_interval;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = rx.wait_for(|v| *v) => return,
            }
            let e = retention_engine.clone();
            let _ = tokio::task::spawn_blocking(move || e.enforce_retention()).await;
        }
    });
    tracing::info!(%addr, "nagare listening");
    Ok(RunningServer {
        addr,
        tls,
        engine,
        shutdown: tx,
        task,
    })
}
