//! Enhanced fan-out consumers: RegisterStreamConsumer, DescribeStreamConsumer,
//! ListStreamConsumers, DeregisterStreamConsumer (spec §3.8).

use crate::error::{
    ConsumerError, ExpiredNextToken, InvalidArgument, LimitExceeded, ResourceInUse,
    ResourceNotFound,
};
use crate::meta::{ConsumerMeta, ConsumerStatus, StreamStatus};
use crate::view::StreamView;
use crate::{Engine, Stream};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

/// At most 20 consumers per stream, at most 5 of them CREATING at once.
const MAX_CONSUMERS: usize = 20;
const MAX_CREATING: usize = 5;
const TOKEN_TTL_MS: i64 = 300_000;

/// A consumer as Describe/List/Register answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerInfo {
    pub name: String,
    pub arn: String,
    pub status: ConsumerStatus,
    pub created_ms: i64,
    pub stream_arn: String,
}

/// Which consumer a request names: its ARN, or its stream's ARN plus its name.
#[derive(Clone, Copy, Debug)]
pub struct ConsumerRef<'a> {
    pub consumer_arn: Option<&'a str>,
    pub stream_arn: Option<&'a str>,
    pub consumer_name: Option<&'a str>,
}

impl Engine {
    pub fn consumer_arn(&self, stream: &str, c: &ConsumerMeta) -> String {
        format!(
            "{}/consumer/{}:{}",
            self.stream_arn(stream),
            c.name,
            c.created_ms / 1000
        )
    }

    fn consumer_info(&self, stream: &str, c: &ConsumerMeta) -> ConsumerInfo {
        ConsumerInfo {
            name: c.name.clone(),
            arn: self.consumer_arn(stream, c),
            status: c.status,
            created_ms: c.created_ms,
            stream_arn: self.stream_arn(stream),
        }
    }

    /// The stream and consumer a reference names.
    pub(crate) fn resolve_consumer(
        &self,
        r: ConsumerRef<'_>,
    ) -> Result<(Arc<Stream>, ConsumerMeta), ConsumerError> {
        let missing = |what: &str| {
            ResourceNotFound(format!(
                "Consumer {what} under account {} not found.",
                self.account()
            ))
        };
        match (r.consumer_arn, r.stream_arn, r.consumer_name) {
            (Some(arn), _, _) => {
                let (stream_arn, rest) =
                    arn.split_once("/consumer/").ok_or_else(|| missing(arn))?;
                let (name, epoch) = rest.rsplit_once(':').ok_or_else(|| missing(arn))?;
                let stream_name = self
                    .resolve_name(None, Some(stream_arn))
                    .map_err(|_| missing(arn))?;
                let stream = self.stream(stream_name).map_err(|_| missing(arn))?;
                let c = stream
                    .view()
                    .meta
                    .consumers
                    .iter()
                    .find(|c| c.name == name && (c.created_ms / 1000).to_string() == epoch)
                    .cloned()
                    .ok_or_else(|| missing(arn))?;
                Ok((stream, c))
            }
            (None, Some(stream_arn), Some(name)) => {
                let stream = self.lookup(None, Some(stream_arn))?;
                let c = stream
                    .view()
                    .meta
                    .consumers
                    .iter()
                    .find(|c| c.name == name)
                    .cloned()
                    .ok_or_else(|| missing(name))?;
                Ok((stream, c))
            }
            _ => Err(InvalidArgument(
                "ConsumerARN or both ConsumerName and StreamARN are required for this request."
                    .into(),
            )
            .into()),
        }
    }

    pub fn register_consumer(
        &self,
        stream_arn: &str,
        name: &str,
    ) -> Result<ConsumerInfo, ConsumerError> {
        let stream = self.lookup(None, Some(stream_arn))?;
        let _guard = self.inner.control.lock();
        let view = stream.view();
        let stream_name = view.meta.name.clone();
        if matches!(
            view.meta.status,
            StreamStatus::Creating | StreamStatus::Deleting
        ) {
            return Err(ResourceInUse(format!(
                "Stream {stream_name} under account {} not ACTIVE, instead in state {}",
                self.account(),
                view.meta.status.as_str()
            ))
            .into());
        }
        if view.meta.consumers.iter().any(|c| c.name == name) {
            return Err(ResourceInUse(format!(
                "Consumer {name} under stream {stream_name} already exists for account {}.",
                self.account()
            ))
            .into());
        }
        if view.meta.consumers.len() >= MAX_CONSUMERS {
            return Err(LimitExceeded(format!(
                "Stream {stream_name} under account {} has reached the limit of {MAX_CONSUMERS} registered consumers.",
                self.account()
            ))
            .into());
        }
        if view
            .meta
            .consumers
            .iter()
            .filter(|c| c.status == ConsumerStatus::Creating)
            .count()
            >= MAX_CREATING
        {
            return Err(LimitExceeded(format!(
                "Stream {stream_name} under account {} already has {MAX_CREATING} consumers in CREATING state.",
                self.account()
            ))
            .into());
        }
        let delay = self.config().create_delay;
        let consumer = ConsumerMeta {
            name: name.to_owned(),
            created_ms: self.now_ms(),
            status: if delay.is_zero() {
                ConsumerStatus::Active
            } else {
                ConsumerStatus::Creating
            },
        };
        let info = self.consumer_info(&stream_name, &consumer);
        let mut meta = view.meta.clone();
        meta.consumers.push(consumer);
        stream.replace(view.with_meta(meta));
        self.persist()?;
        if !delay.is_zero() {
            self.finish_consumer_later(
                stream_name,
                name.to_owned(),
                delay,
                ConsumerStatus::Creating,
            );
        }
        // AWS answers with the consumer as registered: CREATING unless it is already active.
        Ok(info)
    }

    fn finish_consumer_later(
        &self,
        stream: String,
        consumer: String,
        delay: std::time::Duration,
        from: ConsumerStatus,
    ) {
        let engine = self.clone();
        crate::control::run_after(delay, move || {
            engine.finish_consumer(&stream, &consumer, from)
        });
    }

    fn finish_consumer(&self, stream: &str, consumer: &str, from: ConsumerStatus) {
        let _guard = self.inner.control.lock();
        let Ok(s) = self.stream(stream) else { return };
        let view = s.view();
        let mut meta = view.meta.clone();
        match from {
            ConsumerStatus::Deleting => meta
                .consumers
                .retain(|c| !(c.name == consumer && c.status == ConsumerStatus::Deleting)),
            ConsumerStatus::Creating | ConsumerStatus::Active => {
                for c in meta
                    .consumers
                    .iter_mut()
                    .filter(|c| c.name == consumer && c.status == from)
                {
                    c.status = ConsumerStatus::Active;
                }
            }
        }
        s.replace(view.with_meta(meta));
        if let Err(e) = self.persist() {
            tracing::error!(error = %e, "could not persist a consumer transition");
        }
    }

    pub fn describe_consumer(&self, r: ConsumerRef<'_>) -> Result<ConsumerInfo, ConsumerError> {
        let (stream, c) = self.resolve_consumer(r)?;
        Ok(self.consumer_info(&stream.view().meta.name, &c))
    }

    pub fn deregister_consumer(&self, r: ConsumerRef<'_>) -> Result<(), ConsumerError> {
        let (stream, c) = self.resolve_consumer(r)?;
        let _guard = self.inner.control.lock();
        let view = stream.view();
        let name = view.meta.name.clone();
        let mut meta = view.meta.clone();
        let delay = self.config().delete_delay;
        if delay.is_zero() {
            meta.consumers.retain(|x| x.name != c.name);
        } else {
            for x in meta.consumers.iter_mut().filter(|x| x.name == c.name) {
                x.status = ConsumerStatus::Deleting;
            }
        }
        stream.replace(view.with_meta(meta));
        self.persist()?;
        self.end_subscriptions_of(&self.consumer_arn(&name, &c));
        if !delay.is_zero() {
            self.finish_consumer_later(name, c.name, delay, ConsumerStatus::Deleting);
        }
        Ok(())
    }

    /// ListStreamConsumers: consumers in registration order, `max` (default 100) per page.
    pub fn list_consumers(
        &self,
        stream_arn: &str,
        next_token: Option<&str>,
        max: Option<u32>,
        stream_creation_ms: Option<i64>,
    ) -> Result<(Vec<ConsumerInfo>, Option<String>), ConsumerError> {
        let view: Arc<StreamView> = self.lookup(None, Some(stream_arn))?.view();
        if stream_creation_ms.is_some_and(|t| t != view.meta.created_ms) {
            return Err(ResourceNotFound(format!(
                "Stream {} under account {} not found.",
                view.meta.name,
                self.account()
            ))
            .into());
        }
        let now = self.now_ms();
        let skip = match next_token {
            Some(t) => {
                let text = URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                let (issued, skip) = text
                    .as_deref()
                    .and_then(|x| x.split_once('|'))
                    .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<usize>().ok()?)))
                    .ok_or_else(|| InvalidArgument(format!("Invalid NextToken: {t}")))?;
                if now - issued > TOKEN_TTL_MS {
                    return Err(ExpiredNextToken("The requested token has expired.".into()).into());
                }
                skip
            }
            None => 0,
        };
        let max = max.unwrap_or(100).clamp(1, 100) as usize;
        let all = &view.meta.consumers;
        let page: Vec<ConsumerInfo> = all
            .iter()
            .skip(skip)
            .take(max)
            .map(|c| self.consumer_info(&view.meta.name, c))
            .collect();
        let next = (skip + page.len() < all.len())
            .then(|| URL_SAFE_NO_PAD.encode(format!("{now}|{}", skip + page.len())));
        Ok((page, next))
    }
}
