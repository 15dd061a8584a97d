//! AWS Kinesis Data Streams limits (spec §2, §3.5–3.7).

/// Largest `Data` blob accepted by default (1 MiB); streams may raise it to 10 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Largest `Data` blob any stream may accept (`MaxRecordSizeInKiB` = 10240).
pub const MAX_RECORD_BYTES: usize = 10 * 1024 * 1024;
/// Partition keys are 1..=256 characters.
pub const MAX_PARTITION_KEY_CHARS: usize = 256;
/// PutRecords carries 1..=500 entries.
pub const MAX_PUT_RECORDS_ENTRIES: usize = 500;
/// PutRecords request total (data + partition keys).
pub const MAX_PUT_RECORDS_BYTES: usize = 10 * 1024 * 1024;
/// GetRecords `Limit` range and default.
pub const MAX_GET_RECORDS_LIMIT: usize = 10_000;
/// GetRecords never returns more than this many bytes of data.
pub const MAX_GET_RECORDS_BYTES: usize = 10 * 1024 * 1024;
/// Shard iterators expire five minutes after they were issued.
pub const SHARD_ITERATOR_TTL_MS: i64 = 300_000;
/// Retention bounds in hours.
pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8760;
pub const DEFAULT_RETENTION_HOURS: u32 = 24;
/// Default account shard quota (us-east-1).
pub const DEFAULT_SHARD_LIMIT: u32 = 20_000;
/// On-demand streams allowed per account, and the shard count they start with.
pub const ON_DEMAND_STREAM_LIMIT: u32 = 50;
pub const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
/// Tags: at most 50 per stream, 10 per AddTagsToStream call, keys 1..=128, values 0..=256.
pub const MAX_TAGS_PER_STREAM: usize = 50;
pub const MAX_TAG_KEY_CHARS: usize = 128;
pub const MAX_TAG_VALUE_CHARS: usize = 256;
/// DescribeStream returns at most 100 shards per page; ListShards 1000; ListStreams 100.
pub const DESCRIBE_STREAM_MAX_SHARDS: usize = 100;
pub const LIST_SHARDS_MAX_RESULTS: usize = 1000;
pub const LIST_STREAMS_MAX: usize = 100;
/// ListShards NextToken lifetime.
pub const NEXT_TOKEN_TTL_MS: i64 = 300_000;
