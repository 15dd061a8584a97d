//! Operation inputs and outputs with AWS member names. Inputs keep every member optional so
//! that validation, not deserialization, reports missing ones (AWS reports them as
//! `Member must not be null`). Unknown members are ignored and `null` means absent.

pub mod admin;
pub mod consumers;
pub mod records;
pub mod shapes;
pub mod streams;
pub mod tags;

use crate::validate::Violations;

/// The operations this server knows by name (spec §2). `implemented()` says which of them
/// it serves; the others answer a clear error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    AddTagsToStream,
    CreateStream,
    DecreaseStreamRetentionPeriod,
    DeleteResourcePolicy,
    DeleteStream,
    DeregisterStreamConsumer,
    DescribeAccountSettings,
    DescribeLimits,
    DescribeStream,
    DescribeStreamConsumer,
    DescribeStreamSummary,
    DisableEnhancedMonitoring,
    EnableEnhancedMonitoring,
    GetRecords,
    GetResourcePolicy,
    GetShardIterator,
    IncreaseStreamRetentionPeriod,
    ListShards,
    ListStreamConsumers,
    ListStreams,
    ListTagsForResource,
    ListTagsForStream,
    MergeShards,
    PutRecord,
    PutRecords,
    PutResourcePolicy,
    RegisterStreamConsumer,
    RemoveTagsFromStream,
    SplitShard,
    StartStreamEncryption,
    StopStreamEncryption,
    SubscribeToShard,
    TagResource,
    UntagResource,
    UpdateAccountSettings,
    UpdateMaxRecordSize,
    UpdateShardCount,
    UpdateStreamMode,
    UpdateStreamRecordDistributionStrategy,
    UpdateStreamWarmThroughput,
}

impl Operation {
    pub const ALL: [Operation; 40] = [
        Operation::AddTagsToStream,
        Operation::CreateStream,
        Operation::DecreaseStreamRetentionPeriod,
        Operation::DeleteResourcePolicy,
        Operation::DeleteStream,
        Operation::DeregisterStreamConsumer,
        Operation::DescribeAccountSettings,
        Operation::DescribeLimits,
        Operation::DescribeStream,
        Operation::DescribeStreamConsumer,
        Operation::DescribeStreamSummary,
        Operation::DisableEnhancedMonitoring,
        Operation::EnableEnhancedMonitoring,
        Operation::GetRecords,
        Operation::GetResourcePolicy,
        Operation::GetShardIterator,
        Operation::IncreaseStreamRetentionPeriod,
        Operation::ListShards,
        Operation::ListStreamConsumers,
        Operation::ListStreams,
        Operation::ListTagsForResource,
        Operation::ListTagsForStream,
        Operation::MergeShards,
        Operation::PutRecord,
        Operation::PutRecords,
        Operation::PutResourcePolicy,
        Operation::RegisterStreamConsumer,
        Operation::RemoveTagsFromStream,
        Operation::SplitShard,
        Operation::StartStreamEncryption,
        Operation::StopStreamEncryption,
        Operation::SubscribeToShard,
        Operation::TagResource,
        Operation::UntagResource,
        Operation::UpdateAccountSettings,
        Operation::UpdateMaxRecordSize,
        Operation::UpdateShardCount,
        Operation::UpdateStreamMode,
        Operation::UpdateStreamRecordDistributionStrategy,
        Operation::UpdateStreamWarmThroughput,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::AddTagsToStream => "AddTagsToStream",
            Operation::CreateStream => "CreateStream",
            Operation::DecreaseStreamRetentionPeriod => "DecreaseStreamRetentionPeriod",
            Operation::DeleteResourcePolicy => "DeleteResourcePolicy",
            Operation::DeleteStream => "DeleteStream",
            Operation::DeregisterStreamConsumer => "DeregisterStreamConsumer",
            Operation::DescribeAccountSettings => "DescribeAccountSettings",
            Operation::DescribeLimits => "DescribeLimits",
            Operation::DescribeStream => "DescribeStream",
            Operation::DescribeStreamConsumer => "DescribeStreamConsumer",
            Operation::DescribeStreamSummary => "DescribeStreamSummary",
            Operation::DisableEnhancedMonitoring => "DisableEnhancedMonitoring",
            Operation::EnableEnhancedMonitoring => "EnableEnhancedMonitoring",
            Operation::GetRecords => "GetRecords",
            Operation::GetResourcePolicy => "GetResourcePolicy",
            Operation::GetShardIterator => "GetShardIterator",
            Operation::IncreaseStreamRetentionPeriod => "IncreaseStreamRetentionPeriod",
            Operation::ListShards => "ListShards",
            Operation::ListStreamConsumers => "ListStreamConsumers",
            Operation::ListStreams => "ListStreams",
            Operation::ListTagsForResource => "ListTagsForResource",
            Operation::ListTagsForStream => "ListTagsForStream",
            Operation::MergeShards => "MergeShards",
            Operation::PutRecord => "PutRecord",
            Operation::PutRecords => "PutRecords",
            Operation::PutResourcePolicy => "PutResourcePolicy",
            Operation::RegisterStreamConsumer => "RegisterStreamConsumer",
            Operation::RemoveTagsFromStream => "RemoveTagsFromStream",
            Operation::SplitShard => "SplitShard",
            Operation::StartStreamEncryption => "StartStreamEncryption",
            Operation::StopStreamEncryption => "StopStreamEncryption",
            Operation::SubscribeToShard => "SubscribeToShard",
            Operation::TagResource => "TagResource",
            Operation::UntagResource => "UntagResource",
            Operation::UpdateAccountSettings => "UpdateAccountSettings",
            Operation::UpdateMaxRecordSize => "UpdateMaxRecordSize",
            Operation::UpdateShardCount => "UpdateShardCount",
            Operation::UpdateStreamMode => "UpdateStreamMode",
            Operation::UpdateStreamRecordDistributionStrategy => {
                "UpdateStreamRecordDistributionStrategy"
            }
            Operation::UpdateStreamWarmThroughput => "UpdateStreamWarmThroughput",
        }
    }

    /// Resolves the part of `X-Amz-Target` after `Kinesis_20131202.`.
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// Every stream-addressed input: `StreamName` and/or `StreamARN`.
pub trait StreamSelector {
    fn stream_name(&self) -> Option<&str>;
    fn stream_arn(&self) -> Option<&str>;
}

/// Validates the optional stream selector members (name, then ARN).
pub fn check_selector(v: &mut Violations, name: Option<&str>, arn: Option<&str>) {
    v.stream_name(name, "streamName");
    v.stream_arn(arn, "streamARN");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_every_operation_name() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
        }
        assert_eq!(Operation::from_name("Nope"), None);
    }
}
