//! Resharding: SplitShard, MergeShards and UpdateShardCount (spec §4).
//!
//! A parent shard is closed by *sealing* its write gate (waiting for appends in flight), then
//! publishing a snapshot where it carries `closed_ms` and its children exist. Every record of a
//! parent is therefore durable and visible before any child accepts a write, which is what
//! lets readers finish the parent before the children and keep per-key order.

use crate::error::{InvalidArgument, LimitExceeded, ReshardError, ResourceInUse, ResourceNotFound};
use crate::meta::{ShardMeta, StreamMeta};
use crate::view::{ShardCore, ShardView, StreamView};
use crate::{Engine, Stream};
use nagare_types::{HashKey, HashKeyRange, ShardId};
use std::sync::Arc;

/// AWS allows ten UpdateShardCount calls per stream in a rolling 24 hours.
const MAX_SCALINGS_PER_DAY: usize = 10;
const DAY_MS: i64 = 86_400_000;
/// UpdateShardCount cannot go past 10,000 open shards.
const MAX_SCALED_SHARDS: u32 = 10_000;

/// The result of UpdateShardCount.
pub struct ShardCountUpdate {
    pub stream: String,
    pub current: u32,
    pub target: u32,
}

impl Engine {
    fn shard_not_found(&self, stream: &str, shard: &str) -> ResourceNotFound {
        ResourceNotFound(format!(
            "Could not find shard {shard} in stream {stream} under account {}.",
            self.account()
        ))
    }

    fn not_eligible(&self, stream: &str, shard: ShardId) -> InvalidArgument {
        InvalidArgument(format!(
            "Shard {shard} in stream {stream} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
            self.account()
        ))
    }

    /// An open shard of `view` named (laxly) by `raw`.
    fn open_shard<'v>(
        &self,
        view: &'v StreamView,
        raw: &str,
    ) -> Result<&'v ShardView, ReshardError> {
        let name = &view.meta.name;
        let id = raw
            .parse::<ShardId>()
            .map_err(|_| self.shard_not_found(name, raw))?;
        let shard = view
            .shard(id)
            .ok_or_else(|| self.shard_not_found(name, &id.to_string()))?;
        if !shard.is_open() {
            return Err(self.not_eligible(name, id).into());
        }
        Ok(shard)
    }

    /// LimitExceeded when `additional` more open shards would pass the account's shard limit.
    pub(crate) fn check_shard_quota(&self, additional: u32) -> Result<(), LimitExceeded> {
        let current = self.open_shards_in_account();
        if u64::from(current) + u64::from(additional) <= u64::from(self.config().shard_limit) {
            return Ok(());
        }
        Err(LimitExceeded(format!(
            "This request would exceed the shard limit for the account {} in {}. Current shard count for the account: {current}. Limit: {}. Number of additional shards that would have resulted from this request: {additional}. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for current limits and how to request higher limits.",
            self.account(),
            self.config().region,
            self.config().shard_limit
        )))
    }

    pub async fn split_shard(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        shard_to_split: &str,
        new_starting_hash_key: &str,
    ) -> Result<(), ReshardError> {
        let name = self.resolve_name(name, arn)?;
        let stream = self.stream(name)?;
        let view = stream.view();
        self.require_active(name, &view)?;
        let shard = self.open_shard(&view, shard_to_split)?;
        let (start, end) = (shard.range.start, shard.range.end);
        let valid = new_starting_hash_key
            .parse::<HashKey>()
            .ok()
            .filter(|h| start.0.checked_add(1).is_some_and(|s1| s1 < h.0) && h.0 < end.0);
        let Some(h) = valid else {
            return Err(InvalidArgument(format!(
                "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {} in stream {name} under account {} is not both greater than one plus the shard's StartingHashKey {start} and less than the shard's EndingHashKey {end}.",
                shard.id,
                self.account()
            ))
            .into());
        };
        self.check_shard_quota(1)?;
        let id = shard.id;
        let core = shard.core.clone();
        drop(view);
        let gate = core.seal().await;
        let result = self.apply_plan(&stream, name, |view, now| {
            let shard = view
                .shard(id)
                .filter(|s| s.is_open())
                .ok_or_else(|| self.not_eligible(name, id))?;
            let mut plan = Plan::new(view, now);
            plan.split(shard.id, shard.range, h);
            Ok(plan)
        });
        if result.is_err() {
            core.unseal();
        }
        drop(gate);
        result
    }

    pub async fn merge_shards(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        shard_to_merge: &str,
        adjacent_shard: &str,
    ) -> Result<(), ReshardError> {
        let name = self.resolve_name(name, arn)?;
        let stream = self.stream(name)?;
        let view = stream.view();
        self.require_active(name, &view)?;
        let a = self.open_shard(&view, shard_to_merge)?;
        let b = self.open_shard(&view, adjacent_shard)?;
        if a.range.end.0.checked_add(1) != Some(b.range.start.0) {
            return Err(InvalidArgument(format!(
                "Shards {} and {} in stream {name} under account {} are not an adjacent pair of shards eligible for merging",
                a.id,
                b.id,
                self.account()
            ))
            .into());
        }
        let (ida, idb) = (a.id, b.id);
        let mut cores = [(ida, a.core.clone()), (idb, b.core.clone())];
        cores.sort_by_key(|(id, _)| *id);
        drop(view);
        // Seal in ascending shard order, the order appenders enter gates in.
        let g1 = cores[0].1.seal().await;
        let g2 = cores[1].1.seal().await;
        let result = self.apply_plan(&stream, name, |view, now| {
            let sa = view
                .shard(ida)
                .filter(|s| s.is_open())
                .ok_or_else(|| self.not_eligible(name, ida))?;
            let sb = view
                .shard(idb)
                .filter(|s| s.is_open())
                .ok_or_else(|| self.not_eligible(name, idb))?;
            let mut plan = Plan::new(view, now);
            plan.merge((sa.id, sa.range), (sb.id, sb.range));
            Ok(plan)
        });
        if result.is_err() {
            cores.iter().for_each(|(_, c)| c.unseal());
        }
        drop((g1, g2));
        result
    }

    pub async fn update_shard_count(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
        target: u32,
    ) -> Result<ShardCountUpdate, ReshardError> {
        let name = self.resolve_name(name, arn)?;
        let stream = self.stream(name)?;
        let view = stream.view();
        self.require_active(name, &view)?;
        let current = view.open_shard_count();
        if target > current.saturating_mul(2) {
            return Err(LimitExceeded(format!(
                "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: {current} Target shard count: {target}"
            ))
            .into());
        }
        if target < current.div_ceil(2) {
            return Err(LimitExceeded(format!(
                "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: {current} Target shard count: {target}"
            ))
            .into());
        }
        if target > MAX_SCALED_SHARDS {
            return Err(LimitExceeded(format!(
                "UpdateShardCount cannot scale up to more than {MAX_SCALED_SHARDS} shards. Target shard count: {target}"
            ))
            .into());
        }
        let now = self.now_ms();
        let recent = view
            .meta
            .scaling_events_ms
            .iter()
            .filter(|t| now - **t < DAY_MS)
            .count();
        if recent >= MAX_SCALINGS_PER_DAY {
            return Err(LimitExceeded(format!(
                "Stream {name} under account {} has reached the limit of {MAX_SCALINGS_PER_DAY} UpdateShardCount operations in a rolling 24 hour period.",
                self.account()
            ))
            .into());
        }
        self.check_shard_quota(target.saturating_sub(current))?;
        let ids: Vec<ShardId> = view.open_shards().map(|s| s.id).collect();
        let mut cores: Vec<(ShardId, Arc<ShardCore>)> =
            view.open_shards().map(|s| (s.id, s.core.clone())).collect();
        cores.sort_by_key(|(id, _)| *id);
        drop(view);
        let mut guards = Vec::with_capacity(cores.len());
        for (_, c) in &cores {
            guards.push(c.seal().await);
        }
        let result = self.apply_plan(&stream, name, |view, now| {
            // Another reshard may have run between the checks above and the seals.
            let unchanged = view.open_shard_count() as usize == ids.len()
                && ids
                    .iter()
                    .all(|id| view.shard(*id).is_some_and(ShardView::is_open));
            if !unchanged {
                return Err(ResourceInUse(format!(
                    "Stream {name} under account {} not ACTIVE, instead in state UPDATING",
                    self.account()
                ))
                .into());
            }
            let open: Vec<(ShardId, HashKeyRange)> =
                view.open_shards().map(|s| (s.id, s.range)).collect();
            let mut plan = Plan::new(view, now);
            plan.uniform(&open, target);
            plan.meta.scaling_events_ms.retain(|t| now - *t < DAY_MS);
            plan.meta.scaling_events_ms.push(now);
            Ok(plan)
        });
        if result.is_err() {
            cores.iter().for_each(|(_, c)| c.unseal());
        }
        drop(guards);
        result.map(|()| ShardCountUpdate {
            stream: name.to_owned(),
            current,
            target,
        })
    }

    /// Under the control lock: re-reads the stream, builds the plan (which re-checks that the
    /// sealed shards are still open), creates the new shards' logs and publishes.
    fn apply_plan(
        &self,
        stream: &Stream,
        name: &str,
        build: impl FnOnce(&StreamView, i64) -> Result<Plan, ReshardError>,
    ) -> Result<(), ReshardError> {
        let _guard = self.inner.control.lock();
        let view = stream.view();
        self.require_active(name, &view)?;
        let plan = build(&view, self.now_ms())?;
        let mut cores = Vec::with_capacity(plan.created.len());
        for index in &plan.created {
            cores.push((
                *index,
                self.create_shard_core(name, plan.meta.tag, ShardId(*index))?,
            ));
        }
        self.publish_update(stream, &view, plan.meta, cores)?;
        Ok(())
    }
}

/// A reshard being planned on a copy of the stream's metadata.
struct Plan {
    meta: StreamMeta,
    now: i64,
    /// Indices of shards this plan creates (their logs must be created).
    created: Vec<u32>,
}

impl Plan {
    fn new(view: &StreamView, now: i64) -> Self {
        let mut meta = view.meta.clone();
        meta.next_shard_index = view.next_shard_index();
        Plan {
            meta,
            now,
            created: Vec::new(),
        }
    }

    fn close(&mut self, id: ShardId) {
        if let Some(s) = self.meta.shards.iter_mut().find(|s| s.index == id.0) {
            s.closed_ms = Some(self.now);
        }
    }

    fn add(&mut self, range: HashKeyRange, parent: ShardId, adjacent: Option<ShardId>) -> ShardId {
        let index = self.meta.next_shard_index;
        self.meta.next_shard_index += 1;
        self.meta.shards.push(ShardMeta {
            index,
            parent: Some(parent.0),
            adjacent_parent: adjacent.map(|a| a.0),
            start_hash: range.start.to_string(),
            end_hash: range.end.to_string(),
            created_ms: self.now,
            closed_ms: None,
        });
        self.created.push(index);
        ShardId(index)
    }

    /// Closes `id` and creates `[start, h-1]` and `[h, end]`. Returns the two children.
    fn split(
        &mut self,
        id: ShardId,
        range: HashKeyRange,
        h: HashKey,
    ) -> (ShardId, HashKeyRange, ShardId, HashKeyRange) {
        self.close(id);
        let left = HashKeyRange {
            start: range.start,
            end: HashKey(h.0 - 1),
        };
        let right = HashKeyRange {
            start: h,
            end: range.end,
        };
        let l = self.add(left, id, None);
        let r = self.add(right, id, None);
        (l, left, r, right)
    }

    /// Closes both and creates their union; `a` must precede `b` in the hash space.
    fn merge(
        &mut self,
        a: (ShardId, HashKeyRange),
        b: (ShardId, HashKeyRange),
    ) -> (ShardId, HashKeyRange) {
        self.close(a.0);
        self.close(b.0);
        let range = HashKeyRange {
            start: a.1.start,
            end: b.1.end,
        };
        (self.add(range, a.0, Some(b.0)), range)
    }

    /// Reshapes `open` (sorted by hash) into `target` uniform shards with splits then merges,
    /// so no shard ever has more than two parents: first every open shard is split at each
    /// target boundary inside it, then the pieces of each target range are merged left to right.
    fn uniform(&mut self, open: &[(ShardId, HashKeyRange)], target: u32) {
        let targets = HashKeyRange::uniform(target);
        let mut pieces: Vec<(ShardId, HashKeyRange)> = Vec::new();
        for &(id, range) in open {
            let (mut cur_id, mut cur) = (id, range);
            for t in targets
                .iter()
                .skip(1)
                .map(|t| t.start)
                .filter(|b| range.start < *b && *b <= range.end)
            {
                let (l, lr, r, rr) = self.split(cur_id, cur, t);
                pieces.push((l, lr));
                (cur_id, cur) = (r, rr);
            }
            pieces.push((cur_id, cur));
        }
        for t in &targets {
            let mut acc: Option<(ShardId, HashKeyRange)> = None;
            for p in pieces.iter().filter(|(_, r)| t.contains(r.start)) {
                acc = Some(match acc {
                    None => *p,
                    Some(prev) => self.merge(prev, *p),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn plan_for(ranges: &[HashKeyRange]) -> Plan {
        let shards = ranges
            .iter()
            .enumerate()
            .map(|(i, r)| ShardMeta {
                index: i as u32,
                parent: None,
                adjacent_parent: None,
                start_hash: r.start.to_string(),
                end_hash: r.end.to_string(),
                created_ms: 0,
                closed_ms: None,
            })
            .collect();
        let meta = StreamMeta {
            name: "s".into(),
            tag: 1,
            created_ms: 0,
            status: crate::meta::StreamStatus::Active,
            mode: crate::meta::StreamMode::Provisioned,
            retention_hours: 24,
            max_record_kib: 1024,
            shards,
            tags: Default::default(),
            next_shard_index: ranges.len() as u32,
            encryption_key: None,
            shard_level_metrics: vec![],
            warm_throughput_mibps: None,
            policy: None,
            scaling_events_ms: vec![],
            mode_switches_ms: vec![],
            consumers: vec![],
        };
        Plan {
            meta,
            now: 5,
            created: vec![],
        }
    }

    proptest! {
        #[test]
        fn uniform_scaling_reaches_the_target_with_at_most_two_parents(current in 1u32..40, factor in 0.5f64..2.0) {
            let target = ((f64::from(current) * factor).round() as u32).clamp(current.div_ceil(2), current * 2).max(1);
            let ranges = HashKeyRange::uniform(current);
            let mut plan = plan_for(&ranges);
            let open: Vec<_> = ranges.iter().enumerate().map(|(i, r)| (ShardId(i as u32), *r)).collect();
            plan.uniform(&open, target);
            let mut now_open: Vec<HashKeyRange> = plan.meta.shards.iter().filter(|s| s.closed_ms.is_none())
                .map(|s| HashKeyRange { start: s.start_hash.parse().unwrap(), end: s.end_hash.parse().unwrap() }).collect();
            now_open.sort_by_key(|r| r.start);
            prop_assert_eq!(now_open, HashKeyRange::uniform(target));
            // Every closed parent has children covering exactly its range; no shard has > 2 parents.
            for s in &plan.meta.shards {
                prop_assert!(s.parent.is_some() || s.index < current);
            }
        }
    }

    #[test]
    fn split_then_merge_build_aws_lineage() {
        let mut plan = plan_for(&[HashKeyRange::FULL]);
        let h = HashKey(170141183460469231731687303715884105727);
        let (l, lr, r, rr) = plan.split(ShardId(0), HashKeyRange::FULL, h);
        assert_eq!((l, r), (ShardId(1), ShardId(2)));
        assert_eq!(
            lr.end.to_string(),
            "170141183460469231731687303715884105726"
        );
        assert_eq!(rr.start, h);
        let (m, mr) = plan.merge((l, lr), (r, rr));
        assert_eq!(m, ShardId(3));
        assert_eq!(mr, HashKeyRange::FULL);
        let child = plan.meta.shards.iter().find(|s| s.index == 3).unwrap();
        assert_eq!((child.parent, child.adjacent_parent), (Some(1), Some(2)));
        assert!(
            plan.meta
                .shards
                .iter()
                .filter(|s| s.index < 3)
                .all(|s| s.closed_ms == Some(5))
        );
    }
}
