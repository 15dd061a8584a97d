//! Leases: the rows of the KCL lease table, and the store that keeps them.
//!
//! One lease per shard says which worker processes it (`leaseOwner`) and how far it got
//! (`checkpoint`). Every write is conditional (spec §6.1): renew and take on the
//! `leaseCounter` a worker last saw, release on the owner, create on absence. A failed condition
//! is [`LeaseError::LostRace`]: another worker changed the row first, so the caller's view is
//! stale (for its own lease that means the lease is lost).
//!
//! - [`Lease`]: the row, with the §6.1 attribute names in its field docs.
//! - [`LeaseStore`]: the conditional operations. [`InMemoryLeaseStore`] for tests,
//!   [`DynamoDbLeaseStore`] for DynamoDB (or any DynamoDB-compatible server).

mod dynamo;
mod memory;

pub use dynamo::DynamoDbLeaseStore;
pub use memory::InMemoryLeaseStore;

use crate::sequence::ExtendedSequenceNumber;
use async_trait::async_trait;
use nagare_types::HashKeyRange;
use std::collections::BTreeSet;

/// One row of the lease table. Field docs name the DynamoDB attribute (§6.1).
///
/// ```
/// use nagare_consumer::{ExtendedSequenceNumber, Lease};
///
/// let lease = Lease::new("shardId-000000000002", ExtendedSequenceNumber::TrimHorizon)
///     .with_parents(["shardId-000000000000"]);
/// assert_eq!(lease.lease_owner, None);
/// assert_eq!(lease.lease_counter, 0);
/// assert!(lease.parent_shard_ids.contains("shardId-000000000000"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// `leaseKey` (S, hash key): the shard id.
    pub lease_key: String,
    /// `leaseOwner` (S): the worker holding the lease; absent = unassigned.
    pub lease_owner: Option<String>,
    /// `leaseCounter` (N): bumped by every renew, take, evict and checkpoint; the token every
    /// conditional write compares against.
    pub lease_counter: u64,
    /// `checkpoint` (S) + `checkpointSubSequenceNumber` (N).
    pub checkpoint: ExtendedSequenceNumber,
    /// `pendingCheckpoint` (S) + `pendingCheckpointSubSequenceNumber` (N): a prepared checkpoint.
    pub pending_checkpoint: Option<ExtendedSequenceNumber>,
    /// `pendingCheckpointState` (B): application state stored with the prepared checkpoint.
    pub pending_checkpoint_state: Option<Vec<u8>>,
    /// `ownerSwitchesSinceCheckpoint` (N).
    pub owner_switches_since_checkpoint: u64,
    /// `parentShardId` (SS): the shard's parents (one after a split, two after a merge).
    pub parent_shard_ids: BTreeSet<String>,
    /// `childShardIds` (SS): the shard's children, recorded with the `SHARD_END` checkpoint.
    pub child_shard_ids: BTreeSet<String>,
    /// `startingHashKey` / `endingHashKey` (S): the shard's hash key range.
    pub hash_key_range: Option<HashKeyRange>,
}

impl Lease {
    /// An unowned lease for `shard_id` starting at `checkpoint`.
    pub fn new(shard_id: impl Into<String>, checkpoint: ExtendedSequenceNumber) -> Self {
        Lease {
            lease_key: shard_id.into(),
            lease_owner: None,
            lease_counter: 0,
            checkpoint,
            pending_checkpoint: None,
            pending_checkpoint_state: None,
            owner_switches_since_checkpoint: 0,
            parent_shard_ids: BTreeSet::new(),
            child_shard_ids: BTreeSet::new(),
            hash_key_range: None,
        }
    }

    /// The same lease with `parents` recorded in `parentShardId`.
    pub fn with_parents<I, S>(mut self, parents: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.parent_shard_ids = parents.into_iter().map(Into::into).collect();
        self
    }

    /// The same lease with the shard's hash key range.
    pub fn with_hash_key_range(mut self, range: HashKeyRange) -> Self {
        self.hash_key_range = Some(range);
        self
    }

    /// True once the shard has been processed to its end.
    ///
    /// ```
    /// use nagare_consumer::{ExtendedSequenceNumber, Lease};
    /// assert!(Lease::new("s", ExtendedSequenceNumber::ShardEnd).is_shard_end());
    /// ```
    pub fn is_shard_end(&self) -> bool {
        self.checkpoint == ExtendedSequenceNumber::ShardEnd
    }
}

/// Why a lease operation failed.
///
/// ```
/// use nagare_consumer::{ExtendedSequenceNumber, InMemoryLeaseStore, Lease, LeaseError, LeaseStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = InMemoryLeaseStore::new();
/// let lease = Lease::new("shardId-000000000000", ExtendedSequenceNumber::TrimHorizon);
/// store.create_if_absent(&lease).await.unwrap();
/// // A second create loses the race: the row exists.
/// let err = store.create_if_absent(&lease).await.unwrap_err();
/// assert!(err.is_lost_race());
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The condition of a conditional write failed: another worker changed the lease first
    /// (DynamoDB `ConditionalCheckFailedException`).
    #[error("lost the race for lease {lease_key} ({operation})")]
    LostRace {
        /// The store operation (`create`, `renew`, `take`, `evict`, `update_checkpoint`).
        operation: &'static str,
        /// The lease.
        lease_key: String,
    },
    /// A stored row that does not parse as a lease.
    #[error("malformed lease {lease_key}: {reason}")]
    Malformed {
        /// The row's `leaseKey` (or `?` when even that is missing).
        lease_key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store failed or could not be reached; the outcome of the write is unknown.
    #[error("lease store {operation} failed: {source}")]
    Store {
        /// The store operation.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl LeaseError {
    /// True for [`LeaseError::LostRace`].
    pub fn is_lost_race(&self) -> bool {
        matches!(self, LeaseError::LostRace { .. })
    }

    pub(crate) fn lost(operation: &'static str, lease_key: &str) -> Self {
        LeaseError::LostRace {
            operation,
            lease_key: lease_key.to_owned(),
        }
    }
}

/// The lease table: conditional operations on [`Lease`] rows (spec §6.1).
///
/// Every method that changes a row states its condition; when the condition fails it returns
/// [`LeaseError::LostRace`] and changes nothing. Methods returning a [`Lease`] return the row
/// as written (with the new `leaseCounter`). Implementations must be linearizable per row.
/// The trait is object-safe through `async-trait`: implement it with
/// `#[async_trait::async_trait]` on the impl block.
///
/// ```
/// use nagare_consumer::{ExtendedSequenceNumber, InMemoryLeaseStore, Lease, LeaseStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = InMemoryLeaseStore::new();
/// store.initialize().await.unwrap();
/// store.create_if_absent(&Lease::new("shardId-000000000000", ExtendedSequenceNumber::TrimHorizon)).await.unwrap();
/// let seen = store.list().await.unwrap().remove(0);
/// let mine = store.take(&seen, "worker-a").await.unwrap();
/// assert_eq!(mine.lease_owner.as_deref(), Some("worker-a"));
/// // worker-b still holds the old view: its take loses the race.
/// assert!(store.take(&seen, "worker-b").await.unwrap_err().is_lost_race());
/// let renewed = store.renew(&mine).await.unwrap();
/// assert_eq!(renewed.lease_counter, mine.lease_counter + 1);
/// store.evict(&renewed).await.unwrap();
/// assert_eq!(store.get(&renewed.lease_key).await.unwrap().unwrap().lease_owner, None);
/// # });
/// ```
#[async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Create the table if it does not exist and wait until it can be used.
    async fn initialize(&self) -> Result<(), LeaseError>;

    /// All leases (a full, paginated scan).
    async fn list(&self) -> Result<Vec<Lease>, LeaseError>;

    /// One lease by key (a strongly consistent read), `None` when there is no row.
    async fn get(&self, lease_key: &str) -> Result<Option<Lease>, LeaseError>;

    /// Write `lease` as a new row. Condition: no row with its `leaseKey` exists.
    async fn create_if_absent(&self, lease: &Lease) -> Result<(), LeaseError>;

    /// Bump `leaseCounter`. Condition: `leaseCounter` equals `lease.lease_counter`.
    async fn renew(&self, lease: &Lease) -> Result<Lease, LeaseError>;

    /// Become the owner: set `leaseOwner` to `owner`, bump `leaseCounter`, count an owner
    /// switch when the owner changes. Condition: `leaseCounter` equals `lease.lease_counter`.
    async fn take(&self, lease: &Lease, owner: &str) -> Result<Lease, LeaseError>;

    /// Release: remove `leaseOwner`, add 1 to `leaseCounter`. Condition: `leaseOwner` equals
    /// `lease.lease_owner`.
    async fn evict(&self, lease: &Lease) -> Result<(), LeaseError>;

    /// Write `lease`'s checkpoint, pending checkpoint, children and hash range, reset
    /// `ownerSwitchesSinceCheckpoint` and bump `leaseCounter`. Condition: `leaseCounter` and
    /// `leaseOwner` equal `lease`'s.
    async fn update_checkpoint(&self, lease: &Lease) -> Result<Lease, LeaseError>;

    /// Remove the row (unconditional, as KCL's shard-end cleanup).
    async fn delete(&self, lease_key: &str) -> Result<(), LeaseError>;
}
