//! The lease taker: KCL 2.x's `DynamoDBLeaseTaker` (spec §6.2).
//!
//! Each pass scans the table and decides from that scan alone:
//!
//! 1. A lease is **expired** when it has no owner, or when its `leaseCounter` has not changed
//!    for longer than the failover time *as observed by this worker's scans* (clocks are never
//!    compared across workers; only the local time at which a counter change was first seen).
//!    A lease seen for the first time with an owner counts as just changed.
//! 2. Workers = owners of unexpired leases, plus this worker.
//!    `target = leases <= workers ? 1 : ceil(leases / workers)`, capped by
//!    `max_leases_for_worker`; `needed = target - mine`.
//! 3. If `needed > 0` and some leases are expired: take up to `needed` of them, chosen at
//!    random (so workers starting together do not all go for the same rows).
//! 4. Else, if `needed > 0`: steal from the most loaded other worker: `min(needed, its count -
//!    target)`, or 1 when it is exactly at target and `needed > 1`; at most
//!    `max_leases_to_steal_at_one_time`.
//!
//! Taking is a conditional write on the counter seen in the scan, so two takers never both
//! win one lease. [`plan`] is the pure decision (unit-tested); [`LeaseTaker::take_pass`] does
//! the I/O.

use super::LeaseCoordinator;
use crate::lease::Lease;
use crate::metrics as m;
use rand::seq::SliceRandom;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A lease as the taker last saw it.
#[derive(Clone, Debug)]
pub(crate) struct Observed {
    pub lease: Lease,
    /// Local time the current `leaseCounter` value was first seen; `None` = treat as expired
    /// (first seen without an owner).
    pub last_change: Option<Instant>,
}

/// What one pass decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TakePlan {
    pub to_take: Vec<Lease>,
    pub total: usize,
    pub expired: usize,
    pub num_workers: usize,
    pub target: usize,
    pub needed: usize,
    pub spillover: usize,
    pub to_steal: usize,
}

pub(crate) struct PlanParams<'a> {
    pub me: &'a str,
    pub now: Instant,
    pub failover: Duration,
    pub max_leases_for_worker: usize,
    pub max_leases_to_steal: usize,
}

pub(crate) fn is_expired(o: &Observed, now: Instant, failover: Duration) -> bool {
    o.lease.lease_owner.is_none()
        || o.last_change
            .is_none_or(|t| now.saturating_duration_since(t) > failover)
}

/// Decide what to take (see the module docs).
pub(crate) fn plan<R: rand::Rng>(
    observed: &[Observed],
    p: &PlanParams<'_>,
    rng: &mut R,
) -> TakePlan {
    let mut expired: Vec<&Observed> = Vec::new();
    // BTreeMap: deterministic choice among equally loaded workers.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in observed {
        if is_expired(o, p.now, p.failover) {
            expired.push(o);
        } else if let Some(owner) = o.lease.lease_owner.as_deref() {
            *counts.entry(owner).or_default() += 1;
        }
    }
    counts.entry(p.me).or_default();
    let total = observed.len();
    let num_workers = counts.len();
    let mut target = if total <= num_workers {
        1
    } else {
        total.div_ceil(num_workers)
    };
    let mut spillover = 0;
    if target > p.max_leases_for_worker {
        spillover = target - p.max_leases_for_worker;
        target = p.max_leases_for_worker;
    }
    let mine = counts.get(p.me).copied().unwrap_or(0);
    let needed = target.saturating_sub(mine);
    let mut out = TakePlan {
        total,
        expired: expired.len(),
        num_workers,
        target,
        needed,
        spillover,
        ..TakePlan::default()
    };
    if needed == 0 {
        return out;
    }
    if !expired.is_empty() {
        expired.shuffle(rng);
        out.to_take = expired
            .into_iter()
            .take(needed)
            .map(|o| o.lease.clone())
            .collect();
        return out;
    }
    let Some((victim, &count)) = counts
        .iter()
        .filter(|(w, _)| **w != p.me)
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
    else {
        return out;
    };
    if count < target {
        return out;
    }
    let over = count - target;
    let mut steal = needed.min(over);
    if needed > 1 && over == 0 {
        steal = 1;
    }
    steal = steal.min(p.max_leases_to_steal);
    let mut candidates: Vec<&Observed> = observed
        .iter()
        .filter(|o| o.lease.lease_owner.as_deref() == Some(*victim))
        .collect();
    candidates.shuffle(rng);
    out.to_take = candidates
        .into_iter()
        .take(steal)
        .map(|o| o.lease.clone())
        .collect();
    out.to_steal = out.to_take.len();
    out
}

/// The taker's state between passes: what each lease looked like and since when.
pub(crate) struct LeaseTaker {
    coordinator: Arc<LeaseCoordinator>,
    observed: HashMap<String, Observed>,
}

impl LeaseTaker {
    pub fn new(coordinator: Arc<LeaseCoordinator>) -> Self {
        LeaseTaker {
            coordinator,
            observed: HashMap::new(),
        }
    }

    /// Fold a fresh scan into the observations.
    fn observe(&mut self, scan: Vec<Lease>, now: Instant) {
        let mut next = HashMap::with_capacity(scan.len());
        for lease in scan {
            let last_change = match self.observed.remove(&lease.lease_key) {
                Some(old) if old.lease.lease_counter == lease.lease_counter => old.last_change,
                Some(_) => Some(now),
                None if lease.lease_owner.is_none() => None,
                None => Some(now),
            };
            next.insert(lease.lease_key.clone(), Observed { lease, last_change });
        }
        self.observed = next;
    }

    /// One pass: scan, plan, take. Returns the number of leases taken.
    pub async fn take_pass(&mut self) -> usize {
        let c = Arc::clone(&self.coordinator);
        let labels = m::labels(m::OP_TAKE_LEASES, &c.worker_id);
        let started = Instant::now();
        let scan = match c.store.list().await {
            Ok(scan) => scan,
            Err(e) => {
                tracing::warn!(worker = %c.worker_id, error = %e, "lease scan failed");
                m::record_operation(&labels, started.elapsed(), false);
                return 0;
            }
        };
        let now = Instant::now();
        self.observe(scan, now);
        let observed: Vec<Observed> = self.observed.values().cloned().collect();
        let params = PlanParams {
            me: &c.worker_id,
            now,
            failover: c.config.failover_time,
            max_leases_for_worker: c.config.max_leases_for_worker,
            max_leases_to_steal: c.config.max_leases_to_steal_at_one_time,
        };
        let plan = plan(&observed, &params, &mut rand::rng());
        let mut taken = 0;
        for lease in &plan.to_take {
            match c.store.take(lease, &c.worker_id).await {
                Ok(mine) => {
                    tracing::info!(
                        worker = %c.worker_id,
                        lease = %mine.lease_key,
                        from = ?lease.lease_owner,
                        "lease taken"
                    );
                    self.observed.insert(
                        mine.lease_key.clone(),
                        Observed {
                            lease: mine.clone(),
                            last_change: Some(Instant::now()),
                        },
                    );
                    c.add_taken(mine);
                    taken += 1;
                }
                Err(e) if e.is_lost_race() => {
                    tracing::debug!(worker = %c.worker_id, lease = %lease.lease_key, "lost the race to take the lease");
                }
                Err(e) => {
                    tracing::warn!(worker = %c.worker_id, lease = %lease.lease_key, error = %e, "take failed");
                }
            }
        }
        ::metrics::gauge!(m::TOTAL_LEASES, &labels).set(plan.total as f64);
        ::metrics::gauge!(m::EXPIRED_LEASES, &labels).set(plan.expired as f64);
        ::metrics::gauge!(m::NUM_WORKERS, &labels).set(plan.num_workers as f64);
        ::metrics::gauge!(m::NEEDED_LEASES, &labels).set(plan.needed as f64);
        ::metrics::gauge!(m::LEASE_SPILLOVER, &labels).set(plan.spillover as f64);
        ::metrics::gauge!(m::LEASES_TO_STEAL, &labels).set(plan.to_steal as f64);
        ::metrics::gauge!(m::UNTAKEN_LEASES, &labels).set((plan.to_take.len() - taken) as f64);
        ::metrics::counter!(m::TAKEN_LEASES, &labels).increment(taken as u64);
        m::record_operation(&labels, started.elapsed(), true);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::LeaseCoordinator;
    use crate::{ExtendedSequenceNumber, InMemoryLeaseStore, LeaseConfig, LeaseStore};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const FAILOVER: Duration = Duration::from_secs(10);

    fn observed(key: &str, owner: Option<&str>, last_change: Option<Instant>) -> Observed {
        let mut lease = Lease::new(key, ExtendedSequenceNumber::TrimHorizon);
        lease.lease_owner = owner.map(str::to_owned);
        Observed { lease, last_change }
    }

    fn run(table: &[Observed], me: &str, now: Instant) -> TakePlan {
        let p = PlanParams {
            me,
            now,
            failover: FAILOVER,
            max_leases_for_worker: usize::MAX,
            max_leases_to_steal: 1,
        };
        plan(table, &p, &mut StdRng::seed_from_u64(7))
    }

    fn owned(spec: &[(&str, usize)], now: Instant) -> Vec<Observed> {
        let mut v = Vec::new();
        for (owner, n) in spec {
            for i in 0..*n {
                v.push(observed(&format!("{owner}-{i}"), Some(owner), Some(now)));
            }
        }
        v
    }

    #[test]
    fn target_is_ceiling_of_leases_over_workers() {
        let now = Instant::now();
        // 8 leases, workers a (4), b (4), me (0): target 3, need 3, nothing expired, so steal
        // from the most loaded (a, first by name), which is 1 over target: steal 1.
        let p = run(&owned(&[("a", 4), ("b", 4)], now), "me", now);
        assert_eq!((p.num_workers, p.target, p.needed), (3, 3, 3));
        assert_eq!(p.to_take.len(), 1);
        assert_eq!(p.to_take[0].lease_owner.as_deref(), Some("a"));
        // Fewer leases than workers: target 1.
        let p = run(&owned(&[("a", 1), ("b", 1)], now), "me", now);
        assert_eq!((p.target, p.needed, p.to_take.len()), (1, 1, 0));
    }

    #[test]
    fn expired_leases_are_taken_first_up_to_needed() {
        let now = Instant::now();
        let mut t = owned(&[("a", 3)], now);
        for i in 0..5 {
            t.push(observed(&format!("free-{i}"), None, None));
        }
        // 8 leases, workers a + me = 2: target 4, need 4, 5 expired: take 4 of them.
        let p = run(&t, "me", now);
        assert_eq!((p.target, p.needed, p.expired), (4, 4, 5));
        assert_eq!(p.to_take.len(), 4);
        assert!(p.to_take.iter().all(|l| l.lease_owner.is_none()));
        assert_eq!(p.to_steal, 0);
    }

    #[test]
    fn counter_unchanged_for_longer_than_failover_is_expired() {
        let start = Instant::now();
        let t = vec![observed("x", Some("dead"), Some(start))];
        let at_failover = start + FAILOVER;
        assert!(!is_expired(&t[0], at_failover, FAILOVER));
        let later = at_failover + Duration::from_millis(1);
        assert!(is_expired(&t[0], later, FAILOVER));
        // The dead owner does not count as a worker once all its leases expired.
        let p = run(&t, "me", later);
        assert_eq!((p.num_workers, p.target, p.to_take.len()), (1, 1, 1));
    }

    #[test]
    fn steals_one_from_an_even_worker_only_when_needing_more_than_one() {
        let now = Instant::now();
        // a 3, b 3, me 1 → 7 leases / 3 workers → target 3, need 2, a is at target: steal 1.
        let p = run(&owned(&[("a", 3), ("b", 3), ("me", 1)], now), "me", now);
        assert_eq!((p.target, p.needed, p.to_take.len()), (3, 2, 1));
        // a 3, b 3, me 2 → 8/3 → target 3, need 1, nobody over target: no steal.
        let p = run(&owned(&[("a", 3), ("b", 3), ("me", 2)], now), "me", now);
        assert_eq!((p.target, p.needed, p.to_take.len()), (3, 1, 0));
    }

    #[test]
    fn max_leases_for_worker_caps_the_target() {
        let now = Instant::now();
        let t: Vec<_> = (0..10)
            .map(|i| observed(&format!("l{i}"), None, None))
            .collect();
        let p = PlanParams {
            me: "me",
            now,
            failover: FAILOVER,
            max_leases_for_worker: 4,
            max_leases_to_steal: 1,
        };
        let p = plan(&t, &p, &mut StdRng::seed_from_u64(1));
        assert_eq!((p.target, p.spillover, p.to_take.len()), (4, 6, 4));
    }

    /// Three workers start together on eight fresh leases; every pass each worker runs its
    /// taker once (in a rotating order). They settle at 3/3/2 and stay there.
    #[tokio::test(start_paused = true)]
    async fn three_workers_converge_to_an_even_split() {
        let store = Arc::new(InMemoryLeaseStore::new());
        for i in 0..8 {
            store
                .create_if_absent(&Lease::new(
                    format!("shardId-{i:012}"),
                    ExtendedSequenceNumber::TrimHorizon,
                ))
                .await
                .unwrap();
        }
        let config = LeaseConfig {
            failover_time: Duration::from_secs(10),
            ..LeaseConfig::default()
        };
        let coords: Vec<_> = ["w1", "w2", "w3"]
            .iter()
            .map(|w| {
                Arc::new(LeaseCoordinator::new(
                    store.clone(),
                    (*w).into(),
                    config.clone(),
                ))
            })
            .collect();
        let mut takers: Vec<_> = coords.iter().map(|c| LeaseTaker::new(c.clone())).collect();
        let mut passes = 0;
        loop {
            passes += 1;
            for i in 0..takers.len() {
                let k = (i + passes) % takers.len();
                takers[k].take_pass().await;
            }
            for c in &coords {
                c.renew_all().await;
            }
            tokio::time::advance(Duration::from_secs(1)).await;
            let mut counts: Vec<usize> = coords.iter().map(|c| c.held_count()).collect();
            counts.sort_unstable();
            if counts == [2, 3, 3] {
                break;
            }
            assert!(
                passes < 20,
                "no even split after {passes} passes: {counts:?}"
            );
        }
        // Stable: more passes change nothing.
        for _ in 0..5 {
            for t in &mut takers {
                assert_eq!(t.take_pass().await, 0);
            }
            for c in &coords {
                c.renew_all().await;
            }
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let owners: Vec<_> = store
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.lease_owner.unwrap())
            .collect();
        for c in &coords {
            let n = owners.iter().filter(|o| **o == c.worker_id).count();
            assert_eq!(n, c.held_count());
        }
    }

    /// A worker stops renewing; the survivor takes its leases once the counter has been still
    /// for the failover time (as the survivor observed it), not before.
    #[tokio::test(start_paused = true)]
    async fn expired_leases_move_after_the_failover_time() {
        let store = Arc::new(InMemoryLeaseStore::new());
        for i in 0..4 {
            store
                .create_if_absent(&Lease::new(
                    format!("s{i}"),
                    ExtendedSequenceNumber::TrimHorizon,
                ))
                .await
                .unwrap();
        }
        let config = LeaseConfig {
            failover_time: Duration::from_secs(10),
            ..LeaseConfig::default()
        };
        let dead = Arc::new(LeaseCoordinator::new(
            store.clone(),
            "dead".into(),
            config.clone(),
        ));
        let live = Arc::new(LeaseCoordinator::new(store.clone(), "live".into(), config));
        let mut dead_taker = LeaseTaker::new(dead.clone());
        assert_eq!(dead_taker.take_pass().await, 4);
        let mut live_taker = LeaseTaker::new(live.clone());
        // First sight of dead's leases: they count as fresh; live needs 2 and steals 1.
        assert_eq!(live_taker.take_pass().await, 1);
        // dead never renews again. Before failover nothing more moves.
        tokio::time::advance(Duration::from_secs(9)).await;
        live.renew_all().await;
        assert_eq!(live_taker.take_pass().await, 1, "steals toward the target");
        live.renew_all().await;
        assert_eq!(live_taker.take_pass().await, 0, "at target 2 of 4");
        tokio::time::advance(Duration::from_millis(1_001)).await;
        live.renew_all().await;
        // Now dead's remaining 2 are expired; dead is no longer a worker: target 4.
        assert_eq!(live_taker.take_pass().await, 2);
        assert_eq!(live.held_count(), 4);
    }
}
