//! Stream lifecycle and description: CreateStream, DeleteStream, DescribeStream(Summary),
//! ListStreams, ListShards, retention changes and DescribeLimits.

use crate::error::{
    CreateStreamError, DeleteStreamError, DescribeStreamError, ExpiredNextToken, InvalidArgument,
    LimitExceeded, ListShardsError, ListStreamsError, ResourceInUse, RetentionError,
    StorageFailure,
};
use crate::meta::{ShardMeta, StreamMeta, StreamMode, StreamStatus};
use crate::view::{ShardCore, ShardView, StreamView};
use crate::{Engine, Stream, log_name, new_stream_tag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nagare_types::{HashKeyRange, ShardId, caps};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// What CreateStream asks for, validated for shape by the wire layer.
pub struct CreateStream<'a> {
    pub name: &'a str,
    pub shard_count: Option<u32>,
    pub mode: StreamMode,
    pub tags: BTreeMap<String, String>,
    pub max_record_kib: Option<u32>,
}

/// A page of a stream's shards (DescribeStream).
pub struct ShardPage {
    pub view: Arc<StreamView>,
    /// Positions into `view.shards`.
    pub shards: Vec<usize>,
    pub has_more: bool,
}

/// ListShards' filter (`ShardFilter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardFilter {
    AfterShardId(ShardId),
    AtTrimHorizon,
    FromTrimHorizon,
    AtLatest,
    AtTimestamp(i64),
    FromTimestamp(i64),
}

/// What ListShards asks for.
pub struct ListShards<'a> {
    pub name: Option<&'a str>,
    pub arn: Option<&'a str>,
    pub next_token: Option<&'a str>,
    pub exclusive_start: Option<&'a str>,
    pub max_results: Option<u32>,
    pub stream_creation_ms: Option<i64>,
    pub filter: Option<ShardFilter>,
}

pub struct ShardList {
    pub view: Arc<StreamView>,
    pub shards: Vec<usize>,
    pub next_token: Option<String>,
}

/// One page of ListStreams.
pub struct StreamList {
    pub streams: Vec<Arc<StreamView>>,
    pub has_more: bool,
    pub next_token: Option<String>,
}

pub struct Limits {
    pub shard_limit: u32,
    pub open_shard_count: u32,
    pub on_demand_stream_count: u32,
    pub on_demand_stream_count_limit: u32,
}

impl Engine {
    pub(crate) fn open_shards_in_account(&self) -> u32 {
        self.inner
            .streams
            .read()
            .values()
            .map(|s| s.view().open_shard_count())
            .sum()
    }

    pub fn create_stream(&self, req: CreateStream<'_>) -> Result<(), CreateStreamError> {
        let account = self.account().to_owned();
        let shard_count = match (req.mode, req.shard_count) {
            (StreamMode::Provisioned, Some(n)) => n,
            (StreamMode::Provisioned, None) => {
                return Err(InvalidArgument(
                    "ShardCount is required for a stream in PROVISIONED mode.".into(),
                )
                .into());
            }
            (StreamMode::OnDemand, Some(_)) => {
                return Err(InvalidArgument(
                    "ShardCount is not allowed for a stream in ON_DEMAND mode.".into(),
                )
                .into());
            }
            (StreamMode::OnDemand, None) => caps::ON_DEMAND_INITIAL_SHARDS,
        };
        let _guard = self.inner.control.lock();
        if self.inner.streams.read().contains_key(req.name) {
            return Err(ResourceInUse(format!(
                "Stream {} under account {account} already exists.",
                req.name
            ))
            .into());
        }
        self.check_shard_quota(shard_count)?;
        if req.mode == StreamMode::OnDemand {
            let on_demand = self
                .inner
                .streams
                .read()
                .values()
                .filter(|s| s.view().meta.mode == StreamMode::OnDemand)
                .count();
            if on_demand as u32 >= caps::ON_DEMAND_STREAM_LIMIT {
                return Err(LimitExceeded(format!(
                    "This request would exceed the on-demand stream limit for the account {account} in {}. Limit: {}.",
                    self.config().region,
                    caps::ON_DEMAND_STREAM_LIMIT
                ))
                .into());
            }
        }
        let now = self.now_ms();
        let tag = new_stream_tag();
        let shards: Vec<ShardMeta> = HashKeyRange::uniform(shard_count)
            .into_iter()
            .enumerate()
            .map(|(i, r)| ShardMeta {
                index: i as u32,
                parent: None,
                adjacent_parent: None,
                start_hash: r.start.to_string(),
                end_hash: r.end.to_string(),
                created_ms: now,
                closed_ms: None,
            })
            .collect();
        // Logs first, metadata second: a crash in between leaves orphan logs that open()
        // removes, never metadata pointing at missing logs.
        let mut cores = HashMap::with_capacity(shards.len());
        for s in &shards {
            cores.insert(
                s.index,
                self.create_shard_core(req.name, tag, ShardId(s.index))?,
            );
        }
        let delayed = !self.config().create_delay.is_zero();
        let meta = StreamMeta {
            name: req.name.to_owned(),
            tag,
            created_ms: now,
            status: if delayed {
                StreamStatus::Creating
            } else {
                StreamStatus::Active
            },
            mode: req.mode,
            retention_hours: caps::DEFAULT_RETENTION_HOURS,
            max_record_kib: req.max_record_kib.unwrap_or(1024),
            next_shard_index: shard_count,
            shards,
            tags: req.tags,
            encryption_key: None,
            shard_level_metrics: Vec::new(),
            warm_throughput_mibps: None,
            policy: None,
            scaling_events_ms: Vec::new(),
            mode_switches_ms: Vec::new(),
            consumers: Vec::new(),
        };
        self.inner.streams.write().insert(
            req.name.to_owned(),
            Arc::new(Stream::new(StreamView::new(meta, &cores))),
        );
        self.persist()?;
        if delayed {
            self.finish_later(
                req.name.to_owned(),
                tag,
                self.config().create_delay,
                StreamStatus::Creating,
            );
        }
        Ok(())
    }

    /// Publishes `meta` (plus `new_cores` for new shards) as the stream's next state: UPDATING
    /// for the configured update delay, then ACTIVE; or ACTIVE at once. Callers hold `control`.
    pub(crate) fn publish_update(
        &self,
        stream: &Stream,
        view: &StreamView,
        mut meta: StreamMeta,
        new_cores: impl IntoIterator<Item = (u32, Arc<ShardCore>)>,
    ) -> Result<(), StorageFailure> {
        let delay = self.config().update_delay;
        meta.status = if delay.is_zero() {
            StreamStatus::Active
        } else {
            StreamStatus::Updating
        };
        let mut cores = view.cores();
        cores.extend(new_cores);
        let (name, tag) = (meta.name.clone(), meta.tag);
        stream.replace(StreamView::new(meta, &cores));
        self.persist()?;
        if !delay.is_zero() {
            self.finish_later(name, tag, delay, StreamStatus::Updating);
        }
        Ok(())
    }

    /// Creates the log of a new shard.
    pub(crate) fn create_shard_core(
        &self,
        stream: &str,
        tag: u32,
        shard: ShardId,
    ) -> Result<Arc<ShardCore>, StorageFailure> {
        let log = self
            .inner
            .store
            .create_log(&log_name(stream, tag, shard.0))
            .map_err(|e| StorageFailure(format!("could not create shard log: {e}")))?;
        Ok(ShardCore::new(log, stream, shard))
    }

    /// Moves a stream from `from` to ACTIVE after `delay` (CREATING/UPDATING), or removes it
    /// (DELETING). Needs a Tokio runtime; without one the change applies at once.
    pub(crate) fn finish_later(&self, name: String, tag: u32, delay: Duration, from: StreamStatus) {
        let engine = self.clone();
        run_after(delay, move || engine.finish_transition(&name, tag, from));
    }

    fn finish_transition(&self, name: &str, tag: u32, from: StreamStatus) {
        let _guard = self.inner.control.lock();
        let Ok(stream) = self.stream(name) else {
            return;
        };
        let view = stream.view();
        if view.meta.tag != tag || view.meta.status != from {
            return;
        }
        match from {
            StreamStatus::Deleting => self.remove_stream(name, &view),
            StreamStatus::Creating | StreamStatus::Updating | StreamStatus::Active => {
                let mut meta = view.meta.clone();
                meta.status = StreamStatus::Active;
                stream.replace(view.with_meta(meta));
            }
        }
        if let Err(e) = self.persist() {
            tracing::error!(stream = name, error = %e, "could not persist a state transition");
        }
    }

    /// Drops a stream from the registry and deletes its logs. Callers hold `control`.
    fn remove_stream(&self, name: &str, view: &StreamView) {
        self.inner.streams.write().remove(name);
        for s in &view.shards {
            if let Err(e) = self.inner.store.delete_log(s.log().name()) {
                tracing::warn!(log = s.log().name(), error = %e, "could not delete shard log");
            }
        }
    }

    pub fn delete_stream(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        enforce_consumer_deletion: bool,
    ) -> Result<(), DeleteStreamError> {
        let name = self.resolve_name(name, arn)?;
        let _guard = self.inner.control.lock();
        let stream = self.stream(name)?;
        let view = stream.view();
        match view.meta.status {
            StreamStatus::Creating | StreamStatus::Deleting => {
                return Err(ResourceInUse(format!(
                    "Stream {name} under account {} not ACTIVE, instead in state {}",
                    self.account(),
                    view.meta.status.as_str()
                ))
                .into());
            }
            StreamStatus::Active | StreamStatus::Updating => {}
        }
        if !view.meta.consumers.is_empty() && !enforce_consumer_deletion {
            return Err(ResourceInUse(format!(
                "Stream {name} under account {} has registered consumers; set EnforceConsumerDeletion to true to delete it with its consumers.",
                self.account()
            ))
            .into());
        }
        for c in &view.meta.consumers {
            self.end_subscriptions_of(&self.consumer_arn(name, c));
        }
        if self.config().delete_delay.is_zero() {
            self.remove_stream(name, &view);
            self.persist()?;
        } else {
            let mut meta = view.meta.clone();
            meta.status = StreamStatus::Deleting;
            stream.replace(view.with_meta(meta));
            self.persist()?;
            self.finish_later(
                name.to_owned(),
                view.meta.tag,
                self.config().delete_delay,
                StreamStatus::Deleting,
            );
        }
        Ok(())
    }

    /// The stream snapshot for DescribeStreamSummary and friends.
    pub fn describe_stream_summary(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
    ) -> Result<Arc<StreamView>, DescribeStreamError> {
        Ok(self.lookup(name, arn)?.view())
    }

    /// DescribeStream: up to `limit` (default and max 100) shards after `exclusive_start`.
    pub fn describe_stream(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        limit: Option<u32>,
        exclusive_start: Option<&str>,
    ) -> Result<ShardPage, DescribeStreamError> {
        let view = self.lookup(name, arn)?.view();
        let limit = limit
            .unwrap_or(100)
            .min(caps::DESCRIBE_STREAM_MAX_SHARDS as u32) as usize;
        let after = exclusive_start.and_then(|s| s.parse::<ShardId>().ok());
        let all: Vec<usize> = (0..view.shards.len())
            .filter(|&i| match (exclusive_start, after) {
                (None, _) => true,
                (Some(_), Some(a)) => view.shards.get(i).is_some_and(|s| s.id > a),
                // An unparseable start id sorts before every real id, as strings do.
                (Some(raw), None) => view
                    .shards
                    .get(i)
                    .is_some_and(|s| s.id.to_string().as_str() > raw),
            })
            .collect();
        let has_more = all.len() > limit;
        let shards = all.into_iter().take(limit).collect();
        Ok(ShardPage {
            view,
            shards,
            has_more,
        })
    }

    pub fn list_streams(
        &self,
        limit: Option<u32>,
        exclusive_start: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<StreamList, ListStreamsError> {
        let after = match next_token {
            Some(t) => Some(
                decode_token_text(t)
                    .ok_or_else(|| InvalidArgument(format!("Invalid NextToken: {t}")))?,
            ),
            None => exclusive_start.map(str::to_owned),
        };
        let limit = limit.unwrap_or(100).min(caps::LIST_STREAMS_MAX as u32) as usize;
        let streams = self.inner.streams.read();
        let mut page: Vec<Arc<StreamView>> = Vec::new();
        let mut has_more = false;
        for (name, s) in streams.iter() {
            if after.as_deref().is_some_and(|a| name.as_str() <= a) {
                continue;
            }
            if page.len() == limit {
                has_more = true;
                break;
            }
            page.push(s.view());
        }
        let next_token = if has_more {
            page.last().map(|v| encode_token_text(&v.meta.name))
        } else {
            None
        };
        Ok(StreamList {
            streams: page,
            has_more,
            next_token,
        })
    }

    pub fn list_shards(&self, req: ListShards<'_>) -> Result<ShardList, ListShardsError> {
        let now = self.now_ms();
        let (name, after, filter, max) = match req.next_token {
            Some(token) => {
                if req.name.is_some() || req.arn.is_some() {
                    return Err(InvalidArgument(
                        "NextToken and StreamName cannot be provided together.".into(),
                    )
                    .into());
                }
                if req.exclusive_start.is_some() || req.stream_creation_ms.is_some() {
                    return Err(InvalidArgument(
                        "NextToken cannot be provided together with ExclusiveStartShardId or StreamCreationTimestamp.".into(),
                    )
                    .into());
                }
                let t = ListShardsToken::decode(token)
                    .ok_or_else(|| InvalidArgument(format!("Invalid NextToken: {token}")))?;
                if now - t.issued_ms > caps::NEXT_TOKEN_TTL_MS {
                    return Err(ExpiredNextToken(format!(
                        "The requested token has expired. NextToken was issued at {} ms",
                        t.issued_ms
                    ))
                    .into());
                }
                (t.stream, Some(ShardId(t.after)), t.filter, t.max)
            }
            None => {
                if req.name.is_none() && req.arn.is_none() {
                    return Err(InvalidArgument(
                        "Either NextToken or StreamName should be provided.".into(),
                    )
                    .into());
                }
                let name = self.resolve_name(req.name, req.arn)?.to_owned();
                let after = req
                    .exclusive_start
                    .map(|s| s.parse::<ShardId>().unwrap_or(ShardId(0)));
                (name, after, req.filter, req.max_results.unwrap_or(1000))
            }
        };
        let view = self.stream(&name)?.view();
        if view.meta.status == StreamStatus::Creating {
            return Err(ResourceInUse(format!(
                "Stream {name} under account {} not ACTIVE, instead in state CREATING",
                self.account()
            ))
            .into());
        }
        if req
            .stream_creation_ms
            .is_some_and(|t| t != view.meta.created_ms)
        {
            // A different incarnation of the name: AWS answers as if the stream did not exist.
            return Err(crate::error::StreamNotFound {
                stream: name,
                account: self.account().to_owned(),
            }
            .into());
        }
        let max = max.clamp(1, caps::LIST_SHARDS_MAX_RESULTS as u32) as usize;
        let matching: Vec<usize> = (0..view.shards.len())
            .filter(|&i| {
                let Some(s) = view.shards.get(i) else {
                    return false;
                };
                after.is_none_or(|a| s.id > a) && filter.is_none_or(|f| filter_matches(&view, s, f))
            })
            .collect();
        let more = matching.len() > max;
        let shards: Vec<usize> = matching.into_iter().take(max).collect();
        let next_token = if more {
            shards.last().and_then(|&i| view.shards.get(i)).map(|s| {
                ListShardsToken {
                    stream: name.clone(),
                    after: s.id.0,
                    filter,
                    max: max as u32,
                    issued_ms: now,
                }
                .encode()
            })
        } else {
            None
        };
        Ok(ShardList {
            view,
            shards,
            next_token,
        })
    }

    pub fn increase_retention(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        hours: i64,
    ) -> Result<(), RetentionError> {
        self.change_retention(name, arn, hours, true)
    }

    pub fn decrease_retention(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        hours: i64,
    ) -> Result<(), RetentionError> {
        self.change_retention(name, arn, hours, false)
    }

    fn change_retention(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        hours: i64,
        increase: bool,
    ) -> Result<(), RetentionError> {
        let name = self.resolve_name(name, arn)?;
        if hours < i64::from(caps::MIN_RETENTION_HOURS) {
            return Err(InvalidArgument(format!(
                "Minimum allowed retention period is {} hours. Requested retention period ({hours} hours) is too short.",
                caps::MIN_RETENTION_HOURS
            ))
            .into());
        }
        if hours > i64::from(caps::MAX_RETENTION_HOURS) {
            return Err(InvalidArgument(format!(
                "Maximum allowed retention period is {} hours. Requested retention period ({hours} hours) is too long.",
                caps::MAX_RETENTION_HOURS
            ))
            .into());
        }
        let _guard = self.inner.control.lock();
        let stream = self.stream(name)?;
        let view = stream.view();
        self.require_active(name, &view)?;
        let current = i64::from(view.meta.retention_hours);
        if increase && hours < current {
            return Err(InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({current} hours). Use DecreaseRetentionPeriod API."
            ))
            .into());
        }
        if !increase && hours > current {
            return Err(InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({current} hours). Use IncreaseRetentionPeriod API."
            ))
            .into());
        }
        let mut meta = view.meta.clone();
        meta.retention_hours = hours as u32;
        stream.replace(view.with_meta(meta));
        self.persist()?;
        drop(_guard);
        if !increase {
            self.enforce_retention();
        }
        Ok(())
    }

    pub(crate) fn require_active(
        &self,
        name: &str,
        view: &StreamView,
    ) -> Result<(), ResourceInUse> {
        if view.meta.status == StreamStatus::Active {
            return Ok(());
        }
        Err(ResourceInUse(format!(
            "Stream {name} under account {} not ACTIVE, instead in state {}",
            self.account(),
            view.meta.status.as_str()
        )))
    }

    /// Deletes whole segments whose records are all past their stream's retention, and
    /// forgets closed shards whose every record has expired (they leave ListShards and
    /// DescribeStream, and their logs are deleted). Reads filter by time as well, so expired
    /// records are never served between passes.
    pub fn enforce_retention(&self) -> u64 {
        let now = self.now_ms();
        let streams: Vec<Arc<Stream>> = self.inner.streams.read().values().cloned().collect();
        let mut reclaimed = 0;
        for s in streams {
            let view = s.view();
            let cutoff = now - view.retention_ms();
            for shard in &view.shards {
                match shard.log().trim_older_than(cutoff) {
                    Ok(n) => reclaimed += n,
                    Err(e) => {
                        tracing::warn!(log = shard.log().name(), error = %e, "retention pass failed")
                    }
                }
            }
            if view
                .shards
                .iter()
                .any(|sh| sh.meta.closed_ms.is_some_and(|c| c < cutoff))
            {
                reclaimed += self.forget_expired_shards(&s, now);
            }
        }
        reclaimed
    }

    fn forget_expired_shards(&self, stream: &Stream, now: i64) -> u64 {
        let _guard = self.inner.control.lock();
        let view = stream.view();
        let cutoff = now - view.retention_ms();
        let expired: Vec<&ShardView> = view
            .shards
            .iter()
            .filter(|sh| sh.meta.closed_ms.is_some_and(|c| c < cutoff))
            .collect();
        let mut meta = view.meta.clone();
        meta.next_shard_index = view.next_shard_index();
        meta.shards
            .retain(|m| !expired.iter().any(|e| e.id.0 == m.index));
        stream.replace(view.with_meta(meta));
        if let Err(e) = self.persist() {
            tracing::error!(error = %e, "could not persist expired shards");
            return 0;
        }
        let mut reclaimed = 0;
        for sh in expired {
            reclaimed += sh.log().disk_bytes();
            if let Err(e) = self.inner.store.delete_log(sh.log().name()) {
                tracing::warn!(log = sh.log().name(), error = %e, "could not delete expired shard log");
            }
        }
        reclaimed
    }

    pub fn describe_limits(&self) -> Limits {
        let streams = self.inner.streams.read();
        Limits {
            shard_limit: self.config().shard_limit,
            open_shard_count: streams.values().map(|s| s.view().open_shard_count()).sum(),
            on_demand_stream_count: streams
                .values()
                .filter(|s| s.view().meta.mode == StreamMode::OnDemand)
                .count() as u32,
            on_demand_stream_count_limit: caps::ON_DEMAND_STREAM_LIMIT,
        }
    }
}

/// Whether `shard` passes a ShardFilter. "Open at time T" means created at or before T (a
/// shard without parents counts as existing from the stream's start) and not closed by T.
fn filter_matches(view: &StreamView, s: &ShardView, f: ShardFilter) -> bool {
    let root = s.meta.parent.is_none() && s.meta.adjacent_parent.is_none();
    let open_at =
        |t: i64| (root || s.meta.created_ms <= t) && s.meta.closed_ms.is_none_or(|c| c > t);
    match f {
        ShardFilter::AfterShardId(id) => s.id > id,
        ShardFilter::AtTrimHorizon => {
            // The oldest retained generation: shards none of whose parents are still retained.
            let retained = |p: Option<u32>| p.is_some_and(|p| view.shard(ShardId(p)).is_some());
            !retained(s.meta.parent) && !retained(s.meta.adjacent_parent)
        }
        ShardFilter::FromTrimHorizon => true,
        ShardFilter::AtLatest => s.is_open(),
        ShardFilter::AtTimestamp(t) => open_at(t),
        ShardFilter::FromTimestamp(t) => s.meta.closed_ms.is_none_or(|c| c >= t),
    }
}

/// ListShards' opaque NextToken: everything needed to continue, plus when it was issued.
struct ListShardsToken {
    stream: String,
    after: u32,
    filter: Option<ShardFilter>,
    max: u32,
    issued_ms: i64,
}

impl ListShardsToken {
    fn encode(&self) -> String {
        let (kind, arg) = match self.filter {
            None => ("", 0),
            Some(ShardFilter::AfterShardId(id)) => ("AFTER_SHARD_ID", i64::from(id.0)),
            Some(ShardFilter::AtTrimHorizon) => ("AT_TRIM_HORIZON", 0),
            Some(ShardFilter::FromTrimHorizon) => ("FROM_TRIM_HORIZON", 0),
            Some(ShardFilter::AtLatest) => ("AT_LATEST", 0),
            Some(ShardFilter::AtTimestamp(t)) => ("AT_TIMESTAMP", t),
            Some(ShardFilter::FromTimestamp(t)) => ("FROM_TIMESTAMP", t),
        };
        encode_token_text(&format!(
            "{}|{}|{}|{}|{}|{}",
            self.issued_ms, self.after, self.max, kind, arg, self.stream
        ))
    }

    fn decode(token: &str) -> Option<Self> {
        let text = decode_token_text(token)?;
        let mut p = text.splitn(6, '|');
        let issued_ms = p.next()?.parse().ok()?;
        let after = p.next()?.parse().ok()?;
        let max = p.next()?.parse().ok()?;
        let kind = p.next()?;
        let arg: i64 = p.next()?.parse().ok()?;
        let stream = p.next()?.to_owned();
        let filter = match kind {
            "" => None,
            "AFTER_SHARD_ID" => Some(ShardFilter::AfterShardId(ShardId(u32::try_from(arg).ok()?))),
            "AT_TRIM_HORIZON" => Some(ShardFilter::AtTrimHorizon),
            "FROM_TRIM_HORIZON" => Some(ShardFilter::FromTrimHorizon),
            "AT_LATEST" => Some(ShardFilter::AtLatest),
            "AT_TIMESTAMP" => Some(ShardFilter::AtTimestamp(arg)),
            "FROM_TIMESTAMP" => Some(ShardFilter::FromTimestamp(arg)),
            _ => return None,
        };
        Some(ListShardsToken {
            stream,
            after,
            filter,
            max,
            issued_ms,
        })
    }
}

fn encode_token_text(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn decode_token_text(t: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(t).ok()?).ok()
}

/// Runs `f` after `delay` on the current Tokio runtime; without one (tests driving the engine
/// synchronously), at once.
pub(crate) fn run_after(delay: Duration, f: impl FnOnce() + Send + 'static) {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => {
            h.spawn(async move {
                tokio::time::sleep(delay).await;
                f();
            });
        }
        Err(_) => f(),
    }
}
