//! The harness: a server on port 0, an SDK client pointed at it, and a raw HTTP helper.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use nagare_engine::clock::{Clock, ManualClock, SystemClock};
use nagare_engine::{EngineConfig, FsyncPolicy};
use nagare_server::{RunningServer, ServerConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The `(code, message)` of an SDK error, for assertions.
pub fn err_parts<E: aws_sdk_kinesis::error::ProvideErrorMetadata>(e: &E) -> (String, String) {
    (
        e.code().unwrap_or_default().to_owned(),
        e.message().unwrap_or_default().to_owned(),
    )
}

pub struct TestServer {
    pub server: Option<RunningServer>,
    pub client: Client,
    pub dir: TempDir,
}

pub fn config(dir: &Path) -> ServerConfig {
    let mut engine = EngineConfig::default();
    engine.log.fsync = FsyncPolicy::Never;
    // Tests that exercise throttling turn limits on themselves.
    engine.throughput_limits = false;
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.to_path_buf(),
        engine,
        retention_interval: Duration::from_secs(3600),
        tls: None,
    }
}

pub fn client(addr: std::net::SocketAddr) -> Client {
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(format!("http://{addr}"))
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(Arc::new(SystemClock), |_| {}).await
    }

    pub async fn start_with(
        clock: Arc<dyn Clock>,
        tweak: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = config(dir.path());
        tweak(&mut cfg);
        let server = nagare_server::start_with_clock(cfg, clock)
            .await
            .expect("start");
        let client = client(server.addr);
        TestServer {
            server: Some(server),
            client,
            dir,
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().expect("running").addr
    }

    /// Stops the server and starts a new one on the same data directory.
    pub async fn restart(&mut self, clock: Arc<dyn Clock>) {
        if let Some(s) = self.server.take() {
            s.shutdown().await.expect("shutdown");
        }
        let server = nagare_server::start_with_clock(config(self.dir.path()), clock)
            .await
            .expect("restart");
        self.client = client(server.addr);
        self.server = Some(server);
    }

    pub async fn create_stream(&self, name: &str, shards: i32) {
        self.client
            .create_stream()
            .stream_name(name)
            .shard_count(shards)
            .send()
            .await
            .expect("create");
    }

    /// A raw request; returns (status, headers, body).
    pub async fn raw<H: AsRef<str>>(
        &self,
        method: &str,
        headers: &[(&str, H)],
        body: &[u8],
    ) -> RawResponse {
        raw_request(self.addr(), method, headers, body).await
    }

    /// A signed-looking JSON call to `op`.
    pub async fn call(&self, op: &str, body: &str) -> RawResponse {
        let target = format!("Kinesis_20131202.{op}");
        self.raw("POST", &json_headers(&target), body.as_bytes())
            .await
    }
}

pub fn manual_clock_now() -> ManualClock {
    ManualClock::new(SystemClock.now_ms())
}

pub const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123";

pub fn json_headers(target: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/x-amz-json-1.1".to_owned()),
        ("X-Amz-Target", target.to_owned()),
        ("Authorization", AUTH.to_owned()),
        ("X-Amz-Date", "20260101T000000Z".to_owned()),
    ]
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts an AWS JSON error: status, `__type` and message.
    pub fn assert_error(&self, status: u16, code: &str, message: Option<&str>) {
        assert_eq!(self.status, status, "status of {}", self.text());
        let v = self.json();
        assert_eq!(v["__type"], code, "body {}", self.text());
        assert_eq!(self.header("x-amzn-ErrorType"), Some(code));
        match message {
            Some(m) => {
                let got = v
                    .get("message")
                    .or_else(|| v.get("Message"))
                    .and_then(|m| m.as_str());
                assert_eq!(got, Some(m), "body {}", self.text());
            }
            None => assert!(
                v.get("message").is_none() && v.get("Message").is_none(),
                "body {}",
                self.text()
            ),
        }
    }
}

/// HTTP/1.1 over a fresh connection with `Connection: close`.
pub async fn raw_request<H: AsRef<str>>(
    addr: std::net::SocketAddr,
    method: &str,
    headers: &[(&str, H)],
    body: &[u8],
) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {}\r\n", v.as_ref()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    parse_response(&buf)
}

fn parse_response(buf: &[u8]) -> RawResponse {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[nl + 2..nl + 2 + n]);
        b = &b[nl + 2 + n + 2..];
    }
    out
}
