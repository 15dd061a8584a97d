//! Data-plane operations: PutRecord(s), GetShardIterator, GetRecords.
//!
//! PutRecords and GetRecords are the hot path: inputs borrow from the request body, blobs
//! decode into one buffer per request, and outputs are written straight into the response
//! buffer (no per-record String or Vec).

use super::shapes::ChildShard;
use super::streams::{selector, shard_id_member};
use super::{StreamSelector, check_selector};
use crate::types::{de_int, de_timestamp, decode_blob, encode_blob_into};
use crate::validate::{HASH_KEY_PATTERN, SEQUENCE_PATTERN, Shown, Violations, matches_decimal};
use crate::{ErrorCode, WireError};
use nagare_types::caps;
use nagare_types::{SequenceNumber, ShardId};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::io::Write;

/// Blobs of one request, decoded into a single buffer.
#[derive(Debug, Default)]
pub struct DecodedBlobs {
    pub buf: Vec<u8>,
    /// (start, len) into `buf`, one per blob in request order.
    pub spans: Vec<(usize, usize)>,
}

impl DecodedBlobs {
    pub fn get(&self, i: usize) -> &[u8] {
        self.spans
            .get(i)
            .and_then(|&(s, l)| self.buf.get(s..s + l))
            .unwrap_or_default()
    }
}

fn check_partition_key(v: &mut Violations, pk: Option<&str>, path: &str) {
    v.min_len(pk, path, 1);
    v.max_len(pk, path, caps::MAX_PARTITION_KEY_CHARS);
}

fn check_data_len(v: &mut Violations, len: Option<usize>, path: &str, max: usize) {
    if let Some(n) = len.filter(|n| *n > max) {
        v.push(
            Shown::Blob(n),
            path,
            format_args!("Member must have length less than or equal to {max}"),
        );
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutRecordInput<'a> {
    #[serde(borrow)]
    pub data: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub partition_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub explicit_hash_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub sequence_number_for_ordering: Option<Cow<'a, str>>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub dry_run: Option<bool>,
}
selector!(PutRecordInput<'_>);

impl PutRecordInput<'_> {
    /// Decodes `Data` (SerializationException on bad base64), then validates members in the
    /// order AWS reports them.
    pub fn decode_and_validate(&self, max_data_bytes: usize) -> Result<DecodedBlobs, WireError> {
        let mut blobs = DecodedBlobs::default();
        let data_len = match &self.data {
            Some(text) => Some(decode_blob(text, &mut blobs.buf)?),
            None => None,
        };
        blobs.spans.push((0, data_len.unwrap_or(0)));
        let mut v = Violations::new();
        let seq = self.sequence_number_for_ordering.as_deref();
        v.pattern(
            seq,
            "sequenceNumberForOrdering",
            |s| matches_decimal(s, 128),
            SEQUENCE_PATTERN,
        );
        v.not_null(&self.partition_key, "partitionKey");
        check_partition_key(&mut v, self.partition_key.as_deref(), "partitionKey");
        let ehk = self.explicit_hash_key.as_deref();
        v.pattern(
            ehk,
            "explicitHashKey",
            |s| matches_decimal(s, 38),
            HASH_KEY_PATTERN,
        );
        v.not_null(&self.data, "data");
        check_data_len(&mut v, data_len, "data", max_data_bytes);
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.finish()?;
        Ok(blobs)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordOutput {
    pub shard_id: String,
    pub sequence_number: String,
    pub encryption_type: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutRecordsEntry<'a> {
    #[serde(borrow)]
    pub data: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub explicit_hash_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub partition_key: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutRecordsInput<'a> {
    #[serde(borrow)]
    pub records: Option<Vec<PutRecordsEntry<'a>>>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub dry_run: Option<bool>,
}
selector!(PutRecordsInput<'_>);

impl PutRecordsInput<'_> {
    pub fn decode_and_validate(&self, max_data_bytes: usize) -> Result<DecodedBlobs, WireError> {
        let records = self.records.as_deref().unwrap_or_default();
        let mut blobs = DecodedBlobs {
            buf: Vec::with_capacity(
                records
                    .iter()
                    .map(|r| r.data.as_ref().map_or(0, |d| d.len()))
                    .sum::<usize>()
                    / 4
                    * 3,
            ),
            spans: Vec::with_capacity(records.len()),
        };
        for r in records {
            let start = blobs.buf.len();
            let n = match &r.data {
                Some(text) => decode_blob(text, &mut blobs.buf)?,
                None => 0,
            };
            blobs.spans.push((start, n));
        }
        let mut v = Violations::new();
        v.not_null(&self.records, "records");
        if self.records.is_some() && records.is_empty() {
            v.push(
                Shown::List(&[]),
                "records",
                "Member must have length greater than or equal to 1",
            );
        }
        if records.len() > caps::MAX_PUT_RECORDS_ENTRIES {
            let shown: Vec<String> = records
                .iter()
                .map(|_| {
                    "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310".to_owned()
                })
                .collect();
            v.push(
                Shown::List(&shown),
                "records",
                format_args!(
                    "Member must have length less than or equal to {}",
                    caps::MAX_PUT_RECORDS_ENTRIES
                ),
            );
        }
        for (i, r) in records.iter().enumerate() {
            // Paths are built only for violations, keeping the valid path allocation-free.
            let at = |member: &str| format!("records.{}.member.{member}", i + 1);
            if r.partition_key.is_none() {
                v.not_null(&r.partition_key, &at("partitionKey"));
            }
            let pk = r.partition_key.as_deref();
            if pk.is_some_and(|p| p.is_empty() || p.chars().count() > caps::MAX_PARTITION_KEY_CHARS)
            {
                check_partition_key(&mut v, pk, &at("partitionKey"));
            }
            if r.data.is_none() {
                v.not_null(&r.data, &at("data"));
            }
            let len = blobs.spans.get(i).map(|s| s.1);
            if len.is_some_and(|n| n > max_data_bytes) {
                check_data_len(&mut v, len, &at("data"), max_data_bytes);
            }
            let ehk = r.explicit_hash_key.as_deref();
            if ehk.is_some_and(|s| !matches_decimal(s, 38)) {
                v.pattern(
                    ehk,
                    &at("explicitHashKey"),
                    |s| matches_decimal(s, 38),
                    HASH_KEY_PATTERN,
                );
            }
        }
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.finish()?;
        Ok(blobs)
    }
}

/// One PutRecords result, in input order.
pub enum PutRecordsResultEntry<'a> {
    Success {
        sequence_number: SequenceNumber,
        shard_id: ShardId,
    },
    Failure {
        error_code: ErrorCode,
        error_message: &'a str,
    },
}

/// Writes the PutRecords response body. `FailedRecordCount` is always present (AWS sends 0).
pub fn ser_put_records_output<'a>(
    out: &mut Vec<u8>,
    failed: usize,
    encryption_type: &str,
    entries: impl Iterator<Item = PutRecordsResultEntry<'a>>,
) {
    let _ = write!(
        out,
        "{{\"FailedRecordCount\":{failed},\"EncryptionType\":\"{encryption_type}\",\"Records\":["
    );
    for (i, e) in entries.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match e {
            PutRecordsResultEntry::Success {
                sequence_number,
                shard_id,
            } => {
                let _ = write!(
                    out,
                    "{{\"SequenceNumber\":\"{sequence_number}\",\"ShardId\":\"{shard_id}\"}}"
                );
            }
            PutRecordsResultEntry::Failure {
                error_code,
                error_message,
            } => {
                // Per-entry codes are bare for internal failures ("InternalFailure"), as AWS
                // documents them, unlike the exception name used for whole-request errors.
                let code = match error_code {
                    ErrorCode::InternalFailure => "InternalFailure",
                    other => other.as_str(),
                };
                let _ = write!(out, "{{\"ErrorCode\":\"{code}\",\"ErrorMessage\":");
                let _ = serde_json::to_writer(&mut *out, error_message);
                out.push(b'}');
            }
        }
    }
    out.extend_from_slice(b"]}");
}

pub const ITERATOR_TYPES: [&str; 5] = [
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetShardIteratorInput {
    pub shard_id: Option<String>,
    pub shard_iterator_type: Option<String>,
    pub starting_sequence_number: Option<String>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(deserialize_with = "de_timestamp")]
    pub timestamp: Option<i64>,
    pub dry_run: Option<bool>,
}
selector!(GetShardIteratorInput);

impl GetShardIteratorInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.shard_id, "shardId");
        shard_id_member(&mut v, self.shard_id.as_deref(), "shardId");
        v.not_null(&self.shard_iterator_type, "shardIteratorType");
        v.one_of(
            self.shard_iterator_type.as_deref(),
            "shardIteratorType",
            &ITERATOR_TYPES,
        );
        let seq = self.starting_sequence_number.as_deref();
        v.pattern(
            seq,
            "startingSequenceNumber",
            |s| matches_decimal(s, 128),
            SEQUENCE_PATTERN,
        );
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    pub shard_iterator: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetRecordsInput {
    #[serde(deserialize_with = "de_int")]
    pub limit: Option<i64>,
    pub shard_iterator: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub dry_run: Option<bool>,
}

impl GetRecordsInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.min_value(self.limit, "limit", 1);
        v.max_value(self.limit, "limit", caps::MAX_GET_RECORDS_LIMIT as i64);
        v.not_null(&self.shard_iterator, "shardIterator");
        v.min_len(self.shard_iterator.as_deref(), "shardIterator", 1);
        v.max_len(self.shard_iterator.as_deref(), "shardIterator", 512);
        v.stream_arn(self.stream_arn.as_deref(), "streamARN");
        v.finish()
    }
}

/// One record of a GetRecords response, borrowing the stored bytes.
pub struct RecordOut<'a> {
    pub sequence_number: SequenceNumber,
    pub arrival_ms: i64,
    pub data: &'a [u8],
    pub partition_key: &'a [u8],
    pub encryption_type: Option<&'a str>,
}

/// Writes the GetRecords response body straight into `out`: base64 of each record goes into
/// the buffer with no intermediate String.
/// Writes `"Records":[…]`: base64 of each record goes straight into the buffer.
fn ser_records<'a>(out: &mut Vec<u8>, records: impl Iterator<Item = RecordOut<'a>>) {
    out.extend_from_slice(b"\"Records\":[");
    for (i, r) in records.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let secs = r.arrival_ms.div_euclid(1000);
        let ms = r.arrival_ms.rem_euclid(1000);
        let _ = write!(
            out,
            "{{\"SequenceNumber\":\"{}\",\"ApproximateArrivalTimestamp\":{secs}.{ms:03},\"Data\":\"",
            r.sequence_number
        );
        encode_blob_into(r.data, out);
        out.extend_from_slice(b"\",\"PartitionKey\":");
        let pk = std::str::from_utf8(r.partition_key).unwrap_or_default();
        let _ = serde_json::to_writer(&mut *out, pk);
        if let Some(enc) = r.encryption_type {
            let _ = write!(out, ",\"EncryptionType\":\"{enc}\"");
        }
        out.push(b'}');
    }
    out.push(b']');
}

fn ser_children(out: &mut Vec<u8>, child_shards: Option<&[ChildShard]>) {
    if let Some(children) = child_shards {
        out.extend_from_slice(b",\"ChildShards\":");
        let _ = serde_json::to_writer(&mut *out, children);
    }
}

/// Writes the GetRecords response body straight into `out`.
pub fn ser_get_records_output<'a>(
    out: &mut Vec<u8>,
    records: impl Iterator<Item = RecordOut<'a>>,
    next_shard_iterator: Option<&str>,
    millis_behind_latest: i64,
    child_shards: Option<&[ChildShard]>,
) {
    out.push(b'{');
    ser_records(out, records);
    if let Some(it) = next_shard_iterator {
        out.extend_from_slice(b",\"NextShardIterator\":");
        let _ = serde_json::to_writer(&mut *out, it);
    }
    let _ = write!(out, ",\"MillisBehindLatest\":{millis_behind_latest}");
    ser_children(out, child_shards);
    out.push(b'}');
}

/// Writes the payload of a `SubscribeToShardEvent` (the event's members, not wrapped).
pub fn ser_subscribe_event<'a>(
    out: &mut Vec<u8>,
    records: impl Iterator<Item = RecordOut<'a>>,
    continuation: Option<SequenceNumber>,
    millis_behind_latest: i64,
    child_shards: Option<&[ChildShard]>,
) {
    out.push(b'{');
    ser_records(out, records);
    if let Some(c) = continuation {
        let _ = write!(out, ",\"ContinuationSequenceNumber\":\"{c}\"");
    }
    let _ = write!(out, ",\"MillisBehindLatest\":{millis_behind_latest}");
    ser_children(out, child_shards);
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use nagare_types::StreamTag;
    use proptest::prelude::*;

    #[test]
    fn put_records_without_members_lists_both_violations() {
        let input: PutRecordsInput = serde_json::from_str("{}").expect("json");
        let e = input
            .decode_and_validate(caps::DEFAULT_MAX_RECORD_BYTES)
            .expect_err("invalid");
        assert_eq!(
            e.message.as_deref(),
            Some(
                "1 validation error detected: Value null at 'records' failed to satisfy constraint: Member must not be null"
            )
        );
    }

    #[test]
    fn put_records_names_entry_paths() {
        let input: PutRecordsInput =
            serde_json::from_str(r#"{"StreamName":"s","Records":[{"Data":"","PartitionKey":""},{"Data":"","ExplicitHashKey":"x","PartitionKey":"a"}]}"#)
                .expect("json");
        let e = input
            .decode_and_validate(caps::DEFAULT_MAX_RECORD_BYTES)
            .expect_err("invalid");
        assert_eq!(
            e.message.as_deref(),
            Some(
                "2 validation errors detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; \
                 Value 'x' at 'records.2.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
            )
        );
    }

    #[test]
    fn put_record_reports_oversized_data_as_a_buffer() {
        let big = crate::types::encode_blob(&vec![0u8; caps::DEFAULT_MAX_RECORD_BYTES + 1]);
        let body = format!(r#"{{"StreamName":"s","PartitionKey":"a","Data":"{big}"}}"#);
        let input: PutRecordInput = serde_json::from_str(&body).expect("json");
        let e = input
            .decode_and_validate(caps::DEFAULT_MAX_RECORD_BYTES)
            .expect_err("invalid");
        assert_eq!(
            e.message.as_deref(),
            Some(
                "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]' at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576"
            )
        );
    }

    proptest! {
        #[test]
        fn get_records_output_is_valid_json(
            recs in proptest::collection::vec((any::<u64>(), 0i64..4_000_000_000_000, proptest::collection::vec(any::<u8>(), 0..64), "\\PC{1,20}"), 0..20),
            behind in 0i64..1_000_000,
        ) {
            let tag = StreamTag::new(5);
            let mut out = Vec::new();
            ser_get_records_output(&mut out, recs.iter().map(|(o, t, d, k)| RecordOut {
                sequence_number: SequenceNumber::new(tag, ShardId(1), *o),
                arrival_ms: *t,
                data: d,
                partition_key: k.as_bytes(),
                encryption_type: None,
            }), Some("it"), behind, None);
            let v: serde_json::Value = serde_json::from_slice(&out).expect("valid json");
            let arr = v["Records"].as_array().expect("records");
            prop_assert_eq!(arr.len(), recs.len());
            for (j, (o, t, d, k)) in recs.iter().enumerate() {
                prop_assert_eq!(arr[j]["PartitionKey"].as_str(), Some(k.as_str()));
                prop_assert_eq!(arr[j]["Data"].as_str().map(str::to_owned), Some(crate::types::encode_blob(d)));
                prop_assert_eq!(arr[j]["SequenceNumber"].as_str().map(str::to_owned), Some(SequenceNumber::new(tag, ShardId(1), *o).to_string()));
                let ts = arr[j]["ApproximateArrivalTimestamp"].as_f64().expect("ts");
                prop_assert!(((ts * 1000.0).round() as i64 - t).abs() <= 1);
            }
            prop_assert_eq!(v["MillisBehindLatest"].as_i64(), Some(behind));
        }
    }
}
