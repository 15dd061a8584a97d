//! Tagging handlers.

use super::{Reply, empty, json};
use crate::error::ServiceError;
use nagare_engine::Engine;
use nagare_proto::ops::shapes::Tag;
use nagare_proto::ops::tags::*;

fn tags_out(tags: Vec<(String, String)>) -> Vec<Tag> {
    tags.into_iter()
        .map(|(key, value)| Tag {
            key,
            value: Some(value),
        })
        .collect()
}

pub fn add_tags_to_stream(
    engine: &Engine,
    input: AddTagsToStreamInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine.add_tags_to_stream(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        &input.tags.unwrap_or_default(),
    )?;
    empty()
}

pub fn remove_tags_from_stream(
    engine: &Engine,
    input: RemoveTagsFromStreamInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine.remove_tags_from_stream(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        &input.tag_keys.unwrap_or_default(),
    )?;
    empty()
}

pub fn list_tags_for_stream(
    engine: &Engine,
    input: ListTagsForStreamInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let page = engine.list_tags_for_stream(
        input.stream_name.as_deref(),
        input.stream_arn.as_deref(),
        input.exclusive_start_tag_key.as_deref(),
        input.limit.map(|l| l as u32),
    )?;
    json(&ListTagsForStreamOutput {
        tags: tags_out(page.tags),
        has_more_tags: page.has_more,
    })
}

pub fn tag_resource(engine: &Engine, input: TagResourceInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine.tag_resource(
        input.resource_arn.as_deref().unwrap_or_default(),
        &input.tags.unwrap_or_default(),
    )?;
    empty()
}

pub fn untag_resource(engine: &Engine, input: UntagResourceInput) -> Result<Reply, ServiceError> {
    input.validate()?;
    engine.untag_resource(
        input.resource_arn.as_deref().unwrap_or_default(),
        &input.tag_keys.unwrap_or_default(),
    )?;
    empty()
}

pub fn list_tags_for_resource(
    engine: &Engine,
    input: ListTagsForResourceInput,
) -> Result<Reply, ServiceError> {
    input.validate()?;
    let tags = engine.list_tags_for_resource(input.resource_arn.as_deref().unwrap_or_default())?;
    json(&ListTagsForResourceOutput {
        tags: tags_out(tags),
    })
}
