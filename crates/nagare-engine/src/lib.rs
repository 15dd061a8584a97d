//! The Kinesis domain: streams, shards, hash-key routing, sequence numbers, iterators,
//! retention and tags, on top of `nagare-log` (one log per shard).
//!
//! - [`Engine`]: the registry of streams; every operation is a method on it.
//! - [`control`]: stream lifecycle, description, listing, retention, limits.
//! - [`data`]: PutRecord(s), GetShardIterator, GetRecords.
//! - [`tags`]: tagging by stream and by ARN.
//! - [`reshard`]: SplitShard, MergeShards, UpdateShardCount.
//! - [`consumers`], [`subscribe`]: enhanced fan-out consumers and SubscribeToShard.
//! - [`settings`]: stream mode, record size, encryption, monitoring, policies, account settings.
//! - [`limits`]: per-shard and control-plane throughput limits.
//! - [`metrics`]: CloudWatch-named service metrics.
//! - [`view`]: immutable snapshots of a stream that the hot path reads without locks held.
//! - [`meta`]: the persisted metadata document.
//! - [`iterator`]: authenticated, stateless shard iterators.
//! - [`error`]: failure structs and per-operation error enums.
//!
//! Knows nothing of HTTP or JSON: the server crate translates.

pub mod clock;
pub mod consumers;
pub mod control;
pub mod data;
pub mod error;
pub mod iterator;
pub mod limits;
pub mod meta;
pub mod metrics;
pub mod reshard;
pub mod settings;
pub mod subscribe;
pub mod tags;
pub mod view;

use clock::Clock;
use error::{InvalidArgument, StreamNotFound};
use iterator::IteratorCodec;
use meta::{MetaDoc, MetaFile, StreamStatus};
use nagare_log::{LogConfig, LogStore};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use view::StreamView;

pub use nagare_log::FsyncPolicy;

/// How the engine behaves. Durations default to zero: streams become ACTIVE at once while the
/// CREATING/UPDATING/DELETING state machine still exists.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub region: String,
    pub account_id: String,
    pub create_delay: Duration,
    pub update_delay: Duration,
    pub delete_delay: Duration,
    pub shard_limit: u32,
    /// Enforce AWS's per-shard throughput and control-plane rate limits.
    pub throughput_limits: bool,
    /// SubscribeToShard streams end after this long (AWS: 5 minutes).
    pub subscription_lifetime: Duration,
    /// An idle subscription sends an empty event this often.
    pub subscription_heartbeat: Duration,
    pub log: LogConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            create_delay: Duration::ZERO,
            update_delay: Duration::ZERO,
            delete_delay: Duration::ZERO,
            shard_limit: nagare_types::caps::DEFAULT_SHARD_LIMIT,
            throughput_limits: true,
            subscription_lifetime: Duration::from_secs(300),
            subscription_heartbeat: Duration::from_secs(1),
            log: LogConfig::default(),
        }
    }
}

/// Why the engine could not open its data directory.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot open the log store: {0}")]
    Log(#[from] nagare_log::OpenError),
    #[error("cannot read or write metadata in {path}: {source}")]
    Meta {
        path: String,
        source: std::io::Error,
    },
    #[error("metadata names a log that cannot be opened: {0}")]
    MissingLog(String),
}

/// The stream registry. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    store: LogStore,
    meta_file: MetaFile,
    iterators: IteratorCodec,
    iterator_key_hex: String,
    /// Serializes control-plane changes and their persistence. A std-style (parking_lot)
    /// mutex: it is never held across an `.await`, only across the metadata fsync, which
    /// control-plane callers accept.
    control: Mutex<()>,
    /// Live streams by name. Readers clone the `Arc<Stream>` and drop the lock at once.
    streams: RwLock<BTreeMap<String, Arc<Stream>>>,
    control_rates: limits::ControlRates,
    subscriptions: subscribe::Subscriptions,
    /// Account-level settings (UpdateAccountSettings), persisted with the streams.
    billing_commitment: RwLock<Option<meta::BillingCommitment>>,
}

/// One stream: an atomically replaced snapshot plus its metric handles.
pub struct Stream {
    view: RwLock<Arc<StreamView>>,
    pub metrics: metrics::StreamMetrics,
}

impl Stream {
    fn new(view: StreamView) -> Self {
        let metrics = metrics::StreamMetrics::new(&view.meta.name);
        Stream {
            view: RwLock::new(Arc::new(view)),
            metrics,
        }
    }

    /// The current snapshot. The hot path holds it without any lock.
    pub fn view(&self) -> Arc<StreamView> {
        self.view.read().clone()
    }

    fn replace(&self, view: StreamView) {
        *self.view.write() = Arc::new(view);
    }
}

/// The name of the log that holds one shard. The stream tag keeps a re-created stream of the
/// same name from ever seeing its predecessor's data.
pub fn log_name(stream: &str, tag: u32, shard: u32) -> String {
    format!("{stream}.{tag:07x}.{shard}")
}

impl Engine {
    /// Opens (or initializes) the data directory and recovers every stream.
    pub fn open(
        dir: &Path,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine, OpenError> {
        let meta_err = |source| OpenError::Meta {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(meta_err)?;
        let store = LogStore::open(&dir.join("logs"), config.log.clone())?;
        let meta_file = MetaFile::new(dir);
        let doc = match meta_file.load().map_err(meta_err)? {
            Some(doc) => doc,
            None => {
                let key: [u8; 32] = rand::random();
                let doc = MetaDoc {
                    version: meta::META_VERSION,
                    iterator_key: key.iter().map(|b| format!("{b:02x}")).collect(),
                    streams: BTreeMap::new(),
                    billing_commitment: None,
                };
                meta_file.save(&doc).map_err(meta_err)?;
                doc
            }
        };
        let key = parse_key(&doc.iterator_key).ok_or_else(|| {
            meta_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad iterator key",
            ))
        })?;
        let iterators = IteratorCodec::new(key).ok_or_else(|| {
            meta_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad iterator key",
            ))
        })?;
        let mut streams = BTreeMap::new();
        let mut live_logs = std::collections::HashSet::new();
        let mut changed = false;
        for (name, mut m) in doc.streams.clone() {
            if m.status == StreamStatus::Deleting {
                // The deletion was acknowledged before the crash: finish it.
                changed = true;
                continue;
            }
            if m.status != StreamStatus::Active {
                m.status = StreamStatus::Active;
                changed = true;
            }
            let mut cores = std::collections::HashMap::with_capacity(m.shards.len());
            for s in &m.shards {
                let ln = log_name(&m.name, m.tag, s.index);
                let log = match store.log(&ln) {
                    Some(l) => l,
                    None => return Err(OpenError::MissingLog(ln)),
                };
                live_logs.insert(ln);
                cores.insert(
                    s.index,
                    view::ShardCore::new(log, &m.name, nagare_types::ShardId(s.index)),
                );
            }
            streams.insert(name, Arc::new(Stream::new(StreamView::new(m, &cores))));
        }
        // Logs no stream owns: a deletion or creation interrupted by a crash.
        for orphan in store
            .log_names()
            .into_iter()
            .filter(|n| !live_logs.contains(n))
        {
            tracing::info!(log = %orphan, "removing log that no stream owns");
            if let Err(e) = store.delete_log(&orphan) {
                tracing::warn!(log = %orphan, error = %e, "could not remove orphan log");
            }
        }
        let engine = Engine {
            inner: Arc::new(Inner {
                config,
                clock,
                store,
                meta_file,
                iterators,
                iterator_key_hex: doc.iterator_key,
                control: Mutex::new(()),
                streams: RwLock::new(streams),
                control_rates: limits::ControlRates::default(),
                subscriptions: subscribe::Subscriptions::default(),
                billing_commitment: RwLock::new(doc.billing_commitment.clone()),
            }),
        };
        if changed {
            engine
                .persist()
                .map_err(|e| meta_err(std::io::Error::other(e.0)))?;
        }
        Ok(engine)
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn account(&self) -> &str {
        &self.inner.config.account_id
    }

    pub fn stream_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.inner.config.region, self.inner.config.account_id
        )
    }

    pub fn log_store(&self) -> &LogStore {
        &self.inner.store
    }

    /// Flushes every log (graceful shutdown).
    pub fn sync_all(&self) -> Result<(), nagare_log::LogError> {
        self.inner.store.sync_all()
    }

    /// Writes the metadata document from the current snapshots. Callers hold `control`.
    fn persist(&self) -> Result<(), error::StorageFailure> {
        let streams = self.inner.streams.read();
        let doc = MetaDoc {
            version: meta::META_VERSION,
            iterator_key: self.inner.iterator_key_hex.clone(),
            streams: streams
                .iter()
                .map(|(n, s)| (n.clone(), s.view().meta.clone()))
                .collect(),
            billing_commitment: self.inner.billing_commitment.read().clone(),
        };
        drop(streams);
        self.inner
            .meta_file
            .save(&doc)
            .map_err(|e| error::StorageFailure(format!("could not persist metadata: {e}")))
    }

    /// Resolves the stream a request names by `StreamName` and/or `StreamARN`.
    pub fn resolve_name<'a>(
        &self,
        name: Option<&'a str>,
        arn: Option<&'a str>,
    ) -> Result<&'a str, SelectorError> {
        let from_arn = match arn {
            Some(arn) => Some(self.name_from_arn(arn)?),
            None => None,
        };
        match (name, from_arn) {
            (Some(n), Some(a)) if n != a => Err(SelectorError::Invalid(InvalidArgument(format!(
                "StreamARN {} does not match StreamName {n}.",
                arn.unwrap_or_default()
            )))),
            (Some(n), _) => Ok(n),
            (None, Some(a)) => Ok(a),
            (None, None) => Err(SelectorError::Invalid(InvalidArgument(
                "Either StreamName or StreamARN must be provided.".into(),
            ))),
        }
    }

    /// The stream name inside a stream ARN of this account and region.
    fn name_from_arn<'a>(&self, arn: &'a str) -> Result<&'a str, SelectorError> {
        let mut parts = arn.splitn(6, ':');
        let (_, _, _, region, account, resource) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        );
        let name = resource
            .and_then(|r| r.strip_prefix("stream/"))
            .unwrap_or_default();
        if region != Some(self.inner.config.region.as_str())
            || account != Some(self.account())
            || name.contains('/')
        {
            let shown = if name.is_empty() { arn } else { name };
            return Err(SelectorError::NotFound(StreamNotFound {
                stream: shown.to_owned(),
                account: account.unwrap_or_default().to_owned(),
            }));
        }
        Ok(name)
    }

    /// The live stream by name.
    pub fn stream(&self, name: &str) -> Result<Arc<Stream>, StreamNotFound> {
        self.inner
            .streams
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| self.not_found(name))
    }

    fn not_found(&self, name: &str) -> StreamNotFound {
        StreamNotFound {
            stream: name.to_owned(),
            account: self.account().to_owned(),
        }
    }

    /// Admits one control-plane call of `op` under its AWS rate (`per_sec`), per account when
    /// `scope` is empty, per stream otherwise. Always true when limits are off.
    pub fn admit_control(&self, op: &'static str, scope: &str, per_sec: f64) -> bool {
        !self.inner.config.throughput_limits
            || self
                .inner
                .control_rates
                .admit(self.now_ms(), op, scope, per_sec)
    }

    /// Resolves a selector to a live stream.
    pub fn lookup(
        &self,
        name: Option<&str>,
        arn: Option<&str>,
    ) -> Result<Arc<Stream>, SelectorError> {
        let name = self.resolve_name(name, arn)?;
        Ok(self.stream(name)?)
    }
}

/// A stream selector that names no stream, or a stream that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectorError {
    Invalid(InvalidArgument),
    NotFound(StreamNotFound),
}

impl From<StreamNotFound> for SelectorError {
    fn from(e: StreamNotFound) -> Self {
        SelectorError::NotFound(e)
    }
}

macro_rules! selector_into {
    ($($t:ty),*) => {$(
        impl From<SelectorError> for $t {
            fn from(e: SelectorError) -> Self {
                match e {
                    SelectorError::Invalid(e) => e.into(),
                    SelectorError::NotFound(e) => e.into(),
                }
            }
        }
    )*};
}
selector_into!(
    error::DeleteStreamError,
    error::DescribeStreamError,
    error::ListShardsError,
    error::PutRecordsError,
    error::RetentionError,
    error::TagError,
    error::ListTagsError,
    error::ReshardError,
    error::SettingsError,
    error::ConsumerError
);

fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let mut key = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(key)
}

/// Used by `control` when a stream is created: an unused tag for sequence numbers.
fn new_stream_tag() -> u32 {
    rand::random::<u32>() & 0x0fff_ffff
}
