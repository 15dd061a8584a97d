//! Checkpoints: a processor records how far it got in its shard.

use crate::coordinator::{HeldLease, LeaseCoordinator, UpdateError};
use crate::lease::LeaseError;
use crate::sequence::ExtendedSequenceNumber;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Why a checkpoint was refused.
///
/// ```
/// use nagare_consumer::CheckpointError;
///
/// fn should_stop(e: &CheckpointError) -> bool {
///     matches!(e, CheckpointError::LeaseLost)
/// }
/// assert!(should_stop(&CheckpointError::LeaseLost));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// This worker no longer holds the shard's lease (another worker took it, or renewals
    /// failed for the failover time). Stop processing: the new owner resumes from the last
    /// successful checkpoint.
    #[error("the lease is no longer held by this worker")]
    LeaseLost,
    /// The position is before the last checkpoint or after the last record delivered.
    #[error("checkpoint {requested} is outside [{last_checkpoint}, {largest_permitted}]")]
    OutOfRange {
        /// What was asked for.
        requested: ExtendedSequenceNumber,
        /// The current checkpoint.
        last_checkpoint: ExtendedSequenceNumber,
        /// The last record delivered to the processor (or `SHARD_END` at shard end).
        largest_permitted: ExtendedSequenceNumber,
    },
    /// The lease store failed; the checkpoint may or may not have been written. Retrying is
    /// safe.
    #[error(transparent)]
    Store(#[from] LeaseError),
}

#[derive(Debug)]
pub(crate) struct Positions {
    /// The last checkpoint written (or the lease's checkpoint at start).
    pub last_checkpoint: ExtendedSequenceNumber,
    /// The newest position delivered to the processor; `SHARD_END` once the end was reached.
    pub largest_permitted: ExtendedSequenceNumber,
    /// The shard's children, written with the `SHARD_END` checkpoint.
    pub children: BTreeSet<String>,
}

/// Writes checkpoints for one shard. Handed to the processor with every callback; cheap to
/// clone and may be kept to checkpoint later (from the same worker).
///
/// `checkpoint()` records the last record delivered so far; at shard end (inside
/// [`RecordProcessor::shard_ended`](crate::RecordProcessor::shard_ended)) it records
/// `SHARD_END`, which is what lets the shard's children start.
///
/// ```
/// use nagare_consumer::{Checkpointer, CheckpointError, ProcessRecordsInput, UserRecord};
///
/// // Checkpoint after each batch, and stop quietly when the lease moved away.
/// async fn after_batch(input: &ProcessRecordsInput) -> Result<(), CheckpointError> {
///     match input.checkpointer.checkpoint().await {
///         Err(CheckpointError::LeaseLost) => Ok(()),
///         other => other,
///     }
/// }
///
/// // Or checkpoint at a specific record (e.g. the last one fully handled).
/// async fn up_to(cp: &Checkpointer, record: &UserRecord) -> Result<(), CheckpointError> {
///     cp.checkpoint_at(record.extended_sequence_number()).await
/// }
/// ```
#[derive(Clone)]
pub struct Checkpointer {
    pub(crate) coordinator: Arc<LeaseCoordinator>,
    pub(crate) held: Arc<HeldLease>,
    pub(crate) positions: Arc<Mutex<Positions>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("shard_id", &self.held.key)
            .finish_non_exhaustive()
    }
}

impl Checkpointer {
    fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        self.positions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The shard this checkpointer writes for.
    pub fn shard_id(&self) -> &str {
        &self.held.key
    }

    /// The last checkpoint written (or found in the lease table at start).
    pub fn last_checkpoint(&self) -> ExtendedSequenceNumber {
        self.positions().last_checkpoint.clone()
    }

    /// Checkpoint at the last record delivered so far (`SHARD_END` at shard end).
    pub async fn checkpoint(&self) -> Result<(), CheckpointError> {
        let target = self.positions().largest_permitted.clone();
        self.checkpoint_at(target).await
    }

    /// Checkpoint at `position`, which must lie between the last checkpoint and the last
    /// record delivered. Checkpointing the current checkpoint again is a no-op.
    pub async fn checkpoint_at(
        &self,
        position: ExtendedSequenceNumber,
    ) -> Result<(), CheckpointError> {
        let children = {
            let p = self.positions();
            if position == p.last_checkpoint {
                return Ok(());
            }
            if position < p.last_checkpoint || position > p.largest_permitted {
                return Err(CheckpointError::OutOfRange {
                    requested: position,
                    last_checkpoint: p.last_checkpoint.clone(),
                    largest_permitted: p.largest_permitted.clone(),
                });
            }
            p.children.clone()
        };
        let at_end = position == ExtendedSequenceNumber::ShardEnd;
        let written = self
            .coordinator
            .update(&self.held, |lease| {
                // Under the lease lock: a concurrent, older checkpoint from a clone of this
                // checkpointer must not move the row backwards.
                if position > lease.checkpoint {
                    lease.checkpoint = position.clone();
                }
                lease.pending_checkpoint = None;
                lease.pending_checkpoint_state = None;
                if at_end {
                    lease.child_shard_ids = children;
                }
            })
            .await;
        match written {
            Ok(lease) => {
                let mut p = self.positions();
                // Two clones of this checkpointer may race; keep the furthest.
                if lease.checkpoint > p.last_checkpoint {
                    p.last_checkpoint = lease.checkpoint;
                }
                Ok(())
            }
            Err(UpdateError::LeaseLost) => Err(CheckpointError::LeaseLost),
            Err(UpdateError::Store(e)) => Err(CheckpointError::Store(e)),
        }
    }
}
