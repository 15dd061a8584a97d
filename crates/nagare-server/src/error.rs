//! Engine failures to wire errors. The kind→code match is exhaustive: a new engine kind does
//! not compile until it has a wire code.

use nagare_engine::error::{
    ConsumerError, CreateStreamError, DeleteStreamError, DescribeStreamError, ErrorKind,
    GetRecordsError, GetShardIteratorError, ListShardsError, ListStreamsError, ListTagsError,
    PutRecordsError, ReshardError, RetentionError, SettingsError, SubscribeError, TagError,
};
use nagare_proto::{ErrorCode, WireError};

pub fn code_of(kind: ErrorKind) -> ErrorCode {
    match kind {
        ErrorKind::ExpiredIterator => ErrorCode::ExpiredIterator,
        ErrorKind::ExpiredNextToken => ErrorCode::ExpiredNextToken,
        ErrorKind::Internal => ErrorCode::InternalFailure,
        ErrorKind::InvalidArgument => ErrorCode::InvalidArgument,
        ErrorKind::LimitExceeded => ErrorCode::LimitExceeded,
        ErrorKind::ProvisionedThroughputExceeded => ErrorCode::ProvisionedThroughputExceeded,
        ErrorKind::ResourceInUse => ErrorCode::ResourceInUse,
        ErrorKind::ResourceNotFound => ErrorCode::ResourceNotFound,
    }
}

/// Wraps every per-operation engine error into a [`WireError`].
pub struct ServiceError(pub WireError);

macro_rules! from_engine {
    ($($t:ty),*) => {$(
        impl From<$t> for ServiceError {
            fn from(e: $t) -> Self {
                ServiceError(WireError::new(code_of(e.kind()), e.to_string()))
            }
        }
    )*};
}

from_engine!(
    CreateStreamError,
    DeleteStreamError,
    DescribeStreamError,
    GetRecordsError,
    GetShardIteratorError,
    ListShardsError,
    ListStreamsError,
    ListTagsError,
    PutRecordsError,
    ReshardError,
    RetentionError,
    SettingsError,
    TagError,
    ConsumerError,
    SubscribeError
);

impl From<WireError> for ServiceError {
    fn from(e: WireError) -> Self {
        ServiceError(e)
    }
}
