//! Data-plane handlers. PutRecords and GetRecords write their bodies directly (see
//! `nagare_proto::ops::records`) to keep per-record allocations off the hot path.

use super::{Reply, json};
use crate::error::ServiceError;
use nagare_engine::Engine;
use nagare_engine::data::{IteratorStart, PutEntry, PutOp, PutResult};
use nagare_proto::ops::records::*;
use nagare_proto::{ErrorCode, WireError};

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError(WireError::new(ErrorCode::InvalidArgument, msg))
}

fn encryption_type(encrypted: bool) -> &'static str {
    if encrypted { "KMS" } else { "NONE" }
}

pub async fn put_record(engine: &Engine, input: PutRecordInput<'_>) -> Result<Reply, ServiceError> {
    let (name, arn) = (input.stream_name.as_deref(), input.stream_arn.as_deref());
    let settings = engine.put_settings(name, arn);
    let blobs = input.decode_and_validate(settings.max_data_bytes)?;
    if let Some(seq) = input.sequence_number_for_ordering.as_deref() {
        engine.check_ordering_sequence(name, arn, seq)?;
    }
    if input.dry_run == Some(true) {
        engine.describe_stream_summary(name, arn)?;
        return Err(super::dry_run());
    }
    let entry = PutEntry {
        partition_key: input.partition_key.as_deref().unwrap_or_default(),
        explicit_hash_key: input.explicit_hash_key.as_deref(),
        data: blobs.get(0),
    };
    let results = engine
        .put_records(name, arn, PutOp::Record, std::slice::from_ref(&entry))
        .await?;
    match results.into_iter().next() {
        Some(PutResult::Stored { shard, sequence }) => json(&PutRecordOutput {
            shard_id: shard.to_string(),
            sequence_number: sequence.to_string(),
            encryption_type: encryption_type(settings.encrypted).to_owned(),
        }),
        // PutRecord reports throttling for the whole request.
        Some(PutResult::Throttled { message }) => Err(ServiceError(WireError::new(
            ErrorCode::ProvisionedThroughputExceeded,
            message,
        ))),
        Some(PutResult::Failed { message }) => Err(ServiceError(WireError::new(
            ErrorCode::InternalFailure,
            message,
        ))),
        None => Err(ServiceError(WireError::new(
            ErrorCode::InternalFailure,
            "Internal service failure.",
        ))),
    }
}

pub async fn put_records(
    engine: &Engine,
    input: PutRecordsInput<'_>,
) -> Result<Reply, ServiceError> {
    let (name, arn) = (input.stream_name.as_deref(), input.stream_arn.as_deref());
    let settings = engine.put_settings(name, arn);
    let blobs = input.decode_and_validate(settings.max_data_bytes)?;
    let records = input.records.as_deref().unwrap_or_default();
    let total: usize = blobs.spans.iter().map(|s| s.1).sum::<usize>()
        + records
            .iter()
            .map(|r| r.partition_key.as_ref().map_or(0, |p| p.len()))
            .sum::<usize>();
    if total > nagare_types::caps::MAX_PUT_RECORDS_BYTES {
        return Err(invalid(format!(
            "Records size exceeds {} MB limit",
            nagare_types::caps::MAX_PUT_RECORDS_BYTES / (1024 * 1024)
        )));
    }
    if input.dry_run == Some(true) {
        engine.describe_stream_summary(name, arn)?;
        return Err(super::dry_run());
    }
    let entries: Vec<PutEntry<'_>> = records
        .iter()
        .enumerate()
        .map(|(i, r)| PutEntry {
            partition_key: r.partition_key.as_deref().unwrap_or_default(),
            explicit_hash_key: r.explicit_hash_key.as_deref(),
            data: blobs.get(i),
        })
        .collect();
    let results = engine
        .put_records(name, arn, PutOp::Records, &entries)
        .await?;
    let failed = results
        .iter()
        .filter(|r| !matches!(r, PutResult::Stored { .. }))
        .count();
    let mut out = Vec::with_capacity(64 + results.len() * 96);
    ser_put_records_output(
        &mut out,
        failed,
        encryption_type(settings.encrypted),
        results.iter().map(|r| match r {
            PutResult::Stored { shard, sequence } => PutRecordsResultEntry::Success {
                sequence_number: *sequence,
                shard_id: *shard,
            },
            PutResult::Throttled { message } => PutRecordsResultEntry::Failure {
                error_code: ErrorCode::ProvisionedThroughputExceeded,
                error_message: message,
            },
            PutResult::Failed { message } => PutRecordsResultEntry::Failure {
                error_code: ErrorCode::InternalFailure,
                error_message: message,
            },
        }),
    );
    Ok(out)
}

pub fn get_shard_iterator(
    engine: &Engine,
    input: GetShardIteratorInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let kind = input.shard_iterator_type.as_deref().unwrap_or_default();
    let seq = input.starting_sequence_number.as_deref();
    let start = match (kind, seq) {
        ("AT_SEQUENCE_NUMBER", Some(s)) => IteratorStart::AtSequence(s),
        ("AFTER_SEQUENCE_NUMBER", Some(s)) => IteratorStart::AfterSequence(s),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(invalid(format!(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and no StartingSequenceNumber."
            )));
        }
        ("TRIM_HORIZON" | "LATEST" | "AT_TIMESTAMP", Some(_)) => {
            return Err(invalid(format!(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {kind} and also a StartingSequenceNumber."
            )));
        }
        ("AT_TIMESTAMP", None) => match input.timestamp {
            Some(t) => IteratorStart::AtTimestamp(t),
            None => {
                return Err(invalid(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
                ));
            }
        },
        ("LATEST", None) => IteratorStart::Latest,
        _ => IteratorStart::TrimHorizon,
    };
    if input.timestamp.is_some() && kind != "AT_TIMESTAMP" {
        return Err(invalid(format!(
            "Must specify AT_TIMESTAMP as ShardIteratorType when a timestamp is given. Request specified {kind} and also a timestamp."
        )));
    }
    let it = engine.get_shard_iterator(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        input.shard_id.as_deref().unwrap_or_default(),
        start,
    )?;
    if input.dry_run == Some(true) {
        return Err(super::dry_run());
    }
    json(&GetShardIteratorOutput { shard_iterator: it })
}

pub fn get_records(engine: &Engine, input: GetRecordsInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    if input.dry_run == Some(true) {
        engine.verify_iterator(input.shard_iterator.as_deref().unwrap_or_default())?;
        return Err(super::dry_run());
    }
    let page = engine.get_records(
        input.shard_iterator.as_deref().unwrap_or_default(),
        input.limit.map(|l| l as u32),
    )?;
    let children = page.children.as_deref().map(super::child_shards_out);
    let data_bytes: usize = page
        .records
        .iter()
        .map(|r| r.value.len() + r.key.len())
        .sum();
    let mut out = Vec::with_capacity(64 + data_bytes / 3 * 4 + page.records.len() * 120);
    let tag = page.view.tag;
    let shard = page.shard;
    ser_get_records_output(
        &mut out,
        page.records.iter().map(|r| RecordOut {
            sequence_number: nagare_types::SequenceNumber::of_record(tag, shard, r.offset.0),
            arrival_ms: r.timestamp_ms,
            data: &r.value,
            partition_key: &r.key,
            encryption_type: page.view.meta.encryption_key.as_ref().map(|_| "KMS"),
        }),
        page.next_iterator.as_deref(),
        page.millis_behind_latest,
        children.as_deref(),
    );
    Ok(out)
}
