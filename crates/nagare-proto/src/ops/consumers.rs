//! Enhanced fan-out: consumer registration and SubscribeToShard.

use super::records::ITERATOR_TYPES;
use super::streams::shard_id_member;
use crate::WireError;
use crate::types::{de_int, de_timestamp, ser_timestamp};
use crate::validate::{NAME_PATTERN, Violations, matches_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const CONSUMER_ARN_PATTERN: &str = "^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+";

/// `arn:aws…:kinesis:…:<12 digits>:…stream/<name>/consumer/<name>:<digits>` (prefix match, as
/// the model's pattern has no `$`).
pub fn matches_consumer_arn(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some(k) = rest.find(":kinesis:") else {
        return false;
    };
    let tail = &rest[k + ":kinesis:".len()..];
    tail.match_indices(':').any(|(i, _)| {
        let acct = &tail[i + 1..];
        acct.len() > 13
            && acct.as_bytes()[..12].iter().all(u8::is_ascii_digit)
            && acct.as_bytes()[12] == b':'
            && {
                let r = &acct[13..];
                r.match_indices("stream/").any(|(j, _)| {
                    let after = &r[j + "stream/".len()..];
                    after.split_once("/consumer/").is_some_and(|(stream, c)| {
                        matches_name(stream)
                            && c.split_once(':').is_some_and(|(name, digits)| {
                                matches_name(name)
                                    && digits.bytes().next().is_some_and(|b| b.is_ascii_digit())
                            })
                    })
                })
            }
    })
}

fn consumer_name(v: &mut Violations, value: Option<&str>, path: &str) {
    v.pattern(value, path, matches_name, NAME_PATTERN);
    v.min_len(value, path, 1);
    v.max_len(value, path, 128);
}

fn consumer_arn(v: &mut Violations, value: Option<&str>, path: &str) {
    v.pattern(value, path, matches_consumer_arn, CONSUMER_ARN_PATTERN);
    v.min_len(value, path, 1);
    v.max_len(value, path, 2048);
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegisterStreamConsumerInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

impl RegisterStreamConsumerInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.stream_arn, "streamARN");
        v.stream_arn(self.stream_arn.as_deref(), "streamARN");
        v.not_null(&self.consumer_name, "consumerName");
        consumer_name(&mut v, self.consumer_name.as_deref(), "consumerName");
        if let Some(tags) = &self.tags {
            super::tags::check_tag_map(&mut v, tags, "tags", 200);
        }
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Consumer {
    pub consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: String,
    pub consumer_status: String,
    #[serde(serialize_with = "ser_timestamp")]
    pub consumer_creation_timestamp: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterStreamConsumerOutput {
    pub consumer: Consumer,
}

/// DescribeStreamConsumer and DeregisterStreamConsumer share one input shape.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConsumerSelectorInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
}

impl ConsumerSelectorInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.stream_arn(self.stream_arn.as_deref(), "streamARN");
        consumer_name(&mut v, self.consumer_name.as_deref(), "consumerName");
        consumer_arn(&mut v, self.consumer_arn.as_deref(), "consumerARN");
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumerDescription {
    pub consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: String,
    pub consumer_status: String,
    #[serde(serialize_with = "ser_timestamp")]
    pub consumer_creation_timestamp: i64,
    #[serde(rename = "StreamARN")]
    pub stream_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamConsumerOutput {
    pub consumer_description: ConsumerDescription,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListStreamConsumersInput {
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub next_token: Option<String>,
    #[serde(deserialize_with = "de_int")]
    pub max_results: Option<i64>,
    #[serde(deserialize_with = "de_timestamp")]
    pub stream_creation_timestamp: Option<i64>,
}

impl ListStreamConsumersInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.stream_arn, "streamARN");
        v.stream_arn(self.stream_arn.as_deref(), "streamARN");
        v.min_len(self.next_token.as_deref(), "nextToken", 1);
        v.max_len(self.next_token.as_deref(), "nextToken", 1_048_576);
        v.min_value(self.max_results, "maxResults", 1);
        v.max_value(self.max_results, "maxResults", 10000);
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamConsumersOutput {
    pub consumers: Vec<Consumer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StartingPositionInput {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub sequence_number: Option<String>,
    #[serde(deserialize_with = "de_timestamp")]
    pub timestamp: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SubscribeToShardInput {
    #[serde(rename = "ConsumerARN")]
    pub consumer_arn: Option<String>,
    pub shard_id: Option<String>,
    pub starting_position: Option<StartingPositionInput>,
    pub dry_run: Option<bool>,
}

impl SubscribeToShardInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.consumer_arn, "consumerARN");
        consumer_arn(&mut v, self.consumer_arn.as_deref(), "consumerARN");
        v.not_null(&self.shard_id, "shardId");
        shard_id_member(&mut v, self.shard_id.as_deref(), "shardId");
        v.not_null(&self.starting_position, "startingPosition");
        if let Some(p) = &self.starting_position {
            v.not_null(&p.kind, "startingPosition.type");
            v.one_of(p.kind.as_deref(), "startingPosition.type", &ITERATOR_TYPES);
            v.pattern(
                p.sequence_number.as_deref(),
                "startingPosition.sequenceNumber",
                |s| crate::validate::matches_decimal(s, 128),
                crate::validate::SEQUENCE_PATTERN,
            );
        }
        v.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_arns_match_the_model_pattern() {
        assert!(matches_consumer_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1700000000"
        ));
        assert!(!matches_consumer_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s"
        ));
        assert!(!matches_consumer_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:"
        ));
    }
}
