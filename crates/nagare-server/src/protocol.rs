//! The awsJson1.1 / awsCbor1.1 envelope: method, content type, `X-Amz-Target`, body and
//! authentication checks in the order AWS applies them (spec §1.1–1.2), and response framing.
//!
//! One request model: a CBOR body is transcoded to the JSON the JSON path expects as soon as
//! the content type says CBOR, and from there on the two differ only in how the answer is
//! encoded ([`Call::encoding`]). JSON bodies are borrowed as they came.

use axum::body::Body;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use nagare_proto::ops::Operation;
use nagare_proto::{
    CONTENT_TYPE_CBOR, CONTENT_TYPE_JSON, ErrorCode, TARGET_PREFIX, WireError, cbor,
};

/// The request encodings this server answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Cbor,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => CONTENT_TYPE_JSON,
            Encoding::Cbor => CONTENT_TYPE_CBOR,
        }
    }
}

/// What the envelope resolved to.
pub enum Envelope {
    /// A request for a known operation, authenticated as far as we check.
    Call(Call),
    /// Answer this right away.
    Reply(Response<Body>),
}

/// A request that passed the envelope.
pub struct Call {
    pub op: Operation,
    /// How the request came, and so how the answer goes.
    pub encoding: Encoding,
    /// The JSON a CBOR body transcoded to; `None` for JSON requests, whose body is used as is.
    transcoded: Option<Vec<u8>>,
}

impl Call {
    /// The JSON request body: `raw` itself for JSON requests, its transcoding for CBOR ones.
    pub fn body<'a>(&'a self, raw: &'a [u8]) -> &'a [u8] {
        self.transcoded.as_deref().unwrap_or(raw)
    }

    /// Encodes a handler's JSON answer the way the request came: unchanged for JSON,
    /// transcoded for CBOR (a failure there is a server bug: InternalFailure).
    pub fn encode_reply(&self, json: Vec<u8>) -> Result<Vec<u8>, WireError> {
        match self.encoding {
            Encoding::Json => Ok(json),
            Encoding::Cbor => cbor::json_to_cbor(&json).map_err(|e| {
                tracing::error!(operation = self.op.name(), error = %e, "response not transcodable to CBOR");
                WireError::new(ErrorCode::InternalFailure, "Internal service failure.")
            }),
        }
    }
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn id2() -> String {
    let bytes: [u8; 72] = std::array::from_fn(|_| rand::random());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A response with the headers every Kinesis response carries.
pub fn respond(status: StatusCode, content_type: Option<&str>, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-RequestId", v);
    }
    if let Ok(v) = HeaderValue::from_str(&id2()) {
        h.insert("x-amz-id-2", v);
    }
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(http::header::CONTENT_TYPE, ct);
    }
    r
}

/// An error in the request's encoding, with `x-amzn-ErrorType` (Java v2 reads it first).
pub fn error_response(err: &WireError, enc: Encoding) -> Response<Body> {
    let body = match enc {
        Encoding::Json => err.to_json(),
        Encoding::Cbor => cbor::ser_error(err),
    };
    let status = StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = respond(status, Some(enc.content_type()), body);
    if let Ok(v) = HeaderValue::from_str(err.code.as_str()) {
        r.headers_mut().insert("x-amzn-ErrorType", v);
    }
    r
}

fn xml_error(status: StatusCode, code: &str, message: Option<&str>) -> Response<Body> {
    let body = match message {
        Some(m) => format!("<{code}>\n  <Message>{m}</Message>\n</{code}>\n"),
        None => format!("<{code}/>\n"),
    };
    respond(status, None, body.into_bytes())
}

/// Applies the protocol-level checks. `query` is the raw query string.
pub fn envelope(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Envelope {
    if method != Method::POST {
        return Envelope::Reply(xml_error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            Some("Unable to determine service/operation name to be authorized"),
        ));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let content_type = header("content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    let encoding = match content_type {
        CONTENT_TYPE_JSON => Some(Encoding::Json),
        CONTENT_TYPE_CBOR => Some(Encoding::Cbor),
        _ => None,
    };
    let target = header("x-amz-target").unwrap_or_default();
    let (service, op_name) = target.split_once('.').unwrap_or((target, ""));
    let service_ok = TARGET_PREFIX.strip_suffix('.') == Some(service);
    let op = if service_ok {
        Operation::from_name(op_name)
    } else {
        None
    };

    if body.is_empty() {
        let code = if op.is_some() {
            ErrorCode::Serialization
        } else {
            ErrorCode::UnknownOperation
        };
        let enc = if encoding == Some(Encoding::Json) {
            Encoding::Json
        } else {
            Encoding::Cbor
        };
        return Envelope::Reply(error_response(&WireError::bare(code), enc));
    }
    let Some(encoding) = encoding else {
        if content_type == "application/json" {
            let parses = !is_malformed_json(body) && first_non_ws(body) == Some(b'{');
            let (status, inner) = if parses {
                (
                    StatusCode::NOT_FOUND,
                    r#"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#,
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    r#"{"__type":"com.amazon.coral.service#SerializationException"}"#,
                )
            };
            let body = format!(r#"{{"Output":{inner},"Version":"1.0"}}"#);
            return Envelope::Reply(respond(status, Some("application/json"), body.into_bytes()));
        }
        if service.is_empty() || op_name.is_empty() {
            return Envelope::Reply(xml_error(
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                Some("Unable to determine service/operation name to be authorized"),
            ));
        }
        return Envelope::Reply(xml_error(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            None,
        ));
    };
    let transcoded = match encoding {
        // Only the shape is checked here: the handler's typed parse rejects malformed JSON
        // with the same bare SerializationException, so a valid request is parsed once.
        // Requests that stop before that parse (unknown operation, failed authentication)
        // check the syntax below, keeping AWS's order of errors.
        Encoding::Json => {
            if first_non_ws(body) != Some(b'{') {
                return Envelope::Reply(error_response(
                    &WireError::bare(ErrorCode::Serialization),
                    encoding,
                ));
            }
            None
        }
        // `cbor_to_json` yields a JSON object or fails, so the JSON checks hold by
        // construction (the fuzz target `cbor_request` asserts it).
        Encoding::Cbor => match cbor::cbor_to_json(body) {
            Ok(json) => Some(json),
            Err(e) => return Envelope::Reply(error_response(&e, encoding)),
        },
    };
    let json = transcoded.as_deref().unwrap_or(body);
    let refuse = |err: WireError| {
        let err = if is_malformed_json(json) {
            WireError::bare(ErrorCode::Serialization)
        } else {
            err
        };
        Envelope::Reply(error_response(&err, encoding))
    };
    let Some(op) = op else {
        return refuse(WireError::bare(ErrorCode::UnknownOperation));
    };
    if let Some(err) = check_auth(headers, query) {
        return refuse(err);
    }
    Envelope::Call(Call {
        op,
        encoding,
        transcoded,
    })
}

/// Whether `body` is not one syntactically valid JSON value (error paths only).
pub(crate) fn is_malformed_json(body: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err()
}

fn first_non_ws(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// Structural SigV4 checks (signatures are not verified yet): a missing token, both header
/// and query auth, or a header lacking its required parameters.
fn check_auth(headers: &HeaderMap, query: Option<&str>) -> Option<WireError> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let params: Vec<(&str, &str)> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    let has_query_auth = params.iter().any(|(k, _)| *k == "X-Amz-Algorithm");
    match (auth, has_query_auth) {
        (Some(_), true) => Some(WireError::new(
            ErrorCode::InvalidSignature,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        )),
        (None, false) => Some(WireError::new(
            ErrorCode::MissingAuthenticationToken,
            "Missing Authentication Token",
        )),
        (Some(header), false) => {
            let given: Vec<&str> = header
                .split([',', ' '])
                .skip(1)
                .filter(|s| !s.is_empty())
                .filter_map(|kv| {
                    kv.trim()
                        .split_once('=')
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, _)| k)
                })
                .collect();
            let mut msg = String::new();
            for p in ["Credential", "Signature", "SignedHeaders"] {
                if !given.contains(&p) {
                    msg.push_str(&format!("Authorization header requires '{p}' parameter. "));
                }
            }
            if !headers.contains_key("x-amz-date") && !headers.contains_key("date") {
                msg.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
            }
            (!msg.is_empty()).then(|| {
                msg.push_str("Authorization=");
                msg.push_str(header);
                WireError::new(ErrorCode::IncompleteSignature, msg)
            })
        }
        (None, true) => {
            let mut msg = String::new();
            for p in [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Signature",
                "X-Amz-SignedHeaders",
                "X-Amz-Date",
            ] {
                if !params.iter().any(|(k, v)| *k == p && !v.is_empty()) {
                    msg.push_str(&format!("AWS query-string parameters must include '{p}'. "));
                }
            }
            (!msg.is_empty()).then(|| {
                msg.push_str("Re-examine the query-string parameters.");
                WireError::new(ErrorCode::IncompleteSignature, msg)
            })
        }
    }
}
