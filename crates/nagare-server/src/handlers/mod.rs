//! One thin function per operation: decode, validate, one engine call, encode.

mod admin;
mod consumers;
mod records;
mod streams;
mod tags;

use crate::error::ServiceError;
use nagare_engine::Engine;
use nagare_proto::ops::Operation;
use nagare_proto::ops::shapes;
use nagare_proto::{ErrorCode, WireError, typecheck};
use serde::{Deserialize, Serialize};

/// A successful body; empty for operations without output.
pub type Reply = Vec<u8>;

/// Decodes an input; on failure explains it the way AWS does.
pub(crate) fn parse<'a, T: Deserialize<'a>>(
    op: Operation,
    body: &'a [u8],
) -> Result<T, ServiceError> {
    serde_json::from_slice(body).map_err(|_| ServiceError(typecheck::explain(op, body)))
}

fn json<T: Serialize>(v: &T) -> Result<Reply, ServiceError> {
    serde_json::to_vec(v)
        .map_err(|e| ServiceError(WireError::new(ErrorCode::InternalFailure, e.to_string())))
}

fn empty() -> Result<Reply, ServiceError> {
    Ok(Vec::new())
}

/// `DryRun: true` on a request that would have succeeded.
pub(crate) fn dry_run() -> ServiceError {
    ServiceError(WireError::new(
        ErrorCode::DryRunOperation,
        "Request would have succeeded, but DryRun flag is set.",
    ))
}

/// Operations this server does not serve yet answer this (400, never a 500 or a hang).
fn unsupported(op: Operation) -> Result<Reply, ServiceError> {
    Err(ServiceError(WireError::new(
        ErrorCode::InvalidArgument,
        format!("{} is not supported by this server yet.", op.name()),
    )))
}

/// AWS's control-plane call rates (spec §3.7): calls per second, and whether the limit is per
/// stream (else per account). Data-plane calls are limited per shard by the engine.
fn control_rate(op: Operation) -> Option<(f64, bool)> {
    use Operation as O;
    match op {
        O::CreateStream
        | O::DeleteStream
        | O::ListStreams
        | O::MergeShards
        | O::SplitShard
        | O::AddTagsToStream
        | O::RemoveTagsFromStream
        | O::ListTagsForStream
        | O::RegisterStreamConsumer
        | O::DescribeAccountSettings
        | O::UpdateAccountSettings
        | O::UpdateStreamWarmThroughput => Some((5.0, false)),
        O::DescribeStream => Some((10.0, false)),
        O::DescribeStreamSummary => Some((20.0, false)),
        O::DescribeStreamConsumer => Some((20.0, true)),
        O::ListStreamConsumers | O::DeregisterStreamConsumer => Some((5.0, true)),
        O::ListShards => Some((1000.0, true)),
        O::UpdateShardCount => Some((10.0, false)),
        O::DescribeLimits => Some((1.0, false)),
        O::DecreaseStreamRetentionPeriod
        | O::IncreaseStreamRetentionPeriod
        | O::DeleteResourcePolicy
        | O::DisableEnhancedMonitoring
        | O::EnableEnhancedMonitoring
        | O::GetRecords
        | O::GetResourcePolicy
        | O::GetShardIterator
        | O::ListTagsForResource
        | O::PutRecord
        | O::PutRecords
        | O::PutResourcePolicy
        | O::StartStreamEncryption
        | O::StopStreamEncryption
        | O::SubscribeToShard
        | O::TagResource
        | O::UntagResource
        | O::UpdateMaxRecordSize
        | O::UpdateStreamMode
        | O::UpdateStreamRecordDistributionStrategy => None,
    }
}

/// The stream a request names, for per-stream rate limits (a second, tiny parse of the body,
/// done only for the few per-stream-limited control calls).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Scope {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

fn admit(engine: &Engine, op: Operation, body: &[u8]) -> Result<(), ServiceError> {
    let Some((per_sec, per_stream)) = control_rate(op) else {
        return Ok(());
    };
    let scope = if per_stream {
        let s: Scope = serde_json::from_slice(body).unwrap_or_default();
        s.stream_name.or(s.stream_arn).unwrap_or_default()
    } else {
        String::new()
    };
    if engine.admit_control(op.name(), &scope, per_sec) {
        return Ok(());
    }
    // A malformed body is a SerializationException before it is anything else.
    if crate::protocol::is_malformed_json(body) {
        return Err(ServiceError(WireError::bare(ErrorCode::Serialization)));
    }
    Err(ServiceError(WireError::new(
        ErrorCode::LimitExceeded,
        format!(
            "Rate exceeded for operation {} under account {}.",
            op.name(),
            engine.account()
        ),
    )))
}

/// Answers one operation whose envelope already checked out.
pub async fn dispatch(engine: &Engine, op: Operation, body: &[u8]) -> Result<Reply, ServiceError> {
    use Operation as O;
    admit(engine, op, body)?;
    match op {
        O::CreateStream => streams::create_stream(engine, parse(op, body)?),
        O::DeleteStream => streams::delete_stream(engine, parse(op, body)?),
        O::DescribeStream => streams::describe_stream(engine, parse(op, body)?),
        O::DescribeStreamSummary => streams::describe_stream_summary(engine, parse(op, body)?),
        O::ListStreams => streams::list_streams(engine, parse(op, body)?),
        O::ListShards => streams::list_shards(engine, parse(op, body)?),
        O::IncreaseStreamRetentionPeriod => {
            streams::change_retention(engine, parse(op, body)?, true)
        }
        O::DecreaseStreamRetentionPeriod => {
            streams::change_retention(engine, parse(op, body)?, false)
        }
        O::DescribeLimits => {
            parse::<serde::de::IgnoredAny>(op, body)?;
            streams::describe_limits(engine)
        }
        O::PutRecord => records::put_record(engine, parse(op, body)?).await,
        O::PutRecords => records::put_records(engine, parse(op, body)?).await,
        O::GetShardIterator => records::get_shard_iterator(engine, parse(op, body)?),
        O::GetRecords => records::get_records(engine, parse(op, body)?),
        O::AddTagsToStream => tags::add_tags_to_stream(engine, parse(op, body)?),
        O::RemoveTagsFromStream => tags::remove_tags_from_stream(engine, parse(op, body)?),
        O::ListTagsForStream => tags::list_tags_for_stream(engine, parse(op, body)?),
        O::TagResource => tags::tag_resource(engine, parse(op, body)?),
        O::UntagResource => tags::untag_resource(engine, parse(op, body)?),
        O::ListTagsForResource => tags::list_tags_for_resource(engine, parse(op, body)?),
        O::SplitShard => admin::split_shard(engine, parse(op, body)?).await,
        O::MergeShards => admin::merge_shards(engine, parse(op, body)?).await,
        O::UpdateShardCount => admin::update_shard_count(engine, parse(op, body)?).await,
        O::UpdateStreamMode => admin::update_stream_mode(engine, parse(op, body)?),
        O::UpdateMaxRecordSize => admin::update_max_record_size(engine, parse(op, body)?),
        O::StartStreamEncryption => admin::set_encryption(engine, parse(op, body)?, true),
        O::StopStreamEncryption => admin::set_encryption(engine, parse(op, body)?, false),
        O::EnableEnhancedMonitoring => {
            admin::set_enhanced_monitoring(engine, parse(op, body)?, true)
        }
        O::DisableEnhancedMonitoring => {
            admin::set_enhanced_monitoring(engine, parse(op, body)?, false)
        }
        O::UpdateStreamWarmThroughput => admin::update_warm_throughput(engine, parse(op, body)?),
        O::DescribeAccountSettings => {
            parse::<serde::de::IgnoredAny>(op, body)?;
            admin::describe_account_settings(engine)
        }
        O::UpdateAccountSettings => admin::update_account_settings(engine, parse(op, body)?),
        O::PutResourcePolicy => admin::put_resource_policy(engine, parse(op, body)?),
        O::GetResourcePolicy => admin::get_resource_policy(engine, parse(op, body)?),
        O::DeleteResourcePolicy => admin::delete_resource_policy(engine, parse(op, body)?),
        O::RegisterStreamConsumer => consumers::register_stream_consumer(engine, parse(op, body)?),
        O::DescribeStreamConsumer => consumers::describe_stream_consumer(engine, parse(op, body)?),
        O::DeregisterStreamConsumer => {
            consumers::deregister_stream_consumer(engine, parse(op, body)?)
        }
        O::ListStreamConsumers => consumers::list_stream_consumers(engine, parse(op, body)?),
        // SubscribeToShard answers with an event stream; `crate::subscribe` serves it before
        // dispatch is reached.
        O::SubscribeToShard | O::UpdateStreamRecordDistributionStrategy => unsupported(op),
    }
}

/// The `ChildShards` of an end-of-shard answer (GetRecords, SubscribeToShard).
pub(crate) fn child_shards_out(
    children: &[nagare_engine::data::ChildShardInfo],
) -> Vec<shapes::ChildShard> {
    children
        .iter()
        .map(|c| shapes::ChildShard {
            shard_id: c.shard.to_string(),
            parent_shards: c.parents.iter().map(ToString::to_string).collect(),
            hash_key_range: shapes::HashKeyRange {
                starting_hash_key: c.range.start.to_string(),
                ending_hash_key: c.range.end.to_string(),
            },
        })
        .collect()
}

/// A shard as the wire shows it.
fn shard_out(
    view: &nagare_engine::view::StreamView,
    s: &nagare_engine::view::ShardView,
) -> shapes::Shard {
    shapes::Shard {
        shard_id: s.id.to_string(),
        parent_shard_id: s.meta.parent.map(|p| nagare_types::ShardId(p).to_string()),
        adjacent_parent_shard_id: s
            .meta
            .adjacent_parent
            .map(|p| nagare_types::ShardId(p).to_string()),
        hash_key_range: shapes::HashKeyRange {
            starting_hash_key: s.range.start.to_string(),
            ending_hash_key: s.range.end.to_string(),
        },
        sequence_number_range: shapes::SequenceNumberRange {
            starting_sequence_number: view.starting_sequence(s).to_string(),
            ending_sequence_number: view.ending_sequence(s).map(|e| e.to_string()),
        },
    }
}
