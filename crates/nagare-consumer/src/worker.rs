//! The worker: leases, shard sync and one shard consumer per held lease (KCL's `Scheduler`).
//!
//! `run()` owns every task it starts in `JoinSet`s, so dropping or aborting the `run()`
//! future stops everything at once without releasing leases (what a crash looks like to the
//! other workers: the leases expire after the failover time). A graceful
//! [`WorkerHandle::shutdown`] instead stops taking leases, asks every processor to
//! checkpoint (`shutdown_requested`), releases the leases and then returns.

use crate::config::{FanOutConfig, InitialPosition, LeaseConfig, PollingConfig, Retrieval};
use crate::coordinator::taker::LeaseTaker;
use crate::coordinator::{HeldLease, LeaseCoordinator};
use crate::fetcher::backoff;
use crate::fetcher::fanout::ensure_consumer;
use crate::lease::{LeaseError, LeaseStore};
use crate::processor::RecordProcessor;
use crate::record::{Deaggregate, Kpl};
use crate::shard_consumer::{self, Outcome};
use crate::shard_sync;
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Why a worker could not start or keep running.
///
/// ```
/// use nagare_consumer::WorkerError;
///
/// let e = WorkerError::Kinesis { operation: "ListShards", message: "ResourceNotFoundException: no stream".into() };
/// assert_eq!(e.to_string(), "Kinesis ListShards failed: ResourceNotFoundException: no stream");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// A Kinesis call failed.
    #[error("Kinesis {operation} failed: {message}")]
    Kinesis {
        /// The API operation.
        operation: &'static str,
        /// Error code and message.
        message: String,
    },
    /// The lease table failed.
    #[error(transparent)]
    LeaseStore(#[from] LeaseError),
}

impl WorkerError {
    pub(crate) fn kinesis<E, R>(operation: &'static str, e: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let message = match (e.code(), e.message()) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_owned(),
            // Transport failures have no code; their source says what broke.
            _ => format!("{e} ({:?})", std::error::Error::source(&e)),
        };
        WorkerError::Kinesis { operation, message }
    }
}

/// Makes one [`RecordProcessor`] per shard. Any `Fn(&str) -> P` closure is one (it receives
/// the shard id).
///
/// ```
/// use nagare_consumer::{ProcessRecordsInput, ProcessorFactory, RecordProcessor};
///
/// struct Count(usize);
/// impl RecordProcessor for Count {
///     async fn process_records(&mut self, input: ProcessRecordsInput) {
///         self.0 += input.records.len();
///     }
/// }
///
/// let factory = |_shard: &str| Count(0);
/// let processor = factory.create("shardId-000000000000");
/// assert_eq!(processor.0, 0);
/// ```
pub trait ProcessorFactory: Send + Sync + 'static {
    /// The processor type.
    type Processor: RecordProcessor;
    /// A fresh processor for `shard_id`.
    fn create(&self, shard_id: &str) -> Self::Processor;
}

impl<F, P> ProcessorFactory for F
where
    F: Fn(&str) -> P + Send + Sync + 'static,
    P: RecordProcessor,
{
    type Processor = P;
    fn create(&self, shard_id: &str) -> P {
        self(shard_id)
    }
}

/// Retrieval settings with what `run()` resolved (the consumer ARN).
pub(crate) enum RetrievalState {
    Polling(PollingConfig),
    FanOut {
        config: FanOutConfig,
        consumer_arn: String,
    },
}

/// What every shard consumer of one worker shares.
pub(crate) struct Shared<F> {
    pub coordinator: Arc<LeaseCoordinator>,
    pub kinesis: Client,
    pub stream: String,
    pub retrieval: RetrievalState,
    pub initial: InitialPosition,
    pub deagg: Arc<dyn Deaggregate>,
    pub factory: F,
    pub shutdown: watch::Receiver<bool>,
}

/// Configures a [`Worker`]. Required: the Kinesis client, the stream, the lease store and
/// the processor factory; everything else has KCL's defaults.
///
/// ```
/// use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
/// use nagare_consumer::{
///     InMemoryLeaseStore, InitialPosition, LeaseConfig, PollingConfig, ProcessRecordsInput,
///     RecordProcessor, Retrieval, Worker,
/// };
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// struct Print;
/// impl RecordProcessor for Print {
///     async fn process_records(&mut self, input: ProcessRecordsInput) {
///         for r in &input.records {
///             println!("{}", String::from_utf8_lossy(&r.data));
///         }
///         let _ = input.checkpointer.checkpoint().await;
///     }
/// }
///
/// let kinesis = aws_sdk_kinesis::Client::from_conf(
///     aws_sdk_kinesis::Config::builder()
///         .behavior_version(BehaviorVersion::latest())
///         .region(Region::new("us-east-1"))
///         .credentials_provider(Credentials::new("AKID", "secret", None, None, "example"))
///         .endpoint_url("http://127.0.0.1:4567")
///         .build(),
/// );
/// let worker = Worker::builder(kinesis, "my-stream", Arc::new(InMemoryLeaseStore::new()), |_shard: &str| Print)
///     .worker_id("worker-1")
///     .initial_position(InitialPosition::TrimHorizon)
///     .retrieval(Retrieval::Polling(PollingConfig {
///         idle_time_between_reads: Duration::from_millis(250),
///         ..PollingConfig::default()
///     }))
///     .lease_config(LeaseConfig { failover_time: Duration::from_secs(5), ..LeaseConfig::default() })
///     .build();
/// assert_eq!(worker.handle().worker_id(), "worker-1");
/// // `worker.run().await` would now process the stream until `handle.shutdown().await`.
/// ```
pub struct WorkerBuilder<F> {
    kinesis: Client,
    stream: String,
    store: Arc<dyn LeaseStore>,
    factory: F,
    worker_id: Option<String>,
    lease_config: LeaseConfig,
    retrieval: Retrieval,
    initial: InitialPosition,
}

impl<F: ProcessorFactory> WorkerBuilder<F> {
    /// The worker's identity in `leaseOwner` (default: `worker-` + 16 random hex digits).
    /// Must be unique among the workers sharing the lease table.
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }

    /// Lease timing and balancing.
    pub fn lease_config(mut self, config: LeaseConfig) -> Self {
        self.lease_config = config;
        self
    }

    /// Polling (default) or enhanced fan-out.
    pub fn retrieval(mut self, retrieval: Retrieval) -> Self {
        self.retrieval = retrieval;
        self
    }

    /// Where shards without a checkpoint start (default `TRIM_HORIZON`).
    pub fn initial_position(mut self, initial: InitialPosition) -> Self {
        self.initial = initial;
        self
    }

    /// The configured worker.
    pub fn build(self) -> Worker<F> {
        let worker_id = self
            .worker_id
            .unwrap_or_else(|| format!("worker-{:016x}", rand::random::<u64>()));
        let coordinator = Arc::new(LeaseCoordinator::new(
            self.store,
            worker_id,
            self.lease_config,
        ));
        let (shutdown, _) = watch::channel(false);
        let (done, _) = watch::channel(false);
        Worker {
            kinesis: self.kinesis,
            stream: self.stream,
            factory: self.factory,
            retrieval: self.retrieval,
            initial: self.initial,
            coordinator,
            shutdown: Arc::new(shutdown),
            done: Arc::new(done),
        }
    }
}

/// A consumer worker: takes a fair share of the stream's shard leases and runs a
/// [`RecordProcessor`] for each (see the crate docs for the whole picture).
///
/// ```
/// use nagare_consumer::{ProcessRecordsInput, RecordProcessor, Worker, WorkerHandle};
///
/// // Run until Ctrl-C, then hand the leases over cleanly.
/// async fn serve<F: nagare_consumer::ProcessorFactory>(worker: Worker<F>) -> Result<(), nagare_consumer::WorkerError> {
///     let handle: WorkerHandle = worker.handle();
///     tokio::spawn(async move {
///         let _ = tokio::signal::ctrl_c().await;
///         handle.shutdown().await;
///     });
///     worker.run().await
/// }
/// ```
pub struct Worker<F> {
    kinesis: Client,
    stream: String,
    factory: F,
    retrieval: Retrieval,
    initial: InitialPosition,
    coordinator: Arc<LeaseCoordinator>,
    shutdown: Arc<watch::Sender<bool>>,
    done: Arc<watch::Sender<bool>>,
}

/// Controls a running [`Worker`] from elsewhere; cheap to clone.
///
/// ```
/// use nagare_consumer::WorkerHandle;
///
/// async fn stop(handle: WorkerHandle) {
///     println!("{} holds {:?}", handle.worker_id(), handle.held_leases());
///     handle.shutdown().await; // processors checkpoint, leases are released
/// }
/// ```
#[derive(Clone)]
pub struct WorkerHandle {
    coordinator: Arc<LeaseCoordinator>,
    shutdown: Arc<watch::Sender<bool>>,
    done: watch::Receiver<bool>,
}

impl WorkerHandle {
    /// The worker's `leaseOwner` identity.
    pub fn worker_id(&self) -> &str {
        &self.coordinator.worker_id
    }

    /// Shard ids whose leases the worker currently holds, sorted.
    pub fn held_leases(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .coordinator
            .held()
            .iter()
            .map(|h| h.key.clone())
            .collect();
        keys.sort();
        keys
    }

    /// Ask the worker to stop gracefully, without waiting.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Stop gracefully and wait until `run()` has returned: processors get
    /// `shutdown_requested` (their chance to checkpoint) and the leases are released.
    pub async fn shutdown(&self) {
        self.request_shutdown();
        let mut done = self.done.clone();
        // Err: the worker (and its `done` sender) is gone, which also means it stopped.
        let _ = done.wait_for(|d| *d).await;
    }
}

impl Worker<()> {
    /// Start configuring a worker reading `stream` with `kinesis`, keeping leases in
    /// `lease_store`, processing each shard with a processor from `factory`.
    pub fn builder<F: ProcessorFactory>(
        kinesis: Client,
        stream: impl Into<String>,
        lease_store: Arc<dyn LeaseStore>,
        factory: F,
    ) -> WorkerBuilder<F> {
        WorkerBuilder {
            kinesis,
            stream: stream.into(),
            store: lease_store,
            factory,
            worker_id: None,
            lease_config: LeaseConfig::default(),
            retrieval: Retrieval::default(),
            initial: InitialPosition::TrimHorizon,
        }
    }
}

impl<F: ProcessorFactory> Worker<F> {
    /// A handle to stop the worker or look at its leases.
    pub fn handle(&self) -> WorkerHandle {
        WorkerHandle {
            coordinator: self.coordinator.clone(),
            shutdown: self.shutdown.clone(),
            done: self.done.subscribe(),
        }
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Run until [`WorkerHandle::shutdown`]. Fails only while starting (lease table,
    /// stream consumer registration); afterwards errors are logged and retried.
    pub async fn run(self) -> Result<(), WorkerError> {
        let done = self.done.clone();
        let result = self.run_inner().await;
        done.send_replace(true);
        result
    }

    async fn run_inner(self) -> Result<(), WorkerError> {
        let c = self.coordinator.clone();
        c.store.initialize().await?;
        let retrieval = match &self.retrieval {
            Retrieval::Polling(p) => RetrievalState::Polling(p.clone()),
            Retrieval::FanOut(f) => RetrievalState::FanOut {
                consumer_arn: ensure_consumer(&self.kinesis, &self.stream, f).await?,
                config: f.clone(),
            },
        };
        // The first sync must succeed before leases are taken, or a fresh table stays empty.
        let mut attempt = 0;
        loop {
            match shard_sync::sync(&c, &self.kinesis, &self.stream, self.initial).await {
                Ok(_) => break,
                Err(e) if attempt >= 10 => return Err(e),
                Err(e) => {
                    tracing::warn!(worker = %c.worker_id, error = %e, "initial shard sync failed; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
            }
            if self.stopping() {
                return Ok(());
            }
        }
        let Worker {
            kinesis,
            stream,
            factory,
            initial,
            shutdown,
            ..
        } = self;
        let shared = Arc::new(Shared {
            coordinator: c.clone(),
            kinesis,
            stream,
            retrieval,
            initial,
            deagg: Arc::new(Kpl) as Arc<dyn Deaggregate>,
            factory,
            shutdown: shutdown.subscribe(),
        });

        // Renewer: kept until the leases are released.
        let mut renewer = JoinSet::new();
        {
            let c = c.clone();
            renewer.spawn(async move {
                loop {
                    c.renew_all().await;
                    tokio::time::sleep(c.config.renew_interval()).await;
                }
            });
        }
        // Taker and shard sync: stopped first on shutdown.
        let mut background = JoinSet::new();
        {
            let c = c.clone();
            background.spawn(async move {
                let mut taker = LeaseTaker::new(c.clone());
                loop {
                    taker.take_pass().await;
                    tokio::time::sleep(c.config.take_interval()).await;
                }
            });
        }
        {
            let shared = shared.clone();
            background.spawn(async move {
                let c = &shared.coordinator;
                loop {
                    tokio::time::sleep(c.config.shard_sync_interval).await;
                    if let Err(e) =
                        shard_sync::sync(c, &shared.kinesis, &shared.stream, shared.initial).await
                    {
                        tracing::warn!(worker = %c.worker_id, error = %e, "shard sync failed");
                    }
                }
            });
        }

        let mut consumers: JoinSet<Outcome> = JoinSet::new();
        // Consumer running (or finished at SHARD_END) per lease, keyed by the `HeldLease` it
        // runs for: a re-taken lease is a new `HeldLease` and gets a new consumer once the
        // old one has exited.
        let mut running: HashMap<tokio::task::Id, Arc<HeldLease>> = HashMap::new();
        let mut finished: HashMap<String, Arc<HeldLease>> = HashMap::new();
        let mut stop = shutdown.subscribe();
        loop {
            finished.retain(|k, h| c.get(k).is_some_and(|now| Arc::ptr_eq(&now, h)));
            for held in c.held() {
                let busy = running.values().any(|r| r.key == held.key);
                let done = finished
                    .get(&held.key)
                    .is_some_and(|f| Arc::ptr_eq(f, &held));
                if held.is_lost() || busy || done {
                    continue;
                }
                let id = consumers
                    .spawn(shard_consumer::run(shared.clone(), held.clone()))
                    .id();
                running.insert(id, held);
            }
            let changed = c.changed.notified();
            tokio::select! {
                // Ok: shutdown requested. Err cannot happen while `shutdown` lives here.
                _ = stop.wait_for(|s| *s) => break,
                Some(joined) = consumers.join_next_with_id() => match joined {
                    Ok((id, outcome)) => {
                        if let Some(h) = running.remove(&id) {
                            if outcome == Outcome::Finished {
                                finished.insert(h.key.clone(), h);
                            }
                        }
                    }
                    Err(e) => {
                        // The processor panicked. Drop the lease without releasing it: it
                        // expires, and whoever takes it resumes from the last checkpoint.
                        if let Some(h) = running.remove(&e.id()) {
                            tracing::error!(worker = %c.worker_id, shard = %h.key, error = %e, "shard consumer failed");
                            c.mark_lost(&h, "shard consumer failed");
                        }
                    }
                },
                _ = changed => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }

        // Graceful shutdown: no more taking, processors checkpoint, leases released.
        tracing::info!(worker = %c.worker_id, "shutting down");
        background.shutdown().await;
        while consumers.join_next().await.is_some() {}
        c.release_all().await;
        renewer.shutdown().await;
        Ok(())
    }
}
