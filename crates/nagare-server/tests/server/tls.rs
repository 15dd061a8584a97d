//! HTTPS beside plain HTTP: ALPN h2 and http/1.1 with a self-signed certificate.

use crate::common::{TestServer, json_headers};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn tls_server() -> (TestServer, std::net::SocketAddr, std::path::PathBuf) {
    let certs = tempfile::tempdir().expect("tempdir");
    let dir = certs.keep();
    let t = TestServer::start_with(Arc::new(nagare_engine::clock::SystemClock), |c| {
        c.tls = Some(nagare_server::tls::TlsConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            cert: nagare_server::tls::CertSource::SelfSigned { dir: dir.clone() },
        });
    })
    .await;
    let (addr, cert) = t
        .server
        .as_ref()
        .and_then(|s| s.tls.clone())
        .expect("tls on");
    (t, addr, cert)
}

fn client_config(cert: &std::path::Path, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(cert).expect("pem") {
        roots.add(c.expect("cert")).expect("root");
    }
    let mut cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    cfg
}

async fn connect(
    addr: std::net::SocketAddr,
    cfg: rustls::ClientConfig,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    connector
        .connect("localhost".try_into().expect("name"), tcp)
        .await
        .expect("handshake")
}

#[tokio::test]
async fn serves_http1_over_tls_with_a_self_signed_certificate() {
    let (_t, addr, cert) = tls_server().await;
    let mut s = connect(addr, client_config(&cert, &[b"http/1.1"])).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let mut req =
        "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 2\r\n"
            .to_owned();
    for (k, v) in json_headers("Kinesis_20131202.ListStreams") {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n{}");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"HasMoreStreams\":false"), "{text}");
}

#[tokio::test]
async fn negotiates_http2_over_tls() {
    use http_body_util::{BodyExt, Full};
    let (_t, addr, cert) = tls_server().await;
    let s = connect(addr, client_config(&cert, &[b"h2", b"http/1.1"])).await;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(s),
    )
    .await
    .expect("h2");
    tokio::spawn(conn);
    let mut req = http::Request::post("/")
        .body(Full::new(bytes::Bytes::from_static(b"{}")))
        .expect("request");
    for (k, v) in json_headers("Kinesis_20131202.DescribeLimits") {
        req.headers_mut().insert(k, v.parse().expect("header"));
    }
    let resp = send.send_request(req).await.expect("send");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["ShardLimit"], 20000);
}
