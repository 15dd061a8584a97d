//! Stream control-plane handlers.

use super::{Reply, empty, json, shard_out};
use crate::error::ServiceError;
use nagare_engine::Engine;
use nagare_engine::control::{CreateStream, ListShards, ShardFilter};
use nagare_engine::meta::StreamMode;
use nagare_engine::view::StreamView;
use nagare_proto::ops::shapes::{
    EnhancedMetrics, StreamDescription, StreamDescriptionSummary, StreamModeDetails, StreamSummary,
    WarmThroughput,
};
use nagare_proto::ops::streams::*;
use nagare_proto::{ErrorCode, WireError};
use nagare_types::ShardId;

fn mode_details(view: &StreamView) -> StreamModeDetails {
    StreamModeDetails {
        stream_mode: view.meta.mode.as_str().to_owned(),
    }
}

fn enhanced(view: &StreamView) -> Vec<EnhancedMetrics> {
    vec![EnhancedMetrics {
        shard_level_metrics: view.meta.shard_level_metrics.clone(),
    }]
}

/// `EncryptionType` and `KeyId` as DescribeStream(Summary) shows them.
fn encryption(view: &StreamView) -> (String, Option<String>) {
    match &view.meta.encryption_key {
        Some(k) => ("KMS".to_owned(), Some(k.clone())),
        None => ("NONE".to_owned(), None),
    }
}

pub fn create_stream(engine: &Engine, input: CreateStreamInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    let mode = match input
        .stream_mode_details
        .as_ref()
        .and_then(|m| m.stream_mode.as_deref())
    {
        Some("ON_DEMAND") => StreamMode::OnDemand,
        _ => StreamMode::Provisioned,
    };
    let to_u32 = |v: Option<i64>| v.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    engine.create_stream(CreateStream {
        name: input.stream_name.as_deref().unwrap_or_default(),
        shard_count: to_u32(input.shard_count),
        mode,
        tags: input.tags.unwrap_or_default(),
        max_record_kib: to_u32(input.max_record_size_in_kib),
    })?;
    empty()
}

pub fn delete_stream(engine: &Engine, input: DeleteStreamInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine.delete_stream(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        input.enforce_consumer_deletion.unwrap_or(false),
    )?;
    empty()
}

pub fn describe_stream(engine: &Engine, input: DescribeStreamInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    let page = engine.describe_stream(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        input.limit.map(|l| l as u32),
        input.exclusive_start_shard_id.as_deref(),
    )?;
    let v = &page.view;
    json(&DescribeStreamOutput {
        stream_description: StreamDescription {
            stream_name: v.meta.name.clone(),
            stream_arn: engine.stream_arn(&v.meta.name),
            stream_status: v.meta.status.as_str().to_owned(),
            stream_mode_details: mode_details(v),
            shards: page
                .shards
                .iter()
                .filter_map(|&i| v.shards.get(i))
                .map(|s| shard_out(v, s))
                .collect(),
            has_more_shards: page.has_more,
            retention_period_hours: v.meta.retention_hours,
            stream_creation_timestamp: v.meta.created_ms,
            enhanced_monitoring: enhanced(v),
            encryption_type: encryption(v).0,
            key_id: encryption(v).1,
        },
    })
}

pub fn describe_stream_summary(
    engine: &Engine,
    input: DescribeStreamSummaryInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let v = engine
        .describe_stream_summary(input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    json(&DescribeStreamSummaryOutput {
        stream_description_summary: StreamDescriptionSummary {
            stream_name: v.meta.name.clone(),
            stream_arn: engine.stream_arn(&v.meta.name),
            stream_status: v.meta.status.as_str().to_owned(),
            stream_mode_details: mode_details(&v),
            retention_period_hours: v.meta.retention_hours,
            stream_creation_timestamp: v.meta.created_ms,
            enhanced_monitoring: enhanced(&v),
            encryption_type: encryption(&v).0,
            key_id: encryption(&v).1,
            open_shard_count: v.open_shard_count(),
            consumer_count: v.meta.consumers.len() as u32,
            max_record_size_in_kib: v.meta.max_record_kib,
            warm_throughput: v.meta.warm_throughput_mibps.map(|m| WarmThroughput {
                target_mi_bps: m,
                current_mi_bps: m,
            }),
        },
    })
}

pub fn list_streams(engine: &Engine, input: ListStreamsInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    let list = engine.list_streams(
        input.limit.map(|l| l as u32),
        input.exclusive_start_stream_name.as_deref(),
        input.next_token.as_deref(),
    )?;
    json(&ListStreamsOutput {
        stream_names: list.streams.iter().map(|v| v.meta.name.clone()).collect(),
        has_more_streams: list.has_more,
        next_token: list.next_token,
        stream_summaries: list
            .streams
            .iter()
            .map(|v| StreamSummary {
                stream_name: v.meta.name.clone(),
                stream_arn: engine.stream_arn(&v.meta.name),
                stream_status: v.meta.status.as_str().to_owned(),
                stream_mode_details: mode_details(v),
                stream_creation_timestamp: Some(v.meta.created_ms),
            })
            .collect(),
    })
}

fn shard_filter(f: &ShardFilterInput) -> Result<ShardFilter, ServiceError> {
    let need_ts = |kind: &str| {
        f.timestamp.ok_or_else(|| {
            ServiceError(WireError::new(
                ErrorCode::InvalidArgument,
                format!("Timestamp must be specified for ShardFilter type {kind}."),
            ))
        })
    };
    Ok(match f.kind.as_deref().unwrap_or_default() {
        "AFTER_SHARD_ID" => {
            let id = f.shard_id.as_deref().ok_or_else(|| {
                ServiceError(WireError::new(
                    ErrorCode::InvalidArgument,
                    "ShardId must be specified for ShardFilter type AFTER_SHARD_ID.",
                ))
            })?;
            ShardFilter::AfterShardId(id.parse().unwrap_or(ShardId(0)))
        }
        "AT_TRIM_HORIZON" => ShardFilter::AtTrimHorizon,
        "AT_LATEST" => ShardFilter::AtLatest,
        "AT_TIMESTAMP" => ShardFilter::AtTimestamp(need_ts("AT_TIMESTAMP")?),
        "FROM_TIMESTAMP" => ShardFilter::FromTimestamp(need_ts("FROM_TIMESTAMP")?),
        _ => ShardFilter::FromTrimHorizon,
    })
}

pub fn list_shards(engine: &Engine, input: ListShardsInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    let filter = input.shard_filter.as_ref().map(shard_filter).transpose()?;
    let list = engine.list_shards(ListShards {
        name: input.stream_name.as_deref(),
        arn: input.stream_arn.as_deref(),
        next_token: input.next_token.as_deref(),
        exclusive_start: input.exclusive_start_shard_id.as_deref(),
        max_results: input.max_results.map(|m| m as u32),
        stream_creation_ms: input.stream_creation_timestamp,
        filter,
    })?;
    let v = &list.view;
    json(&ListShardsOutput {
        shards: list
            .shards
            .iter()
            .filter_map(|&i| v.shards.get(i))
            .map(|s| shard_out(v, s))
            .collect(),
        next_token: list.next_token,
    })
}

pub fn change_retention(
    engine: &Engine,
    input: RetentionPeriodInput,
    increase: bool,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let hours = input.retention_period_hours.unwrap_or_default();
    let (name, arn) = (input.stream_name.as_deref(), input.stream_arn.as_deref());
    if increase {
        engine.increase_retention(name, arn, hours)?;
    } else {
        engine.decrease_retention(name, arn, hours)?;
    }
    empty()
}

pub fn describe_limits(engine: &Engine) -> Result<Reply, ServiceError> {
    let l = engine.describe_limits();
    json(&DescribeLimitsOutput {
        shard_limit: l.shard_limit,
        open_shard_count: l.open_shard_count,
        on_demand_stream_count: l.on_demand_stream_count,
        on_demand_stream_count_limit: l.on_demand_stream_count_limit,
    })
}
