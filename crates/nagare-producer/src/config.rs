//! [`ProducerConfig`]: the KPL's settings (spec §5) with the KPL's defaults, built and
//! validated by [`ProducerConfigBuilder`].

use std::time::Duration;

/// Largest PutRecords request the service takes, in entries.
pub const MAX_COLLECTION_COUNT: usize = nagare_types::caps::MAX_PUT_RECORDS_ENTRIES;
/// Largest Kinesis record (data plus partition key) the producer builds or sends.
pub const MAX_RECORD_BYTES: usize = nagare_types::caps::DEFAULT_MAX_RECORD_BYTES;

/// How the producer batches, aggregates, retries and limits. Build one with
/// [`ProducerConfig::builder`]; [`ProducerConfig::default`] is the KPL's defaults.
///
/// ```
/// use nagare_producer::ProducerConfig;
/// use std::time::Duration;
///
/// let config = ProducerConfig::builder()
///     .aggregation_enabled(false)
///     .record_max_buffered_time(Duration::from_millis(20))
///     .build()
///     .unwrap();
/// assert!(!config.aggregation_enabled());
/// assert_eq!(ProducerConfig::default().aggregation_max_size(), 51_200);
/// assert!(ProducerConfig::builder().collection_max_count(501).build().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    pub(crate) aggregation_enabled: bool,
    pub(crate) aggregation_max_count: usize,
    pub(crate) aggregation_max_size: usize,
    pub(crate) collection_max_count: usize,
    pub(crate) collection_max_size: usize,
    pub(crate) record_max_buffered_time: Duration,
    pub(crate) record_ttl: Duration,
    pub(crate) rate_limit: Option<u64>,
    pub(crate) fail_if_throttled: bool,
    pub(crate) max_connections: usize,
    pub(crate) max_buffered_bytes: usize,
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            aggregation_enabled: true,
            aggregation_max_count: u32::MAX as usize,
            aggregation_max_size: 51_200,
            collection_max_count: 500,
            collection_max_size: 5 * 1024 * 1024,
            record_max_buffered_time: Duration::from_millis(100),
            record_ttl: Duration::from_millis(30_000),
            rate_limit: Some(150),
            fail_if_throttled: false,
            max_connections: 24,
            max_buffered_bytes: 128 * 1024 * 1024,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(2_000),
        }
    }
}

impl ProducerConfig {
    /// A builder starting from the KPL defaults.
    pub fn builder() -> ProducerConfigBuilder {
        ProducerConfigBuilder {
            config: ProducerConfig::default(),
        }
    }

    /// KPL `AggregationEnabled` (default true).
    pub fn aggregation_enabled(&self) -> bool {
        self.aggregation_enabled
    }
    /// KPL `AggregationMaxCount` (default 4294967295).
    pub fn aggregation_max_count(&self) -> usize {
        self.aggregation_max_count
    }
    /// KPL `AggregationMaxSize` in bytes (default 51200).
    pub fn aggregation_max_size(&self) -> usize {
        self.aggregation_max_size
    }
    /// KPL `CollectionMaxCount`: Kinesis records per PutRecords (default 500).
    pub fn collection_max_count(&self) -> usize {
        self.collection_max_count
    }
    /// KPL `CollectionMaxSize`: bytes (data and partition keys) per PutRecords (default 5 MiB).
    pub fn collection_max_size(&self) -> usize {
        self.collection_max_size
    }
    /// KPL `RecordMaxBufferedTime` (default 100 ms).
    pub fn record_max_buffered_time(&self) -> Duration {
        self.record_max_buffered_time
    }
    /// KPL `RecordTtl` (default 30 s).
    pub fn record_ttl(&self) -> Duration {
        self.record_ttl
    }
    /// KPL `RateLimit` in percent of the shard limit; `None` when off (default 150).
    pub fn rate_limit(&self) -> Option<u64> {
        self.rate_limit
    }
    /// Whether records' shards are predicted: for aggregation (one aggregate per shard) and
    /// for the per-shard rate limit. With neither, a prediction would change nothing, so the
    /// MD5 of each partition key and the ListShards calls are skipped.
    pub(crate) fn predicts_shards(&self) -> bool {
        self.aggregation_enabled || self.rate_limit.is_some()
    }
    /// KPL `FailIfThrottled` (default false).
    pub fn fail_if_throttled(&self) -> bool {
        self.fail_if_throttled
    }
    /// KPL `MaxConnections`: concurrent PutRecords requests (default 24).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }
    /// Memory bound (default 128 MiB); see [`ProducerConfigBuilder::max_buffered_bytes`].
    pub fn max_buffered_bytes(&self) -> usize {
        self.max_buffered_bytes
    }
}

/// A setting out of its allowed range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid producer setting {setting}: {reason}")]
pub struct ConfigError {
    /// The KPL name of the setting.
    pub setting: &'static str,
    /// What is allowed.
    pub reason: String,
}

/// Builds a [`ProducerConfig`]; setters take the KPL names in snake case.
#[derive(Clone, Debug)]
pub struct ProducerConfigBuilder {
    config: ProducerConfig,
}

impl ProducerConfigBuilder {
    /// KPL `AggregationEnabled`: pack many user records into one Kinesis record.
    pub fn aggregation_enabled(mut self, on: bool) -> Self {
        self.config.aggregation_enabled = on;
        self
    }
    /// KPL `AggregationMaxCount`: user records per aggregated record (≥ 1).
    pub fn aggregation_max_count(mut self, n: usize) -> Self {
        self.config.aggregation_max_count = n;
        self
    }
    /// KPL `AggregationMaxSize`: bytes of an aggregated record (64 ..= 1 MiB).
    pub fn aggregation_max_size(mut self, bytes: usize) -> Self {
        self.config.aggregation_max_size = bytes;
        self
    }
    /// KPL `CollectionMaxCount`: Kinesis records per PutRecords (1 ..= 500).
    pub fn collection_max_count(mut self, n: usize) -> Self {
        self.config.collection_max_count = n;
        self
    }
    /// KPL `CollectionMaxSize`: bytes per PutRecords (≥ 1; a larger record goes alone).
    pub fn collection_max_size(mut self, bytes: usize) -> Self {
        self.config.collection_max_size = bytes;
        self
    }
    /// KPL `RecordMaxBufferedTime`: how long a record may wait for others before it is sent.
    pub fn record_max_buffered_time(mut self, d: Duration) -> Self {
        self.config.record_max_buffered_time = d;
        self
    }
    /// KPL `RecordTtl`: a record not acknowledged this long after `put` fails as expired.
    pub fn record_ttl(mut self, d: Duration) -> Self {
        self.config.record_ttl = d;
        self
    }
    /// KPL `RateLimit`: per-shard send rate in percent of the shard limit (1,000 records/s
    /// and 1 MiB/s); `None` sends as fast as the service answers.
    pub fn rate_limit(mut self, percent: Option<u64>) -> Self {
        self.config.rate_limit = percent;
        self
    }
    /// KPL `FailIfThrottled`: fail a throttled record at once instead of retrying it.
    pub fn fail_if_throttled(mut self, on: bool) -> Self {
        self.config.fail_if_throttled = on;
        self
    }
    /// KPL `MaxConnections`: concurrent PutRecords requests (≥ 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.max_connections = n;
        self
    }
    /// Bound on buffered user records, counted as data + partition key + 64 bytes of
    /// bookkeeping each, from `put` until acknowledged or failed. A `put` that does not fit
    /// waits (backpressure). At least 1 MiB + 320 so the largest record fits.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.config.max_buffered_bytes = bytes;
        self
    }
    /// Backoff before retrying a failed record: doubles from `min` to `max` with jitter (each
    /// delay is drawn from [d/2, d]).
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.min_backoff = min;
        self.config.max_backoff = max;
        self
    }

    /// Check the settings.
    pub fn build(self) -> Result<ProducerConfig, ConfigError> {
        let c = self.config;
        let err = |setting, reason: &str| {
            Err(ConfigError {
                setting,
                reason: reason.to_owned(),
            })
        };
        if c.aggregation_max_count == 0 {
            return err("AggregationMaxCount", "must be at least 1");
        }
        if !(64..=MAX_RECORD_BYTES).contains(&c.aggregation_max_size) {
            return err("AggregationMaxSize", "must be in 64..=1048576");
        }
        if !(1..=MAX_COLLECTION_COUNT).contains(&c.collection_max_count) {
            return err("CollectionMaxCount", "must be in 1..=500");
        }
        if c.collection_max_size == 0 {
            return err("CollectionMaxSize", "must be at least 1");
        }
        if c.record_ttl.is_zero() {
            return err("RecordTtl", "must be positive");
        }
        if c.rate_limit == Some(0) {
            return err("RateLimit", "must be positive (None turns it off)");
        }
        if c.max_connections == 0 {
            return err("MaxConnections", "must be at least 1");
        }
        if c.max_buffered_bytes < crate::producer::record_cost(MAX_RECORD_BYTES, 256) {
            return err("max_buffered_bytes", "must hold the largest record");
        }
        if c.min_backoff > c.max_backoff {
            return err("retry_backoff", "min must not exceed max");
        }
        Ok(c)
    }
}
