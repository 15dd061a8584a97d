//! Resharding and stream/account settings operations.

use super::streams::{STREAM_MODES, StreamModeDetailsInput, selector, shard_id_member};
use super::{StreamSelector, check_selector};
use crate::WireError;
use crate::types::{de_int, ser_opt_timestamp};
use crate::validate::{
    HASH_KEY_PATTERN, RESOURCE_ARN_PATTERN, Shown, Violations, matches_decimal,
    matches_resource_arn,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SplitShardInput {
    pub new_starting_hash_key: Option<String>,
    pub shard_to_split: Option<String>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(SplitShardInput);

impl SplitShardInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.new_starting_hash_key, "newStartingHashKey");
        let h = self.new_starting_hash_key.as_deref();
        v.pattern(
            h,
            "newStartingHashKey",
            |s| matches_decimal(s, 38),
            HASH_KEY_PATTERN,
        );
        v.not_null(&self.shard_to_split, "shardToSplit");
        shard_id_member(&mut v, self.shard_to_split.as_deref(), "shardToSplit");
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
pub struct MergeShardsInput {
    pub adjacent_shard_to_merge: Option<String>,
    pub shard_to_merge: Option<String>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(MergeShardsInput);

impl MergeShardsInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.adjacent_shard_to_merge, "adjacentShardToMerge");
        shard_id_member(
            &mut v,
            self.adjacent_shard_to_merge.as_deref(),
            "adjacentShardToMerge",
        );
        v.not_null(&self.shard_to_merge, "shardToMerge");
        shard_id_member(&mut v, self.shard_to_merge.as_deref(), "shardToMerge");
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
pub struct UpdateShardCountInput {
    pub scaling_type: Option<String>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    #[serde(deserialize_with = "de_int")]
    pub target_shard_count: Option<i64>,
}
selector!(UpdateShardCountInput);

impl UpdateShardCountInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.scaling_type, "scalingType");
        v.one_of(
            self.scaling_type.as_deref(),
            "scalingType",
            &["UNIFORM_SCALING"],
        );
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.not_null(&self.target_shard_count, "targetShardCount");
        v.min_value(self.target_shard_count, "targetShardCount", 1);
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountOutput {
    pub stream_name: String,
    pub current_shard_count: u32,
    pub target_shard_count: u32,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateStreamModeInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub stream_mode_details: Option<StreamModeDetailsInput>,
    #[serde(deserialize_with = "de_int")]
    pub warm_throughput_mi_bps: Option<i64>,
}

impl UpdateStreamModeInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.stream_arn, "streamARN");
        v.stream_arn(self.stream_arn.as_deref(), "streamARN");
        v.not_null(&self.stream_mode_details, "streamModeDetails");
        if let Some(m) = &self.stream_mode_details {
            v.not_null(&m.stream_mode, "streamModeDetails.streamMode");
            v.one_of(
                m.stream_mode.as_deref(),
                "streamModeDetails.streamMode",
                &STREAM_MODES,
            );
        }
        v.min_value(self.warm_throughput_mi_bps, "warmThroughputMiBps", 0);
        v.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateMaxRecordSizeInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub stream_name: Option<String>,
    #[serde(rename = "MaxRecordSizeInKiB", deserialize_with = "de_int")]
    pub max_record_size_in_kib: Option<i64>,
}
selector!(UpdateMaxRecordSizeInput);

impl UpdateMaxRecordSizeInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.stream_arn(self.stream_arn.as_deref(), "streamARN");
        v.not_null(&self.max_record_size_in_kib, "maxRecordSizeInKiB");
        v.min_value(self.max_record_size_in_kib, "maxRecordSizeInKiB", 1024);
        v.max_value(self.max_record_size_in_kib, "maxRecordSizeInKiB", 10240);
        v.finish()
    }
}

pub const ENCRYPTION_TYPES: [&str; 2] = ["NONE", "KMS"];

/// Start- and StopStreamEncryption share one input shape.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StreamEncryptionInput {
    pub encryption_type: Option<String>,
    pub key_id: Option<String>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(StreamEncryptionInput);

impl StreamEncryptionInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.encryption_type, "encryptionType");
        v.one_of(
            self.encryption_type.as_deref(),
            "encryptionType",
            &ENCRYPTION_TYPES,
        );
        v.not_null(&self.key_id, "keyId");
        v.min_len(self.key_id.as_deref(), "keyId", 1);
        v.max_len(self.key_id.as_deref(), "keyId", 2048);
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.finish()
    }
}

pub const METRICS_NAMES: [&str; 8] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
    "ALL",
];

/// Enable- and DisableEnhancedMonitoring share one input shape.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EnhancedMonitoringInput {
    pub shard_level_metrics: Option<Vec<String>>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(EnhancedMonitoringInput);

impl EnhancedMonitoringInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.shard_level_metrics, "shardLevelMetrics");
        if let Some(m) = &self.shard_level_metrics {
            if m.is_empty() {
                v.push(
                    Shown::List(&[]),
                    "shardLevelMetrics",
                    "Member must have length greater than or equal to 1",
                );
            }
            if m.len() > 7 {
                v.push(
                    Shown::List(m),
                    "shardLevelMetrics",
                    "Member must have length less than or equal to 7",
                );
            }
            if m.iter().any(|x| !METRICS_NAMES.contains(&x.as_str())) {
                v.push(
                    Shown::List(m),
                    "shardLevelMetrics",
                    format_args!("Member must satisfy constraint: [Member must satisfy enum value set: [{}]]", METRICS_NAMES.join(", ")),
                );
            }
        }
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
pub struct EnhancedMonitoringOutput {
    pub stream_name: String,
    pub current_shard_level_metrics: Vec<String>,
    pub desired_shard_level_metrics: Vec<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateStreamWarmThroughputInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub stream_name: Option<String>,
    #[serde(deserialize_with = "de_int")]
    pub warm_throughput_mi_bps: Option<i64>,
}
selector!(UpdateStreamWarmThroughputInput);

impl UpdateStreamWarmThroughputInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.not_null(&self.warm_throughput_mi_bps, "warmThroughputMiBps");
        v.min_value(self.warm_throughput_mi_bps, "warmThroughputMiBps", 0);
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughputObject {
    pub target_mi_bps: u32,
    pub current_mi_bps: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateStreamWarmThroughputOutput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
    pub stream_name: String,
    pub warm_throughput: WarmThroughputObject,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CommitmentInput {
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateAccountSettingsInput {
    pub minimum_throughput_billing_commitment: Option<CommitmentInput>,
}

impl UpdateAccountSettingsInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        let c = &self.minimum_throughput_billing_commitment;
        v.not_null(c, "minimumThroughputBillingCommitment");
        if let Some(c) = c {
            let path = "minimumThroughputBillingCommitment.status";
            v.not_null(&c.status, path);
            v.one_of(c.status.as_deref(), path, &["ENABLED", "DISABLED"]);
        }
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CommitmentOutput {
    pub status: String,
    #[serde(
        serialize_with = "ser_opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<i64>,
    #[serde(
        serialize_with = "ser_opt_timestamp",
        skip_serializing_if = "Option::is_none"
    )]
    pub ended_at: Option<i64>,
}

/// DescribeAccountSettings and UpdateAccountSettings answer the same shape.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettingsOutput {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_throughput_billing_commitment: Option<CommitmentOutput>,
}

/// Put-, Get- and DeleteResourcePolicy share one input shape (`Policy` only for Put).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ResourcePolicyInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub policy: Option<String>,
}

impl ResourcePolicyInput {
    pub fn validate(&self, needs_policy: bool) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.resource_arn, "resourceARN");
        v.pattern(
            self.resource_arn.as_deref(),
            "resourceARN",
            matches_resource_arn,
            RESOURCE_ARN_PATTERN,
        );
        v.min_len(self.resource_arn.as_deref(), "resourceARN", 1);
        v.max_len(self.resource_arn.as_deref(), "resourceARN", 2048);
        if needs_policy {
            v.not_null(&self.policy, "policy");
        }
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourcePolicyOutput {
    pub policy: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_shard_reports_missing_members_in_aws_order() {
        let input: SplitShardInput = serde_json::from_str(r#"{"StreamName":"s"}"#).expect("json");
        assert_eq!(
            input.validate().expect_err("invalid").message.as_deref(),
            Some(
                "2 validation errors detected: Value null at 'newStartingHashKey' failed to satisfy constraint: Member must not be null; \
                 Value null at 'shardToSplit' failed to satisfy constraint: Member must not be null"
            )
        );
    }

    #[test]
    fn enhanced_monitoring_rejects_unknown_metric_names() {
        let input: EnhancedMonitoringInput =
            serde_json::from_str(r#"{"StreamName":"s","ShardLevelMetrics":["Nope"]}"#)
                .expect("json");
        let msg = input
            .validate()
            .expect_err("invalid")
            .message
            .unwrap_or_default();
        assert!(msg.starts_with("1 validation error detected: Value '[Nope]' at 'shardLevelMetrics' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [IncomingBytes"), "{msg}");
    }
}
