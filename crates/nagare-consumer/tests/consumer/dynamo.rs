//! The DynamoDB lease store against a real DynamoDB-compatible server (dynalite), and
//! failover between three workers sharing a lease table there.

use crate::common::{Dynalite, Nagare, ProduceSpec, eventually, fast_leases, produce};
use crate::ledger::{Event, SharedLedger, assert_exactly_once_in_key_order, shard_positions};
use crate::{WorkerSpec, spawn_worker};
use nagare_consumer::{
    DynamoDbLeaseStore, ExtendedSequenceNumber, InMemoryLeaseStore, Lease, LeaseConfig, LeaseError,
    LeaseStore,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Outcome of one store call, comparable across stores.
fn outcome<T>(r: Result<T, LeaseError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(LeaseError::LostRace { .. }) => "lost-race",
        Err(LeaseError::Malformed { .. }) => "malformed",
        Err(LeaseError::Store { .. }) => "store-error",
    }
}

/// Run one script of conditional operations on `store`; return each outcome and the table.
async fn script(store: &dyn LeaseStore) -> (Vec<&'static str>, Vec<Lease>) {
    let mut out = Vec::new();
    store.initialize().await.expect("initialize");
    store.initialize().await.expect("initialize is idempotent");
    for i in 0..5 {
        let lease = Lease::new(
            format!("shardId-{i:012}"),
            ExtendedSequenceNumber::TrimHorizon,
        )
        .with_parents(if i >= 2 {
            vec!["shardId-000000000000".to_owned()]
        } else {
            vec![]
        });
        out.push(outcome(store.create_if_absent(&lease).await));
    }
    let dup = Lease::new("shardId-000000000000", ExtendedSequenceNumber::Latest);
    out.push(outcome(store.create_if_absent(&dup).await)); // lost-race
    let seen = store.get("shardId-000000000000").await.unwrap().unwrap();
    let mine = store.take(&seen, "w1").await.unwrap();
    out.push(outcome(store.take(&seen, "w2").await)); // stale counter: lost-race
    let renewed = store.renew(&mine).await.unwrap();
    let renewed = store.renew(&renewed).await.unwrap();
    // Two renewals behind: lost-race. (One behind, with the same owner, is what a retried
    // request whose first attempt succeeded looks like; the DynamoDB store accepts that, see
    // `dynamodb_renew_recovers_from_a_spurious_failure`.)
    out.push(outcome(store.renew(&mine).await));
    let mut cp = renewed.clone();
    cp.checkpoint = ExtendedSequenceNumber::at(
        "49590338271490256608559692538361571095921575989136588898"
            .parse()
            .unwrap(),
        3,
    );
    cp.pending_checkpoint = Some(ExtendedSequenceNumber::ShardEnd);
    cp.pending_checkpoint_state = Some(b"state".to_vec());
    let written = store.update_checkpoint(&cp).await.unwrap();
    out.push(outcome(store.update_checkpoint(&cp).await)); // stale: lost-race
    let mut wrong_owner = written.clone();
    wrong_owner.lease_owner = Some("w2".into());
    out.push(outcome(store.update_checkpoint(&wrong_owner).await)); // lost-race
    // w2 steals: owner switch counted.
    let stolen = store.take(&written, "w2").await.unwrap();
    out.push(outcome(store.evict(&written).await)); // w1 no longer owner: lost-race
    let mut end = stolen.clone();
    end.checkpoint = ExtendedSequenceNumber::ShardEnd;
    end.pending_checkpoint = None;
    end.pending_checkpoint_state = None;
    end.child_shard_ids = [
        "shardId-000000000002".to_owned(),
        "shardId-000000000003".to_owned(),
    ]
    .into();
    let ended = store.update_checkpoint(&end).await.unwrap();
    out.push(outcome(store.evict(&ended).await)); // ok
    out.push(outcome(store.delete("shardId-000000000004").await));
    out.push(outcome(store.delete("shardId-000000000004").await)); // unconditional: ok
    let mut gone = Lease::new("shardId-000000000004", ExtendedSequenceNumber::TrimHorizon);
    gone.lease_counter = 0;
    out.push(outcome(store.renew(&gone).await)); // row missing: lost-race
    out.push(outcome(store.take(&gone, "w1").await)); // lost-race
    let mut table = store.list().await.unwrap();
    table.sort_by(|a, b| a.lease_key.cmp(&b.lease_key));
    (out, table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_store_behaves_like_the_in_memory_store() {
    let dynalite = Dynalite::start().await;
    // Pages of 2 rows: the scan must follow LastEvaluatedKey.
    let dynamo =
        DynamoDbLeaseStore::new(dynalite.client.clone(), "conformance").with_scan_page_size(2);
    let memory = InMemoryLeaseStore::new();
    let (d_out, d_table) = script(&dynamo).await;
    let (m_out, m_table) = script(&memory).await;
    assert_eq!(d_out, m_out);
    assert_eq!(
        d_out,
        [
            "ok",
            "ok",
            "ok",
            "ok",
            "ok",
            "lost-race",
            "lost-race",
            "lost-race",
            "lost-race",
            "lost-race",
            "lost-race",
            "ok",
            "ok",
            "ok",
            "lost-race",
            "lost-race"
        ]
    );
    assert_eq!(d_table, m_table);
    assert_eq!(d_table.len(), 4);
    let first = &d_table[0];
    assert_eq!(first.lease_owner, None);
    assert_eq!(first.checkpoint, ExtendedSequenceNumber::ShardEnd);
    assert_eq!(first.owner_switches_since_checkpoint, 0);
    assert_eq!(first.child_shard_ids.len(), 2);
    assert_eq!(d_table[2].parent_shard_ids.len(), 1);

    // KCL's table layout.
    let t = dynalite
        .client
        .describe_table()
        .table_name("conformance")
        .send()
        .await
        .unwrap();
    let t = t.table().unwrap();
    let key = &t.key_schema()[0];
    assert_eq!(
        (key.attribute_name(), key.key_type().as_str()),
        ("leaseKey", "HASH")
    );
    assert_eq!(t.attribute_definitions()[0].attribute_type().as_str(), "S");
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );
    // Raw attribute types as KCL writes them.
    let item = dynalite
        .client
        .get_item()
        .table_name("conformance")
        .key(
            "leaseKey",
            aws_sdk_dynamodb::types::AttributeValue::S("shardId-000000000002".into()),
        )
        .send()
        .await
        .unwrap();
    let item = item.item().unwrap();
    assert!(item["leaseCounter"].is_n());
    assert!(item["checkpoint"].is_s());
    assert!(item["checkpointSubSequenceNumber"].is_n());
    assert!(item["parentShardId"].is_ss());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_renew_recovers_from_a_spurious_failure() {
    let dynalite = Dynalite::start().await;
    let store = DynamoDbLeaseStore::new(dynalite.client.clone(), "spurious");
    store.initialize().await.unwrap();
    store
        .create_if_absent(&Lease::new("s", ExtendedSequenceNumber::TrimHorizon))
        .await
        .unwrap();
    let seen = store.get("s").await.unwrap().unwrap();
    let mine = store.take(&seen, "w1").await.unwrap();
    let renewed = store.renew(&mine).await.unwrap();
    // The SDK retried the renewal after a lost response: the condition fails, but the row
    // shows exactly our renewal, so it counts as renewed.
    let again = store.renew(&mine).await.unwrap();
    assert_eq!(again.lease_counter, renewed.lease_counter);
    // Once another worker took it, the same call is a lost race.
    store.take(&renewed, "w2").await.unwrap();
    assert!(store.renew(&renewed).await.unwrap_err().is_lost_race());
}

/// Three workers share 8 shards (3/3/2) through a lease table in dynalite. One is killed
/// (its tasks dropped, leases not released): its leases move to the others once they have
/// not been renewed for the failover time, and processing resumes from its last checkpoints
/// with nothing skipped or repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_leases_move_within_the_failover_time_and_resume_from_checkpoints() {
    let dynalite = Dynalite::start().await;
    let nagare = Nagare::start().await;
    let stream = "failover";
    nagare.create_stream(stream, 8).await;
    let leases = LeaseConfig {
        failover_time: Duration::from_millis(2_000),
        take_interval: Some(Duration::from_millis(250)),
        ..fast_leases()
    };
    let store = || -> Arc<dyn LeaseStore> {
        Arc::new(DynamoDbLeaseStore::new(
            dynalite.client.clone(),
            "failover-app",
        ))
    };
    let table = store();
    table.initialize().await.expect("lease table");
    let ledger = SharedLedger::default();
    let mut workers: Vec<_> = ["w1", "w2", "w3"]
        .iter()
        .map(|id| {
            spawn_worker(
                &nagare.client,
                stream,
                store(),
                &ledger,
                WorkerSpec {
                    leases: leases.clone(),
                    ..WorkerSpec::new(id)
                },
            )
        })
        .collect();

    let owners = async || -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in table.list().await.unwrap() {
            m.entry(l.lease_owner.unwrap_or_else(|| "-".into()))
                .or_default()
                .push(l.lease_key);
        }
        for v in m.values_mut() {
            v.sort();
        }
        m
    };
    let balanced_at = Instant::now();
    eventually(Duration::from_secs(30), "an even 3/3/2 split", async || {
        let o = owners().await;
        let mut counts: Vec<usize> = ["w1", "w2", "w3"]
            .iter()
            .map(|w| o.get(*w).map_or(0, Vec::len))
            .collect();
        counts.sort_unstable();
        counts == [2, 3, 3]
            && workers
                .iter()
                .all(|w| o.get(&w.id).cloned().unwrap_or_default() == w.handle.held_leases())
    })
    .await;
    println!(
        "failover: balanced 3/3/2 after {:.2?}",
        balanced_at.elapsed()
    );

    let spec = |p: usize, phase: usize| ProduceSpec {
        stream: stream.into(),
        producer: p + 10 * phase,
        keys: 20,
        per_key: if phase == 1 { 50 } else { 150 },
        aggregate: 1,
        // Phase 2 spreads its writes over about two seconds, across the kill.
        batch: 500,
        pause: Duration::from_millis(if phase == 1 { 0 } else { 300 }),
    };
    let mut acks = Vec::new();
    for p in 0..4 {
        acks.extend(produce(nagare.client.clone(), spec(p, 1)).await);
    }
    let phase1 = acks.len();
    let committed = async || ledger.lock().await.committed.len();
    eventually(Duration::from_secs(30), "phase 1 committed", async || {
        committed().await >= phase1
    })
    .await;

    // Phase 2 writes continue while a worker with 3 leases dies.
    let producers: Vec<_> = (0..4)
        .map(|p| tokio::spawn(produce(nagare.client.clone(), spec(p, 2))))
        .collect();
    eventually(Duration::from_secs(30), "phase 2 under way", async || {
        committed().await >= phase1 + 400
    })
    .await;
    let o = owners().await;
    let victim_ix = workers
        .iter()
        .position(|w| o.get(&w.id).map_or(0, Vec::len) == 3)
        .expect("a worker with 3 leases");
    let victim = workers.remove(victim_ix);
    let victim_id = victim.id.clone();
    let moved = o[&victim_id].clone();
    victim.kill(&ledger).await;
    let killed_at = Instant::now();
    // What the victim had committed per shard = its last successful checkpoint there.
    let (last_by_victim, events_at_kill) = {
        let l = ledger.lock().await;
        let mut m: BTreeMap<String, ExtendedSequenceNumber> = BTreeMap::new();
        for c in l.committed.iter().filter(|c| c.worker == victim_id) {
            m.insert(c.shard.clone(), c.position.clone());
        }
        (m, l.events.len())
    };

    eventually(
        Duration::from_secs(30),
        "the victim's leases to move",
        async || {
            let o = owners().await;
            !o.contains_key(&victim_id) && !o.contains_key("-")
        },
    )
    .await;
    let moved_after = killed_at.elapsed();
    let o = owners().await;
    let mut counts: Vec<usize> = o.values().map(Vec::len).collect();
    counts.sort_unstable();
    assert_eq!(counts, [4, 4], "survivors share the 8 leases: {o:?}");

    for p in producers {
        acks.extend(p.await.expect("producer"));
    }
    eventually(
        Duration::from_secs(60),
        "everything committed",
        async || committed().await >= acks.len(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for w in workers {
        w.shutdown().await;
    }

    let ledger = ledger.lock().await;
    assert_exactly_once_in_key_order(&ledger, &acks);
    // Each moved shard: the new owner started from the victim's last checkpoint, and its
    // first committed record is the very next record of the shard.
    let positions = shard_positions(&acks);
    for shard in &moved {
        let last = last_by_victim
            .get(shard)
            .cloned()
            .unwrap_or(ExtendedSequenceNumber::TrimHorizon);
        // The first processor started on the shard after the kill (a survivor may later
        // steal it from the other survivor, from a newer checkpoint).
        let resumed = ledger.events[events_at_kill..]
            .iter()
            .find_map(|e| match e {
                Event::Initialized {
                    worker,
                    shard: s,
                    checkpoint,
                } if s == shard && *worker != victim_id => Some(checkpoint.clone()),
                _ => None,
            });
        assert_eq!(
            resumed.as_ref(),
            Some(&last),
            "{shard} resumed from the last checkpoint"
        );
        let next = positions[shard].iter().find(|p| **p > last);
        assert!(next.is_some(), "{shard} got records after the kill");
        let first_after = ledger
            .committed
            .iter()
            .find(|c| c.shard == *shard && c.worker != victim_id && c.position > last)
            .map(|c| &c.position);
        assert_eq!(
            first_after, next,
            "{shard}: first record after the takeover"
        );
    }
    let failover = leases.failover_time;
    let bound = failover + leases.take_interval() * 2 + Duration::from_secs(2);
    println!(
        "failover: {} leases of {victim_id} moved {moved_after:.2?} after the kill (failover time {failover:?}, renew every {:?}, take every {:?}); {} records, {} delivered, {} dropped",
        moved.len(),
        leases.renew_interval(),
        leases.take_interval(),
        acks.len(),
        ledger.delivered,
        ledger.dropped
    );
    assert!(
        moved_after + leases.renew_interval() >= failover,
        "leases moved before they could have expired ({moved_after:?})"
    );
    assert!(
        moved_after <= bound,
        "leases took {moved_after:?} to move (bound: failover + 2 take intervals + 2 s of scheduling slack = {bound:?})"
    );
}
