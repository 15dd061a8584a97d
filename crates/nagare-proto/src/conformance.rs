//! The proto layer's request path for every operation, without an engine: deserialize the
//! JSON body into the operation's input type (a failure explained by [`typecheck::explain`],
//! as the handlers do), then `validate()` / `decode_and_validate()`. The outcome is rendered
//! as text, so two encodings of one request can be compared (the CBOR tests) and a fuzzer can
//! drive every operation through one call. Only tests and `fuzz/` compile this (feature
//! `testing`); the handlers run the same steps inline, followed by their engine call.

use crate::ops::Operation;
use crate::ops::{admin, consumers, records, streams, tags};
use crate::typecheck;
use nagare_types::caps;
use serde::Deserialize;
use std::fmt::Debug;

fn typed<'a, T, R>(op: Operation, body: &'a [u8], check: impl FnOnce(&T) -> R) -> String
where
    T: Deserialize<'a> + Debug,
    R: Debug,
{
    match serde_json::from_slice::<T>(body) {
        Ok(input) => {
            let checked = check(&input);
            format!("{input:?} => {checked:?}")
        }
        Err(_) => format!("explain => {:?}", typecheck::explain(op, body)),
    }
}

/// What the proto layer makes of `body` as a request for `op`, or `None` for operations
/// without an input model (their handlers read no body).
pub fn check_request(op: Operation, body: &[u8]) -> Option<String> {
    use Operation as O;
    let max = caps::DEFAULT_MAX_RECORD_BYTES;
    Some(match op {
        O::CreateStream => typed(op, body, streams::CreateStreamInput::validate),
        O::DeleteStream => typed(op, body, streams::DeleteStreamInput::validate),
        O::DescribeStream => typed(op, body, streams::DescribeStreamInput::validate),
        O::DescribeStreamSummary => typed(op, body, streams::DescribeStreamSummaryInput::validate),
        O::ListStreams => typed(op, body, streams::ListStreamsInput::validate),
        O::ListShards => typed(op, body, streams::ListShardsInput::validate),
        O::IncreaseStreamRetentionPeriod | O::DecreaseStreamRetentionPeriod => {
            typed(op, body, streams::RetentionPeriodInput::validate)
        }
        O::PutRecord => typed(op, body, |i: &records::PutRecordInput<'_>| {
            i.decode_and_validate(max)
        }),
        O::PutRecords => typed(op, body, |i: &records::PutRecordsInput<'_>| {
            i.decode_and_validate(max)
        }),
        O::GetShardIterator => typed(op, body, records::GetShardIteratorInput::validate),
        O::GetRecords => typed(op, body, records::GetRecordsInput::validate),
        O::AddTagsToStream => typed(op, body, tags::AddTagsToStreamInput::validate),
        O::RemoveTagsFromStream => typed(op, body, tags::RemoveTagsFromStreamInput::validate),
        O::ListTagsForStream => typed(op, body, tags::ListTagsForStreamInput::validate),
        O::TagResource => typed(op, body, tags::TagResourceInput::validate),
        O::UntagResource => typed(op, body, tags::UntagResourceInput::validate),
        O::ListTagsForResource => typed(op, body, tags::ListTagsForResourceInput::validate),
        O::SplitShard => typed(op, body, admin::SplitShardInput::validate),
        O::MergeShards => typed(op, body, admin::MergeShardsInput::validate),
        O::UpdateShardCount => typed(op, body, admin::UpdateShardCountInput::validate),
        O::UpdateStreamMode => typed(op, body, admin::UpdateStreamModeInput::validate),
        O::UpdateMaxRecordSize => typed(op, body, admin::UpdateMaxRecordSizeInput::validate),
        O::StartStreamEncryption | O::StopStreamEncryption => {
            typed(op, body, admin::StreamEncryptionInput::validate)
        }
        O::EnableEnhancedMonitoring | O::DisableEnhancedMonitoring => {
            typed(op, body, admin::EnhancedMonitoringInput::validate)
        }
        O::UpdateStreamWarmThroughput => {
            typed(op, body, admin::UpdateStreamWarmThroughputInput::validate)
        }
        O::UpdateAccountSettings => typed(op, body, admin::UpdateAccountSettingsInput::validate),
        O::PutResourcePolicy | O::GetResourcePolicy | O::DeleteResourcePolicy => {
            let needs_policy = op == O::PutResourcePolicy;
            typed(op, body, |i: &admin::ResourcePolicyInput| {
                i.validate(needs_policy)
            })
        }
        O::RegisterStreamConsumer => {
            typed(op, body, consumers::RegisterStreamConsumerInput::validate)
        }
        O::DescribeStreamConsumer | O::DeregisterStreamConsumer => {
            typed(op, body, consumers::ConsumerSelectorInput::validate)
        }
        O::ListStreamConsumers => typed(op, body, consumers::ListStreamConsumersInput::validate),
        O::SubscribeToShard => typed(op, body, consumers::SubscribeToShardInput::validate),
        O::DescribeLimits
        | O::DescribeAccountSettings
        | O::UpdateStreamRecordDistributionStrategy => return None,
    })
}
