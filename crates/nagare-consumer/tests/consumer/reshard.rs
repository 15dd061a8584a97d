//! Resharding while two workers process the stream: shard 0 splits into 2 and 3, then 3
//! merges with 1 into 4. Children start only after their parents are checkpointed at
//! `SHARD_END`, so every key stays in order across the lineage.

use crate::common::{Nagare, ProduceSpec, eventually, produce};
use crate::ledger::{Event, SharedLedger, assert_exactly_once_in_key_order};
use crate::{WorkerSpec, spawn_worker};
use nagare_consumer::{FanOutConfig, InMemoryLeaseStore, LeaseStore, Retrieval};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn shard(i: u32) -> String {
    format!("shardId-{i:012}")
}

async fn split_and_merge_followed_parents_first(stream: &str, retrieval: Retrieval) {
    // Subscriptions end after 3 s, so fan-out also resubscribes from its continuation
    // (and meets the 5-second ResourceInUse rule) during the test.
    let nagare = Nagare::start_with(&["--subscription-lifetime-secs", "3"]).await;
    nagare.create_stream(stream, 2).await;
    let store: Arc<dyn LeaseStore> = Arc::new(InMemoryLeaseStore::new());
    let ledger = SharedLedger::default();
    let workers: Vec<_> = ["w1", "w2"]
        .iter()
        .map(|id| {
            spawn_worker(
                &nagare.client,
                stream,
                store.clone(),
                &ledger,
                WorkerSpec {
                    retrieval: retrieval.clone(),
                    ..WorkerSpec::new(id)
                },
            )
        })
        .collect();
    let producers: Vec<_> = (0..4)
        .map(|p| {
            tokio::spawn(produce(
                nagare.client.clone(),
                ProduceSpec {
                    stream: stream.into(),
                    producer: p,
                    keys: 25,
                    per_key: 60,
                    aggregate: if p == 3 { 3 } else { 1 },
                    batch: 50,
                    pause: Duration::from_millis(150),
                },
            ))
        })
        .collect();
    let total = 4 * 25 * 60;
    let committed = async || ledger.lock().await.committed.len();

    eventually(Duration::from_secs(30), "a fifth committed", async || {
        committed().await >= total / 5
    })
    .await;
    let shards = nagare
        .client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .expect("ListShards");
    let range = shards.shards()[0].hash_key_range().expect("range");
    let start: u128 = range.starting_hash_key().parse().unwrap();
    let end: u128 = range.ending_hash_key().parse().unwrap();
    nagare
        .client
        .split_shard()
        .stream_name(stream)
        .shard_to_split(shard(0))
        .new_starting_hash_key((start + (end - start) / 2).to_string())
        .send()
        .await
        .expect("SplitShard");
    nagare.wait_active(stream).await;

    eventually(Duration::from_secs(30), "half committed", async || {
        committed().await >= total / 2
    })
    .await;
    nagare
        .client
        .merge_shards()
        .stream_name(stream)
        .shard_to_merge(shard(3))
        .adjacent_shard_to_merge(shard(1))
        .send()
        .await
        .expect("MergeShards");
    nagare.wait_active(stream).await;

    let mut acks = Vec::new();
    for p in producers {
        acks.extend(p.await.expect("producer"));
    }
    eventually(
        Duration::from_secs(60),
        "everything committed",
        async || committed().await >= total,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Every shard of the lineage carried records.
    let mut per_shard: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &acks {
        *per_shard.entry(a.shard.as_str()).or_default() += 1;
    }
    for i in 0..5 {
        assert!(per_shard.contains_key(shard(i).as_str()), "{per_shard:?}");
    }

    // Parents recorded in the children's leases.
    let leases: BTreeMap<String, _> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.lease_key.clone(), l))
        .collect();
    let parents = |s: u32| -> Vec<String> {
        leases
            .get(&shard(s))
            .map(|l| l.parent_shard_ids.iter().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(parents(2), [shard(0)]);
    assert_eq!(parents(4), [shard(1), shard(3)]);
    // Shard 3 ended and its child started, so its lease may already be cleaned up.
    assert!(parents(3).is_empty() || parents(3) == [shard(0)]);
    for finished in [0, 1, 3] {
        if let Some(l) = leases.get(&shard(finished)) {
            assert!(
                l.is_shard_end(),
                "{} left at {}",
                shard(finished),
                l.checkpoint
            );
        }
    }

    for w in workers {
        w.shutdown().await;
    }
    let ledger = ledger.lock().await;
    assert_exactly_once_in_key_order(&ledger, &acks);
    // Parents first: a child's processor starts only after every parent checkpointed
    // SHARD_END (both events are logged under the ledger lock, see `ledger`).
    let index = |pred: &dyn Fn(&Event) -> bool| ledger.events.iter().position(pred);
    for (child, ps) in [(2, vec![0]), (3, vec![0]), (4, vec![1, 3])] {
        let started =
            index(&|e| matches!(e, Event::Initialized { shard: s, .. } if *s == shard(child)))
                .unwrap_or_else(|| panic!("{} never started", shard(child)));
        for p in ps {
            let ended =
                index(&|e| matches!(e, Event::ShardEnded { shard: s, .. } if *s == shard(p)))
                    .unwrap_or_else(|| panic!("{} never ended", shard(p)));
            assert!(
                ended < started,
                "{} started (event {started}) before its parent {} ended (event {ended})",
                shard(child),
                shard(p)
            );
        }
    }
    println!(
        "reshard {stream}: {total} records, {} delivered, {} dropped, per shard {per_shard:?}",
        ledger.delivered, ledger.dropped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_and_merge_during_polling_are_followed_parents_first() {
    split_and_merge_followed_parents_first(
        "reshard-poll",
        Retrieval::Polling(crate::common::fast_polling()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_and_merge_during_fan_out_are_followed_parents_first() {
    let mut fan_out = FanOutConfig::new("reshard-app");
    fan_out.retry_backoff = Duration::from_millis(200);
    fan_out.describe_interval = Duration::from_millis(50);
    split_and_merge_followed_parents_first("reshard-fanout", Retrieval::FanOut(fan_out)).await;
}
