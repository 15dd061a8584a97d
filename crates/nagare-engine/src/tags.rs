//! Stream tags, by name (`AddTagsToStream` …) and by ARN (`TagResource` …). Both address the
//! same tag set of a stream.

use crate::error::{InvalidArgument, ListTagsError, ResourceNotFound, TagError};
use crate::{Engine, Stream};
use nagare_types::caps;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One page of a stream's tags.
pub struct TagPage {
    pub tags: Vec<(String, String)>,
    pub has_more: bool,
}

fn allowed_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || matches!(c, '_' | '.' | '/' | '=' | '+' | '-' | '@')
}

impl Engine {
    /// A stream addressed by a resource ARN (tags and policies; only stream ARNs here).
    pub(crate) fn stream_by_resource_arn(
        &self,
        arn: &str,
    ) -> Result<Arc<Stream>, ResourceNotFound> {
        let missing = || {
            ResourceNotFound(format!(
                "Resource {arn} under account {} not found.",
                self.account()
            ))
        };
        let name = self.resolve_name(None, Some(arn)).map_err(|_| missing())?;
        self.stream(name).map_err(|_| missing())
    }

    fn update_tags(
        &self,
        stream: &Stream,
        name: &str,
        f: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<(), TagError> {
        let _guard = self.inner.control.lock();
        let view = stream.view();
        self.require_active(name, &view)?;
        let mut meta = view.meta.clone();
        f(&mut meta.tags);
        stream.replace(view.with_meta(meta));
        self.persist()?;
        Ok(())
    }

    fn add_tags(&self, stream: &Stream, tags: &BTreeMap<String, String>) -> Result<(), TagError> {
        let view = stream.view();
        let name = view.meta.name.clone();
        let account = self.account().to_owned();
        let all_chars = || tags.iter().flat_map(|(k, v)| k.chars().chain(v.chars()));
        if all_chars().any(|c| !allowed_tag_char(c) && c != '%') {
            return Err(InvalidArgument(
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @.".into(),
            )
            .into());
        }
        if all_chars().any(|c| c == '%') {
            return Err(InvalidArgument(format!(
                "Failed to add tags to stream {name} under account {account} because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
            ))
            .into());
        }
        let merged = view
            .meta
            .tags
            .keys()
            .chain(tags.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if merged > caps::MAX_TAGS_PER_STREAM {
            // AWS answers InvalidArgument here (kinesalite's AWS-checked tests), and its text
            // still says 10 although the quota is 50.
            return Err(InvalidArgument(format!(
                "Failed to add tags to stream {name} under account {account} because a given stream cannot have more than 10 tags associated with it."
            ))
            .into());
        }
        self.update_tags(stream, &name, |t| {
            t.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())))
        })
    }

    fn remove_tags(&self, stream: &Stream, keys: &[String]) -> Result<(), TagError> {
        let name = stream.view().meta.name.clone();
        self.update_tags(stream, &name, |t| {
            for k in keys {
                t.remove(k);
            }
        })
    }

    pub fn add_tags_to_stream(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), TagError> {
        let stream = self.lookup(name, arn)?;
        self.add_tags(&stream, tags)
    }

    pub fn remove_tags_from_stream(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        keys: &[String],
    ) -> Result<(), TagError> {
        let stream = self.lookup(name, arn)?;
        self.remove_tags(&stream, keys)
    }

    pub fn tag_resource(&self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), TagError> {
        let stream = self.stream_by_resource_arn(arn)?;
        self.add_tags(&stream, tags)
    }

    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> Result<(), TagError> {
        let stream = self.stream_by_resource_arn(arn)?;
        self.remove_tags(&stream, keys)
    }

    /// ListTagsForStream: tags after `exclusive_start` in key order, `limit` (default 50).
    pub fn list_tags_for_stream(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        exclusive_start: Option<&str>,
        limit: Option<u32>,
    ) -> Result<TagPage, ListTagsError> {
        let view = self.lookup(name, arn)?.view();
        let limit = limit.unwrap_or(50) as usize;
        let mut rest = view
            .meta
            .tags
            .iter()
            .filter(|(k, _)| exclusive_start.is_none_or(|s| k.as_str() > s));
        let tags: Vec<(String, String)> = rest
            .by_ref()
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(TagPage {
            tags,
            has_more: rest.next().is_some(),
        })
    }

    pub fn list_tags_for_resource(
        &self,
        arn: &str,
    ) -> Result<Vec<(String, String)>, ListTagsError> {
        let view = self.stream_by_resource_arn(arn)?.view();
        Ok(view
            .meta
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
