//! Stream control-plane operations.

use super::shapes::{Shard, StreamDescription, StreamDescriptionSummary, StreamSummary};
use super::{StreamSelector, check_selector};
use crate::WireError;
use crate::types::{de_int, de_timestamp};
use crate::validate::{NAME_PATTERN, Violations, matches_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

macro_rules! selector {
    ($t:ty) => {
        impl StreamSelector for $t {
            fn stream_name(&self) -> Option<&str> {
                self.stream_name.as_deref()
            }
            fn stream_arn(&self) -> Option<&str> {
                self.stream_arn.as_deref()
            }
        }
    };
}
pub(crate) use selector;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StreamModeDetailsInput {
    pub stream_mode: Option<String>,
}

pub const STREAM_MODES: [&str; 2] = ["PROVISIONED", "ON_DEMAND"];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateStreamInput {
    #[serde(deserialize_with = "de_int")]
    pub shard_count: Option<i64>,
    pub stream_name: Option<String>,
    pub stream_mode_details: Option<StreamModeDetailsInput>,
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "MaxRecordSizeInKiB", deserialize_with = "de_int")]
    pub max_record_size_in_kib: Option<i64>,
    #[serde(deserialize_with = "de_int")]
    pub warm_throughput_mi_bps: Option<i64>,
}

impl CreateStreamInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.min_value(self.shard_count, "shardCount", 1);
        v.not_null(&self.stream_name, "streamName");
        v.stream_name(self.stream_name.as_deref(), "streamName");
        if let Some(m) = &self.stream_mode_details {
            v.not_null(&m.stream_mode, "streamModeDetails.streamMode");
            v.one_of(
                m.stream_mode.as_deref(),
                "streamModeDetails.streamMode",
                &STREAM_MODES,
            );
        }
        if let Some(tags) = &self.tags {
            super::tags::check_tag_map(&mut v, tags, "tags", 200);
        }
        v.min_value(self.max_record_size_in_kib, "maxRecordSizeInKiB", 1024);
        v.max_value(self.max_record_size_in_kib, "maxRecordSizeInKiB", 10240);
        v.min_value(self.warm_throughput_mi_bps, "warmThroughputMiBps", 0);
        v.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub enforce_consumer_deletion: Option<bool>,
}
selector!(DeleteStreamInput);

impl DeleteStreamInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeStreamInput {
    pub exclusive_start_shard_id: Option<String>,
    #[serde(deserialize_with = "de_int")]
    pub limit: Option<i64>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(DescribeStreamInput);

impl DescribeStreamInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        shard_id_member(
            &mut v,
            self.exclusive_start_shard_id.as_deref(),
            "exclusiveStartShardId",
        );
        v.min_value(self.limit, "limit", 1);
        v.max_value(self.limit, "limit", 10000);
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.finish()
    }
}

/// Checks of a ShardId-shaped member: pattern, then 1..=128.
pub fn shard_id_member(v: &mut Violations, value: Option<&str>, path: &str) {
    v.pattern(value, path, matches_name, NAME_PATTERN);
    v.min_len(value, path, 1);
    v.max_len(value, path, 128);
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    pub stream_description: StreamDescription,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DescribeStreamSummaryInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(DescribeStreamSummaryInput);

impl DescribeStreamSummaryInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
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
pub struct DescribeStreamSummaryOutput {
    pub stream_description_summary: StreamDescriptionSummary,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListStreamsInput {
    pub exclusive_start_stream_name: Option<String>,
    #[serde(deserialize_with = "de_int")]
    pub limit: Option<i64>,
    pub next_token: Option<String>,
}

impl ListStreamsInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.stream_name(
            self.exclusive_start_stream_name.as_deref(),
            "exclusiveStartStreamName",
        );
        v.min_value(self.limit, "limit", 1);
        v.max_value(self.limit, "limit", 10000);
        v.min_len(self.next_token.as_deref(), "nextToken", 1);
        v.max_len(self.next_token.as_deref(), "nextToken", 1_048_576);
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    pub stream_names: Vec<String>,
    pub has_more_streams: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub stream_summaries: Vec<StreamSummary>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ShardFilterInput {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub shard_id: Option<String>,
    #[serde(deserialize_with = "de_timestamp")]
    pub timestamp: Option<i64>,
}

pub const SHARD_FILTER_TYPES: [&str; 6] = [
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListShardsInput {
    pub exclusive_start_shard_id: Option<String>,
    #[serde(deserialize_with = "de_int")]
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    #[serde(deserialize_with = "de_timestamp")]
    pub stream_creation_timestamp: Option<i64>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub shard_filter: Option<ShardFilterInput>,
}
selector!(ListShardsInput);

impl ListShardsInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        shard_id_member(
            &mut v,
            self.exclusive_start_shard_id.as_deref(),
            "exclusiveStartShardId",
        );
        v.min_value(self.max_results, "maxResults", 1);
        v.max_value(self.max_results, "maxResults", 10000);
        v.min_len(self.next_token.as_deref(), "nextToken", 1);
        v.max_len(self.next_token.as_deref(), "nextToken", 1_048_576);
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        if let Some(f) = &self.shard_filter {
            v.not_null(&f.kind, "shardFilter.type");
            v.one_of(f.kind.as_deref(), "shardFilter.type", &SHARD_FILTER_TYPES);
            shard_id_member(&mut v, f.shard_id.as_deref(), "shardFilter.shardId");
        }
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsOutput {
    pub shards: Vec<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Increase- and DecreaseStreamRetentionPeriod share one input shape.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RetentionPeriodInput {
    #[serde(deserialize_with = "de_int")]
    pub retention_period_hours: Option<i64>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(RetentionPeriodInput);

impl RetentionPeriodInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.retention_period_hours, "retentionPeriodHours");
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
pub struct DescribeLimitsOutput {
    pub shard_limit: u32,
    pub open_shard_count: u32,
    pub on_demand_stream_count: u32,
    pub on_demand_stream_count_limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_stream_without_name_is_a_validation_error() {
        let input: CreateStreamInput = serde_json::from_str(r#"{"ShardCount":0}"#).expect("json");
        assert_eq!(
            input.validate().expect_err("invalid").message.as_deref(),
            Some(
                "2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; \
                 Value null at 'streamName' failed to satisfy constraint: Member must not be null"
            )
        );
    }

    #[test]
    fn fractional_integers_are_floored_and_nulls_ignored() {
        let input: DescribeStreamInput =
            serde_json::from_str(r#"{"Limit":5.9,"StreamName":null,"Unknown":1}"#).expect("json");
        assert_eq!(input.limit, Some(5));
        assert_eq!(input.stream_name, None);
    }
}
