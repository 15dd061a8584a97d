//! Pipeline tests against a scripted in-memory backend, with Tokio's clock paused so linger,
//! backoff, TTL and rate limits run in virtual time.

use crate::backend::{Backend, BoxFuture, Entry, EntryResult, RequestError, THROTTLED};
use crate::error::{ErrorInfo, PutError};
use crate::shard_map::{ShardMap, ShardRange};
use crate::{Producer, ProducerConfig, PutOutcome};
use nagare_types::{HashKey, HashKeyRange, hash_partition_key};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

type Responder =
    Box<dyn FnMut(usize, &[Entry]) -> Option<Result<Vec<EntryResult>, RequestError>> + Send>;

/// A fake Kinesis: routes entries by the "true" shard map, numbers them, and lets a test
/// script failures per request (`responder` returns `None` to route normally).
struct Fake {
    /// What ListShards answers, call by call (the last one repeats).
    listings: Mutex<Vec<Vec<ShardRange>>>,
    list_calls: AtomicUsize,
    /// Where records really land.
    truth: Mutex<ShardMap>,
    requests: Mutex<Vec<(Instant, Vec<Entry>)>>,
    responder: Mutex<Option<Responder>>,
    seq: AtomicU64,
    latency: Duration,
}

fn shards(ids: &[u32], ranges: Vec<HashKeyRange>) -> Vec<ShardRange> {
    ids.iter()
        .zip(ranges)
        .map(|(id, range)| ShardRange {
            shard_id: format!("shardId-{id:012}").into(),
            range,
        })
        .collect()
}

fn uniform(n: u32) -> Vec<ShardRange> {
    shards(&(0..n).collect::<Vec<_>>(), HashKeyRange::uniform(n))
}

impl Fake {
    fn new(n_shards: u32) -> Arc<Self> {
        Self::with_listings(vec![uniform(n_shards)], uniform(n_shards))
    }

    fn with_listings(listings: Vec<Vec<ShardRange>>, truth: Vec<ShardRange>) -> Arc<Self> {
        Arc::new(Fake {
            listings: Mutex::new(listings),
            list_calls: AtomicUsize::new(0),
            truth: Mutex::new(ShardMap::new(truth)),
            requests: Mutex::new(Vec::new()),
            responder: Mutex::new(None),
            seq: AtomicU64::new(1),
            latency: Duration::from_millis(5),
        })
    }

    fn respond(
        &self,
        f: impl FnMut(usize, &[Entry]) -> Option<Result<Vec<EntryResult>, RequestError>>
        + Send
        + 'static,
    ) {
        *self.responder.lock().unwrap() = Some(Box::new(f));
    }

    fn requests(&self) -> Vec<(Instant, Vec<Entry>)> {
        self.requests.lock().unwrap().clone()
    }

    fn route(&self, entries: &[Entry]) -> Vec<EntryResult> {
        let truth = self.truth.lock().unwrap();
        entries
            .iter()
            .map(|e| {
                let key = match &e.explicit_hash_key {
                    Some(k) => k.parse::<HashKey>().unwrap(),
                    None => hash_partition_key(&e.partition_key),
                };
                let i = truth.predict(key).unwrap();
                EntryResult::Ok {
                    shard_id: Arc::clone(&truth.shards()[i].shard_id),
                    sequence_number: self.seq.fetch_add(1, Ordering::Relaxed).to_string().into(),
                }
            })
            .collect()
    }
}

impl Backend for Arc<Fake> {
    fn put_records(
        &self,
        _stream: Arc<str>,
        entries: Vec<Entry>,
    ) -> BoxFuture<Result<Vec<EntryResult>, RequestError>> {
        let fake = Arc::clone(self);
        Box::pin(async move {
            let n = {
                let mut reqs = fake.requests.lock().unwrap();
                reqs.push((Instant::now(), entries.clone()));
                reqs.len() - 1
            };
            tokio::time::sleep(fake.latency).await;
            let scripted = fake
                .responder
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|f| f(n, &entries));
            scripted.unwrap_or_else(|| Ok(fake.route(&entries)))
        })
    }

    fn list_shards(&self, _stream: Arc<str>) -> BoxFuture<Result<Vec<ShardRange>, RequestError>> {
        let fake = Arc::clone(self);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let call = fake.list_calls.fetch_add(1, Ordering::Relaxed);
            let listings = fake.listings.lock().unwrap();
            Ok(listings[call.min(listings.len() - 1)].clone())
        })
    }
}

fn producer(fake: &Arc<Fake>, config: ProducerConfig) -> Producer {
    Producer::with_backend(Arc::new(Arc::clone(fake)), config)
}

fn config() -> crate::ProducerConfigBuilder {
    ProducerConfig::builder()
}

fn failure(code: &str) -> EntryResult {
    EntryResult::Failed(ErrorInfo {
        code: code.to_owned(),
        message: format!("{code} (scripted)"),
    })
}

async fn all(futs: Vec<crate::PutFuture>) -> Vec<Result<PutOutcome, PutError>> {
    futures::future::join_all(futs).await
}

#[tokio::test(start_paused = true)]
async fn lingers_for_record_max_buffered_time_before_sending() {
    let fake = Fake::new(1);
    let p = producer(&fake, ProducerConfig::default());
    let ack = p.put("s", "k", b"v".to_vec(), None);
    tokio::time::sleep(Duration::from_millis(99)).await;
    assert!(fake.requests().is_empty(), "sent before the linger time");
    let outcome = ack.await.unwrap();
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].0 - Instant::now() <= Duration::ZERO);
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.sub_sequence, 0);
    assert_eq!(&*outcome.shard_id, "shardId-000000000000");
}

#[tokio::test(start_paused = true)]
async fn sends_a_full_collection_without_waiting() {
    let fake = Fake::new(1);
    let p = producer(&fake, config().aggregation_enabled(false).build().unwrap());
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(10)).await; // shard map loaded
    let acks: Vec<_> = (0..501)
        .map(|i| p.put("s", i.to_string(), vec![1u8; 10], None))
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "the 500 went at once, the 501st lingers");
    assert_eq!(reqs[0].1.len(), 500);
    assert!(reqs[0].0 - start < Duration::from_millis(20));
    assert!(all(acks).await.iter().all(Result::is_ok));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn aggregates_one_shards_records_under_kpl_outer_keys() {
    let fake = Fake::new(1);
    let p = producer(&fake, ProducerConfig::default());
    let acks: Vec<_> = (0..10)
        .map(|i| p.put("s", format!("pk{i}"), format!("d{i}").into_bytes(), None))
        .collect();
    let outcomes: Vec<_> = all(acks).await.into_iter().map(Result::unwrap).collect();
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let entry = &reqs[0].1[0];
    assert_eq!(reqs[0].1.len(), 1);
    assert_eq!(entry.partition_key, "a");
    assert_eq!(
        entry.explicit_hash_key.as_deref(),
        Some(hash_partition_key("pk0").to_string().as_str())
    );
    let users = nagare_agg::deaggregate("a", &entry.data);
    assert_eq!(users.len(), 10);
    for (i, (u, o)) in users.iter().zip(&outcomes).enumerate() {
        assert_eq!(u.record.partition_key, format!("pk{i}"));
        assert_eq!(u.record.data, format!("d{i}").into_bytes());
        assert_eq!(o.sub_sequence, i as u64);
        assert_eq!(o.sequence_number, outcomes[0].sequence_number);
    }
}

#[tokio::test(start_paused = true)]
async fn sends_a_single_record_container_raw() {
    let fake = Fake::new(2);
    let p = producer(&fake, ProducerConfig::default());
    p.put("s", "only", b"raw".to_vec(), Some("7"))
        .await
        .unwrap();
    let entry = &fake.requests()[0].1[0];
    assert_eq!(entry.partition_key, "only");
    assert_eq!(entry.explicit_hash_key.as_deref(), Some("7"));
    assert_eq!(&entry.data[..], b"raw");
}

#[tokio::test(start_paused = true)]
async fn groups_aggregates_by_predicted_shard() {
    let fake = Fake::new(4);
    let p = producer(&fake, ProducerConfig::default());
    let acks: Vec<_> = (0..400)
        .map(|i| p.put("s", format!("key-{i}"), vec![0u8; 20], None))
        .collect();
    let outcomes: Vec<_> = all(acks).await.into_iter().map(Result::unwrap).collect();
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].1.len(), 4, "one aggregate per shard");
    let ranges = HashKeyRange::uniform(4);
    for (i, o) in outcomes.iter().enumerate() {
        let shard: usize = o.shard_id["shardId-".len()..].parse().unwrap();
        assert!(ranges[shard].contains(hash_partition_key(&format!("key-{i}"))));
    }
    for entry in &reqs[0].1 {
        let key: HashKey = entry.explicit_hash_key.as_ref().unwrap().parse().unwrap();
        let range = *ranges.iter().find(|r| r.contains(key)).unwrap();
        let users = nagare_agg::deaggregate_in_range("a", &entry.data, range);
        assert!(
            users.len() > 50,
            "KCL keeps every user record of a correctly grouped aggregate"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn splits_aggregates_at_aggregation_max_size() {
    let fake = Fake::new(1);
    let p = producer(&fake, config().aggregation_max_size(1000).build().unwrap());
    let acks: Vec<_> = (0..100)
        .map(|i| p.put("s", format!("k{i}"), vec![7u8; 100], None))
        .collect();
    assert!(all(acks).await.iter().all(Result::is_ok));
    let entries: Vec<Entry> = fake.requests().into_iter().flat_map(|r| r.1).collect();
    assert!(entries.len() >= 12, "{} aggregates", entries.len());
    assert!(entries.iter().all(|e| e.data.len() <= 1000));
    let total: usize = entries
        .iter()
        .map(|e| nagare_agg::deaggregate("a", &e.data).len())
        .sum();
    assert_eq!(total, 100);
}

#[tokio::test(start_paused = true)]
async fn retries_only_failed_entries_after_backoff() {
    let fake = Fake::new(1);
    let routed = Arc::clone(&fake);
    fake.respond(move |n, entries| {
        (n == 0).then(|| {
            let ok = routed.route(entries);
            Ok(ok
                .into_iter()
                .enumerate()
                .map(|(i, r)| if i % 2 == 0 { failure(THROTTLED) } else { r })
                .collect())
        })
    });
    let p = producer(
        &fake,
        config()
            .aggregation_enabled(false)
            .rate_limit(None)
            .build()
            .unwrap(),
    );
    let acks: Vec<_> = (0..10)
        .map(|i| p.put("s", format!("k{i}"), vec![i as u8], None))
        .collect();
    let outcomes: Vec<_> = all(acks).await.into_iter().map(Result::unwrap).collect();
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    let retried: Vec<&str> = reqs[1].1.iter().map(|e| e.partition_key.as_str()).collect();
    assert_eq!(retried, ["k0", "k2", "k4", "k6", "k8"]);
    let gap = reqs[1].0 - reqs[0].0;
    assert!(
        gap >= Duration::from_millis(50),
        "backoff of at least min/2, got {gap:?}"
    );
    for (i, o) in outcomes.iter().enumerate() {
        assert_eq!(o.attempts, if i % 2 == 0 { 2 } else { 1 });
    }
}

#[tokio::test(start_paused = true)]
async fn expires_records_after_record_ttl() {
    let fake = Fake::new(1);
    fake.respond(|_, entries| {
        Some(Ok(entries
            .iter()
            .map(|_| failure("InternalFailure"))
            .collect()))
    });
    let p = producer(
        &fake,
        config().record_ttl(Duration::from_secs(5)).build().unwrap(),
    );
    let start = Instant::now();
    let err = p.put("s", "k", b"v".to_vec(), None).await.unwrap_err();
    let took = start.elapsed();
    let PutError::Expired {
        attempts,
        last_error,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(attempts >= 3, "{attempts} attempts");
    assert_eq!(last_error.unwrap().code, "InternalFailure");
    assert!(
        took <= Duration::from_secs(5) && took >= Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn fail_if_throttled_fails_without_retrying() {
    let fake = Fake::new(1);
    fake.respond(|_, entries| Some(Ok(entries.iter().map(|_| failure(THROTTLED)).collect())));
    let p = producer(&fake, config().fail_if_throttled(true).build().unwrap());
    let err = p.put("s", "k", b"v".to_vec(), None).await.unwrap_err();
    assert!(
        matches!(err, PutError::Throttled { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_request_error_rejects_records() {
    let fake = Fake::new(1);
    fake.respond(|_, _| {
        Some(Err(RequestError {
            error: ErrorInfo {
                code: "ResourceNotFoundException".into(),
                message: "no such stream".into(),
            },
            retryable: false,
        }))
    });
    let p = producer(&fake, ProducerConfig::default());
    let err = p
        .put("missing", "k", b"v".to_vec(), None)
        .await
        .unwrap_err();
    let PutError::Rejected { error, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(error.code, "ResourceNotFoundException");
}

#[tokio::test(start_paused = true)]
async fn failed_request_is_resent_with_the_same_keys_and_explicit_hash_keys() {
    // Raw records hand their partition keys to the request; a retry must get them back.
    let fake = Fake::new(2);
    fake.respond(|n, _| {
        (n == 0).then(|| {
            Err(RequestError {
                error: ErrorInfo {
                    code: "InternalFailure".into(),
                    message: "try again".into(),
                },
                retryable: true,
            })
        })
    });
    let p = producer(
        &fake,
        config()
            .aggregation_enabled(false)
            .rate_limit(None)
            .build()
            .unwrap(),
    );
    let acks = vec![
        p.put("s", "alpha", b"1".to_vec(), None),
        p.put("s", "beta", b"2".to_vec(), Some("7")),
    ];
    for o in all(acks).await {
        assert_eq!(o.unwrap().attempts, 2);
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    for (_, entries) in &reqs {
        let mut sent: Vec<(&str, Option<&str>)> = entries
            .iter()
            .map(|e| (e.partition_key.as_str(), e.explicit_hash_key.as_deref()))
            .collect();
        sent.sort();
        assert_eq!(sent, [("alpha", None), ("beta", Some("7"))]);
    }
}

#[tokio::test(start_paused = true)]
async fn refreshes_shard_map_and_resends_aggregates_that_landed_elsewhere() {
    // The producer first sees one shard; the stream was really split into two.
    let split = shards(&[1, 2], HashKeyRange::uniform(2));
    let fake = Fake::with_listings(vec![uniform(1), split.clone()], split);
    let p = producer(&fake, ProducerConfig::default());
    let acks: Vec<_> = (0..50)
        .map(|i| p.put("s", format!("k{i}"), vec![1u8; 10], None))
        .collect();
    let outcomes: Vec<_> = all(acks).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        fake.list_calls.load(Ordering::Relaxed),
        2,
        "map refreshed once"
    );
    let ranges = HashKeyRange::uniform(2);
    for (i, o) in outcomes.iter().enumerate() {
        let idx = if &*o.shard_id == "shardId-000000000001" {
            0
        } else {
            1
        };
        assert!(
            ranges[idx].contains(hash_partition_key(&format!("k{i}"))),
            "record {i} on {}",
            o.shard_id
        );
        assert_eq!(o.attempts, 2);
    }
    let last = fake.requests().pop().unwrap();
    assert_eq!(
        last.1.len(),
        2,
        "re-grouped into one aggregate per new shard"
    );
}

#[tokio::test(start_paused = true)]
async fn backpressure_holds_puts_until_buffer_room_frees() {
    let fake = Fake::new(1);
    let min = crate::producer::record_cost(crate::config::MAX_RECORD_BYTES, 256);
    let p = producer(
        &fake,
        config()
            .max_buffered_bytes(min)
            .aggregation_enabled(false)
            .build()
            .unwrap(),
    );
    let big = vec![0u8; 600 * 1024];
    let first = p.put("s", "a", big.clone(), None);
    let second = p.put("s", "b", big, None);
    let (r1, r2) = tokio::join!(first, second);
    let reqs = fake.requests();
    assert_eq!(
        reqs.len(),
        2,
        "the second record waited for the first to finish"
    );
    assert_eq!(reqs[0].1[0].partition_key, "a");
    assert!(reqs[1].0 - reqs[0].0 >= Duration::from_millis(5));
    assert!(r1.is_ok() && r2.is_ok());
}

#[tokio::test(start_paused = true)]
async fn flush_sends_at_once_and_waits_for_acknowledgements() {
    let fake = Fake::new(1);
    let p = producer(
        &fake,
        config()
            .record_max_buffered_time(Duration::from_secs(10))
            .build()
            .unwrap(),
    );
    let start = Instant::now();
    let acks: Vec<_> = (0..3)
        .map(|i| p.put("s", format!("k{i}"), vec![1u8], None))
        .collect();
    p.flush().await;
    assert!(start.elapsed() < Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 1);
    for ack in acks {
        assert!(ack.await.is_ok());
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_finishes_buffered_records_and_refuses_new_ones() {
    let fake = Fake::new(2);
    let p = producer(
        &fake,
        config()
            .record_max_buffered_time(Duration::from_secs(10))
            .build()
            .unwrap(),
    );
    let acks: Vec<_> = (0..20)
        .map(|i| p.put("s", format!("k{i}"), vec![1u8], None))
        .collect();
    p.shutdown().await;
    assert!(all(acks).await.iter().all(Result::is_ok));
    assert_eq!(
        p.put("s", "late", b"x".to_vec(), None).await,
        Err(PutError::ShutDown)
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limit_spreads_a_burst_over_time() {
    let fake = Fake::new(1);
    let p = producer(
        &fake,
        config()
            .aggregation_enabled(false)
            .rate_limit(Some(100))
            .build()
            .unwrap(),
    );
    let start = Instant::now();
    let acks: Vec<_> = (0..3000)
        .map(|i| p.put("s", format!("k{i}"), vec![1u8; 10], None))
        .collect();
    assert!(all(acks).await.iter().all(Result::is_ok));
    let reqs = fake.requests();
    let sent_by = |t: Duration| -> usize {
        reqs.iter()
            .filter(|r| r.0 - start <= t)
            .map(|r| r.1.len())
            .sum()
    };
    // 1,000 records/s with one second of burst: about 1,000 at once, then 1,000 per second.
    assert!(
        sent_by(Duration::from_millis(100)) <= 1100,
        "{}",
        sent_by(Duration::from_millis(100))
    );
    assert!(
        sent_by(Duration::from_millis(1000)) <= 2000 + 50,
        "{}",
        sent_by(Duration::from_millis(1000))
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn records_put_before_the_shard_map_loads_are_still_aggregated() {
    let fake = Fake::new(1);
    let p = producer(&fake, ProducerConfig::default());
    let acks: Vec<_> = (0..10)
        .map(|i| p.put("s", format!("k{i}"), vec![1u8], None))
        .collect();
    assert!(all(acks).await.iter().all(Result::is_ok));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].1.len(), 1);
    assert_eq!(reqs[0].1[0].partition_key, "a");
}

#[tokio::test(start_paused = true)]
async fn rejects_invalid_records_without_sending() {
    let fake = Fake::new(1);
    let p = producer(&fake, ProducerConfig::default());
    for (pk, size, ehk) in [
        ("", 1, None),
        (&*"x".repeat(257), 1, None),
        ("k", 1024 * 1024, None),
        ("k", 1, Some("-1")),
        ("k", 1, Some("340282366920938463463374607431768211456")),
    ] {
        let err = p.put("s", pk, vec![0u8; size], ehk).await.unwrap_err();
        assert!(matches!(err, PutError::InvalidRecord(_)), "{err:?}");
    }
    assert!(
        p.put("s", "é".repeat(256), vec![], None).await.is_ok(),
        "256 characters are fine"
    );
}

/// Counter totals by metric name (labels ignored), installed for one thread.
#[derive(Default)]
struct CountingRecorder {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

struct Count(Arc<AtomicU64>);

impl metrics::CounterFn for Count {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }
}

impl metrics::Recorder for CountingRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let mut map = self.counters.lock().unwrap();
        let c = map.entry(key.name().to_owned()).or_default();
        metrics::Counter::from_arc(Arc::new(Count(Arc::clone(c))))
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

impl CountingRecorder {
    fn get(&self, name: &str) -> u64 {
        self.counters
            .lock()
            .unwrap()
            .get(name)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }
}

#[test]
fn records_kpl_metrics() {
    let recorder = Arc::new(CountingRecorder::default());
    let _guard = metrics::set_default_local_recorder(&*recorder);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let fake = Fake::new(1);
        let routed = Arc::clone(&fake);
        fake.respond(move |n, entries| {
            (n == 0)
                .then(|| Ok(entries.iter().map(|_| failure(THROTTLED)).collect()))
                .or_else(|| Some(Ok(routed.route(entries))))
        });
        let p = producer(&fake, ProducerConfig::default());
        let acks: Vec<_> = (0..30)
            .map(|i| p.put("s", format!("k{i}"), vec![1u8; 10], None))
            .collect();
        assert!(all(acks).await.iter().all(Result::is_ok));
        p.shutdown().await;
    });
    assert_eq!(recorder.get(crate::metrics::USER_RECORDS_RECEIVED), 30);
    assert_eq!(recorder.get(crate::metrics::USER_RECORDS_PUT), 30);
    assert_eq!(recorder.get(crate::metrics::USER_RECORDS_DATA_PUT), 300);
    assert_eq!(recorder.get(crate::metrics::KINESIS_RECORDS_PUT), 1);
    assert_eq!(recorder.get(crate::metrics::ERRORS_BY_CODE), 1);
    assert_eq!(recorder.get(crate::metrics::ALL_ERRORS), 1);
}

#[tokio::test(start_paused = true)]
async fn put_many_aggregates_and_answers_in_input_order() {
    let fake = Fake::new(1);
    let p = producer(&fake, ProducerConfig::default());
    let records = (0..10).map(|i| (format!("pk{i}"), format!("d{i}").into_bytes()));
    let mut with_invalid: Vec<(String, Vec<u8>)> = records.collect();
    with_invalid.insert(3, (String::new(), b"no key".to_vec()));
    let results = p.put_many("s", with_invalid).await;
    assert_eq!(results.len(), 11);
    assert!(matches!(results[3], Err(PutError::InvalidRecord(_))));
    let outcomes: Vec<_> = results
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, r)| r.unwrap())
        .collect();
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let users = nagare_agg::deaggregate("a", &reqs[0].1[0].data);
    assert_eq!(users.len(), 10);
    for (i, (u, o)) in users.iter().zip(&outcomes).enumerate() {
        assert_eq!(u.record.partition_key, format!("pk{i}"));
        assert_eq!(o.sub_sequence, i as u64);
    }
}

#[tokio::test(start_paused = true)]
async fn put_many_waits_for_buffer_room_and_fails_after_shutdown() {
    let fake = Fake::new(1);
    let min = crate::producer::record_cost(crate::config::MAX_RECORD_BYTES, 256);
    let p = producer(
        &fake,
        config()
            .max_buffered_bytes(min)
            .aggregation_enabled(false)
            .build()
            .unwrap(),
    );
    let big = vec![0u8; 600 * 1024];
    // Each batch costs more than the whole buffer: it waits for the whole buffer.
    let first = p.put_many("s", [("a", big.clone()), ("b", big.clone())]);
    let second = p.put_many("s", [("c", big.clone())]);
    let (r1, r2) = tokio::join!(first, second);
    assert!(r1.iter().chain(&r2).all(Result::is_ok), "{r1:?} {r2:?}");
    let reqs = fake.requests();
    assert_eq!(
        reqs.len(),
        2,
        "the second batch waited for the first to finish"
    );
    assert_eq!(reqs[0].1.len(), 2);
    assert_eq!(reqs[1].1[0].partition_key, "c");
    p.shutdown().await;
    assert_eq!(
        p.put_many("s", [("late", b"x".to_vec())]).await,
        vec![Err(PutError::ShutDown)]
    );
    assert!(
        p.put_many("s", Vec::<(String, Vec<u8>)>::new())
            .await
            .is_empty()
    );
}
