//! The Kinesis wire model (awsJson1.1): one input/output pair per operation with AWS field
//! names, the error codes with their HTTP semantics, and the request validation that produces
//! AWS's exact `ValidationException` / `SerializationException` texts.
//!
//! - [`error`]: [`ErrorCode`] (`__type`), status, retryability; [`WireError`].
//! - [`validate`]: the batched "N validation errors detected" builder.
//! - [`types`]: JSON helpers for blobs, timestamps and integers.
//! - [`typecheck`]: the slow path run only when a body does not deserialize, to name the
//!   offending member the way AWS does.
//! - [`ops`]: the operations, one module per family.
//! - [`cbor`]: CBOR (RFC 8949) and the `x-amz-cbor-1.1` ↔ JSON transcoding, so CBOR
//!   requests take the JSON path unchanged.
//! - `conformance` (tests and `fuzz/` only, feature `testing`): every operation's parse and
//!   validation as one call.
//! - [`eventstream`]: the binary event-stream framing of SubscribeToShard.
//!
//! Framework-free: the server crate turns these into HTTP responses.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod cbor;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod error;
pub mod eventstream;
pub mod ops;
pub mod typecheck;
pub mod types;
pub mod validate;

pub use error::{ErrorCode, WireError};
pub use validate::Violations;

/// `X-Amz-Target` prefix of every Kinesis operation.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";
/// The JSON protocol content type.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.1";
/// The CBOR protocol content type (Java SDKs).
pub const CONTENT_TYPE_CBOR: &str = "application/x-amz-cbor-1.1";
