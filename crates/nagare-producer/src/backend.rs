//! The two Kinesis calls the producer makes (PutRecords, ListShards), behind a small trait so
//! the pipeline can be tested against a scripted fake with paused time. The real one is the
//! official SDK client.

use crate::error::ErrorInfo;
use crate::shard_map::ShardRange;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use nagare_types::{HashKey, HashKeyRange};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One PutRecords entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Owned, as the SDK's `Blob` wants it: a raw record's data is copied once into it (a
    /// shared `Bytes` would be copied by the conversion anyway), an aggregate's encoding is
    /// moved in.
    pub data: Vec<u8>,
    pub partition_key: String,
    pub explicit_hash_key: Option<String>,
}

/// One PutRecords result, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EntryResult {
    Ok {
        shard_id: Arc<str>,
        sequence_number: Arc<str>,
    },
    Failed(ErrorInfo),
}

/// A whole-request failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RequestError {
    pub error: ErrorInfo,
    /// False when retrying cannot help (see [`is_retryable_code`]).
    pub retryable: bool,
}

/// The wire error code of a throttled request or entry.
pub(crate) const THROTTLED: &str = "ProvisionedThroughputExceededException";

/// Whether a request or entry failing with `code` may succeed if sent again. Throttling,
/// internal errors and unknown codes are retried (the KPL retries everything until the TTL);
/// codes that mean the request itself is wrong, or the stream or key is unusable, are not.
pub(crate) fn is_retryable_code(code: &str) -> bool {
    !matches!(
        code,
        "ValidationException"
            | "InvalidArgumentException"
            | "ResourceNotFoundException"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "MissingAuthenticationTokenException"
            | "IncompleteSignature"
            | "KMSDisabledException"
            | "KMSInvalidStateException"
            | "KMSAccessDeniedException"
            | "KMSNotFoundException"
            | "KMSOptInRequired"
    )
}

pub(crate) trait Backend: Send + Sync + 'static {
    fn put_records(
        &self,
        stream: Arc<str>,
        entries: Vec<Entry>,
    ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>>;

    /// The stream's open shards (all pages).
    fn list_shards(&self, stream: Arc<str>) -> BoxFuture<Result<Vec<ShardRange>, RequestError>>;
}

fn request_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> RequestError {
    let (code, message) = match &e {
        SdkError::ServiceError(_) => (
            e.code().unwrap_or("Unknown").to_owned(),
            e.message().unwrap_or_default().to_owned(),
        ),
        SdkError::TimeoutError(_) => ("Timeout".to_owned(), format!("{e}")),
        SdkError::DispatchFailure(_) => ("Dispatch".to_owned(), format!("{e:?}")),
        SdkError::ResponseError(_) => ("Response".to_owned(), format!("{e:?}")),
        SdkError::ConstructionFailure(_) => ("Construction".to_owned(), format!("{e:?}")),
        _ => ("Unknown".to_owned(), format!("{e:?}")),
    };
    let retryable = match &e {
        SdkError::ConstructionFailure(_) => false,
        _ => is_retryable_code(&code),
    };
    RequestError {
        error: ErrorInfo { code, message },
        retryable,
    }
}

/// The real backend: the SDK client as the user configured it.
pub(crate) struct SdkBackend(pub Client);

impl Backend for SdkBackend {
    fn put_records(
        &self,
        stream: Arc<str>,
        entries: Vec<Entry>,
    ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>> {
        let client = self.0.clone();
        Box::pin(async move {
            let n = entries.len();
            let mut records = Vec::with_capacity(n);
            for e in entries {
                let entry = PutRecordsRequestEntry::builder()
                    .data(Blob::new(e.data))
                    .partition_key(e.partition_key)
                    .set_explicit_hash_key(e.explicit_hash_key)
                    .build()
                    .map_err(|e| RequestError {
                        error: ErrorInfo {
                            code: "Construction".to_owned(),
                            message: e.to_string(),
                        },
                        retryable: false,
                    })?;
                records.push(entry);
            }
            let out = client
                .put_records()
                .stream_name(&*stream)
                .set_records(Some(records))
                .send()
                .await
                .map_err(request_error)?;
            if out.records().len() != n {
                return Err(RequestError {
                    error: ErrorInfo {
                        code: "Response".to_owned(),
                        message: format!(
                            "PutRecords returned {} results for {n} entries",
                            out.records().len()
                        ),
                    },
                    retryable: true,
                });
            }
            // A response names a few shards many times: one `Arc<str>` per distinct id (the
            // first 16 ids are remembered, so a request spread over many shards stays linear).
            let mut shard_ids: Vec<Arc<str>> = Vec::new();
            Ok(out
                .records()
                .iter()
                .map(
                    |r| match (r.error_code(), r.shard_id(), r.sequence_number()) {
                        (None, Some(shard), Some(seq)) => EntryResult::Ok {
                            shard_id: match shard_ids.iter().find(|s| &***s == shard) {
                                Some(s) => Arc::clone(s),
                                None => {
                                    let s: Arc<str> = shard.into();
                                    if shard_ids.len() < 16 {
                                        shard_ids.push(Arc::clone(&s));
                                    }
                                    s
                                }
                            },
                            sequence_number: seq.into(),
                        },
                        (code, _, _) => EntryResult::Failed(ErrorInfo {
                            code: code.unwrap_or("InternalFailure").to_owned(),
                            message: r.error_message().unwrap_or_default().to_owned(),
                        }),
                    },
                )
                .collect())
        })
    }

    fn list_shards(&self, stream: Arc<str>) -> BoxFuture<Result<Vec<ShardRange>, RequestError>> {
        let client = self.0.clone();
        Box::pin(async move {
            let mut shards = Vec::new();
            let mut next_token: Option<String> = None;
            loop {
                // With a NextToken the stream name must be absent (ListShards rule).
                let req = match &next_token {
                    Some(t) => client.list_shards().next_token(t),
                    None => client.list_shards().stream_name(&*stream),
                };
                let out = req.send().await.map_err(request_error)?;
                for s in out.shards() {
                    let open = s
                        .sequence_number_range()
                        .is_none_or(|r| r.ending_sequence_number().is_none());
                    let range = s.hash_key_range().and_then(|r| {
                        Some(HashKeyRange {
                            start: r.starting_hash_key().parse::<HashKey>().ok()?,
                            end: r.ending_hash_key().parse::<HashKey>().ok()?,
                        })
                    });
                    if let (true, Some(range)) = (open, range) {
                        shards.push(ShardRange {
                            shard_id: s.shard_id().into(),
                            range,
                        });
                    }
                }
                match out.next_token() {
                    Some(t) => next_token = Some(t.to_owned()),
                    None => break,
                }
            }
            Ok(shards)
        })
    }
}
