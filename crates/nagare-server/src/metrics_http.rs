//! The metrics endpoints, served on the Kinesis listener next to the API:
//!
//! - `GET /metrics`: Prometheus text exposition 0.0.4 (`kinesis_PutRecords_Success{StreamName="…"}`).
//! - `GET /metrics/json`: the same series grouped by stream and shard under their exact
//!   CloudWatch names, for tools.
//!
//! Both read the process-wide registry of [`nagare_metrics::install`]. They answer only `GET`
//! (and `HEAD`); any other method on these paths is a Kinesis request like any other path,
//! since AWS ignores the path (see [`crate::router`]).

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use nagare_metrics::Registry;

pub const PROMETHEUS_PATH: &str = "/metrics";
pub const JSON_PATH: &str = "/metrics/json";

fn respond(content_type: &'static str, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Scrapes must see current values, never a cached page.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub fn prometheus(registry: &Registry) -> Response<Body> {
    let text = nagare_metrics::prometheus::render(&registry.snapshot());
    respond(nagare_metrics::prometheus::CONTENT_TYPE, text.into_bytes())
}

pub fn json(registry: &Registry) -> Response<Body> {
    let doc = nagare_metrics::json::render(&registry.snapshot());
    respond("application/json", doc.to_string().into_bytes())
}
