//! Enhanced fan-out consumer handlers. SubscribeToShard, which answers with an event stream
//! instead of a JSON body, lives in `crate::subscribe`.

use super::{Reply, empty, json};
use crate::error::ServiceError;
use nagare_engine::Engine;
use nagare_engine::consumers::{ConsumerInfo, ConsumerRef};
use nagare_proto::ops::consumers::*;

fn consumer_out(c: ConsumerInfo) -> Consumer {
    Consumer {
        consumer_name: c.name,
        consumer_arn: c.arn,
        consumer_status: c.status.as_str().to_owned(),
        consumer_creation_timestamp: c.created_ms,
    }
}

fn selector(input: &ConsumerSelectorInput) -> ConsumerRef<'_> {
    ConsumerRef {
        consumer_arn: input.consumer_arn.as_deref(),
        stream_arn: input.stream_arn.as_deref(),
        consumer_name: input.consumer_name.as_deref(),
    }
}

pub fn register_stream_consumer(
    engine: &Engine,
    input: RegisterStreamConsumerInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let c = engine.register_consumer(
        input.stream_arn.as_deref().unwrap_or_default(),
        input.consumer_name.as_deref().unwrap_or_default(),
    )?;
    json(&RegisterStreamConsumerOutput {
        consumer: consumer_out(c),
    })
}

pub fn describe_stream_consumer(
    engine: &Engine,
    input: ConsumerSelectorInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let c = engine.describe_consumer(selector(&input))?;
    json(&DescribeStreamConsumerOutput {
        consumer_description: ConsumerDescription {
            consumer_name: c.name,
            consumer_arn: c.arn,
            consumer_status: c.status.as_str().to_owned(),
            consumer_creation_timestamp: c.created_ms,
            stream_arn: c.stream_arn,
        },
    })
}

pub fn deregister_stream_consumer(
    engine: &Engine,
    input: ConsumerSelectorInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine.deregister_consumer(selector(&input))?;
    empty()
}

pub fn list_stream_consumers(
    engine: &Engine,
    input: ListStreamConsumersInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let (consumers, next_token) = engine.list_consumers(
        input.stream_arn.as_deref().unwrap_or_default(),
        input.next_token.as_deref(),
        input.max_results.map(|m| m as u32),
        input.stream_creation_timestamp,
    )?;
    json(&ListStreamConsumersOutput {
        consumers: consumers.into_iter().map(consumer_out).collect(),
        next_token,
    })
}
