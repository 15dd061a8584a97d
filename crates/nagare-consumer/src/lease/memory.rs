//! A lease table in process memory, with the same conditions as the DynamoDB one.

use super::{Lease, LeaseError, LeaseStore};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// A [`LeaseStore`] in memory, for tests and single-process use. Share one (behind an `Arc`)
/// between workers to have them compete for leases exactly as through DynamoDB.
///
/// ```
/// use nagare_consumer::{ExtendedSequenceNumber, InMemoryLeaseStore, Lease, LeaseStore};
/// use std::sync::Arc;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = Arc::new(InMemoryLeaseStore::new());
/// store.create_if_absent(&Lease::new("shardId-000000000000", ExtendedSequenceNumber::TrimHorizon)).await.unwrap();
/// assert_eq!(store.list().await.unwrap().len(), 1);
///
/// // Simulate an outage: every call fails with LeaseError::Store until it ends.
/// store.set_unavailable(true);
/// assert!(store.list().await.is_err());
/// store.set_unavailable(false);
/// assert!(store.list().await.is_ok());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemoryLeaseStore {
    /// The rows. A std mutex: no operation awaits while holding it, and each operation is one
    /// short critical section, which is what makes every conditional write atomic.
    rows: Mutex<BTreeMap<String, Lease>>,
    /// When set, every operation fails as if the store were unreachable.
    unavailable: AtomicBool,
}

#[derive(Debug, thiserror::Error)]
#[error("in-memory lease store is unavailable (fault injected by the test)")]
struct Unavailable;

impl InMemoryLeaseStore {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Make every operation fail with [`LeaseError::Store`] (`true`) or work again (`false`).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn rows(
        &self,
        operation: &'static str,
    ) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, Lease>>, LeaseError> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(LeaseError::Store {
                operation,
                source: Box::new(Unavailable),
            });
        }
        // A panic while holding the lock cannot leave a row half-written (each operation
        // replaces whole rows), so a poisoned lock is still consistent.
        Ok(self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[async_trait]
impl LeaseStore for InMemoryLeaseStore {
    async fn initialize(&self) -> Result<(), LeaseError> {
        self.rows("initialize").map(drop)
    }

    async fn list(&self) -> Result<Vec<Lease>, LeaseError> {
        Ok(self.rows("list")?.values().cloned().collect())
    }

    async fn get(&self, lease_key: &str) -> Result<Option<Lease>, LeaseError> {
        Ok(self.rows("get")?.get(lease_key).cloned())
    }

    async fn create_if_absent(&self, lease: &Lease) -> Result<(), LeaseError> {
        let mut rows = self.rows("create")?;
        if rows.contains_key(&lease.lease_key) {
            return Err(LeaseError::lost("create", &lease.lease_key));
        }
        rows.insert(lease.lease_key.clone(), lease.clone());
        Ok(())
    }

    async fn renew(&self, lease: &Lease) -> Result<Lease, LeaseError> {
        let mut rows = self.rows("renew")?;
        match rows.get_mut(&lease.lease_key) {
            Some(row) if row.lease_counter == lease.lease_counter => {
                row.lease_counter += 1;
                Ok(row.clone())
            }
            _ => Err(LeaseError::lost("renew", &lease.lease_key)),
        }
    }

    async fn take(&self, lease: &Lease, owner: &str) -> Result<Lease, LeaseError> {
        let mut rows = self.rows("take")?;
        match rows.get_mut(&lease.lease_key) {
            Some(row) if row.lease_counter == lease.lease_counter => {
                if row.lease_owner.as_deref().is_some_and(|o| o != owner) {
                    row.owner_switches_since_checkpoint += 1;
                }
                row.lease_owner = Some(owner.to_owned());
                row.lease_counter += 1;
                Ok(row.clone())
            }
            _ => Err(LeaseError::lost("take", &lease.lease_key)),
        }
    }

    async fn evict(&self, lease: &Lease) -> Result<(), LeaseError> {
        let mut rows = self.rows("evict")?;
        match rows.get_mut(&lease.lease_key) {
            Some(row) if row.lease_owner == lease.lease_owner => {
                row.lease_owner = None;
                row.lease_counter += 1;
                Ok(())
            }
            _ => Err(LeaseError::lost("evict", &lease.lease_key)),
        }
    }

    async fn update_checkpoint(&self, lease: &Lease) -> Result<Lease, LeaseError> {
        let mut rows = self.rows("update_checkpoint")?;
        match rows.get_mut(&lease.lease_key) {
            Some(row)
                if row.lease_counter == lease.lease_counter
                    && row.lease_owner == lease.lease_owner =>
            {
                row.lease_counter += 1;
                row.checkpoint = lease.checkpoint.clone();
                row.pending_checkpoint = lease.pending_checkpoint.clone();
                row.pending_checkpoint_state = lease.pending_checkpoint_state.clone();
                row.owner_switches_since_checkpoint = 0;
                if !lease.child_shard_ids.is_empty() {
                    row.child_shard_ids = lease.child_shard_ids.clone();
                }
                if lease.hash_key_range.is_some() {
                    row.hash_key_range = lease.hash_key_range;
                }
                Ok(row.clone())
            }
            _ => Err(LeaseError::lost("update_checkpoint", &lease.lease_key)),
        }
    }

    async fn delete(&self, lease_key: &str) -> Result<(), LeaseError> {
        self.rows("delete")?.remove(lease_key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExtendedSequenceNumber;

    fn lease(key: &str) -> Lease {
        Lease::new(key, ExtendedSequenceNumber::TrimHorizon)
    }

    #[tokio::test]
    async fn take_counts_owner_switches_only_when_the_owner_changes() {
        let s = InMemoryLeaseStore::new();
        s.create_if_absent(&lease("a")).await.unwrap();
        let l = s.get("a").await.unwrap().unwrap();
        let l = s.take(&l, "w1").await.unwrap();
        assert_eq!(l.owner_switches_since_checkpoint, 0);
        let l = s.take(&l, "w1").await.unwrap();
        assert_eq!(l.owner_switches_since_checkpoint, 0);
        let l = s.take(&l, "w2").await.unwrap();
        assert_eq!(l.owner_switches_since_checkpoint, 1);
        assert_eq!(l.lease_counter, 3);
    }

    #[tokio::test]
    async fn checkpoint_requires_counter_and_owner() {
        let s = InMemoryLeaseStore::new();
        s.create_if_absent(&lease("a")).await.unwrap();
        let l = s.get("a").await.unwrap().unwrap();
        let mine = s.take(&l, "w1").await.unwrap();
        let mut stale = mine.clone();
        stale.lease_owner = Some("w2".into());
        stale.checkpoint = ExtendedSequenceNumber::ShardEnd;
        assert!(
            s.update_checkpoint(&stale)
                .await
                .unwrap_err()
                .is_lost_race()
        );
        let mut cp = mine.clone();
        cp.checkpoint = ExtendedSequenceNumber::ShardEnd;
        let written = s.update_checkpoint(&cp).await.unwrap();
        assert_eq!(written.lease_counter, mine.lease_counter + 1);
        assert!(written.is_shard_end());
        // The old counter is now stale for every conditional write.
        assert!(s.renew(&mine).await.unwrap_err().is_lost_race());
        assert!(s.update_checkpoint(&cp).await.unwrap_err().is_lost_race());
    }

    #[tokio::test]
    async fn evict_requires_the_owner_and_missing_rows_lose() {
        let s = InMemoryLeaseStore::new();
        s.create_if_absent(&lease("a")).await.unwrap();
        let l = s.get("a").await.unwrap().unwrap();
        let mine = s.take(&l, "w1").await.unwrap();
        let mut other = mine.clone();
        other.lease_owner = Some("w2".into());
        assert!(s.evict(&other).await.unwrap_err().is_lost_race());
        s.evict(&mine).await.unwrap();
        s.delete("a").await.unwrap();
        assert!(s.renew(&mine).await.unwrap_err().is_lost_race());
        assert!(s.take(&mine, "w1").await.unwrap_err().is_lost_race());
    }
}
