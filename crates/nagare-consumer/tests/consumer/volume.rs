//! Volume: N user records (default 100,000; `NAGARE_CONSUMER_RECORDS=1000000` for the full
//! million) from 4 concurrent producers into 8 shards, read by two consumer groups at once:
//! group "poll" (two workers, GetRecords) and group "fanout" (one worker, SubscribeToShard).
//! Each group gets every record exactly once, per key in write order. One producer writes
//! KPL aggregates, so de-aggregation and sub-sequence checkpoints are on the path.

use crate::common::{Nagare, ProduceSpec, eventually, produce};
use crate::ledger::{SharedLedger, assert_exactly_once_in_key_order};
use crate::{WorkerSpec, spawn_worker};
use nagare_consumer::{FanOutConfig, InMemoryLeaseStore, LeaseStore, Retrieval};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PRODUCERS: usize = 4;
const KEYS_PER_PRODUCER: usize = 250;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_from_four_producers_arrive_exactly_once_per_group_in_key_order() {
    let records: usize = std::env::var("NAGARE_CONSUMER_RECORDS")
        .ok()
        .map(|v| v.parse().expect("NAGARE_CONSUMER_RECORDS is a number"))
        .unwrap_or(100_000);
    let per_key = (records / PRODUCERS / KEYS_PER_PRODUCER).max(1) as u64;
    let total = PRODUCERS * KEYS_PER_PRODUCER * per_key as usize;
    let nagare = Nagare::start().await;
    let stream = "volume";
    nagare.create_stream(stream, 8).await;

    let poll_ledger = SharedLedger::default();
    let poll_store: Arc<dyn LeaseStore> = Arc::new(InMemoryLeaseStore::new());
    let poll_workers: Vec<_> = ["poll-1", "poll-2"]
        .iter()
        .map(|id| {
            spawn_worker(
                &nagare.client,
                stream,
                poll_store.clone(),
                &poll_ledger,
                WorkerSpec::new(id),
            )
        })
        .collect();
    let fan_ledger = SharedLedger::default();
    let fan_store: Arc<dyn LeaseStore> = Arc::new(InMemoryLeaseStore::new());
    let mut fan_out = FanOutConfig::new("volume-fanout");
    fan_out.describe_interval = Duration::from_millis(50);
    fan_out.retry_backoff = Duration::from_millis(200);
    let fan_worker = spawn_worker(
        &nagare.client,
        stream,
        fan_store,
        &fan_ledger,
        WorkerSpec {
            retrieval: Retrieval::FanOut(fan_out),
            ..WorkerSpec::new("fanout-1")
        },
    );
    // Both groups hold all 8 leases before the first write.
    eventually(Duration::from_secs(30), "leases taken", async || {
        let poll: usize = poll_workers
            .iter()
            .map(|w| w.handle.held_leases().len())
            .sum();
        poll == 8 && fan_worker.handle.held_leases().len() == 8
    })
    .await;

    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            tokio::spawn(produce(
                nagare.client.clone(),
                ProduceSpec {
                    stream: stream.into(),
                    producer: p,
                    keys: KEYS_PER_PRODUCER,
                    per_key,
                    aggregate: if p == PRODUCERS - 1 { 10 } else { 1 },
                    batch: 500,
                    pause: Duration::ZERO,
                },
            ))
        })
        .collect();
    let mut acks = Vec::with_capacity(total);
    for p in producers {
        acks.extend(p.await.expect("producer"));
    }
    let produced_in = started.elapsed();
    assert_eq!(acks.len(), total);

    let limit = Duration::from_secs(30 + (total / 5_000) as u64);
    let mut done_in = Vec::new();
    for (name, ledger) in [("poll", &poll_ledger), ("fanout", &fan_ledger)] {
        eventually(limit, &format!("group {name} complete"), async || {
            ledger.lock().await.committed.len() >= total
        })
        .await;
        done_in.push((name, started.elapsed()));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for w in poll_workers {
        w.shutdown().await;
    }
    fan_worker.shutdown().await;

    for (name, ledger) in [("poll", &poll_ledger), ("fanout", &fan_ledger)] {
        let ledger = ledger.lock().await;
        assert_exactly_once_in_key_order(&ledger, &acks);
        println!(
            "volume group {name}: {} delivered, {} dropped",
            ledger.delivered, ledger.dropped
        );
    }
    println!(
        "volume: {total} user records ({} Kinesis records) from {PRODUCERS} producers; produced in {:.2?}; all committed: {}",
        acks.iter()
            .map(|a| (&a.sequence, &a.shard))
            .collect::<std::collections::HashSet<_>>()
            .len(),
        produced_in,
        done_in
            .iter()
            .map(|(n, d)| format!("{n} {d:.2?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
