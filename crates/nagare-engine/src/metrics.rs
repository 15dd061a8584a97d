//! Service metrics with Amazon CloudWatch's `AWS/Kinesis` names (spec §6.4), emitted through
//! the `metrics` facade. Handles are registered once per stream and per shard, so the data path
//! only does atomic adds. Stream-level metrics carry the label `StreamName`; shard-level ones
//! add `ShardId` and are recorded only for the metrics the stream enabled with
//! EnableEnhancedMonitoring.

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use nagare_types::ShardId;

/// Stream-level metrics (always on).
pub struct StreamMetrics {
    pub incoming_bytes: Counter,
    pub incoming_records: Counter,
    pub put_record_bytes: Counter,
    pub put_record_success: Counter,
    pub put_record_latency: Histogram,
    pub put_records_bytes: Counter,
    pub put_records_success: Counter,
    pub put_records_total_records: Counter,
    pub put_records_successful_records: Counter,
    pub put_records_failed_records: Counter,
    pub put_records_throttled_records: Counter,
    pub put_records_latency: Histogram,
    pub get_records_bytes: Counter,
    pub get_records_records: Counter,
    pub get_records_success: Counter,
    pub get_records_latency: Histogram,
    pub get_records_iterator_age: Gauge,
    pub read_throttled: Counter,
    pub write_throttled: Counter,
}

impl StreamMetrics {
    pub fn new(stream: &str) -> Self {
        let s = || stream.to_owned();
        StreamMetrics {
            incoming_bytes: counter!("IncomingBytes", "StreamName" => s()),
            incoming_records: counter!("IncomingRecords", "StreamName" => s()),
            put_record_bytes: counter!("PutRecord.Bytes", "StreamName" => s()),
            put_record_success: counter!("PutRecord.Success", "StreamName" => s()),
            put_record_latency: histogram!("PutRecord.Latency", "StreamName" => s()),
            put_records_bytes: counter!("PutRecords.Bytes", "StreamName" => s()),
            put_records_success: counter!("PutRecords.Success", "StreamName" => s()),
            put_records_total_records: counter!("PutRecords.TotalRecords", "StreamName" => s()),
            put_records_successful_records: counter!("PutRecords.SuccessfulRecords", "StreamName" => s()),
            put_records_failed_records: counter!("PutRecords.FailedRecords", "StreamName" => s()),
            put_records_throttled_records: counter!("PutRecords.ThrottledRecords", "StreamName" => s()),
            put_records_latency: histogram!("PutRecords.Latency", "StreamName" => s()),
            get_records_bytes: counter!("GetRecords.Bytes", "StreamName" => s()),
            get_records_records: counter!("GetRecords.Records", "StreamName" => s()),
            get_records_success: counter!("GetRecords.Success", "StreamName" => s()),
            get_records_latency: histogram!("GetRecords.Latency", "StreamName" => s()),
            get_records_iterator_age: gauge!("GetRecords.IteratorAgeMilliseconds", "StreamName" => s()),
            read_throttled: counter!("ReadProvisionedThroughputExceeded", "StreamName" => s()),
            write_throttled: counter!("WriteProvisionedThroughputExceeded", "StreamName" => s()),
        }
    }
}

/// The shard-level metric names of EnableEnhancedMonitoring, in AWS's enum order.
pub const SHARD_LEVEL_METRICS: [&str; 7] = [
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds",
];

/// Bit of each shard-level metric in [`Enhanced`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Enhanced(u8);

impl Enhanced {
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a String>) -> Self {
        let mut bits = 0u8;
        for n in names {
            if let Some(i) = SHARD_LEVEL_METRICS.iter().position(|m| m == n) {
                bits |= 1 << i;
            }
        }
        Enhanced(bits)
    }

    fn has(self, name: &str) -> bool {
        SHARD_LEVEL_METRICS
            .iter()
            .position(|m| *m == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn any(self) -> bool {
        self.0 != 0
    }
}

/// Shard-level metrics (recorded only when enabled).
pub struct ShardMetrics {
    incoming_bytes: Counter,
    incoming_records: Counter,
    outgoing_bytes: Counter,
    outgoing_records: Counter,
    iterator_age: Gauge,
    read_throttled: Counter,
    write_throttled: Counter,
}

impl ShardMetrics {
    pub fn new(stream: &str, shard: ShardId) -> Self {
        let l = || {
            [
                ("StreamName", stream.to_owned()),
                ("ShardId", shard.to_string()),
            ]
        };
        ShardMetrics {
            incoming_bytes: counter!("IncomingBytes", &l()),
            incoming_records: counter!("IncomingRecords", &l()),
            outgoing_bytes: counter!("OutgoingBytes", &l()),
            outgoing_records: counter!("OutgoingRecords", &l()),
            iterator_age: gauge!("IteratorAgeMilliseconds", &l()),
            read_throttled: counter!("ReadProvisionedThroughputExceeded", &l()),
            write_throttled: counter!("WriteProvisionedThroughputExceeded", &l()),
        }
    }

    pub fn incoming(&self, on: Enhanced, records: u64, bytes: u64) {
        if on.has("IncomingRecords") {
            self.incoming_records.increment(records);
        }
        if on.has("IncomingBytes") {
            self.incoming_bytes.increment(bytes);
        }
    }

    pub fn outgoing(&self, on: Enhanced, records: u64, bytes: u64, iterator_age_ms: i64) {
        if on.has("OutgoingRecords") {
            self.outgoing_records.increment(records);
        }
        if on.has("OutgoingBytes") {
            self.outgoing_bytes.increment(bytes);
        }
        if on.has("IteratorAgeMilliseconds") {
            self.iterator_age.set(iterator_age_ms as f64);
        }
    }

    pub fn write_throttled(&self, on: Enhanced, records: u64) {
        if on.has("WriteProvisionedThroughputExceeded") {
            self.write_throttled.increment(records);
        }
    }

    pub fn read_throttled(&self, on: Enhanced) {
        if on.has("ReadProvisionedThroughputExceeded") {
            self.read_throttled.increment(1);
        }
    }
}
