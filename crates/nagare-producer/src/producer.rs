//! The user-facing handle: [`Producer`], [`PutFuture`], [`PutOutcome`].

use crate::backend::{Backend, SdkBackend};
use crate::config::{MAX_RECORD_BYTES, ProducerConfig};
use crate::dispatcher::{BatchTicket, Command, Completion, Dispatcher, Pending};
use crate::error::PutError;
use bytes::Bytes;
use nagare_types::{HashKey, hash_partition_key};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};
use tokio::sync::{AcquireError, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Bookkeeping a buffered record costs beyond its data and key, for the memory bound.
const RECORD_OVERHEAD: usize = 64;

/// What a buffered record counts against [`ProducerConfig::max_buffered_bytes`].
pub(crate) const fn record_cost(data_len: usize, partition_key_len: usize) -> usize {
    data_len + partition_key_len + RECORD_OVERHEAD
}

/// Where an acknowledged user record is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutOutcome {
    /// The shard that stored the Kinesis record carrying it. Shared (not copied) by every
    /// user record of an aggregate.
    pub shard_id: Arc<str>,
    /// That Kinesis record's sequence number, shared the same way.
    pub sequence_number: Arc<str>,
    /// The user record's index inside the aggregate (KCL's sub-sequence number); 0 when it
    /// was sent alone.
    pub sub_sequence: u64,
    /// PutRecords attempts it took (1 = no retry).
    pub attempts: u32,
}

/// The result of one [`Producer::put`].
type PutResult = Result<PutOutcome, PutError>;

/// Shared by every clone of a [`Producer`].
struct Inner {
    commands: mpsc::UnboundedSender<Command>,
    /// Memory bound: one permit per byte of [`record_cost`]. Permits are taken in `put` and
    /// given back by the dispatcher when the record finishes (in bulk, per loop turn).
    buffer: Arc<Semaphore>,
    /// Set by `shutdown`; `put` refuses records from then on.
    closed: AtomicBool,
    /// The dispatcher task, awaited once by `shutdown`. A std mutex: held only to take it.
    task: Mutex<Option<JoinHandle<()>>>,
    config: ProducerConfig,
    /// The stream of the last `put`, so repeated puts to one stream share one `Arc<str>`
    /// instead of allocating its name per record (the dispatcher also compares by pointer).
    last_stream: Mutex<Option<Arc<str>>>,
}

/// A Kinesis producer: collects user records per predicted shard, aggregates them (KPL
/// format), batches them into PutRecords, retries failures until the record TTL, limits the
/// rate per shard and bounds its memory. Cheap to clone; every clone feeds the same pipeline.
///
/// Needs a Tokio runtime (it spawns its pipeline task in [`Producer::new`]).
///
/// ```
/// use nagare_producer::{Producer, ProducerConfig};
///
/// # const STREAM: &str = "my-stream";
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let server = nagare_server::start(nagare_server::ServerConfig {
/// #     listen: "127.0.0.1:0".parse()?,
/// #     data_dir: dir.path().to_path_buf(),
/// #     engine: Default::default(),
/// #     retention_interval: std::time::Duration::from_secs(3600),
/// #     tls: None,
/// # })
/// # .await?;
/// # let client = aws_sdk_kinesis::Client::from_conf(
/// #     aws_sdk_kinesis::Config::builder()
/// #         .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
/// #         .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
/// #         .endpoint_url(format!("http://{}", server.addr))
/// #         .credentials_provider(aws_sdk_kinesis::config::Credentials::new("AKID", "SECRET", None, None, "doc"))
/// #         .build(),
/// # );
/// # client.create_stream().stream_name(STREAM).shard_count(1).send().await?;
/// // `client`: an `aws_sdk_kinesis::Client`, here pointed at an in-process Nagare server.
/// let producer = Producer::new(client, ProducerConfig::default());
/// let ack = producer.put("my-stream", "user-42", b"hello".to_vec(), None);
/// let outcome = ack.await?;
/// println!("{} {} {}", outcome.shard_id, outcome.sequence_number, outcome.sub_sequence);
/// producer.shutdown().await;
/// # server.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("config", &self.inner.config)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Producer {
    /// A producer sending through `client` (its region, credentials, endpoint and SDK retry
    /// settings are used as they are).
    pub fn new(client: aws_sdk_kinesis::Client, config: ProducerConfig) -> Self {
        Self::with_backend(Arc::new(SdkBackend(client)), config)
    }

    pub(crate) fn with_backend(backend: Arc<dyn Backend>, config: ProducerConfig) -> Self {
        crate::metrics::describe();
        let (tx, rx) = mpsc::unbounded_channel();
        let buffer = Arc::new(Semaphore::new(config.max_buffered_bytes));
        let dispatcher = Dispatcher::new(backend, config.clone(), rx, Arc::clone(&buffer));
        let task = tokio::spawn(dispatcher.run());
        Producer {
            inner: Arc::new(Inner {
                commands: tx,
                buffer,
                closed: AtomicBool::new(false),
                task: Mutex::new(Some(task)),
                config,
                last_stream: Mutex::new(None),
            }),
        }
    }

    /// The settings this producer runs with.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }

    /// Queue one user record for `stream`. The returned future resolves when the record is
    /// acknowledged ([`PutOutcome`]) or has failed for good ([`PutError`]).
    ///
    /// The record enters the pipeline at once when the buffer has room; otherwise the future
    /// waits for room when first polled (backpressure), so a caller that never awaits cannot
    /// grow memory past [`ProducerConfig::max_buffered_bytes`]. Invalid records (empty or
    /// over-long partition key, explicit hash key that is not a 128-bit decimal, data and key
    /// over 1 MiB) fail at once without being sent.
    ///
    /// ```
    /// # const STREAM: &str = "s";
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let server = nagare_server::start(nagare_server::ServerConfig {
    /// #     listen: "127.0.0.1:0".parse()?,
    /// #     data_dir: dir.path().to_path_buf(),
    /// #     engine: Default::default(),
    /// #     retention_interval: std::time::Duration::from_secs(3600),
    /// #     tls: None,
    /// # })
    /// # .await?;
    /// # let client = aws_sdk_kinesis::Client::from_conf(
    /// #     aws_sdk_kinesis::Config::builder()
    /// #         .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
    /// #         .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
    /// #         .endpoint_url(format!("http://{}", server.addr))
    /// #         .credentials_provider(aws_sdk_kinesis::config::Credentials::new("AKID", "SECRET", None, None, "doc"))
    /// #         .build(),
    /// # );
    /// # client.create_stream().stream_name(STREAM).shard_count(1).send().await?;
    /// # let producer = nagare_producer::Producer::new(client, Default::default());
    /// let a = producer.put("s", "k1", b"one".to_vec(), None);
    /// let b = producer.put("s", "k2", b"two".to_vec(), Some("0"));
    /// let (a, b) = (a.await?, b.await?);
    /// assert_eq!(a.shard_id, b.shard_id); // the stream has one shard
    /// // Aggregated into one Kinesis record they share its sequence number, told apart by
    /// // their sub-sequence numbers.
    /// assert!((&a.sequence_number, a.sub_sequence) != (&b.sequence_number, b.sub_sequence));
    /// # server.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn put(
        &self,
        stream: &str,
        partition_key: impl Into<String>,
        data: impl Into<Bytes>,
        explicit_hash_key: Option<&str>,
    ) -> PutFuture {
        let partition_key = partition_key.into();
        let data = data.into();
        if self.inner.closed.load(Ordering::Acquire) {
            return PutFuture::ready(Err(PutError::ShutDown));
        }
        let predict = self.inner.config.predicts_shards();
        let (hash_key, explicit) = match validate(&partition_key, &data, explicit_hash_key, predict)
        {
            Ok(keys) => keys,
            Err(e) => return PutFuture::ready(Err(e)),
        };
        let cost = record_cost(data.len(), partition_key.len());
        // `validate` bounds data + key by 1 MiB, so the cost fits in u32.
        let permits = u32::try_from(cost).unwrap_or(u32::MAX);
        let job = Job {
            stream: self.inner.stream_name(stream),
            partition_key,
            explicit,
            hash_key,
            data,
            permits,
        };
        match Arc::clone(&self.inner.buffer).try_acquire_many_owned(permits) {
            Ok(permit) => PutFuture {
                state: self.inner.enqueue(job, permit),
            },
            Err(_) => {
                let acquire = Box::pin(Arc::clone(&self.inner.buffer).acquire_many_owned(permits));
                PutFuture {
                    state: State::Waiting {
                        acquire,
                        job: Some(job),
                        inner: Arc::clone(&self.inner),
                    },
                }
            }
        }
    }

    /// Queue several user records for `stream` at once; the returned future resolves, when
    /// every one of them has finished, to their results in input order.
    ///
    /// The same records through [`put`](Self::put) would behave the same; this is the cheaper
    /// way in for a caller with many records at hand: one channel message, one buffer-permit
    /// acquisition and one shared result slot for the whole batch instead of a future, a
    /// channel message and a completion per record. Invalid records fail in their slots
    /// without being sent. A batch costing more than
    /// [`ProducerConfig::max_buffered_bytes`] waits only for the whole buffer.
    ///
    /// ```
    /// # const STREAM: &str = "s";
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// # let server = nagare_server::start(nagare_server::ServerConfig {
    /// #     listen: "127.0.0.1:0".parse()?,
    /// #     data_dir: dir.path().to_path_buf(),
    /// #     engine: Default::default(),
    /// #     retention_interval: std::time::Duration::from_secs(3600),
    /// #     tls: None,
    /// # })
    /// # .await?;
    /// # let client = aws_sdk_kinesis::Client::from_conf(
    /// #     aws_sdk_kinesis::Config::builder()
    /// #         .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
    /// #         .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
    /// #         .endpoint_url(format!("http://{}", server.addr))
    /// #         .credentials_provider(aws_sdk_kinesis::config::Credentials::new("AKID", "SECRET", None, None, "doc"))
    /// #         .build(),
    /// # );
    /// # client.create_stream().stream_name(STREAM).shard_count(1).send().await?;
    /// # let producer = nagare_producer::Producer::new(client, Default::default());
    /// let results = producer
    ///     .put_many("s", [("k1", b"one".to_vec()), ("k2", b"two".to_vec()), ("", b"x".to_vec())])
    ///     .await;
    /// assert!(results[0].is_ok() && results[1].is_ok());
    /// assert!(results[2].is_err()); // an empty partition key is refused without being sent
    /// # server.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn put_many<K, D>(
        &self,
        stream: &str,
        records: impl IntoIterator<Item = (K, D)>,
    ) -> PutManyFuture
    where
        K: Into<String>,
        D: Into<Bytes>,
    {
        let records = records.into_iter();
        let mut results: Vec<Option<PutResult>> = Vec::with_capacity(records.size_hint().0);
        let mut pending: Vec<Pending> = Vec::with_capacity(records.size_hint().0);
        let slot = Arc::new(BatchSlot::default());
        let closed = self.inner.closed.load(Ordering::Acquire);
        let predict = self.inner.config.predicts_shards();
        let mut total = 0usize;
        let arrived = Instant::now();
        for (index, (partition_key, data)) in records.enumerate() {
            let partition_key: String = partition_key.into();
            let data: Bytes = data.into();
            if closed {
                results.push(Some(Err(PutError::ShutDown)));
                continue;
            }
            match validate(&partition_key, &data, None, predict) {
                Err(e) => results.push(Some(Err(e))),
                Ok((hash_key, explicit)) => {
                    results.push(None);
                    let cost = record_cost(data.len(), partition_key.len());
                    total = total.saturating_add(cost);
                    pending.push(Pending {
                        partition_key,
                        explicit,
                        hash_key,
                        data,
                        arrived,
                        attempts: 0,
                        last_error: None,
                        permits: u32::try_from(cost).unwrap_or(u32::MAX),
                        epoch: 0,
                        tx: Completion::Batch(BatchTicket::new(
                            Arc::clone(&slot),
                            u32::try_from(index).unwrap_or(u32::MAX),
                        )),
                    });
                }
            }
        }
        if pending.is_empty() {
            return PutManyFuture {
                state: ManyState::Ready(Some(results.into_iter().flatten().collect())),
            };
        }
        // A batch larger than the whole buffer waits for the whole buffer; its records then
        // carry exactly the permits taken, so they give back no more than that.
        let permits = total
            .min(self.inner.config.max_buffered_bytes)
            .min(u32::MAX as usize);
        if permits < total {
            let mut left = permits;
            for r in &mut pending {
                let take = (r.permits as usize).min(left);
                r.permits = take as u32;
                left -= take;
            }
        }
        let permits = permits as u32;
        if let Ok(mut st) = slot.state.lock() {
            st.remaining = pending.len();
            st.results = results;
        }
        let stream = self.inner.stream_name(stream);
        let batch = ManyJob {
            stream,
            records: pending,
            permits,
        };
        match Arc::clone(&self.inner.buffer).try_acquire_many_owned(permits) {
            Ok(permit) => PutManyFuture {
                state: self.inner.enqueue_many(batch, slot, permit),
            },
            Err(_) => {
                let acquire = Box::pin(Arc::clone(&self.inner.buffer).acquire_many_owned(permits));
                PutManyFuture {
                    state: ManyState::Waiting {
                        acquire,
                        job: Some(batch),
                        slot,
                        inner: Arc::clone(&self.inner),
                    },
                }
            }
        }
    }

    /// Send everything buffered now, without waiting for `RecordMaxBufferedTime`, and wait
    /// until every record accepted before this call has finished (acknowledged or failed).
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.inner.commands.send(Command::Flush(tx)).is_ok() {
            // An error means the pipeline is gone, so nothing is left to wait for.
            let _ = rx.await;
        }
    }

    /// Refuse new records, send and finish every buffered one, and stop the pipeline. Every
    /// clone of this producer is shut down. Returns once all records have finished.
    pub async fn shutdown(&self) {
        self.inner.closed.store(true, Ordering::Release);
        let (tx, rx) = oneshot::channel();
        if self.inner.commands.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
        let task = self.inner.task.lock().ok().and_then(|mut t| t.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Checks a record against the Kinesis limits; returns its hash key and whether that is an
/// explicit one. Without `predict` (see [`ProducerConfig::predicts_shards`]) a partition key
/// is not hashed and the hash key is 0, which nothing reads.
fn validate(
    partition_key: &str,
    data: &[u8],
    explicit_hash_key: Option<&str>,
    predict: bool,
) -> Result<(HashKey, bool), PutError> {
    let max_chars = nagare_types::caps::MAX_PARTITION_KEY_CHARS;
    if partition_key.is_empty() {
        return Err(PutError::InvalidRecord("empty partition key".to_owned()));
    }
    if partition_key.len() > max_chars && partition_key.chars().count() > max_chars {
        return Err(PutError::InvalidRecord(format!(
            "partition key longer than {max_chars} characters"
        )));
    }
    if data.len() + partition_key.len() > MAX_RECORD_BYTES {
        return Err(PutError::InvalidRecord(format!(
            "data and partition key are {} bytes, over {MAX_RECORD_BYTES}",
            data.len() + partition_key.len()
        )));
    }
    match explicit_hash_key {
        None if predict => Ok((hash_partition_key(partition_key), false)),
        None => Ok((HashKey::default(), false)),
        Some(s) => {
            let key = s.parse::<HashKey>().map_err(|_| {
                PutError::InvalidRecord(format!(
                    "explicit hash key {s:?} is not a decimal in [0, 2^128-1]"
                ))
            })?;
            Ok((key, true))
        }
    }
}

/// A record waiting for buffer room.
struct Job {
    stream: Arc<str>,
    partition_key: String,
    explicit: bool,
    hash_key: HashKey,
    data: Bytes,
    permits: u32,
}

impl Inner {
    fn stream_name(&self, stream: &str) -> Arc<str> {
        let Ok(mut last) = self.last_stream.lock() else {
            return stream.into();
        };
        match &*last {
            Some(name) if &**name == stream => Arc::clone(name),
            _ => {
                let name: Arc<str> = stream.into();
                *last = Some(Arc::clone(&name));
                name
            }
        }
    }

    /// Hand a batch to the pipeline; its permits now belong to the dispatcher.
    fn enqueue_many(
        &self,
        job: ManyJob,
        slot: Arc<BatchSlot>,
        permit: OwnedSemaphorePermit,
    ) -> ManyState {
        permit.forget();
        // Records dropped unsent (closed producer, stopped pipeline) fill their slots with
        // `ShutDown` as they go (see `BatchTicket`).
        if self.closed.load(Ordering::Acquire) {
            self.buffer.add_permits(job.permits as usize);
            drop(job);
        } else {
            let _ = self.commands.send(Command::PutMany {
                stream: job.stream,
                records: job.records,
            });
        }
        ManyState::Queued(slot)
    }

    /// Hand a record to the pipeline; its permits now belong to the dispatcher.
    fn enqueue(&self, job: Job, permit: OwnedSemaphorePermit) -> State {
        permit.forget();
        if self.closed.load(Ordering::Acquire) {
            self.buffer.add_permits(job.permits as usize);
            return State::Ready(Some(Err(PutError::ShutDown)));
        }
        let (tx, rx) = oneshot::channel();
        let record = Pending {
            partition_key: job.partition_key,
            explicit: job.explicit,
            hash_key: job.hash_key,
            data: job.data,
            arrived: Instant::now(),
            attempts: 0,
            last_error: None,
            permits: job.permits,
            epoch: 0,
            tx: Completion::One(tx),
        };
        match self.commands.send(Command::Put {
            stream: job.stream,
            record,
        }) {
            Ok(()) => State::Queued(rx),
            Err(_) => State::Ready(Some(Err(PutError::ShutDown))),
        }
    }
}

type Acquire =
    Pin<Box<dyn Future<Output = Result<OwnedSemaphorePermit, AcquireError>> + Send + 'static>>;

enum State {
    Ready(Option<PutResult>),
    Waiting {
        acquire: Acquire,
        job: Option<Job>,
        inner: Arc<Inner>,
    },
    Queued(oneshot::Receiver<PutResult>),
}

/// The acknowledgement of one [`Producer::put`]: resolves to where the record was stored, or
/// why it was not.
#[must_use = "a put is only known to succeed once its future resolves"]
pub struct PutFuture {
    state: State,
}

impl std::fmt::Debug for PutFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Ready(_) => "ready",
            State::Waiting { .. } => "waiting for buffer room",
            State::Queued(_) => "queued",
        };
        f.debug_struct("PutFuture").field("state", &state).finish()
    }
}

impl PutFuture {
    fn ready(result: PutResult) -> Self {
        PutFuture {
            state: State::Ready(Some(result)),
        }
    }
}

impl Future for PutFuture {
    type Output = PutResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PutResult> {
        loop {
            match &mut self.state {
                State::Ready(result) => {
                    return Poll::Ready(result.take().unwrap_or(Err(PutError::ShutDown)));
                }
                State::Waiting {
                    acquire,
                    job,
                    inner,
                } => {
                    let next = match ready!(acquire.as_mut().poll(cx)) {
                        Ok(permit) => match job.take() {
                            Some(job) => inner.enqueue(job, permit),
                            None => State::Ready(None),
                        },
                        // The semaphore is closed when the pipeline has stopped.
                        Err(_) => State::Ready(Some(Err(PutError::ShutDown))),
                    };
                    self.state = next;
                }
                State::Queued(rx) => {
                    // A dropped sender means the pipeline stopped without finishing the record.
                    return Pin::new(rx)
                        .poll(cx)
                        .map(|r| r.unwrap_or(Err(PutError::ShutDown)));
                }
            }
        }
    }
}

/// A batch waiting for buffer room.
struct ManyJob {
    stream: Arc<str>,
    records: Vec<Pending>,
    permits: u32,
}

/// The shared result vector of one [`Producer::put_many`], filled by the dispatcher.
#[derive(Default)]
pub(crate) struct BatchSlot {
    state: Mutex<BatchState>,
}

#[derive(Default)]
struct BatchState {
    /// `None` for records not finished yet.
    results: Vec<Option<PutResult>>,
    remaining: usize,
    waker: Option<Waker>,
}

impl BatchSlot {
    /// Record the results of some of the batch's records (by index), under one lock; wakes
    /// the future once the last one is in.
    pub(crate) fn complete(&self, results: impl IntoIterator<Item = (u32, PutResult)>) {
        let waker = {
            let Ok(mut st) = self.state.lock() else {
                return;
            };
            for (index, result) in results {
                if let Some(r) = st.results.get_mut(index as usize) {
                    *r = Some(result);
                }
                st.remaining = st.remaining.saturating_sub(1);
            }
            if st.remaining == 0 {
                st.waker.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<Vec<PutResult>> {
        let Ok(mut st) = self.state.lock() else {
            return Poll::Ready(Vec::new());
        };
        if st.remaining == 0 {
            let results = std::mem::take(&mut st.results);
            return Poll::Ready(
                results
                    .into_iter()
                    .map(|r| r.unwrap_or(Err(PutError::ShutDown)))
                    .collect(),
            );
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

enum ManyState {
    Ready(Option<Vec<PutResult>>),
    Waiting {
        acquire: Acquire,
        job: Option<ManyJob>,
        slot: Arc<BatchSlot>,
        inner: Arc<Inner>,
    },
    Queued(Arc<BatchSlot>),
}

/// The acknowledgement of one [`Producer::put_many`]: resolves, once every record of the
/// batch has finished, to each record's result in input order.
#[must_use = "a put is only known to succeed once its future resolves"]
pub struct PutManyFuture {
    state: ManyState,
}

impl std::fmt::Debug for PutManyFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            ManyState::Ready(_) => "ready",
            ManyState::Waiting { .. } => "waiting for buffer room",
            ManyState::Queued(_) => "queued",
        };
        f.debug_struct("PutManyFuture")
            .field("state", &state)
            .finish()
    }
}

impl Future for PutManyFuture {
    type Output = Vec<PutResult>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<PutResult>> {
        loop {
            match &mut self.state {
                ManyState::Ready(results) => {
                    return Poll::Ready(results.take().unwrap_or_default());
                }
                ManyState::Waiting {
                    acquire,
                    job,
                    slot,
                    inner,
                } => {
                    let slot = Arc::clone(slot);
                    let next = match ready!(acquire.as_mut().poll(cx)) {
                        Ok(permit) => match job.take() {
                            Some(job) => inner.enqueue_many(job, slot, permit),
                            None => ManyState::Queued(slot),
                        },
                        // The semaphore is closed when the pipeline has stopped: dropping the
                        // records fails them.
                        Err(_) => {
                            job.take();
                            ManyState::Queued(slot)
                        }
                    };
                    self.state = next;
                }
                ManyState::Queued(slot) => return slot.poll(cx),
            }
        }
    }
}
