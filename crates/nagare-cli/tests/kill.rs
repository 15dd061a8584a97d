//! Durability of acknowledged writes across `kill -9` of the real `nagare` binary.
//!
//! Each round starts the server on the same data directory, writes PutRecords batches from
//! several concurrent producers, SIGKILLs the process at a random moment while writes are in
//! flight, and then checks through a fresh server that every record acknowledged so far is
//! present, in order, byte for byte, with the sequence number the ack carried.

mod common;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use std::collections::BTreeMap;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Server {
    child: Child,
    client: Client,
}

fn start(dir: &std::path::Path) -> Server {
    let (child, url) = common::serve(dir, &[]);
    let conf = aws_sdk_kinesis::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .endpoint_url(url)
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::disabled())
        .build();
    Server {
        child,
        client: Client::from_conf(conf),
    }
}

/// What an ack promised: (shard, sequence number) → data.
type Acked = Arc<Mutex<BTreeMap<(String, u128), Vec<u8>>>>;

async fn produce(client: Client, producer: u32, acked: Acked) {
    for batch in 0u32.. {
        let entries: Vec<PutRecordsRequestEntry> = (0..50u32)
            .map(|i| {
                let data = format!(
                    "p{producer}-b{batch}-r{i}-{}",
                    "x".repeat((i * 37 % 200) as usize)
                );
                PutRecordsRequestEntry::builder()
                    .partition_key(format!("k{}", i % 7))
                    .data(Blob::new(data.into_bytes()))
                    .build()
                    .expect("entry")
            })
            .collect();
        let datas: Vec<Vec<u8>> = entries.iter().map(|e| e.data().as_ref().to_vec()).collect();
        let Ok(out) = client
            .put_records()
            .stream_name("durable")
            .set_records(Some(entries))
            .send()
            .await
        else {
            return; // the server died: this batch was never acknowledged
        };
        let mut map = acked.lock().expect("lock");
        for (r, d) in out.records().iter().zip(datas) {
            if let (Some(shard), Some(seq)) = (r.shard_id(), r.sequence_number()) {
                map.insert((shard.to_owned(), seq.parse().expect("seq")), d);
            }
        }
    }
}

async fn read_all(client: &Client) -> BTreeMap<(String, u128), Vec<u8>> {
    let mut all = BTreeMap::new();
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let mut it = client
            .get_shard_iterator()
            .stream_name("durable")
            .shard_id(shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator()
            .map(str::to_owned);
        let mut last = 0u128;
        while let Some(i) = it {
            let out = client
                .get_records()
                .shard_iterator(i)
                .send()
                .await
                .expect("get");
            if out.records().is_empty() {
                break;
            }
            for r in out.records() {
                let seq: u128 = r.sequence_number().parse().expect("seq");
                assert!(seq > last, "records come back in sequence order");
                last = seq;
                all.insert((shard.to_owned(), seq), r.data().as_ref().to_vec());
            }
            it = out.next_shard_iterator().map(str::to_owned);
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let acked: Acked = Arc::default();
    let first = start(dir.path());
    first
        .client
        .create_stream()
        .stream_name("durable")
        .shard_count(2)
        .send()
        .await
        .expect("create");
    let mut server = first;
    for round in 0..4 {
        let producers: Vec<_> = (0..4)
            .map(|p| tokio::spawn(produce(server.client.clone(), p, acked.clone())))
            .collect();
        let wait = 150 + rand::random::<u64>() % 400;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        server.child.kill().expect("SIGKILL");
        server.child.wait().expect("reap");
        for p in producers {
            let _ = p.await;
        }
        server = start(dir.path());
        let stored = read_all(&server.client).await;
        let promised = acked.lock().expect("lock").clone();
        assert!(!promised.is_empty(), "round {round} acknowledged nothing");
        for (key, data) in &promised {
            assert_eq!(
                stored.get(key),
                Some(data),
                "round {round}: acknowledged record {key:?} lost or changed"
            );
        }
    }
    server.child.kill().expect("kill");
    let _ = server.child.wait();
}
