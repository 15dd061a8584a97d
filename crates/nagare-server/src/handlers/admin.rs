//! Resharding and settings handlers.

use super::{Reply, empty, json};
use crate::error::ServiceError;
use nagare_engine::Engine;
use nagare_engine::meta::BillingCommitment;
use nagare_engine::meta::StreamMode;
use nagare_proto::ops::admin::*;
use nagare_proto::{ErrorCode, WireError};

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError(WireError::new(ErrorCode::InvalidArgument, msg))
}

pub async fn split_shard(engine: &Engine, input: SplitShardInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine
        .split_shard(
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
            input.shard_to_split.as_deref().unwrap_or_default(),
            input.new_starting_hash_key.as_deref().unwrap_or_default(),
        )
        .await?;
    empty()
}

pub async fn merge_shards(engine: &Engine, input: MergeShardsInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine
        .merge_shards(
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
            input.shard_to_merge.as_deref().unwrap_or_default(),
            input.adjacent_shard_to_merge.as_deref().unwrap_or_default(),
        )
        .await?;
    empty()
}

pub async fn update_shard_count(
    engine: &Engine,
    input: UpdateShardCountInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let target = u32::try_from(input.target_shard_count.unwrap_or(1)).unwrap_or(u32::MAX);
    let out = engine
        .update_shard_count(
            input.stream_name.as_deref(),
            input.stream_arn.as_deref(),
            target,
        )
        .await?;
    json(&UpdateShardCountOutput {
        stream_arn: engine.stream_arn(&out.stream),
        stream_name: out.stream,
        current_shard_count: out.current,
        target_shard_count: out.target,
    })
}

pub fn update_stream_mode(
    engine: &Engine,
    input: UpdateStreamModeInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let mode = match input
        .stream_mode_details
        .as_ref()
        .and_then(|m| m.stream_mode.as_deref())
    {
        Some("ON_DEMAND") => StreamMode::OnDemand,
        _ => StreamMode::Provisioned,
    };
    engine.update_stream_mode(input.stream_arn.as_deref().unwrap_or_default(), mode)?;
    empty()
}

pub fn update_max_record_size(
    engine: &Engine,
    input: UpdateMaxRecordSizeInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let kib = input.max_record_size_in_kib.unwrap_or(1024) as u32;
    engine.update_max_record_size(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        kib,
    )?;
    empty()
}

pub fn set_encryption(
    engine: &Engine,
    input: StreamEncryptionInput,
    start: bool,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    if input.encryption_type.as_deref() != Some("KMS") {
        return Err(invalid("EncryptionType must be KMS."));
    }
    let key = input.key_id.as_deref().filter(|_| start);
    engine.set_encryption(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        key,
    )?;
    empty()
}

pub fn set_enhanced_monitoring(
    engine: &Engine,
    input: EnhancedMonitoringInput,
    enable: bool,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let change = engine.set_enhanced_monitoring(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        input.shard_level_metrics.as_deref().unwrap_or_default(),
        enable,
    )?;
    json(&EnhancedMonitoringOutput {
        stream_arn: engine.stream_arn(&change.stream),
        stream_name: change.stream,
        current_shard_level_metrics: change.current,
        desired_shard_level_metrics: change.desired,
    })
}

pub fn update_warm_throughput(
    engine: &Engine,
    input: UpdateStreamWarmThroughputInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let mibps = u32::try_from(input.warm_throughput_mi_bps.unwrap_or(0)).unwrap_or(u32::MAX);
    let w = engine.update_warm_throughput(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        mibps,
    )?;
    json(&UpdateStreamWarmThroughputOutput {
        stream_arn: engine.stream_arn(&w.stream),
        stream_name: w.stream,
        warm_throughput: WarmThroughputObject {
            target_mi_bps: w.target_mibps,
            current_mi_bps: w.current_mibps,
        },
    })
}

fn commitment_out(c: Option<BillingCommitment>) -> AccountSettingsOutput {
    AccountSettingsOutput {
        minimum_throughput_billing_commitment: c.map(|c| CommitmentOutput {
            status: c.status,
            started_at: c.started_ms,
            ended_at: c.ended_ms,
        }),
    }
}

pub fn describe_account_settings(engine: &Engine) -> Result<Reply, ServiceError> {
    json(&commitment_out(engine.describe_account_settings()))
}

pub fn update_account_settings(
    engine: &Engine,
    input: UpdateAccountSettingsInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let status = input
        .minimum_throughput_billing_commitment
        .and_then(|c| c.status)
        .unwrap_or_default();
    json(&commitment_out(Some(
        engine.update_account_settings(&status)?,
    )))
}

pub fn put_resource_policy(
    engine: &Engine,
    input: ResourcePolicyInput,
) -> Result<Reply, ServiceError> {
    input.validate(true)?;
    engine.put_resource_policy(
        input.resource_arn.as_deref().unwrap_or_default(),
        input.policy.as_deref().unwrap_or_default(),
    )?;
    empty()
}

pub fn get_resource_policy(
    engine: &Engine,
    input: ResourcePolicyInput,
) -> Result<Reply, ServiceError> {
    input.validate(false)?;
    let policy = engine.get_resource_policy(input.resource_arn.as_deref().unwrap_or_default())?;
    json(&GetResourcePolicyOutput { policy })
}

pub fn delete_resource_policy(
    engine: &Engine,
    input: ResourcePolicyInput,
) -> Result<Reply, ServiceError> {
    input.validate(false)?;
    engine.delete_resource_policy(input.resource_arn.as_deref().unwrap_or_default())?;
    empty()
}
