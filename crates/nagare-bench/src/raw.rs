//! The lean data-plane client (`--client raw`): hand-built JSON bodies on one keep-alive
//! HTTP/1.1 connection per task, signed with SigV4 like any SDK request.
//!
//! Why it exists: on a small machine the load generator shares the cores with the server. The
//! SDK spends about as much CPU per PutRecord call as the server does (≈ 60 µs here), so an
//! SDK-driven run measures the client as much as the server. This client spends a few µs per
//! call (a small JSON body, two SHA-256 and one HMAC), which leaves the cores to the server
//! under test. Requests are ordinary signed Kinesis requests, so it can drive any endpoint.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{Failure, THROTTLE_CODE};
use nagare_types::time::UtcDateTime;

const ACCESS_KEY: &str = "AKIDNAGAREBENCH";
const SECRET_KEY: &str = "nagare-bench-secret";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// Where requests go and how they are signed; shared by every connection of a run.
pub struct RawEndpoint {
    /// `host:port`, also the signed `host` header.
    authority: String,
    region: String,
    /// The SigV4 signing key of one day (`YYYYMMDD`), derived once per day, not per request.
    key: std::sync::Mutex<(String, Vec<u8>)>,
}

impl RawEndpoint {
    /// Parse an `http://host:port` endpoint.
    pub fn new(endpoint: &str, region: &str) -> anyhow::Result<Arc<Self>> {
        let authority = endpoint
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("endpoint must start with http:// (got {endpoint})"))?
            .trim_end_matches('/');
        anyhow::ensure!(
            !authority.is_empty() && !authority.contains('/'),
            "endpoint must be http://host:port (got {endpoint})"
        );
        Ok(Arc::new(RawEndpoint {
            authority: authority.to_owned(),
            region: region.to_owned(),
            key: std::sync::Mutex::new((String::new(), Vec::new())),
        }))
    }

    /// The `Authorization` header of a request with this body, target and `X-Amz-Date`.
    fn authorization(&self, amz_date: &str, target: &str, body: &[u8]) -> String {
        let day = &amz_date[..8];
        let mut canonical = String::with_capacity(320);
        let _ = write!(
            canonical,
            "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{}\nx-amz-date:{amz_date}\n\
             x-amz-target:{target}\n\ncontent-type;host;x-amz-date;x-amz-target\n{}",
            self.authority,
            hex(&Sha256::digest(body))
        );
        let scope = format!("{day}/{}/kinesis/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex(&Sha256::digest(canonical.as_bytes()))
        );
        let signature = {
            let mut cached = self.key.lock().unwrap_or_else(|e| e.into_inner());
            if cached.0 != day {
                *cached = (day.to_owned(), signing_key(day, &self.region));
            }
            hex(&hmac(&cached.1, to_sign.as_bytes()))
        };
        format!(
            "AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={signature}"
        )
    }
}

/// SigV4's derived key: HMAC chain over the day, the region, the service and "aws4_request".
fn signing_key(day: &str, region: &str) -> Vec<u8> {
    let mut key = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), day.as_bytes());
    for part in [region, "kinesis", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    key
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time in seconds (UTC).
pub(crate) fn amz_date(unix_secs: u64) -> String {
    let t = UtcDateTime::from_unix_secs(i64::try_from(unix_secs).unwrap_or(i64::MAX));
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Why a call failed, already classified for counting.
#[derive(Debug)]
pub struct CallError {
    pub failure: Failure,
    pub detail: String,
}

/// One keep-alive HTTP/1.1 connection driven inline by the calling task (no connection task,
/// no channel: one write and one or two reads per call); reconnects after a transport error.
pub struct RawConn {
    endpoint: Arc<RawEndpoint>,
    stream: Option<TcpStream>,
    /// Request head and body of the call in progress.
    out: Vec<u8>,
    /// Response bytes read so far.
    input: Vec<u8>,
}

/// A parsed response: status and body.
struct Response {
    status: u16,
    body: Vec<u8>,
    close: bool,
}

impl RawConn {
    pub fn new(endpoint: Arc<RawEndpoint>) -> Self {
        RawConn {
            endpoint,
            stream: None,
            out: Vec::with_capacity(1024),
            input: Vec::with_capacity(4096),
        }
    }

    /// POST one signed request for `target` (`Kinesis_20131202.<Op>`); the body of a 200.
    pub async fn call(&mut self, target: &str, body: &[u8]) -> Result<Vec<u8>, CallError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let date = amz_date(now);
        let auth = self.endpoint.authorization(&date, target, body);
        self.out.clear();
        let _ = write!(
            StrWriter(&mut self.out),
            "POST / HTTP/1.1\r\nhost: {}\r\ncontent-type: {CONTENT_TYPE}\r\n\
             x-amz-date: {date}\r\nx-amz-target: {target}\r\nauthorization: {auth}\r\n\
             content-length: {}\r\n\r\n",
            self.endpoint.authority,
            body.len()
        );
        self.out.extend_from_slice(body);
        let response = match self.exchange().await {
            Ok(r) => r,
            Err(e) => {
                self.stream = None;
                return Err(CallError {
                    failure: Failure::Error,
                    detail: format!("transport: {e}"),
                });
            }
        };
        if response.close {
            self.stream = None;
        }
        if (200..300).contains(&response.status) {
            return Ok(response.body);
        }
        let text = String::from_utf8_lossy(&response.body).into_owned();
        let failure = if text.contains(THROTTLE_CODE) {
            Failure::Throttle
        } else {
            Failure::Error
        };
        Err(CallError {
            failure,
            detail: format!("HTTP {}: {text}", response.status),
        })
    }

    async fn exchange(&mut self) -> std::io::Result<Response> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(&self.endpoint.authority).await?;
            tcp.set_nodelay(true)?;
            self.stream = Some(tcp);
        }
        let stream = self.stream.as_mut().expect("connected above");
        stream.write_all(&self.out).await?;
        self.input.clear();
        let (status, head_len, framing, close) = loop {
            if stream.read_buf(&mut self.input).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before the response head",
                ));
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.input).map_err(std::io::Error::other)? {
                httparse::Status::Partial => continue,
                httparse::Status::Complete(head_len) => {
                    let mut framing = Framing::UntilClose;
                    let mut close = false;
                    for h in parsed.headers.iter() {
                        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
                        if h.name.eq_ignore_ascii_case("content-length") {
                            framing =
                                Framing::Length(value.parse().map_err(std::io::Error::other)?);
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                            && value.eq_ignore_ascii_case("chunked")
                        {
                            framing = Framing::Chunked;
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = value.eq_ignore_ascii_case("close");
                        }
                    }
                    break (parsed.code.unwrap_or(0), head_len, framing, close);
                }
            }
        };
        let body = match framing {
            Framing::Length(len) => {
                while self.input.len() < head_len + len {
                    if stream.read_buf(&mut self.input).await? == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                }
                self.input[head_len..head_len + len].to_vec()
            }
            Framing::Chunked => loop {
                if let Some(body) = dechunk(&self.input[head_len..])? {
                    break body;
                }
                if stream.read_buf(&mut self.input).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            },
            Framing::UntilClose => {
                while stream.read_buf(&mut self.input).await? != 0 {}
                return Ok(Response {
                    status,
                    body: self.input[head_len..].to_vec(),
                    close: true,
                });
            }
        };
        Ok(Response {
            status,
            body,
            close,
        })
    }
}

/// How the response body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// The body of a complete chunked encoding, or `None` when more bytes are needed.
fn dechunk(mut data: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text = std::str::from_utf8(&data[..eol]).map_err(std::io::Error::other)?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(std::io::Error::other)?;
        let rest = &data[eol + 2..];
        if size == 0 {
            // Last chunk; no trailers are expected from a Kinesis endpoint.
            return Ok(rest.starts_with(b"\r\n").then_some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        data = &rest[size + 2..];
    }
}

/// Append `s` to `out` as a JSON string (quotes and escapes included).
pub(crate) fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(StrWriter(out), "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

struct StrWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for StrWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_formats_utc_calendar_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(amz_date(1_795_700_000), "20261126T133320Z");
    }

    #[test]
    fn signature_matches_the_aws_sigv4_reference_derivation() {
        // The signing-key chain of AWS's published example (secret
        // wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830, us-east-1, iam) gives
        // c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9.
        let mut key = hmac(b"AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", b"20150830");
        for part in ["us-east-1", "iam", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn authorization_is_what_the_aws_sigv4_crate_computes_for_the_same_request() {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let endpoint = RawEndpoint::new("http://127.0.0.1:4567", "eu-west-1").unwrap();
        let unix = 1_795_700_000;
        let date = amz_date(unix);
        let target = "Kinesis_20131202.PutRecord";
        let body = br#"{"StreamName":"s","PartitionKey":"k","Data":"AAEC"}"#;
        let ours = endpoint.authorization(&date, target, body);

        let identity =
            aws_credential_types::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test")
                .into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-1")
            .name("kinesis")
            .time(UNIX_EPOCH + std::time::Duration::from_secs(unix))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let headers = [
            ("content-type", CONTENT_TYPE),
            ("host", "127.0.0.1:4567"),
            ("x-amz-target", target),
        ];
        let request = SignableRequest::new(
            "POST",
            "http://127.0.0.1:4567/",
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (_, signature) = sign(request, &params).unwrap().into_parts();
        assert!(
            ours.ends_with(&format!("Signature={signature}")),
            "ours: {ours}, aws-sigv4: {signature}"
        );
        assert!(
            ours.contains("Credential=AKIDNAGAREBENCH/20261126/eu-west-1/kinesis/aws4_request")
        );
    }

    #[test]
    fn dechunk_waits_for_the_last_chunk_and_joins_the_data() {
        assert_eq!(dechunk(b"3\r\nabc\r\n").unwrap(), None);
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            Some(b"abcde".to_vec())
        );
        assert!(dechunk(b"zz\r\n").is_err());
    }

    #[test]
    fn json_string_escapes_quotes_backslashes_and_controls() {
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\c\nd✓");
        assert_eq!(String::from_utf8(out).unwrap(), "\"a\\\"b\\\\c\\u000ad✓\"");
    }
}
