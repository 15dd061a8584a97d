//! One held lease, processed: wait for the parents, initialize the processor, fetch and
//! deliver records, and finish at shard end, on lease loss or on shutdown (KCL's
//! `ShardConsumer` and its tasks).

use crate::checkpointer::{Checkpointer, Positions};
use crate::coordinator::HeldLease;
use crate::fetcher::fanout::FanOutFetcher;
use crate::fetcher::polling::PollingFetcher;
use crate::fetcher::{ChildShardInfo, Fetcher, StartPosition, backoff};
use crate::lease::Lease;
use crate::metrics as m;
use crate::processor::{
    InitializationInput, LeaseLostInput, ProcessRecordsInput, RecordProcessor, ShardEndedInput,
    ShutdownRequestedInput,
};
use crate::record::{UserRecord, user_records};
use crate::sequence::ExtendedSequenceNumber;
use crate::shard_sync::{children_of, create_child_leases};
use crate::worker::{ProcessorFactory, RetrievalState, Shared};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How a shard consumer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The shard is checkpointed at `SHARD_END`; the lease stays held until cleanup.
    Finished,
    /// The lease was lost; `lease_lost` was called (if a processor existed).
    LeaseLost,
    /// Graceful shutdown; `shutdown_requested` was called (if a processor existed).
    Shutdown,
    /// The worker went away without a graceful shutdown; nothing was called.
    Abandoned,
}

/// What a consumer waits on besides its records.
struct Signals {
    lost: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interrupt {
    Lost,
    Shutdown,
    /// The worker's shutdown sender is gone: the worker was dropped or aborted.
    Abandoned,
}

impl From<Interrupt> for Outcome {
    fn from(i: Interrupt) -> Outcome {
        match i {
            Interrupt::Lost => Outcome::LeaseLost,
            Interrupt::Shutdown => Outcome::Shutdown,
            Interrupt::Abandoned => Outcome::Abandoned,
        }
    }
}

impl Signals {
    /// Resolves when the lease is lost or the worker stops (and never otherwise).
    async fn interrupted(&mut self) -> Interrupt {
        tokio::select! {
            biased;
            r = self.lost.wait_for(|l| *l) => match r {
                Ok(_) => Interrupt::Lost,
                Err(_) => Interrupt::Abandoned,
            },
            r = self.shutdown.wait_for(|s| *s) => match r {
                Ok(_) => Interrupt::Shutdown,
                Err(_) => Interrupt::Abandoned,
            },
        }
    }

    /// Sleep for `d` unless interrupted first.
    async fn sleep(&mut self, d: Duration) -> Option<Interrupt> {
        tokio::select! {
            i = self.interrupted() => Some(i),
            _ = tokio::time::sleep(d) => None,
        }
    }
}

/// Process the lease `held` until its shard ends, the lease is lost or the worker stops.
pub(crate) async fn run<F: ProcessorFactory>(
    shared: Arc<Shared<F>>,
    held: Arc<HeldLease>,
) -> Outcome {
    let mut signals = Signals {
        lost: held.lost(),
        shutdown: shared.shutdown.clone(),
    };
    let lease = held.lease.lock().await.clone();
    if lease.is_shard_end() {
        return match ensure_children(&shared, &lease, &mut signals).await {
            Some(i) => i.into(),
            None => Outcome::Finished,
        };
    }
    if let Some(i) = block_on_parents(&shared, &lease, &mut signals).await {
        return i.into();
    }
    let processor = shared.factory.create(&lease.lease_key);
    let positions = Arc::new(Mutex::new(Positions {
        last_checkpoint: lease.checkpoint.clone(),
        largest_permitted: lease.checkpoint.clone(),
        children: Default::default(),
    }));
    let checkpointer = Checkpointer {
        coordinator: shared.coordinator.clone(),
        held: held.clone(),
        positions: positions.clone(),
    };
    ShardConsumer {
        shared,
        held,
        lease,
        signals,
        processor,
        positions,
        checkpointer,
    }
    .run()
    .await
}

/// A `SHARD_END` lease taken over from another worker: that worker may have died between its
/// checkpoint and creating the children, so make sure they exist.
async fn ensure_children<F: ProcessorFactory>(
    shared: &Shared<F>,
    lease: &Lease,
    signals: &mut Signals,
) -> Option<Interrupt> {
    let mut attempt = 0;
    loop {
        let store = shared.coordinator.store.as_ref();
        let mut missing = false;
        for child in &lease.child_shard_ids {
            match store.get(child).await {
                Ok(Some(_)) => {}
                Ok(None) => missing = true,
                Err(_) => missing = true,
            }
        }
        if !missing && !lease.child_shard_ids.is_empty() {
            return None;
        }
        let created = match children_of(&shared.kinesis, &shared.stream, &lease.lease_key).await {
            Ok(children) => create_child_leases(store, &children).await,
            Err(e) => Err(e),
        };
        match created {
            Ok(()) => return None,
            Err(e) => {
                tracing::warn!(shard = %lease.lease_key, error = %e, "could not create child leases; retrying");
                if let Some(i) = signals.sleep(backoff(attempt)).await {
                    return Some(i);
                }
                attempt += 1;
            }
        }
    }
}

/// Wait until every parent lease is checkpointed at `SHARD_END` or gone (KCL's
/// `BlockOnParentShardTask`). Parents' records come first, so per-key order holds.
async fn block_on_parents<F: ProcessorFactory>(
    shared: &Shared<F>,
    lease: &Lease,
    signals: &mut Signals,
) -> Option<Interrupt> {
    if lease.parent_shard_ids.is_empty() {
        return None;
    }
    let labels = m::shard_labels(
        m::OP_BLOCK_ON_PARENT,
        &shared.coordinator.worker_id,
        &lease.lease_key,
    );
    let started = Instant::now();
    loop {
        let mut waiting_for = None;
        for parent in &lease.parent_shard_ids {
            match shared.coordinator.store.get(parent).await {
                Ok(None) => {}
                Ok(Some(p)) if p.is_shard_end() => {}
                Ok(Some(_)) => {
                    waiting_for = Some(parent.clone());
                    break;
                }
                Err(e) => {
                    tracing::warn!(shard = %lease.lease_key, %parent, error = %e, "cannot read parent lease");
                    waiting_for = Some(parent.clone());
                    break;
                }
            }
        }
        let Some(parent) = waiting_for else {
            m::record_operation(&labels, started.elapsed(), true);
            return None;
        };
        tracing::debug!(shard = %lease.lease_key, %parent, "waiting for parent shard");
        if let Some(i) = signals
            .sleep(shared.coordinator.config.parent_shard_poll_interval)
            .await
        {
            m::record_operation(&labels, started.elapsed(), false);
            return Some(i);
        }
    }
}

struct ShardConsumer<F: ProcessorFactory> {
    shared: Arc<Shared<F>>,
    held: Arc<HeldLease>,
    lease: Lease,
    signals: Signals,
    processor: F::Processor,
    positions: Arc<Mutex<Positions>>,
    checkpointer: Checkpointer,
}

impl<F: ProcessorFactory> ShardConsumer<F> {
    fn worker(&self) -> &str {
        &self.shared.coordinator.worker_id
    }

    fn shard(&self) -> &str {
        &self.lease.lease_key
    }

    fn positions(&self) -> std::sync::MutexGuard<'_, Positions> {
        self.positions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fetcher(&self) -> Option<Fetcher> {
        let start = StartPosition::from_checkpoint(&self.lease.checkpoint, self.shared.initial)?;
        let shared = &self.shared;
        Some(match &shared.retrieval {
            RetrievalState::Polling(config) => Fetcher::Polling(PollingFetcher::new(
                shared.kinesis.clone(),
                shared.stream.clone(),
                self.shard().to_owned(),
                self.worker().to_owned(),
                config.clone(),
                start,
            )),
            RetrievalState::FanOut {
                config,
                consumer_arn,
            } => Fetcher::FanOut(Box::new(FanOutFetcher::new(
                shared.kinesis.clone(),
                consumer_arn.clone(),
                self.shard().to_owned(),
                self.worker().to_owned(),
                config.clone(),
                start,
            ))),
        })
    }

    async fn run(mut self) -> Outcome {
        let labels = m::shard_labels(m::OP_INITIALIZE, self.worker(), self.shard());
        let started = Instant::now();
        self.processor
            .initialize(InitializationInput {
                shard_id: self.shard().to_owned(),
                extended_sequence_number: self.lease.checkpoint.clone(),
                pending_checkpoint: self.lease.pending_checkpoint.clone(),
            })
            .await;
        ::metrics::histogram!(m::INITIALIZE_TIME, &labels).record(m::millis(started.elapsed()));
        m::record_operation(&labels, started.elapsed(), true);
        tracing::info!(worker = %self.worker(), shard = %self.shard(), checkpoint = %self.lease.checkpoint, "processing shard");

        let Some(mut fetcher) = self.fetcher() else {
            // Unreachable: SHARD_END leases return before a processor exists.
            return Outcome::Finished;
        };
        loop {
            let batch = tokio::select! {
                biased;
                i = self.signals.interrupted() => return self.stop(i).await,
                b = fetcher.next() => b,
            };
            if !self.shared.coordinator.is_valid(&self.held) {
                self.shared
                    .coordinator
                    .mark_lost(&self.held, "not renewed within the failover time");
                return self.stop(Interrupt::Lost).await;
            }
            let records = self.unpack(batch.records);
            if !records.is_empty() {
                self.deliver(records, batch.millis_behind_latest).await;
            }
            if let Some(children) = batch.end {
                return self.shard_end(children).await;
            }
        }
    }

    /// De-aggregate and drop what is at or before the last position delivered (the resume
    /// point re-reads the checkpointed record; see `StartPosition::from_checkpoint`).
    fn unpack(&self, records: Vec<aws_sdk_kinesis::types::Record>) -> Vec<UserRecord> {
        let after = self.positions().largest_permitted.clone();
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            match user_records(self.shared.deagg.as_ref(), r, self.lease.hash_key_range) {
                Ok(users) => out.extend(
                    users
                        .into_iter()
                        .filter(|u| u.extended_sequence_number() > after),
                ),
                Err(e) => {
                    tracing::warn!(shard = %self.shard(), error = %e, "skipping record with an invalid sequence number");
                }
            }
        }
        out
    }

    async fn deliver(&mut self, records: Vec<UserRecord>, millis_behind_latest: Option<i64>) {
        let labels = m::shard_labels(m::OP_PROCESS, self.worker(), self.shard());
        let count = records.len() as u64;
        let bytes: usize = records.iter().map(|r| r.data.len()).sum();
        if let Some(last) = records.last() {
            self.positions().largest_permitted = last.extended_sequence_number();
        }
        let started = Instant::now();
        self.processor
            .process_records(ProcessRecordsInput {
                records,
                millis_behind_latest,
                checkpointer: self.checkpointer.clone(),
            })
            .await;
        let elapsed = started.elapsed();
        ::metrics::histogram!(m::PROCESS_RECORDS_TIME, &labels).record(m::millis(elapsed));
        ::metrics::counter!(m::RECORDS_PROCESSED, &labels).increment(count);
        ::metrics::counter!(m::DATA_BYTES_PROCESSED, &labels).increment(bytes as u64);
        m::record_operation(&labels, elapsed, true);
    }

    /// The shard is read to its end: create the children's leases (parents recorded), then
    /// have the processor checkpoint `SHARD_END`, which releases the children.
    async fn shard_end(mut self, mut children: Vec<ChildShardInfo>) -> Outcome {
        let labels = m::shard_labels(m::OP_SHUTDOWN, self.worker(), self.shard());
        let mut attempt = 0;
        loop {
            let result = if children.is_empty() {
                children_of(&self.shared.kinesis, &self.shared.stream, self.shard()).await
            } else {
                Ok(children.clone())
            };
            let result = match result {
                Ok(c) => create_child_leases(self.shared.coordinator.store.as_ref(), &c)
                    .await
                    .map(|()| c),
                Err(e) => Err(e),
            };
            match result {
                Ok(c) => {
                    children = c;
                    break;
                }
                Err(e) => {
                    tracing::warn!(shard = %self.shard(), error = %e, "could not create child leases; retrying");
                    if let Some(i) = self.signals.sleep(backoff(attempt)).await {
                        return self.stop(i).await;
                    }
                    attempt += 1;
                }
            }
        }
        tracing::info!(worker = %self.worker(), shard = %self.shard(), children = ?children.iter().map(|c| &c.shard_id).collect::<Vec<_>>(), "shard ended");
        {
            let mut p = self.positions();
            p.largest_permitted = ExtendedSequenceNumber::ShardEnd;
            p.children = children.into_iter().map(|c| c.shard_id).collect();
        }
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            self.processor
                .shard_ended(ShardEndedInput {
                    checkpointer: self.checkpointer.clone(),
                })
                .await;
            ::metrics::histogram!(m::SHUTDOWN_TIME, &labels).record(m::millis(started.elapsed()));
            let done = self.positions().last_checkpoint == ExtendedSequenceNumber::ShardEnd;
            m::record_operation(&labels, started.elapsed(), done);
            if done {
                return Outcome::Finished;
            }
            tracing::error!(shard = %self.shard(), "shard_ended returned without checkpointing SHARD_END; the children wait for it, calling again");
            if let Some(i) = self.signals.sleep(backoff(attempt + 3)).await {
                return self.stop(i).await;
            }
            attempt += 1;
        }
    }

    async fn stop(mut self, why: Interrupt) -> Outcome {
        let labels = m::shard_labels(m::OP_SHUTDOWN, self.worker(), self.shard());
        let started = Instant::now();
        match why {
            Interrupt::Lost => {
                tracing::info!(worker = %self.worker(), shard = %self.shard(), "lease lost; stopping shard");
                self.processor
                    .lease_lost(LeaseLostInput {
                        shard_id: self.shard().to_owned(),
                    })
                    .await;
            }
            Interrupt::Shutdown => {
                self.processor
                    .shutdown_requested(ShutdownRequestedInput {
                        checkpointer: self.checkpointer.clone(),
                    })
                    .await;
            }
            Interrupt::Abandoned => return Outcome::Abandoned,
        }
        ::metrics::histogram!(m::SHUTDOWN_TIME, &labels).record(m::millis(started.elapsed()));
        m::record_operation(&labels, started.elapsed(), true);
        why.into()
    }
}
