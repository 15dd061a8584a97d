//! Engine failures: one struct per failure, one enum per operation listing exactly the
//! failures that operation can produce. Every failure has a [`ErrorKind`]; the server maps
//! kinds to wire codes with an exhaustive match, so a new kind cannot ship without a code.

use std::fmt;

/// What kind of failure, in Kinesis terms (the engine knows Kinesis, not the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    ExpiredIterator,
    ExpiredNextToken,
    Internal,
    InvalidArgument,
    LimitExceeded,
    ProvisionedThroughputExceeded,
    ResourceInUse,
    ResourceNotFound,
}

/// The stream does not exist (or is still being created).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Stream {stream} under account {account} not found.")]
pub struct StreamNotFound {
    pub stream: String,
    pub account: String,
}

/// A shard-addressed call named a shard (or stream) that does not exist.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Shard {shard} in stream {stream} under account {account} does not exist")]
pub struct ShardNotFound {
    pub shard: String,
    pub stream: String,
    pub account: String,
}

/// The resource exists but its state forbids the call; the text says which.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResourceInUse(pub String);

/// A resource addressed by ARN (not a stream name) does not exist; the text says which.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResourceNotFound(pub String);

/// The request is well-formed but its arguments are not acceptable; the text says why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidArgument(pub String);

/// A quota would be exceeded; the text says which.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LimitExceeded(pub String);

/// The shard iterator is older than five minutes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpiredIterator(pub String);

/// The ListShards NextToken is older than five minutes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpiredNextToken(pub String);

/// A shard's throughput limit refused the call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Throttled(pub String);

/// The storage layer failed (I/O error, poisoned log after a failed fsync, corruption).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StorageFailure(pub String);

/// The kind of each failure struct.
pub trait Failure: fmt::Display {
    const KIND: ErrorKind;
}

macro_rules! failure_kind {
    ($($t:ident => $k:ident),* $(,)?) => {
        $(impl Failure for $t { const KIND: ErrorKind = ErrorKind::$k; })*
    };
}

failure_kind! {
    StreamNotFound => ResourceNotFound,
    ShardNotFound => ResourceNotFound,
    ResourceNotFound => ResourceNotFound,
    ResourceInUse => ResourceInUse,
    InvalidArgument => InvalidArgument,
    LimitExceeded => LimitExceeded,
    ExpiredIterator => ExpiredIterator,
    ExpiredNextToken => ExpiredNextToken,
    StorageFailure => Internal,
    Throttled => ProvisionedThroughputExceeded,
}

/// Declares an operation's error enum over failure structs, with `From` impls, `Display`
/// and an exhaustive `kind()`.
macro_rules! op_error {
    ($(#[$m:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum $name {
            $($variant($crate::error::$variant)),+
        }

        impl $name {
            pub fn kind(&self) -> $crate::error::ErrorKind {
                use $crate::error::Failure;
                match self {
                    $(Self::$variant(_) => $crate::error::$variant::KIND),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    $(Self::$variant(e) => ::std::fmt::Display::fmt(e, f)),+
                }
            }
        }

        impl ::std::error::Error for $name {}

        $(impl From<$crate::error::$variant> for $name {
            fn from(e: $crate::error::$variant) -> Self { Self::$variant(e) }
        })+
    };
}

op_error!(
    /// CreateStream.
    CreateStreamError { ResourceInUse, LimitExceeded, InvalidArgument, StorageFailure }
);
op_error!(
    /// DeleteStream.
    DeleteStreamError { StreamNotFound, ResourceInUse, InvalidArgument, StorageFailure }
);
op_error!(
    /// DescribeStream, DescribeStreamSummary and other read-only stream lookups.
    DescribeStreamError { StreamNotFound, InvalidArgument }
);
op_error!(
    /// ListStreams.
    ListStreamsError { InvalidArgument }
);
op_error!(
    /// ListShards.
    ListShardsError { StreamNotFound, ResourceInUse, InvalidArgument, ExpiredNextToken }
);
op_error!(
    /// PutRecord and PutRecords (whole-request failures).
    PutRecordsError { StreamNotFound, InvalidArgument, StorageFailure }
);
op_error!(
    /// GetShardIterator.
    GetShardIteratorError { ShardNotFound, InvalidArgument, Throttled, StorageFailure }
);
op_error!(
    /// GetRecords.
    GetRecordsError { ShardNotFound, InvalidArgument, ExpiredIterator, Throttled, StorageFailure }
);
op_error!(
    /// Increase/DecreaseStreamRetentionPeriod.
    RetentionError { StreamNotFound, ResourceInUse, InvalidArgument, StorageFailure }
);
op_error!(
    /// AddTagsToStream, RemoveTagsFromStream, TagResource, UntagResource.
    TagError { StreamNotFound, ResourceNotFound, ResourceInUse, InvalidArgument, StorageFailure }
);
op_error!(
    /// ListTagsForStream, ListTagsForResource.
    ListTagsError { StreamNotFound, ResourceNotFound, InvalidArgument }
);
op_error!(
    /// SplitShard, MergeShards, UpdateShardCount.
    ReshardError { StreamNotFound, ResourceNotFound, ResourceInUse, InvalidArgument, LimitExceeded, StorageFailure }
);
op_error!(
    /// Stream settings: mode, record size, encryption, monitoring, warm throughput, policies,
    /// account settings.
    SettingsError { StreamNotFound, ResourceNotFound, ResourceInUse, InvalidArgument, LimitExceeded, StorageFailure }
);
op_error!(
    /// RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer.
    ConsumerError { StreamNotFound, ResourceNotFound, ResourceInUse, InvalidArgument, LimitExceeded, ExpiredNextToken, StorageFailure }
);
op_error!(
    /// SubscribeToShard (failures before the event stream starts).
    SubscribeError { ResourceNotFound, ShardNotFound, ResourceInUse, InvalidArgument, LimitExceeded }
);
