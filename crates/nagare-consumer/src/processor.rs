//! The application's side: one [`RecordProcessor`] per shard lease, driven by the worker.
//!
//! Lifecycle for one lease (KCL 2.x's `ShardRecordProcessor`):
//!
//! ```text
//! initialize ─► process_records* ─┬─► shard_ended        (closed shard read to its end;
//!                                 │                        must checkpoint SHARD_END)
//!                                 ├─► lease_lost          (another worker has the shard now;
//!                                 │                        checkpointing is no longer possible)
//!                                 └─► shutdown_requested  (the worker is stopping; last chance
//!                                                          to checkpoint before release)
//! ```
//!
//! Calls for one shard never overlap. Records arrive in shard order, parents' records before
//! their children's, so per-partition-key order holds across splits and merges.

use crate::checkpointer::Checkpointer;
use crate::record::UserRecord;
use crate::sequence::ExtendedSequenceNumber;
use std::future::Future;

/// Handed to [`RecordProcessor::initialize`].
///
/// ```
/// use nagare_consumer::{ExtendedSequenceNumber, InitializationInput};
///
/// let input = InitializationInput {
///     shard_id: "shardId-000000000000".into(),
///     extended_sequence_number: ExtendedSequenceNumber::TrimHorizon,
///     pending_checkpoint: None,
/// };
/// assert!(input.extended_sequence_number.is_initial());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitializationInput {
    /// The shard this processor will receive records from.
    pub shard_id: String,
    /// Where processing resumes: the lease's checkpoint.
    pub extended_sequence_number: ExtendedSequenceNumber,
    /// A prepared (two-phase) checkpoint found in the lease, if any.
    pub pending_checkpoint: Option<ExtendedSequenceNumber>,
}

/// Handed to [`RecordProcessor::process_records`].
///
/// ```
/// use nagare_consumer::ProcessRecordsInput;
///
/// fn total_bytes(input: &ProcessRecordsInput) -> usize {
///     input.records.iter().map(|r| r.data.len()).sum()
/// }
/// ```
#[derive(Debug)]
pub struct ProcessRecordsInput {
    /// User records (de-aggregated), in shard order; never empty.
    pub records: Vec<UserRecord>,
    /// How far behind the tip of the shard the read was, when the service said.
    pub millis_behind_latest: Option<i64>,
    /// Checkpoints for this shard; `checkpoint()` records the last of `records`.
    pub checkpointer: Checkpointer,
}

/// Handed to [`RecordProcessor::lease_lost`].
///
/// ```
/// use nagare_consumer::LeaseLostInput;
/// let input = LeaseLostInput { shard_id: "shardId-000000000000".into() };
/// assert_eq!(input.shard_id, "shardId-000000000000");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseLostInput {
    /// The shard whose lease was lost.
    pub shard_id: String,
}

/// Handed to [`RecordProcessor::shard_ended`].
///
/// ```
/// use nagare_consumer::ShardEndedInput;
///
/// async fn finish(input: ShardEndedInput) {
///     // Required: SHARD_END is what lets the child shards start.
///     input.checkpointer.checkpoint().await.ok();
/// }
/// ```
#[derive(Debug)]
pub struct ShardEndedInput {
    /// Checkpoints for this shard; `checkpoint()` now records `SHARD_END`.
    pub checkpointer: Checkpointer,
}

/// Handed to [`RecordProcessor::shutdown_requested`].
///
/// ```
/// use nagare_consumer::ShutdownRequestedInput;
///
/// async fn stop(input: ShutdownRequestedInput) {
///     input.checkpointer.checkpoint().await.ok();
/// }
/// ```
#[derive(Debug)]
pub struct ShutdownRequestedInput {
    /// Checkpoints for this shard; `checkpoint()` records the last record delivered.
    pub checkpointer: Checkpointer,
}

/// Application logic for one shard.
///
/// Implement the methods with `async fn`; the futures must be `Send` because each shard runs
/// on its own task. Only `process_records` is required: by default `shard_ended` checkpoints
/// `SHARD_END` and the other callbacks do nothing.
///
/// ```
/// use nagare_consumer::{ProcessRecordsInput, RecordProcessor, ShutdownRequestedInput};
///
/// #[derive(Default)]
/// struct Printer {
///     seen: usize,
/// }
///
/// impl RecordProcessor for Printer {
///     async fn process_records(&mut self, input: ProcessRecordsInput) {
///         for r in &input.records {
///             println!("{}", String::from_utf8_lossy(&r.data));
///         }
///         self.seen += input.records.len();
///         // Everything printed: record that, so a restart resumes after it.
///         let _ = input.checkpointer.checkpoint().await;
///     }
///
///     async fn shutdown_requested(&mut self, input: ShutdownRequestedInput) {
///         let _ = input.checkpointer.checkpoint().await;
///     }
/// }
///
/// // The worker calls the processor; here we only check it is usable as one.
/// fn assert_processor<P: RecordProcessor>(_: &P) {}
/// assert_processor(&Printer::default());
/// ```
pub trait RecordProcessor: Send + 'static {
    /// Called once before any records, with the checkpoint processing resumes from.
    fn initialize(&mut self, input: InitializationInput) -> impl Future<Output = ()> + Send {
        let _ = input;
        async {}
    }

    /// A batch of records, in order. Checkpoint through `input.checkpointer` when they are
    /// safely handled.
    fn process_records(&mut self, input: ProcessRecordsInput) -> impl Future<Output = ()> + Send;

    /// The lease moved to another worker; stop using the shard. No checkpoint is possible.
    fn lease_lost(&mut self, input: LeaseLostInput) -> impl Future<Output = ()> + Send {
        let _ = input;
        async {}
    }

    /// The (closed) shard was read to its end. Must checkpoint (which records `SHARD_END`);
    /// if it does not, the worker calls it again after a pause, since the shard's children
    /// wait for that checkpoint.
    fn shard_ended(&mut self, input: ShardEndedInput) -> impl Future<Output = ()> + Send {
        async move {
            if let Err(e) = input.checkpointer.checkpoint().await {
                tracing::warn!(shard = %input.checkpointer.shard_id(), error = %e, "SHARD_END checkpoint failed");
            }
        }
    }

    /// The worker is shutting down gracefully and will release the lease afterwards;
    /// checkpoint now to avoid re-processing.
    fn shutdown_requested(
        &mut self,
        input: ShutdownRequestedInput,
    ) -> impl Future<Output = ()> + Send {
        let _ = input;
        async {}
    }
}
