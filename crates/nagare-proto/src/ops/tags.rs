//! Tagging operations, by stream (`*TagsToStream`) and by ARN (`TagResource` family).

use super::shapes::Tag;
use super::streams::selector;
use super::{StreamSelector, check_selector};
use crate::WireError;
use crate::types::de_int;
use crate::validate::{RESOURCE_ARN_PATTERN, Shown, Violations, java_len, matches_resource_arn};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Entry count, key lengths 1..=128 and value lengths 0..=256 of a tag map.
pub fn check_tag_map(
    v: &mut Violations,
    tags: &BTreeMap<String, String>,
    path: &str,
    max_entries: usize,
) {
    let shown =
        || -> Vec<(String, String)> { tags.iter().map(|(k, x)| (k.clone(), x.clone())).collect() };
    if tags.is_empty() {
        v.push(
            Shown::Map(&[]),
            path,
            "Member must have length greater than or equal to 1",
        );
    }
    if tags.len() > max_entries {
        v.push(
            Shown::Map(&shown()),
            path,
            format_args!("Member must have length less than or equal to {max_entries}"),
        );
    }
    if tags.keys().any(|k| java_len(k) < 1 || java_len(k) > 128) {
        v.push(
            Shown::Map(&shown()),
            path,
            "Map keys must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
        );
    }
    if tags.values().any(|x| java_len(x) > 256) {
        v.push(
            Shown::Map(&shown()),
            path,
            "Map value must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 0]",
        );
    }
}

/// Entry count 1..=50 and key lengths 1..=128 of a tag-key list.
pub fn check_tag_keys(v: &mut Violations, keys: &Option<Vec<String>>, path: &str) {
    v.not_null(keys, path);
    let Some(keys) = keys else { return };
    if keys.is_empty() {
        v.push(
            Shown::List(&[]),
            path,
            "Member must have length greater than or equal to 1",
        );
    }
    if keys.len() > 50 {
        v.push(
            Shown::List(keys),
            path,
            "Member must have length less than or equal to 50",
        );
    }
    if keys.iter().any(|k| java_len(k) < 1 || java_len(k) > 128) {
        v.push(
            Shown::List(keys),
            path,
            "Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]",
        );
    }
}

fn check_resource_arn(v: &mut Violations, arn: &Option<String>) {
    v.not_null(arn, "resourceARN");
    v.pattern(
        arn.as_deref(),
        "resourceARN",
        matches_resource_arn,
        RESOURCE_ARN_PATTERN,
    );
    v.min_len(arn.as_deref(), "resourceARN", 1);
    v.max_len(arn.as_deref(), "resourceARN", 2048);
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AddTagsToStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}
selector!(AddTagsToStreamInput);

impl AddTagsToStreamInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        v.not_null(&self.tags, "tags");
        if let Some(tags) = &self.tags {
            // AWS accepts at most 10 tags per AddTagsToStream call.
            check_tag_map(&mut v, tags, "tags", 10);
        }
        v.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RemoveTagsFromStreamInput {
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}
selector!(RemoveTagsFromStreamInput);

impl RemoveTagsFromStreamInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        check_selector(
            &mut v,
            self.stream_name.as_deref(),
            self.stream_arn.as_deref(),
        );
        check_tag_keys(&mut v, &self.tag_keys, "tagKeys");
        v.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagsForStreamInput {
    pub exclusive_start_tag_key: Option<String>,
    #[serde(deserialize_with = "de_int")]
    pub limit: Option<i64>,
    pub stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    pub stream_arn: Option<String>,
}
selector!(ListTagsForStreamInput);

impl ListTagsForStreamInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.min_len(
            self.exclusive_start_tag_key.as_deref(),
            "exclusiveStartTagKey",
            1,
        );
        v.max_len(
            self.exclusive_start_tag_key.as_deref(),
            "exclusiveStartTagKey",
            128,
        );
        v.min_value(self.limit, "limit", 1);
        v.max_value(self.limit, "limit", 50);
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
pub struct ListTagsForStreamOutput {
    pub tags: Vec<Tag>,
    pub has_more_tags: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TagResourceInput {
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

impl TagResourceInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        v.not_null(&self.tags, "tags");
        if let Some(tags) = &self.tags {
            check_tag_map(&mut v, tags, "tags", 200);
        }
        check_resource_arn(&mut v, &self.resource_arn);
        v.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UntagResourceInput {
    pub tag_keys: Option<Vec<String>>,
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

impl UntagResourceInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        check_tag_keys(&mut v, &self.tag_keys, "tagKeys");
        check_resource_arn(&mut v, &self.resource_arn);
        v.finish()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

impl ListTagsForResourceInput {
    pub fn validate(&self) -> Result<(), WireError> {
        let mut v = Violations::new();
        check_resource_arn(&mut v, &self.resource_arn);
        v.finish()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    pub tags: Vec<Tag>,
}
