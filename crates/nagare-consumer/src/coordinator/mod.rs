//! The leases this worker holds: renewing them, checkpointing through them, noticing loss.
//!
//! KCL splits this between `DynamoDBLeaseRenewer` and `DynamoDBLeaseCoordinator`; here one
//! [`LeaseCoordinator`] keeps the held set and [`taker`] adds to it.
//!
//! Invariant: for each held lease, renewals and checkpoint writes go through the same
//! [`HeldLease::lease`] lock and each uses the `leaseCounter` the previous one wrote. Both bump
//! the counter (KCL's `updateLease` does too), so without the lock a checkpoint would race the
//! renewer and one of them would see its own write as a lost race.

pub(crate) mod taker;

use crate::config::LeaseConfig;
use crate::lease::{Lease, LeaseError, LeaseStore};
use crate::metrics as m;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// One lease this worker holds.
#[derive(Debug)]
pub(crate) struct HeldLease {
    pub key: String,
    /// The row as this worker last wrote it. A tokio mutex because it is held across the
    /// store call (see the module invariant).
    pub lease: tokio::sync::Mutex<Lease>,
    /// When a conditional write on the lease last succeeded. A std mutex: never held across
    /// an await.
    last_renewal: Mutex<Instant>,
    /// Becomes true once the lease is lost (renewal lost the race or timed out, a checkpoint
    /// lost the race). Never goes back: a re-taken lease gets a new `HeldLease`.
    lost: watch::Sender<bool>,
}

impl HeldLease {
    fn new(lease: Lease, now: Instant) -> Self {
        HeldLease {
            key: lease.lease_key.clone(),
            lease: tokio::sync::Mutex::new(lease),
            last_renewal: Mutex::new(now),
            lost: watch::Sender::new(false),
        }
    }

    pub fn lost(&self) -> watch::Receiver<bool> {
        self.lost.subscribe()
    }

    pub fn is_lost(&self) -> bool {
        *self.lost.borrow()
    }

    fn last_renewal(&self) -> Instant {
        *self
            .last_renewal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn renewed(&self, at: Instant) {
        *self
            .last_renewal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }
}

/// Why a checkpoint write failed.
#[derive(Debug)]
pub(crate) enum UpdateError {
    /// The lease is no longer held (or was just found lost).
    LeaseLost,
    /// The store failed; the lease is still held as far as this worker knows.
    Store(LeaseError),
}

/// The held set and the operations on it.
pub(crate) struct LeaseCoordinator {
    pub store: Arc<dyn LeaseStore>,
    pub worker_id: String,
    pub config: LeaseConfig,
    /// Held leases by key. A std mutex: only map lookups and inserts happen under it.
    held: Mutex<HashMap<String, Arc<HeldLease>>>,
    /// Signalled whenever a lease is added to or removed from the held set.
    pub changed: Notify,
}

impl LeaseCoordinator {
    pub fn new(store: Arc<dyn LeaseStore>, worker_id: String, config: LeaseConfig) -> Self {
        LeaseCoordinator {
            store,
            worker_id,
            config,
            held: Mutex::new(HashMap::new()),
            changed: Notify::new(),
        }
    }

    fn held_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<HeldLease>>> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The leases currently held (including ones whose loss was not yet noticed).
    pub fn held(&self) -> Vec<Arc<HeldLease>> {
        self.held_map().values().cloned().collect()
    }

    pub fn held_count(&self) -> usize {
        self.held_map().len()
    }

    pub fn get(&self, key: &str) -> Option<Arc<HeldLease>> {
        self.held_map().get(key).cloned()
    }

    /// Record a lease this worker just took.
    pub fn add_taken(&self, lease: Lease) {
        let now = Instant::now();
        let mut held = self.held_map();
        match held.get(&lease.lease_key) {
            // Re-took a lease it still holds (its own renewals looked stale to the taker):
            // keep the running consumer, adopt the new counter.
            Some(h) if !h.is_lost() => {
                if let Ok(mut current) = h.lease.try_lock() {
                    *current = lease;
                    h.renewed(now);
                }
            }
            _ => {
                held.insert(
                    lease.lease_key.clone(),
                    Arc::new(HeldLease::new(lease, now)),
                );
            }
        }
        drop(held);
        self.changed.notify_waiters();
    }

    /// Drop `held` from the held set and tell its consumer.
    pub fn mark_lost(&self, held: &HeldLease, why: &str) {
        let removed = {
            let mut map = self.held_map();
            match map.get(&held.key) {
                Some(h) if std::ptr::eq(h.as_ref(), held) => map.remove(&held.key).is_some(),
                _ => false,
            }
        };
        if held.lost.send_replace(true) {
            return; // already lost
        }
        if removed {
            tracing::info!(worker = %self.worker_id, lease = %held.key, %why, "lease lost");
            ::metrics::counter!(
                m::LOST_LEASES,
                &m::labels(m::OP_RENEW_ALL_LEASES, &self.worker_id)
            )
            .increment(1);
        }
        self.changed.notify_waiters();
    }

    /// Forget a lease without marking it lost (after deleting or releasing it).
    pub fn forget(&self, key: &str) {
        self.held_map().remove(key);
        self.changed.notify_waiters();
    }

    /// True while `held` is held and was renewed within the failover time.
    pub fn is_valid(&self, held: &HeldLease) -> bool {
        !held.is_lost() && held.last_renewal().elapsed() <= self.config.failover_time
    }

    /// One renewer pass: renew every held lease (concurrently), drop the ones lost.
    pub async fn renew_all(self: &Arc<Self>) {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for held in self.held() {
            let this = Arc::clone(self);
            tasks.spawn(async move { this.renew_one(&held).await });
        }
        let mut ok = true;
        while let Some(r) = tasks.join_next().await {
            ok &= r.unwrap_or(false);
        }
        let labels = m::labels(m::OP_RENEW_ALL_LEASES, &self.worker_id);
        m::record_operation(&labels, started.elapsed(), ok);
        ::metrics::gauge!(m::CURRENT_LEASES, &labels).set(self.held_count() as f64);
    }

    async fn renew_one(&self, held: &HeldLease) -> bool {
        let mut lease = held.lease.lock().await;
        if held.is_lost() {
            return true;
        }
        if held.last_renewal().elapsed() > self.config.failover_time {
            // Others may already have taken it: stop processing before they start.
            self.mark_lost(held, "not renewed within the failover time");
            return false;
        }
        let started = Instant::now();
        let result = self.store.renew(&lease).await;
        let labels = m::shard_labels(m::OP_RENEW_ALL_LEASES, &self.worker_id, &held.key);
        ::metrics::histogram!(m::RENEW_LEASE_TIME, &labels).record(m::millis(started.elapsed()));
        match result {
            Ok(renewed) => {
                *lease = renewed;
                held.renewed(started);
                ::metrics::counter!(m::RENEW_LEASE_SUCCESS, &labels).increment(1);
                true
            }
            Err(e) if e.is_lost_race() => {
                drop(lease);
                self.mark_lost(held, "renewal lost the race");
                false
            }
            Err(e) => {
                tracing::warn!(worker = %self.worker_id, lease = %held.key, error = %e, "lease renewal failed; will retry");
                ::metrics::counter!(m::RENEW_LEASE_SUCCESS, &labels).increment(0);
                false
            }
        }
    }

    /// Write a change to a held lease (checkpoint, children) with the lease's counter and
    /// owner as the condition.
    pub async fn update(
        &self,
        held: &HeldLease,
        change: impl FnOnce(&mut Lease),
    ) -> Result<Lease, UpdateError> {
        let mut lease = held.lease.lock().await;
        if !self.is_valid(held) {
            return Err(UpdateError::LeaseLost);
        }
        let mut next = lease.clone();
        change(&mut next);
        let started = Instant::now();
        let result = self.store.update_checkpoint(&next).await;
        let labels = m::shard_labels(m::OP_PROCESS, &self.worker_id, &held.key);
        ::metrics::histogram!(m::UPDATE_LEASE_TIME, &labels).record(m::millis(started.elapsed()));
        match result {
            Ok(written) => {
                *lease = written.clone();
                held.renewed(started);
                ::metrics::counter!(m::UPDATE_LEASE_SUCCESS, &labels).increment(1);
                Ok(written)
            }
            Err(e) if e.is_lost_race() => {
                drop(lease);
                self.mark_lost(held, "checkpoint lost the race");
                Err(UpdateError::LeaseLost)
            }
            Err(e) => {
                ::metrics::counter!(m::UPDATE_LEASE_SUCCESS, &labels).increment(0);
                Err(UpdateError::Store(e))
            }
        }
    }

    /// Release every held lease (graceful shutdown): others may take them at once.
    pub async fn release_all(&self) {
        for held in self.held() {
            let lease = held.lease.lock().await;
            if !held.is_lost() {
                match self.store.evict(&lease).await {
                    Ok(()) => {
                        tracing::info!(worker = %self.worker_id, lease = %held.key, "lease released")
                    }
                    Err(e) => {
                        tracing::warn!(worker = %self.worker_id, lease = %held.key, error = %e, "could not release lease; it will expire")
                    }
                }
            }
            drop(lease);
            self.forget(&held.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExtendedSequenceNumber, InMemoryLeaseStore};
    use std::time::Duration;

    async fn setup(keys: &[&str]) -> (Arc<InMemoryLeaseStore>, Arc<LeaseCoordinator>) {
        let store = Arc::new(InMemoryLeaseStore::new());
        for k in keys {
            store
                .create_if_absent(&Lease::new(*k, ExtendedSequenceNumber::TrimHorizon))
                .await
                .unwrap();
        }
        let config = LeaseConfig {
            failover_time: Duration::from_millis(900),
            ..LeaseConfig::default()
        };
        let c = Arc::new(LeaseCoordinator::new(store.clone(), "w1".into(), config));
        (store, c)
    }

    async fn take(store: &InMemoryLeaseStore, c: &LeaseCoordinator, key: &str) {
        let l = store.get(key).await.unwrap().unwrap();
        c.add_taken(store.take(&l, &c.worker_id).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn renewals_and_checkpoints_share_the_counter() {
        let (store, c) = setup(&["a"]).await;
        take(&store, &c, "a").await;
        let held = c.get("a").unwrap();
        for _ in 0..3 {
            c.renew_all().await;
            c.update(&held, |l| {
                l.checkpoint = ExtendedSequenceNumber::at("7".parse().unwrap(), 0)
            })
            .await
            .unwrap();
        }
        let row = store.get("a").await.unwrap().unwrap();
        assert_eq!(row.lease_counter, 7, "take + 3 renewals + 3 checkpoints");
        assert!(!held.is_lost());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stolen_lease_is_lost_at_the_next_renewal() {
        let (store, c) = setup(&["a"]).await;
        take(&store, &c, "a").await;
        let held = c.get("a").unwrap();
        let mut lost = held.lost();
        let row = store.get("a").await.unwrap().unwrap();
        store.take(&row, "w2").await.unwrap();
        c.renew_all().await;
        assert!(*lost.borrow_and_update());
        assert!(c.get("a").is_none());
        assert!(matches!(
            c.update(&held, |_| {}).await,
            Err(UpdateError::LeaseLost)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_not_renewed_within_the_failover_time_is_dropped() {
        let (store, c) = setup(&["a"]).await;
        take(&store, &c, "a").await;
        let held = c.get("a").unwrap();
        store.set_unavailable(true);
        for _ in 0..3 {
            tokio::time::advance(Duration::from_millis(275)).await;
            c.renew_all().await;
            assert!(!held.is_lost(), "still within the failover time");
        }
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(!c.is_valid(&held));
        c.renew_all().await;
        assert!(held.is_lost());
    }

    #[tokio::test(start_paused = true)]
    async fn release_all_evicts() {
        let (store, c) = setup(&["a", "b"]).await;
        take(&store, &c, "a").await;
        take(&store, &c, "b").await;
        c.release_all().await;
        assert_eq!(c.held_count(), 0);
        for l in store.list().await.unwrap() {
            assert_eq!(l.lease_owner, None);
        }
    }
}
