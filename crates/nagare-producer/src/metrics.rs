//! Metric names: the KPL's (spec §6.3), emitted through the `metrics` facade with the label
//! `StreamName` (and `ErrorCode` on `ErrorsByCode`), i.e. the KPL's stream granularity. Without
//! an installed recorder every call is a no-op.

/// Count: user records handed to `put` (accepted into the pipeline).
pub const USER_RECORDS_RECEIVED: &str = "UserRecordsReceived";
/// Gauge: user records accepted and not yet acknowledged or failed.
pub const USER_RECORDS_PENDING: &str = "UserRecordsPending";
/// Count: user records acknowledged.
pub const USER_RECORDS_PUT: &str = "UserRecordsPut";
/// Bytes: data of acknowledged user records.
pub const USER_RECORDS_DATA_PUT: &str = "UserRecordsDataPut";
/// Count: Kinesis records (aggregated or not) acknowledged.
pub const KINESIS_RECORDS_PUT: &str = "KinesisRecordsPut";
/// Bytes: data of acknowledged Kinesis records (with aggregation framing).
pub const KINESIS_RECORDS_DATA_PUT: &str = "KinesisRecordsDataPut";
/// Count, label `ErrorCode`: failed entries and requests by error code (`Wrong Shard` when an
/// aggregate landed on another shard than predicted, `Expired` for records past the TTL).
pub const ERRORS_BY_CODE: &str = "ErrorsByCode";
/// Count: every error counted in `ErrorsByCode`.
pub const ALL_ERRORS: &str = "AllErrors";
/// Histogram: retries a user record needed (attempts − 1), on success.
pub const RETRIES_PER_RECORD: &str = "RetriesPerRecord";
/// Count: user records failed because `RecordTtl` passed.
pub const USER_RECORD_EXPIRED: &str = "UserRecordExpired";
/// Histogram, milliseconds: from `put` to the first PutRecords carrying the record.
pub const BUFFERING_TIME: &str = "BufferingTime";
/// Histogram, milliseconds: PutRecords request latency.
pub const REQUEST_TIME: &str = "RequestTime";
/// Histogram: user records per Kinesis record sent.
pub const USER_RECORDS_PER_KINESIS_RECORD: &str = "UserRecordsPerKinesisRecord";
/// Histogram: Kinesis records per PutRecords request.
pub const KINESIS_RECORDS_PER_PUT_RECORDS_REQUEST: &str = "KinesisRecordsPerPutRecordsRequest";
/// Histogram: user records per PutRecords request.
pub const USER_RECORDS_PER_PUT_RECORDS_REQUEST: &str = "UserRecordsPerPutRecordsRequest";

/// Label with the stream name on every metric.
pub const STREAM_NAME: &str = "StreamName";
/// Label with the error code on `ErrorsByCode`.
pub const ERROR_CODE: &str = "ErrorCode";

/// Describe every metric (units) to whatever recorder is installed.
pub(crate) fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        USER_RECORDS_RECEIVED,
        Unit::Count,
        "User records received by put"
    );
    describe_gauge!(
        USER_RECORDS_PENDING,
        Unit::Count,
        "User records not yet finished"
    );
    describe_counter!(USER_RECORDS_PUT, Unit::Count, "User records acknowledged");
    describe_counter!(
        USER_RECORDS_DATA_PUT,
        Unit::Bytes,
        "Data of acknowledged user records"
    );
    describe_counter!(
        KINESIS_RECORDS_PUT,
        Unit::Count,
        "Kinesis records acknowledged"
    );
    describe_counter!(
        KINESIS_RECORDS_DATA_PUT,
        Unit::Bytes,
        "Data of acknowledged Kinesis records"
    );
    describe_counter!(ERRORS_BY_CODE, Unit::Count, "Errors by error code");
    describe_counter!(ALL_ERRORS, Unit::Count, "All errors");
    describe_histogram!(
        RETRIES_PER_RECORD,
        Unit::Count,
        "Retries per acknowledged user record"
    );
    describe_counter!(
        USER_RECORD_EXPIRED,
        Unit::Count,
        "User records past RecordTtl"
    );
    describe_histogram!(
        BUFFERING_TIME,
        Unit::Milliseconds,
        "Time from put to first send"
    );
    describe_histogram!(REQUEST_TIME, Unit::Milliseconds, "PutRecords latency");
    describe_histogram!(
        USER_RECORDS_PER_KINESIS_RECORD,
        Unit::Count,
        "Aggregation ratio"
    );
    describe_histogram!(
        KINESIS_RECORDS_PER_PUT_RECORDS_REQUEST,
        Unit::Count,
        "Entries per request"
    );
    describe_histogram!(
        USER_RECORDS_PER_PUT_RECORDS_REQUEST,
        Unit::Count,
        "User records per request"
    );
}
