//! Worker settings. Defaults are KCL 2.x's (spec §6.2); tests shrink the intervals.

use std::time::{Duration, SystemTime};

/// Lease timing and balancing (KCL's `LeaseManagementConfig`).
///
/// ```
/// use nagare_consumer::LeaseConfig;
/// use std::time::Duration;
///
/// let kcl = LeaseConfig::default();
/// assert_eq!(kcl.renew_interval(), Duration::from_millis(3_308));
/// assert_eq!(kcl.take_interval(), Duration::from_millis(20_050));
///
/// let fast = LeaseConfig { failover_time: Duration::from_millis(600), ..LeaseConfig::default() };
/// assert_eq!(fast.renew_interval(), Duration::from_millis(175));
/// ```
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// `failoverTimeMillis`: a lease whose counter has not moved for this long is expired and
    /// may be taken by another worker. Default 10 s.
    pub failover_time: Duration,
    /// `epsilonMillis`: slack subtracted from the renew interval and added to the take
    /// interval. Default 25 ms.
    pub epsilon: Duration,
    /// Overrides the take interval (default `(failover_time + epsilon) * 2`).
    pub take_interval: Option<Duration>,
    /// `maxLeasesForWorker`: cap on the target number of leases. Default unlimited.
    pub max_leases_for_worker: usize,
    /// `maxLeasesToStealAtOneTime`. Default 1.
    pub max_leases_to_steal_at_one_time: usize,
    /// `shardSyncIntervalMillis`: how often ListShards is compared with the lease table.
    /// Default 60 s.
    pub shard_sync_interval: Duration,
    /// `parentShardPollIntervalMillis`: how often a child shard checks whether its parents
    /// are done. Default 10 s.
    pub parent_shard_poll_interval: Duration,
    /// `cleanupLeasesUponShardCompletion`: delete a `SHARD_END` lease once all its children
    /// have leases that have started processing. Default true.
    pub cleanup_leases_upon_shard_completion: bool,
}

impl Default for LeaseConfig {
    fn default() -> Self {
        LeaseConfig {
            failover_time: Duration::from_millis(10_000),
            epsilon: Duration::from_millis(25),
            take_interval: None,
            max_leases_for_worker: usize::MAX,
            max_leases_to_steal_at_one_time: 1,
            shard_sync_interval: Duration::from_secs(60),
            parent_shard_poll_interval: Duration::from_secs(10),
            cleanup_leases_upon_shard_completion: true,
        }
    }
}

impl LeaseConfig {
    /// How often held leases are renewed: `failover_time / 3 - epsilon`.
    pub fn renew_interval(&self) -> Duration {
        // Whole milliseconds, as KCL computes it (`failoverTimeMillis / 3 - epsilonMillis`).
        let third = u64::try_from(self.failover_time.as_millis() / 3).unwrap_or(u64::MAX);
        Duration::from_millis(third)
            .saturating_sub(self.epsilon)
            .max(Duration::from_millis(1))
    }

    /// How often the taker scans the table: `(failover_time + epsilon) * 2` unless overridden.
    pub fn take_interval(&self) -> Duration {
        self.take_interval
            .unwrap_or((self.failover_time + self.epsilon) * 2)
    }
}

/// Where a shard with no checkpoint starts (KCL's `InitialPositionInStream`).
///
/// ```
/// use nagare_consumer::{ExtendedSequenceNumber, InitialPosition};
/// assert_eq!(InitialPosition::TrimHorizon.checkpoint(), ExtendedSequenceNumber::TrimHorizon);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialPosition {
    /// The oldest record still in each shard (and every shard still in retention).
    TrimHorizon,
    /// Only records written after the worker first reads (open shards only).
    Latest,
    /// Records arriving at or after the time.
    AtTimestamp(SystemTime),
}

impl InitialPosition {
    /// The checkpoint sentinel a new lease gets.
    pub fn checkpoint(&self) -> crate::ExtendedSequenceNumber {
        match self {
            InitialPosition::TrimHorizon => crate::ExtendedSequenceNumber::TrimHorizon,
            InitialPosition::Latest => crate::ExtendedSequenceNumber::Latest,
            InitialPosition::AtTimestamp(_) => crate::ExtendedSequenceNumber::AtTimestamp,
        }
    }
}

/// GetRecords polling (KCL's `PollingConfig`).
///
/// ```
/// use nagare_consumer::PollingConfig;
/// assert_eq!(PollingConfig::default().max_records, 10_000);
/// ```
#[derive(Clone, Debug)]
pub struct PollingConfig {
    /// `maxRecords`: GetRecords `Limit` (1..=10000). Default 10,000.
    pub max_records: i32,
    /// `idleTimeBetweenReadsInMillis`: the pause after a GetRecords call that returned no
    /// records. Default 1.5 s.
    pub idle_time_between_reads: Duration,
    /// The least time between two GetRecords calls on one shard even when records keep
    /// coming. Default 200 ms, which keeps a worker within the 5 calls/s per shard limit.
    pub min_time_between_calls: Duration,
}

impl Default for PollingConfig {
    fn default() -> Self {
        PollingConfig {
            max_records: 10_000,
            idle_time_between_reads: Duration::from_millis(1_500),
            min_time_between_calls: Duration::from_millis(200),
        }
    }
}

/// Enhanced fan-out: one SubscribeToShard stream per leased shard.
///
/// ```
/// use nagare_consumer::FanOutConfig;
/// let cfg = FanOutConfig::new("my-app");
/// assert_eq!(cfg.consumer_name, "my-app");
/// ```
#[derive(Clone, Debug)]
pub struct FanOutConfig {
    /// The stream consumer to register (if missing) and subscribe as. KCL uses the
    /// application name.
    pub consumer_name: String,
    /// Pause before resubscribing after an error (a `ResourceInUseException` within the
    /// 5-second window, a dropped connection). Default 1 s.
    pub retry_backoff: Duration,
    /// How often `DescribeStreamConsumer` is polled while the consumer is `CREATING`.
    /// Default 500 ms.
    pub describe_interval: Duration,
}

impl FanOutConfig {
    /// Fan-out as consumer `consumer_name`, with default timings.
    pub fn new(consumer_name: impl Into<String>) -> Self {
        FanOutConfig {
            consumer_name: consumer_name.into(),
            retry_backoff: Duration::from_secs(1),
            describe_interval: Duration::from_millis(500),
        }
    }
}

/// How records are read.
///
/// ```
/// use nagare_consumer::{FanOutConfig, PollingConfig, Retrieval};
/// let polling = Retrieval::Polling(PollingConfig::default());
/// let fan_out = Retrieval::FanOut(FanOutConfig::new("my-app"));
/// assert!(matches!(polling, Retrieval::Polling(_)) && matches!(fan_out, Retrieval::FanOut(_)));
/// ```
#[derive(Clone, Debug)]
pub enum Retrieval {
    /// GetShardIterator + GetRecords.
    Polling(PollingConfig),
    /// RegisterStreamConsumer + SubscribeToShard.
    FanOut(FanOutConfig),
}

impl Default for Retrieval {
    fn default() -> Self {
        Retrieval::Polling(PollingConfig::default())
    }
}
