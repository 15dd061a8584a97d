//! Checkpoints respected across restarts: a graceful one (leases released, processors
//! checkpoint in `shutdown_requested`) and a crash (leases expire; the restarted worker
//! resumes from the last checkpoint, which is often inside a batch and inside a KPL
//! aggregate).

use crate::common::{Nagare, ProduceSpec, eventually, produce};
use crate::ledger::{Event, Mode, SharedLedger, assert_exactly_once_in_key_order};
use crate::{WorkerSpec, spawn_worker};
use nagare_consumer::{InMemoryLeaseStore, LeaseStore, PollingConfig, Retrieval};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_in_key_order_across_a_graceful_restart_and_a_crash() {
    let nagare = Nagare::start().await;
    let stream = "restart";
    nagare.create_stream(stream, 4).await;
    let store: Arc<dyn LeaseStore> = Arc::new(InMemoryLeaseStore::new());
    let ledger = SharedLedger::default();
    // Small GetRecords pages and checkpoints at random records: many checkpoints, many of
    // them inside an aggregate.
    let spec = |id: &str| WorkerSpec {
        mode: Mode::Partial,
        retrieval: Retrieval::Polling(PollingConfig {
            max_records: 50,
            ..crate::common::fast_polling()
        }),
        ..WorkerSpec::new(id)
    };

    let producers: Vec<_> = (0..4)
        .map(|p| {
            tokio::spawn(produce(
                nagare.client.clone(),
                ProduceSpec {
                    stream: stream.into(),
                    producer: p,
                    keys: 10,
                    per_key: 300,
                    // Producer 3 writes KPL aggregates of 7 user records.
                    aggregate: if p == 3 { 7 } else { 1 },
                    batch: 50,
                    pause: Duration::from_millis(100),
                },
            ))
        })
        .collect();
    let total = 4 * 10 * 300;

    let a = spawn_worker(
        &nagare.client,
        stream,
        store.clone(),
        &ledger,
        spec("worker-a"),
    );
    let committed = async || ledger.lock().await.committed.len();
    eventually(Duration::from_secs(30), "a quarter committed", async || {
        committed().await >= total / 4
    })
    .await;
    a.shutdown().await;
    for l in store.list().await.unwrap() {
        assert_eq!(
            l.lease_owner, None,
            "graceful shutdown releases {}",
            l.lease_key
        );
    }

    let b = spawn_worker(
        &nagare.client,
        stream,
        store.clone(),
        &ledger,
        spec("worker-b"),
    );
    let mark = committed().await;
    eventually(
        Duration::from_secs(30),
        "worker-b made progress",
        async || committed().await >= mark + total / 4,
    )
    .await;
    b.kill(&ledger).await;
    let at_crash = committed().await;

    // The same worker identity restarts; its old leases expire (nobody renews them) and it
    // takes them back from their checkpoints.
    let b2 = spawn_worker(
        &nagare.client,
        stream,
        store.clone(),
        &ledger,
        spec("worker-b"),
    );
    let mut acks = Vec::new();
    for p in producers {
        acks.extend(p.await.expect("producer"));
    }
    assert_eq!(acks.len(), total);
    // Partial checkpoints leave a tail pending in each processor until the next batch or,
    // at the end, until shutdown_requested checkpoints it.
    eventually(
        Duration::from_secs(60),
        "everything delivered",
        async || ledger.lock().await.accounted() >= total,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b2.shutdown().await;

    let ledger = ledger.lock().await;
    assert_exactly_once_in_key_order(&ledger, &acks);
    // The restarted worker started from real checkpoints, not from the trim horizon.
    let resumed: Vec<_> = ledger
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Initialized {
                worker, checkpoint, ..
            } if worker == "worker-b" => Some(checkpoint.clone()),
            _ => None,
        })
        .collect();
    assert!(
        resumed.iter().filter(|c| c.sequence().is_some()).count() >= 4,
        "worker-b resumed from {resumed:?}"
    );
    println!(
        "restart: {total} records, {} delivered, {} dropped by lost leases, {} committed before the crash",
        ledger.delivered, ledger.dropped, at_crash
    );
}
