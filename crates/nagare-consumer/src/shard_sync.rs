//! Shard sync: compare ListShards with the lease table and create the missing leases
//! (KCL's `ShardSyncTask` / `HierarchicalShardSyncer`, simplified), and clean up leases of
//! finished shards.
//!
//! Rules (`leases_to_create`):
//! - A shard with a lease is left alone.
//! - A shard none of whose descendants has a lease gets one; a shard with a leased
//!   descendant was already processed and its lease cleaned up, so it is skipped (this is
//!   what keeps a deleted parent lease from being re-created while the shard is still listed).
//! - A shard whose ancestor has or gets a lease starts at `TRIM_HORIZON` (it must be read
//!   whole after its parents). Others start at the initial position; with `LATEST` only open
//!   shards get leases.
//! - Leases are created parents first, so a child lease never exists without its parents'
//!   leases having been written (a worker taking the child then waits for them).
//!
//! Each lease records its parents in `parentShardId` and its hash key range.

use crate::config::InitialPosition;
use crate::coordinator::LeaseCoordinator;
use crate::fetcher::ChildShardInfo;
use crate::lease::{Lease, LeaseStore};
use crate::metrics as m;
use crate::sequence::ExtendedSequenceNumber;
use crate::worker::WorkerError;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::types::{ShardFilter, ShardFilterType};
use nagare_types::{HashKey, HashKeyRange};
use std::collections::{BTreeMap, HashSet};
use tokio::time::Instant;

/// A shard as ListShards described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShardInfo {
    pub id: String,
    pub parents: Vec<String>,
    pub hash_key_range: Option<HashKeyRange>,
    pub open: bool,
}

/// All shards of `stream` (paginated ListShards), optionally filtered.
pub(crate) async fn list_shards(
    client: &Client,
    stream: &str,
    filter: Option<ShardFilter>,
) -> Result<Vec<ShardInfo>, WorkerError> {
    let mut shards = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = match &token {
            Some(t) => client.list_shards().next_token(t),
            None => client
                .list_shards()
                .stream_name(stream)
                .set_shard_filter(filter.clone()),
        };
        let out = req
            .send()
            .await
            .map_err(|e| WorkerError::kinesis("ListShards", e))?;
        for s in out.shards() {
            let range = s.hash_key_range().and_then(|r| {
                Some(HashKeyRange {
                    start: r.starting_hash_key().parse::<HashKey>().ok()?,
                    end: r.ending_hash_key().parse::<HashKey>().ok()?,
                })
            });
            shards.push(ShardInfo {
                id: s.shard_id().to_owned(),
                parents: s
                    .parent_shard_id()
                    .into_iter()
                    .chain(s.adjacent_parent_shard_id())
                    .map(str::to_owned)
                    .collect(),
                hash_key_range: range,
                open: s
                    .sequence_number_range()
                    .is_none_or(|r| r.ending_sequence_number().is_none()),
            });
        }
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(shards),
        }
    }
}

/// The leases to create, parents before children (see the module docs).
pub(crate) fn leases_to_create(
    shards: &[ShardInfo],
    leased: &HashSet<String>,
    initial: InitialPosition,
) -> Vec<Lease> {
    let by_id: BTreeMap<&str, &ShardInfo> = shards.iter().map(|s| (s.id.as_str(), s)).collect();
    // Ancestors of every leased shard.
    let mut has_leased_descendant: HashSet<&str> = HashSet::new();
    for s in shards.iter().filter(|s| leased.contains(&s.id)) {
        let mut stack: Vec<&str> = s.parents.iter().map(String::as_str).collect();
        while let Some(p) = stack.pop() {
            if has_leased_descendant.insert(p) {
                if let Some(ps) = by_id.get(p) {
                    stack.extend(ps.parents.iter().map(String::as_str));
                }
            }
        }
    }
    let needs_lease =
        |s: &ShardInfo| !leased.contains(&s.id) && !has_leased_descendant.contains(s.id.as_str());
    // Depth = longest chain of listed ancestors; creating by depth puts parents first.
    fn depth<'a>(
        id: &'a str,
        by_id: &BTreeMap<&'a str, &'a ShardInfo>,
        memo: &mut BTreeMap<&'a str, usize>,
    ) -> usize {
        if let Some(d) = memo.get(id) {
            return *d;
        }
        memo.insert(id, 0); // cycle guard for malformed listings
        let d = by_id.get(id).map_or(0, |s| {
            s.parents
                .iter()
                .filter(|p| by_id.contains_key(p.as_str()))
                .map(|p| depth(p, by_id, memo) + 1)
                .max()
                .unwrap_or(0)
        });
        memo.insert(id, d);
        d
    }
    let mut memo = BTreeMap::new();
    let mut ordered: Vec<(usize, &ShardInfo)> = shards
        .iter()
        .map(|s| (depth(&s.id, &by_id, &mut memo), s))
        .collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
    // Shards that have or will get a lease: a child of one of them starts at TRIM_HORIZON.
    let mut tracked: HashSet<&str> = leased.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for (_, s) in ordered {
        if !needs_lease(s) {
            continue;
        }
        let ancestor_tracked = s.parents.iter().any(|p| tracked.contains(p.as_str()));
        let checkpoint = if ancestor_tracked {
            ExtendedSequenceNumber::TrimHorizon
        } else {
            if initial == InitialPosition::Latest && !s.open {
                continue;
            }
            initial.checkpoint()
        };
        let mut lease =
            Lease::new(s.id.clone(), checkpoint).with_parents(s.parents.iter().cloned());
        lease.hash_key_range = s.hash_key_range;
        tracked.insert(s.id.as_str());
        out.push(lease);
    }
    out
}

/// Create the leases of `children` (announced at the end of their parent).
pub(crate) async fn create_child_leases(
    store: &dyn LeaseStore,
    children: &[ChildShardInfo],
) -> Result<(), WorkerError> {
    for c in children {
        let mut lease = Lease::new(c.shard_id.clone(), ExtendedSequenceNumber::TrimHorizon)
            .with_parents(c.parents.iter().cloned());
        lease.hash_key_range = c.hash_key_range;
        match store.create_if_absent(&lease).await {
            Ok(()) => {
                tracing::info!(shard = %c.shard_id, parents = ?c.parents, "created child lease")
            }
            Err(e) if e.is_lost_race() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The children of `shard` according to ListShards (when the end did not name them).
pub(crate) async fn children_of(
    client: &Client,
    stream: &str,
    shard: &str,
) -> Result<Vec<ChildShardInfo>, WorkerError> {
    Ok(list_shards(client, stream, None)
        .await?
        .into_iter()
        .filter(|s| s.parents.iter().any(|p| p == shard))
        .map(|s| ChildShardInfo {
            shard_id: s.id,
            parents: s.parents,
            hash_key_range: s.hash_key_range,
        })
        .collect())
}

/// One sync pass: create missing leases, then clean up finished ones this worker holds.
pub(crate) async fn sync(
    coordinator: &LeaseCoordinator,
    client: &Client,
    stream: &str,
    initial: InitialPosition,
) -> Result<usize, WorkerError> {
    let labels = m::labels(m::OP_SHARD_SYNC, &coordinator.worker_id);
    let started = Instant::now();
    let result = sync_inner(coordinator, client, stream, initial).await;
    m::record_operation(&labels, started.elapsed(), result.is_ok());
    result
}

async fn sync_inner(
    coordinator: &LeaseCoordinator,
    client: &Client,
    stream: &str,
    initial: InitialPosition,
) -> Result<usize, WorkerError> {
    let store = coordinator.store.as_ref();
    let leases = store.list().await?;
    // An empty table with a LATEST / AT_TIMESTAMP start asks the service for just the shards
    // open at that point (KCL's ShardFilter use); otherwise the whole lineage is needed.
    let filter = match (leases.is_empty(), initial) {
        (true, InitialPosition::Latest) => Some(
            ShardFilter::builder()
                .r#type(ShardFilterType::AtLatest)
                .build()
                .map_err(|e| WorkerError::Kinesis {
                    operation: "ListShards",
                    message: e.to_string(),
                })?,
        ),
        (true, InitialPosition::AtTimestamp(t)) => Some(
            ShardFilter::builder()
                .r#type(ShardFilterType::AtTimestamp)
                .timestamp(t.into())
                .build()
                .map_err(|e| WorkerError::Kinesis {
                    operation: "ListShards",
                    message: e.to_string(),
                })?,
        ),
        _ => None,
    };
    let shards = list_shards(client, stream, filter).await?;
    let leased: HashSet<String> = leases.iter().map(|l| l.lease_key.clone()).collect();
    let mut created = 0;
    for lease in leases_to_create(&shards, &leased, initial) {
        match store.create_if_absent(&lease).await {
            Ok(()) => {
                tracing::info!(shard = %lease.lease_key, checkpoint = %lease.checkpoint, parents = ?lease.parent_shard_ids, "created lease");
                created += 1;
            }
            Err(e) if e.is_lost_race() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if coordinator.config.cleanup_leases_upon_shard_completion {
        cleanup(coordinator, &leases).await?;
    }
    Ok(created)
}

/// Delete held `SHARD_END` leases whose children all have leases that started processing
/// (KCL's `LeaseCleanupManager` rule). Until then the parent's lease is what tells the
/// children that the parent is done, and what stops the syncer from recreating it.
async fn cleanup(coordinator: &LeaseCoordinator, table: &[Lease]) -> Result<(), WorkerError> {
    let by_key: BTreeMap<&str, &Lease> = table.iter().map(|l| (l.lease_key.as_str(), l)).collect();
    for held in coordinator.held() {
        let lease = held.lease.lock().await.clone();
        if !lease.is_shard_end() || lease.child_shard_ids.is_empty() {
            continue;
        }
        let children_started = lease.child_shard_ids.iter().all(|c| {
            by_key
                .get(c.as_str())
                .is_some_and(|cl| !cl.checkpoint.is_initial())
        });
        if children_started {
            coordinator.store.delete(&lease.lease_key).await?;
            coordinator.forget(&lease.lease_key);
            tracing::info!(shard = %lease.lease_key, "deleted finished lease");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str], open: bool) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parents: parents.iter().map(|p| (*p).to_owned()).collect(),
            hash_key_range: None,
            open,
        }
    }

    fn keys(leases: &[Lease]) -> Vec<(&str, String)> {
        leases
            .iter()
            .map(|l| (l.lease_key.as_str(), l.checkpoint.to_string()))
            .collect()
    }

    /// s0 split into s2, s3; s1 and s2 merged into s4 (listed out of order).
    fn lineage() -> Vec<ShardInfo> {
        vec![
            shard("s4", &["s1", "s2"], true),
            shard("s3", &["s0"], true),
            shard("s2", &["s0"], false),
            shard("s1", &[], false),
            shard("s0", &[], false),
        ]
    }

    #[test]
    fn trim_horizon_creates_every_shard_parents_first() {
        let out = leases_to_create(&lineage(), &HashSet::new(), InitialPosition::TrimHorizon);
        assert_eq!(
            keys(&out),
            [
                ("s0", "TRIM_HORIZON".into()),
                ("s1", "TRIM_HORIZON".into()),
                ("s2", "TRIM_HORIZON".into()),
                ("s3", "TRIM_HORIZON".into()),
                ("s4", "TRIM_HORIZON".into()),
            ]
        );
        let s4 = out.iter().find(|l| l.lease_key == "s4").unwrap();
        assert_eq!(s4.parent_shard_ids.iter().collect::<Vec<_>>(), ["s1", "s2"]);
    }

    #[test]
    fn latest_starts_only_open_roots_and_reads_new_children_whole() {
        let out = leases_to_create(&lineage(), &HashSet::new(), InitialPosition::Latest);
        assert_eq!(
            keys(&out),
            [("s3", "LATEST".into()), ("s4", "LATEST".into())]
        );
        // Later s3 splits into s5, s6: their ancestor is leased, so TRIM_HORIZON.
        let mut shards = lineage();
        shards.push(shard("s5", &["s3"], true));
        shards.push(shard("s6", &["s3"], true));
        let leased: HashSet<String> = ["s3", "s4"].iter().map(|s| (*s).to_owned()).collect();
        let out = leases_to_create(&shards, &leased, InitialPosition::Latest);
        assert_eq!(
            keys(&out),
            [("s5", "TRIM_HORIZON".into()), ("s6", "TRIM_HORIZON".into())]
        );
    }

    #[test]
    fn cleaned_up_ancestors_are_not_recreated() {
        // s0, s1, s2 finished and their leases were deleted; s3 and s4 hold leases.
        let leased: HashSet<String> = ["s3", "s4"].iter().map(|s| (*s).to_owned()).collect();
        let out = leases_to_create(&lineage(), &leased, InitialPosition::TrimHorizon);
        assert!(out.is_empty(), "{:?}", keys(&out));
        // A shard that is no ancestor of a leased shard is recreated even when a sibling is
        // done: here s3 (open) has no lease, so it gets one.
        let leased: HashSet<String> = ["s4"].iter().map(|s| (*s).to_owned()).collect();
        let out = leases_to_create(&lineage(), &leased, InitialPosition::TrimHorizon);
        assert_eq!(keys(&out), [("s3", "TRIM_HORIZON".into())]);
    }
}
