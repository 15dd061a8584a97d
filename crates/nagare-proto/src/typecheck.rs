//! The slow path for bodies that do not deserialize into an operation's input: walk the JSON
//! against the operation's member types and report the first mismatch with AWS's
//! SerializationException text (kinesalite reproduces these from AWS). Valid requests never
//! come here, so the hot path pays nothing for it.

use crate::ops::Operation;
use crate::{ErrorCode, WireError};
use serde_json::Value;

/// A member's wire type.
#[derive(Clone, Copy)]
pub enum Ty {
    Str,
    Int,
    Long,
    Bool,
    Blob,
    Timestamp,
    List(&'static Ty),
    Map(&'static Ty),
    Struct(&'static [(&'static str, Ty)]),
}

const STR_LIST: Ty = Ty::List(&Ty::Str);
const STR_MAP: Ty = Ty::Map(&Ty::Str);
const SELECTOR: [(&str, Ty); 2] = [("StreamName", Ty::Str), ("StreamARN", Ty::Str)];
const MODE: Ty = Ty::Struct(&[("StreamMode", Ty::Str)]);
const SHARD_FILTER: Ty = Ty::Struct(&[
    ("Type", Ty::Str),
    ("ShardId", Ty::Str),
    ("Timestamp", Ty::Timestamp),
]);
const PUT_ENTRY: Ty = Ty::Struct(&[
    ("Data", Ty::Blob),
    ("ExplicitHashKey", Ty::Str),
    ("PartitionKey", Ty::Str),
]);
const PUT_ENTRIES: Ty = Ty::List(&PUT_ENTRY);

/// Members of each operation's input beyond the stream selector. `None` for operations
/// without a JSON model here (they are rejected before parsing matters).
fn members(op: Operation) -> (&'static [(&'static str, Ty)], bool) {
    use Operation as O;
    match op {
        O::CreateStream => (
            &[
                ("ShardCount", Ty::Int),
                ("StreamName", Ty::Str),
                ("StreamModeDetails", MODE),
                ("Tags", STR_MAP),
                ("MaxRecordSizeInKiB", Ty::Int),
                ("WarmThroughputMiBps", Ty::Int),
            ],
            false,
        ),
        O::DeleteStream => (&[("EnforceConsumerDeletion", Ty::Bool)], true),
        O::DescribeStream => (
            &[("ExclusiveStartShardId", Ty::Str), ("Limit", Ty::Int)],
            true,
        ),
        O::ListStreams => (
            &[
                ("ExclusiveStartStreamName", Ty::Str),
                ("Limit", Ty::Int),
                ("NextToken", Ty::Str),
            ],
            false,
        ),
        O::ListShards => (
            &[
                ("ExclusiveStartShardId", Ty::Str),
                ("MaxResults", Ty::Int),
                ("NextToken", Ty::Str),
                ("StreamCreationTimestamp", Ty::Timestamp),
                ("ShardFilter", SHARD_FILTER),
            ],
            true,
        ),
        O::PutRecord => (
            &[
                ("Data", Ty::Blob),
                ("ExplicitHashKey", Ty::Str),
                ("PartitionKey", Ty::Str),
                ("SequenceNumberForOrdering", Ty::Str),
                ("DryRun", Ty::Bool),
            ],
            true,
        ),
        O::PutRecords => (&[("Records", PUT_ENTRIES), ("DryRun", Ty::Bool)], true),
        O::GetShardIterator => (
            &[
                ("ShardId", Ty::Str),
                ("ShardIteratorType", Ty::Str),
                ("StartingSequenceNumber", Ty::Str),
                ("Timestamp", Ty::Timestamp),
                ("DryRun", Ty::Bool),
            ],
            true,
        ),
        O::GetRecords => (
            &[
                ("Limit", Ty::Int),
                ("ShardIterator", Ty::Str),
                ("StreamARN", Ty::Str),
                ("DryRun", Ty::Bool),
            ],
            false,
        ),
        O::IncreaseStreamRetentionPeriod | O::DecreaseStreamRetentionPeriod => {
            (&[("RetentionPeriodHours", Ty::Int)], true)
        }
        O::AddTagsToStream => (&[("Tags", STR_MAP)], true),
        O::RemoveTagsFromStream => (&[("TagKeys", STR_LIST)], true),
        O::ListTagsForStream => (
            &[("ExclusiveStartTagKey", Ty::Str), ("Limit", Ty::Int)],
            true,
        ),
        O::TagResource => (&[("Tags", STR_MAP), ("ResourceARN", Ty::Str)], false),
        O::UntagResource => (&[("TagKeys", STR_LIST), ("ResourceARN", Ty::Str)], false),
        O::ListTagsForResource => (&[("ResourceARN", Ty::Str)], false),
        O::DescribeStreamSummary => (&[], true),
        O::SplitShard => (
            &[("NewStartingHashKey", Ty::Str), ("ShardToSplit", Ty::Str)],
            true,
        ),
        O::MergeShards => (
            &[("AdjacentShardToMerge", Ty::Str), ("ShardToMerge", Ty::Str)],
            true,
        ),
        O::UpdateShardCount => (
            &[("ScalingType", Ty::Str), ("TargetShardCount", Ty::Int)],
            true,
        ),
        O::UpdateStreamMode => (
            &[
                ("StreamARN", Ty::Str),
                ("StreamModeDetails", MODE),
                ("WarmThroughputMiBps", Ty::Int),
            ],
            false,
        ),
        O::UpdateMaxRecordSize => (&[("MaxRecordSizeInKiB", Ty::Int)], true),
        O::StartStreamEncryption | O::StopStreamEncryption => {
            (&[("EncryptionType", Ty::Str), ("KeyId", Ty::Str)], true)
        }
        O::EnableEnhancedMonitoring | O::DisableEnhancedMonitoring => {
            (&[("ShardLevelMetrics", STR_LIST)], true)
        }
        O::UpdateStreamWarmThroughput => (&[("WarmThroughputMiBps", Ty::Int)], true),
        O::UpdateAccountSettings => (
            &[(
                "MinimumThroughputBillingCommitment",
                Ty::Struct(&[("Status", Ty::Str)]),
            )],
            false,
        ),
        O::PutResourcePolicy | O::GetResourcePolicy | O::DeleteResourcePolicy => {
            (&[("ResourceARN", Ty::Str), ("Policy", Ty::Str)], false)
        }
        O::RegisterStreamConsumer => (
            &[
                ("StreamARN", Ty::Str),
                ("ConsumerName", Ty::Str),
                ("Tags", STR_MAP),
            ],
            false,
        ),
        O::DescribeStreamConsumer | O::DeregisterStreamConsumer => (
            &[
                ("StreamARN", Ty::Str),
                ("ConsumerName", Ty::Str),
                ("ConsumerARN", Ty::Str),
            ],
            false,
        ),
        O::ListStreamConsumers => (
            &[
                ("StreamARN", Ty::Str),
                ("NextToken", Ty::Str),
                ("MaxResults", Ty::Int),
                ("StreamCreationTimestamp", Ty::Timestamp),
            ],
            false,
        ),
        O::SubscribeToShard => (
            &[
                ("ConsumerARN", Ty::Str),
                ("ShardId", Ty::Str),
                (
                    "StartingPosition",
                    Ty::Struct(&[
                        ("Type", Ty::Str),
                        ("SequenceNumber", Ty::Str),
                        ("Timestamp", Ty::Timestamp),
                    ]),
                ),
                ("DryRun", Ty::Bool),
            ],
            false,
        ),
        O::DescribeLimits
        | O::DescribeAccountSettings
        | O::UpdateStreamRecordDistributionStrategy => (&[], false),
    }
}

fn ser(msg: impl Into<String>) -> WireError {
    WireError::new(ErrorCode::Serialization, msg)
}

fn container_error(v: &Value) -> Option<WireError> {
    match v {
        Value::Array(_) => Some(ser("Start of list found where not expected")),
        Value::Object(_) => Some(ser("Start of structure or map found where not expected.")),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => None,
    }
}

fn check(v: &Value, ty: Ty) -> Result<(), WireError> {
    if v.is_null() {
        return Ok(());
    }
    match ty {
        Ty::Bool => match v {
            Value::Number(_) => Err(ser(
                "class java.math.BigDecimal can not be converted to an Boolean",
            )),
            Value::String(s) => Err(ser(format!(
                "'{}' can not be converted to an Boolean",
                s.to_uppercase()
            ))),
            other => container_error(other).map_or(Ok(()), Err),
        },
        Ty::Int | Ty::Long | Ty::Timestamp => {
            let name = match ty {
                Ty::Int => "Integer",
                Ty::Timestamp => "Date",
                _ => "Long",
            };
            match v {
                Value::Bool(_) => Err(ser(format!(
                    "class java.lang.Boolean can not be converted to an {name}"
                ))),
                Value::String(_) => Err(ser(format!(
                    "class java.lang.String can not be converted to an {name}"
                ))),
                other => container_error(other).map_or(Ok(()), Err),
            }
        }
        Ty::Str => match v {
            Value::Bool(_) => Err(ser(
                "class java.lang.Boolean can not be converted to an String",
            )),
            Value::Number(_) => Err(ser(
                "class java.math.BigDecimal can not be converted to an String",
            )),
            other => container_error(other).map_or(Ok(()), Err),
        },
        Ty::Blob => match v {
            Value::Bool(_) => Err(ser(
                "class java.lang.Boolean can not be converted to a Blob",
            )),
            Value::Number(_) => Err(ser(
                "class java.math.BigDecimal can not be converted to a Blob",
            )),
            Value::String(s) => crate::types::decode_blob(s, &mut Vec::new()).map(|_| ()),
            other => container_error(other).map_or(Ok(()), Err),
        },
        Ty::List(inner) => match v {
            Value::Array(items) => items.iter().try_for_each(|i| check(i, *inner)),
            Value::Object(_) => Err(ser("Start of structure or map found where not expected.")),
            _ => Err(ser("Expected list or null")),
        },
        Ty::Map(inner) => match v {
            Value::Object(m) => m.values().try_for_each(|i| check(i, *inner)),
            Value::Array(_) => Err(ser("Start of list found where not expected")),
            _ => Err(ser("Expected map or null")),
        },
        Ty::Struct(fields) => match v {
            Value::Object(m) => check_members(m, fields),
            Value::Array(_) => Err(ser("Start of list found where not expected")),
            _ => Err(ser("Expected null")),
        },
    }
}

fn check_members(
    obj: &serde_json::Map<String, Value>,
    fields: &[(&str, Ty)],
) -> Result<(), WireError> {
    fields
        .iter()
        .try_for_each(|(name, ty)| obj.get(*name).map_or(Ok(()), |v| check(v, *ty)))
}

/// Explains why `body` did not deserialize for `op`. Falls back to a bare
/// SerializationException when the body is not a JSON object at all.
pub fn explain(op: Operation, body: &[u8]) -> WireError {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return WireError::bare(ErrorCode::Serialization);
    };
    let (fields, selector) = members(op);
    let result = check_members(&obj, fields).and_then(|()| {
        if selector {
            check_members(&obj, &SELECTOR)
        } else {
            Ok(())
        }
    });
    match result {
        Err(e) => e,
        Ok(()) => WireError::bare(ErrorCode::Serialization),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_string_given_for_integer() {
        let e = explain(Operation::DescribeStream, br#"{"Limit":"5"}"#);
        assert_eq!(e.code, ErrorCode::Serialization);
        assert_eq!(
            e.message.as_deref(),
            Some("class java.lang.String can not be converted to an Integer")
        );
    }

    #[test]
    fn names_structure_given_for_string() {
        let e = explain(Operation::DescribeStreamSummary, br#"{"StreamName":{}}"#);
        assert_eq!(
            e.message.as_deref(),
            Some("Start of structure or map found where not expected.")
        );
    }

    #[test]
    fn names_number_given_for_list_member() {
        let e = explain(
            Operation::PutRecords,
            br#"{"Records":[{"PartitionKey":1}]}"#,
        );
        assert_eq!(
            e.message.as_deref(),
            Some("class java.math.BigDecimal can not be converted to an String")
        );
    }

    #[test]
    fn rejects_non_object_body_without_message() {
        assert_eq!(
            explain(Operation::ListStreams, b"[1]"),
            WireError::bare(ErrorCode::Serialization)
        );
        assert_eq!(
            explain(Operation::ListStreams, b"{bad"),
            WireError::bare(ErrorCode::Serialization)
        );
    }
}
