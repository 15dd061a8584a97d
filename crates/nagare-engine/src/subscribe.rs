//! SubscribeToShard: records pushed to an enhanced fan-out consumer as they land.
//!
//! A [`Subscription`] is pulled by the HTTP layer: each `next_event` returns as soon as the
//! shard's log makes new records visible (the log wakes it; no polling), or after a heartbeat
//! interval with an empty event, or `None` when the subscription ends (5-minute lifetime,
//! taken over by a newer subscription, consumer deregistered). Because the HTTP body pulls
//! events only as the client reads them, a slow reader holds at most one event in memory.

use crate::consumers::ConsumerRef;
use crate::data::{ChildShardInfo, IteratorStart};
use crate::error::{ResourceInUse, ResourceNotFound, ShardNotFound, SubscribeError};
use crate::meta::{ConsumerStatus, StreamStatus};
use crate::view::ShardCore;
use crate::{Engine, Stream};
use metrics::Counter;
use nagare_log::{LogRecord, Offset};
use nagare_types::{SequenceNumber, ShardId, StreamTag};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A second subscription of a consumer to a shard within 5 s is refused; later, it takes over.
const TAKEOVER_AFTER_MS: i64 = 5_000;
/// Records per event.
const MAX_EVENT_RECORDS: usize = 10_000;
/// Record bytes per event (events are bounded to keep per-subscription memory small).
const MAX_EVENT_BYTES: usize = 1024 * 1024;
/// Per (consumer, shard) read rate when throughput limits are on.
const PUSH_BYTES_PER_SEC: f64 = 2.0 * 1024.0 * 1024.0;

/// Live subscriptions, for the 5-second rule and takeovers.
#[derive(Default)]
pub(crate) struct Subscriptions {
    slots: parking_lot::Mutex<std::collections::HashMap<(String, ShardId), Slot>>,
}

struct Slot {
    started_ms: i64,
    stop: watch::Sender<bool>,
}

/// One event of a subscription.
pub struct SubscriptionEvent {
    pub records: Vec<LogRecord>,
    /// Absent exactly on the final event of a closed shard (which carries `children`).
    pub continuation: Option<SequenceNumber>,
    pub millis_behind_latest: i64,
    pub children: Option<Vec<ChildShardInfo>>,
    pub encrypted: bool,
}

/// An open subscription; see the module docs.
pub struct Subscription {
    engine: Engine,
    stream: Arc<Stream>,
    core: Arc<ShardCore>,
    tag: StreamTag,
    shard: ShardId,
    offset: u64,
    deadline_ms: i64,
    stop: watch::Receiver<bool>,
    heartbeat: Duration,
    finished: bool,
    sent_bytes: f64,
    started: std::time::Instant,
    event_records: Counter,
    event_bytes: Counter,
    event_success: Counter,
}

impl Engine {
    pub async fn subscribe_to_shard(
        &self,
        consumer_arn: &str,
        shard_id: &str,
        start: IteratorStart<'_>,
    ) -> Result<Subscription, SubscribeError> {
        let r = ConsumerRef {
            consumer_arn: Some(consumer_arn),
            stream_arn: None,
            consumer_name: None,
        };
        let (stream, consumer) = self.resolve_consumer(r).map_err(|_| {
            ResourceNotFound(format!(
                "Consumer {consumer_arn} under account {} not found.",
                self.account()
            ))
        })?;
        if consumer.status != ConsumerStatus::Active {
            return Err(ResourceInUse(format!(
                "Consumer {consumer_arn} under account {} is not in ACTIVE state, instead in state {}.",
                self.account(),
                consumer.status.as_str()
            ))
            .into());
        }
        let view = stream.view();
        let name = view.meta.name.clone();
        if !matches!(
            view.meta.status,
            StreamStatus::Active | StreamStatus::Updating
        ) {
            return Err(ResourceInUse(format!(
                "Stream {name} under account {} not ACTIVE, instead in state {}",
                self.account(),
                view.meta.status.as_str()
            ))
            .into());
        }
        let missing = || ShardNotFound {
            shard: shard_id.to_owned(),
            stream: name.clone(),
            account: self.account().to_owned(),
        };
        let id = shard_id.parse::<ShardId>().map_err(|_| missing())?;
        let shard = view.shard(id).ok_or_else(missing)?;
        let now = self.now_ms();
        let offset = self.start_offset(&view, shard, start, now)?;
        let key = (consumer_arn.to_owned(), id);
        let (tx, rx) = watch::channel(false);
        {
            let mut slots = self.inner.subscriptions.slots.lock();
            if let Some(old) = slots.get(&key) {
                if now - old.started_ms < TAKEOVER_AFTER_MS && !old.stop.is_closed() {
                    metrics::counter!("SubscribeToShard.RateExceeded", "StreamName" => name.clone(), "ConsumerName" => consumer.name.clone()).increment(1);
                    return Err(ResourceInUse(format!(
                        "Another active subscription exists for consumer {consumer_arn} on shard {id}"
                    ))
                    .into());
                }
                let _ = old.stop.send(true);
            }
            slots.insert(
                key,
                Slot {
                    started_ms: now,
                    stop: tx,
                },
            );
        }
        let labels = [
            ("StreamName", name.clone()),
            ("ConsumerName", consumer.name.clone()),
        ];
        metrics::counter!("SubscribeToShard.Success", &labels).increment(1);
        Ok(Subscription {
            engine: self.clone(),
            tag: view.tag,
            core: shard.core.clone(),
            stream: stream.clone(),
            shard: id,
            offset,
            deadline_ms: now + self.config().subscription_lifetime.as_millis() as i64,
            stop: rx,
            heartbeat: self.config().subscription_heartbeat,
            finished: false,
            sent_bytes: 0.0,
            started: std::time::Instant::now(),
            event_records: metrics::counter!("SubscribeToShardEvent.Records", &labels),
            event_bytes: metrics::counter!("SubscribeToShardEvent.Bytes", &labels),
            event_success: metrics::counter!("SubscribeToShardEvent.Success", &labels),
        })
    }

    /// Ends every subscription of a consumer (it was deregistered).
    pub(crate) fn end_subscriptions_of(&self, consumer_arn: &str) {
        let mut slots = self.inner.subscriptions.slots.lock();
        slots.retain(|(arn, _), slot| {
            if arn == consumer_arn {
                let _ = slot.stop.send(true);
                false
            } else {
                true
            }
        });
    }
}

impl Subscription {
    /// The stream incarnation and shard, to number the records of events.
    pub fn position(&self) -> (StreamTag, ShardId) {
        (self.tag, self.shard)
    }

    /// The next event, or `None` once the subscription is over.
    pub async fn next_event(&mut self) -> Option<SubscriptionEvent> {
        if self.finished {
            return None;
        }
        loop {
            let now = self.engine.now_ms();
            if now >= self.deadline_ms || *self.stop.borrow() {
                return None;
            }
            self.pace().await;
            let view = self.stream.view();
            let shard = view.shard(self.shard)?;
            let encrypted = view.meta.encryption_key.is_some();
            let log = self.core.log.clone();
            let cutoff = now - view.retention_ms();
            let mut batch = log
                .read(Offset(self.offset), MAX_EVENT_RECORDS, MAX_EVENT_BYTES)
                .ok()?;
            if batch
                .records
                .first()
                .is_some_and(|r| r.timestamp_ms < cutoff)
            {
                let from = log.offset_at_or_after(cutoff).max(Offset(self.offset));
                batch = log.read(from, MAX_EVENT_RECORDS, MAX_EVENT_BYTES).ok()?;
            }
            let end = log.end();
            if let Some(last) = batch.records.last() {
                self.offset = batch.next.0;
                let behind = match log.last_timestamp_ms() {
                    Some(tip) if batch.next < end => (tip - last.timestamp_ms).max(0),
                    _ => 0,
                };
                let bytes: usize = batch
                    .records
                    .iter()
                    .map(|r| r.key.len() + r.value.len())
                    .sum();
                self.sent_bytes += bytes as f64;
                self.event_records.increment(batch.records.len() as u64);
                self.event_bytes.increment(bytes as u64);
                self.event_success.increment(1);
                return Some(SubscriptionEvent {
                    continuation: Some(SequenceNumber::of_record(
                        self.tag,
                        self.shard,
                        last.offset.0,
                    )),
                    records: batch.records,
                    millis_behind_latest: behind,
                    children: None,
                    encrypted,
                });
            }
            if !shard.is_open() && Offset(self.offset) >= end {
                self.finished = true;
                let children = crate::data::child_shards(&view, self.shard);
                self.event_success.increment(1);
                return Some(SubscriptionEvent {
                    records: Vec::new(),
                    continuation: None,
                    millis_behind_latest: 0,
                    children: Some(children),
                    encrypted,
                });
            }
            // Caught up: wait for the log to make the next record visible, a heartbeat, the
            // end of the lifetime or a takeover, whichever comes first.
            let until_deadline = Duration::from_millis((self.deadline_ms - now).max(0) as u64);
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = log.wait_past(Offset(self.offset)) => continue,
                _ = stop.wait_for(|s| *s) => return None,
                _ = tokio::time::sleep(until_deadline) => return None,
                _ = tokio::time::sleep(self.heartbeat) => {
                    self.event_success.increment(1);
                    return Some(SubscriptionEvent {
                        records: Vec::new(),
                        // "After" this number is exactly the next record to deliver.
                        continuation: Some(SequenceNumber::new(self.tag, self.shard, self.offset)),
                        millis_behind_latest: 0,
                        children: None,
                        encrypted,
                    });
                }
            }
        }
    }

    /// Holds delivery to 2 MiB/s per (consumer, shard) when throughput limits are on.
    async fn pace(&self) {
        if !self.engine.config().throughput_limits {
            return;
        }
        let allowed_secs = self.sent_bytes / PUSH_BYTES_PER_SEC;
        let elapsed = self.started.elapsed().as_secs_f64();
        if allowed_secs > elapsed + 1.0 {
            tokio::time::sleep(Duration::from_secs_f64(allowed_secs - elapsed - 1.0)).await;
        }
    }
}
