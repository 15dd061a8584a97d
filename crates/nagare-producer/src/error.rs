//! What a `put` can end with besides success.

use std::fmt;

/// An error the service (or the transport) returned for a request or an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    /// The wire error code (`ProvisionedThroughputExceededException`, `InternalFailure`, …);
    /// for a transport failure a producer-made code (`Timeout`, `Dispatch`, `Response`).
    pub code: String,
    /// The message that came with it.
    pub message: String,
}

impl fmt::Display for ErrorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// Why a user record was not put.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PutError {
    /// The record breaks a Kinesis limit (empty or too long partition key, explicit hash key
    /// that is not a 128-bit decimal, data and key over 1 MiB); it was never sent.
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// Not acknowledged within `RecordTtl`; `last_error` is the last failure seen, if any.
    #[error("record expired after {attempts} attempt(s){}", last_error.as_ref().map(|e| format!("; last error {e}")).unwrap_or_default())]
    Expired {
        /// PutRecords requests that carried the record.
        attempts: u32,
        /// The last failure, if any attempt was answered.
        last_error: Option<ErrorInfo>,
    },
    /// Throttled while `FailIfThrottled` is on.
    #[error("record throttled after {attempts} attempt(s): {error}")]
    Throttled {
        /// PutRecords requests that carried the record.
        attempts: u32,
        /// The throttling error.
        error: ErrorInfo,
    },
    /// The service refused the record or its request for a reason retrying does not fix
    /// (validation, missing stream, access, KMS state).
    #[error("record rejected after {attempts} attempt(s): {error}")]
    Rejected {
        /// PutRecords requests that carried the record.
        attempts: u32,
        /// The error that cannot be retried.
        error: ErrorInfo,
    },
    /// `put` after `shutdown`.
    #[error("the producer is shut down")]
    ShutDown,
}
