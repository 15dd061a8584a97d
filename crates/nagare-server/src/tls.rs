//! HTTPS: a second listener serving the same router over TLS, with ALPN `h2` and
//! `http/1.1` (the KPL always uses TLS; Java SDKs negotiate h2 for SubscribeToShard).

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Where the certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// PEM files.
    Files { cert: PathBuf, key: PathBuf },
    /// A certificate for `localhost` and `127.0.0.1` generated at start and written to `dir`
    /// (`nagare-cert.pem`, `nagare-key.pem`) so clients can trust it.
    SelfSigned { dir: PathBuf },
}

#[derive(Clone, Debug)]
pub struct TlsConfig {
    pub listen: SocketAddr,
    pub cert: CertSource,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("no certificate or private key found in {0}")]
    Empty(String),
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    #[error("invalid certificate or key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Builds the rustls configuration and returns the certificate path clients should trust.
pub fn server_config(source: &CertSource) -> Result<(ServerConfig, PathBuf), TlsError> {
    let (certs, key, cert_path) = match source {
        CertSource::Files { cert, key } => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| TlsError::Read {
                    path: cert.display().to_string(),
                    source: std::io::Error::other(e),
                })?
                .filter_map(Result::ok)
                .collect();
            if certs.is_empty() {
                return Err(TlsError::Empty(cert.display().to_string()));
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|_| TlsError::Empty(key.display().to_string()))?;
            (certs, key, cert.clone())
        }
        CertSource::SelfSigned { dir } => {
            let generated = rcgen::generate_simple_self_signed(vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
            ])
            .map_err(|e| TlsError::Generate(e.to_string()))?;
            let cert_path = dir.join("nagare-cert.pem");
            let key_path = dir.join("nagare-key.pem");
            let write = |p: &Path, text: String| {
                std::fs::write(p, text).map_err(|source| TlsError::Read {
                    path: p.display().to_string(),
                    source,
                })
            };
            std::fs::create_dir_all(dir).map_err(|source| TlsError::Read {
                path: dir.display().to_string(),
                source,
            })?;
            write(&cert_path, generated.cert.pem())?;
            write(&key_path, generated.signing_key.serialize_pem())?;
            let key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
            let certs = vec![generated.cert.der().clone()];
            (certs, key, cert_path)
        }
    };
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, cert_path))
}

/// Accepts TLS connections until `stop` turns true; each connection is served with HTTP/1.1
/// or HTTP/2 as negotiated (or detected, without ALPN).
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    app: Router,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "TLS accept failed");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "TLS connection ended with an error");
            }
        });
    }
}
