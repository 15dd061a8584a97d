//! SplitShard, MergeShards and UpdateShardCount through `aws-sdk-kinesis`.

use crate::common::{TestServer, err_parts, manual_clock_now};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{
    PutRecordsRequestEntry, ScalingType, Shard, ShardIteratorType, StreamStatus,
};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

async fn shards(t: &TestServer, stream: &str) -> Vec<Shard> {
    t.client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .expect("list")
        .shards()
        .to_vec()
}

fn range(s: &Shard) -> (String, String) {
    let r = s.hash_key_range().expect("range");
    (
        r.starting_hash_key().to_owned(),
        r.ending_hash_key().to_owned(),
    )
}

const MAX: &str = "340282366920938463463374607431768211455";

#[tokio::test]
async fn split_and_merge_build_the_aws_shard_map() {
    let t = TestServer::start().await;
    t.create_stream("examplestream", 1).await;
    t.client
        .split_shard()
        .stream_name("examplestream")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("170141183460469231731687303715884105727")
        .send()
        .await
        .expect("split 0");
    t.client
        .split_shard()
        .stream_name("examplestream")
        .shard_to_split("shardId-000000000001")
        .new_starting_hash_key("85070591730234615865843651857942052863")
        .send()
        .await
        .expect("split 1");
    let map = shards(&t, "examplestream").await;
    let by_id: BTreeMap<&str, &Shard> = map.iter().map(|s| (s.shard_id(), s)).collect();
    assert_eq!(by_id.len(), 5);
    for closed in ["shardId-000000000000", "shardId-000000000001"] {
        assert!(
            by_id[closed]
                .sequence_number_range()
                .unwrap()
                .ending_sequence_number()
                .is_some(),
            "{closed} closed"
        );
    }
    assert_eq!(
        range(by_id["shardId-000000000001"]),
        ("0".into(), "170141183460469231731687303715884105726".into())
    );
    assert_eq!(
        range(by_id["shardId-000000000002"]),
        ("170141183460469231731687303715884105727".into(), MAX.into())
    );
    assert_eq!(
        range(by_id["shardId-000000000003"]),
        ("0".into(), "85070591730234615865843651857942052862".into())
    );
    assert_eq!(
        range(by_id["shardId-000000000004"]),
        (
            "85070591730234615865843651857942052863".into(),
            "170141183460469231731687303715884105726".into()
        )
    );
    assert_eq!(
        by_id["shardId-000000000002"].parent_shard_id(),
        Some("shardId-000000000000")
    );
    assert_eq!(
        by_id["shardId-000000000003"].parent_shard_id(),
        Some("shardId-000000000001")
    );
    assert!(
        by_id["shardId-000000000004"]
            .adjacent_parent_shard_id()
            .is_none()
    );
    // Children's sequence numbers exceed their parent's.
    let start = |id: &str| {
        by_id[id]
            .sequence_number_range()
            .unwrap()
            .starting_sequence_number()
            .parse::<u128>()
            .unwrap()
    };
    let end0 = by_id["shardId-000000000000"]
        .sequence_number_range()
        .unwrap()
        .ending_sequence_number()
        .unwrap()
        .parse::<u128>()
        .unwrap();
    assert!(start("shardId-000000000001") > end0 && start("shardId-000000000002") > end0);

    let e = t
        .client
        .split_shard()
        .stream_name("examplestream")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("5")
        .send()
        .await
        .expect_err("closed");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "Shard shardId-000000000000 in stream examplestream under account 000000000000 has already been merged or split, and thus is not eligible for merging or splitting.".into()));

    t.client
        .merge_shards()
        .stream_name("examplestream")
        .shard_to_merge("shardId-000000000003")
        .adjacent_shard_to_merge("shardId-000000000004")
        .send()
        .await
        .expect("merge");
    let map = shards(&t, "examplestream").await;
    let merged = map
        .iter()
        .find(|s| s.shard_id() == "shardId-000000000005")
        .expect("child");
    assert_eq!(merged.parent_shard_id(), Some("shardId-000000000003"));
    assert_eq!(
        merged.adjacent_parent_shard_id(),
        Some("shardId-000000000004")
    );
    assert_eq!(
        range(merged),
        ("0".into(), "170141183460469231731687303715884105726".into())
    );

    let e = t
        .client
        .merge_shards()
        .stream_name("examplestream")
        .shard_to_merge("shardId-000000000002")
        .adjacent_shard_to_merge("shardId-000000000005")
        .send()
        .await
        .expect_err("inverted");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "Shards shardId-000000000002 and shardId-000000000005 in stream examplestream under account 000000000000 are not an adjacent pair of shards eligible for merging".into()));
}

#[tokio::test]
async fn split_rejects_hash_keys_outside_the_shard() {
    let t = TestServer::start().await;
    t.create_stream("sp", 2).await;
    let e = t
        .client
        .split_shard()
        .stream_name("sp")
        .shard_to_split("shardId-000000000001")
        .new_starting_hash_key("1")
        .send()
        .await
        .expect_err("outside");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "NewStartingHashKey 1 used in SplitShard() on shard shardId-000000000001 in stream sp under account 000000000000 is not both greater than one plus the shard's StartingHashKey 170141183460469231731687303715884105728 and less than the shard's EndingHashKey 340282366920938463463374607431768211455.".into()));
    let e = t
        .client
        .split_shard()
        .stream_name("sp")
        .shard_to_split("shardId-000000000009")
        .new_starting_hash_key("5")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceNotFoundException".into(),
            "Could not find shard shardId-000000000009 in stream sp under account 000000000000."
                .into()
        )
    );
}

#[tokio::test]
async fn writes_after_a_split_land_in_the_children() {
    let t = TestServer::start().await;
    t.create_stream("route", 1).await;
    t.client
        .split_shard()
        .stream_name("route")
        .shard_to_split("0")
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .expect("split");
    let low = t
        .client
        .put_record()
        .stream_name("route")
        .partition_key("a")
        .explicit_hash_key("7")
        .data(Blob::new("x"))
        .send()
        .await
        .unwrap();
    let high = t
        .client
        .put_record()
        .stream_name("route")
        .partition_key("a")
        .explicit_hash_key(MAX)
        .data(Blob::new("y"))
        .send()
        .await
        .unwrap();
    assert_eq!(low.shard_id(), "shardId-000000000001");
    assert_eq!(high.shard_id(), "shardId-000000000002");
}

#[tokio::test]
async fn update_shard_count_follows_the_scaling_limits() {
    let t = TestServer::start().await;
    t.create_stream("usc", 2).await;
    let e = t
        .client
        .update_shard_count()
        .stream_name("usc")
        .target_shard_count(5)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .expect_err("over 2x");
    assert_eq!(err_parts(&e), ("LimitExceededException".into(), "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 2 Target shard count: 5".into()));
    let out = t
        .client
        .update_shard_count()
        .stream_name("usc")
        .target_shard_count(3)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .expect("2 -> 3");
    assert_eq!(
        (out.current_shard_count(), out.target_shard_count()),
        (Some(2), Some(3))
    );
    assert_eq!(
        out.stream_arn(),
        Some("arn:aws:kinesis:us-east-1:000000000000:stream/usc")
    );
    let open: Vec<Shard> = shards(&t, "usc")
        .await
        .into_iter()
        .filter(|s| {
            s.sequence_number_range()
                .unwrap()
                .ending_sequence_number()
                .is_none()
        })
        .collect();
    assert_eq!(open.len(), 3);
    let expected = nagare_types::HashKeyRange::uniform(3);
    let mut got: Vec<(String, String)> = open.iter().map(range).collect();
    got.sort_by_key(|(s, _)| s.parse::<u128>().unwrap());
    assert_eq!(
        got,
        expected
            .iter()
            .map(|r| (r.start.to_string(), r.end.to_string()))
            .collect::<Vec<_>>()
    );
    for s in shards(&t, "usc").await {
        let parents = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
            .iter()
            .flatten()
            .count();
        assert!(parents <= 2);
    }
    let e = t
        .client
        .update_shard_count()
        .stream_name("usc")
        .target_shard_count(1)
        .scaling_type(ScalingType::UniformScaling)
        .send()
        .await
        .expect_err("below half");
    assert_eq!(err_parts(&e).0, "LimitExceededException");
}

/// Consumes a stream the way KCL does: parents before children, following `ChildShards`.
async fn consume_all(client: &Client, stream: &str) -> Vec<(String, u64)> {
    let listed = client
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .expect("list")
        .shards()
        .to_vec();
    let parents: HashMap<String, Vec<String>> = listed
        .iter()
        .map(|s| {
            let p = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .collect();
            (s.shard_id().to_owned(), p)
        })
        .collect();
    let known: HashSet<&String> = parents.keys().collect();
    let mut queue: VecDeque<String> = parents
        .iter()
        .filter(|(_, p)| p.iter().all(|x| !known.contains(x)))
        .map(|(id, _)| id.clone())
        .collect();
    let mut finished: HashSet<String> = HashSet::new();
    let mut seen: Vec<(String, u64)> = Vec::new();
    while let Some(shard) = queue.pop_front() {
        if finished.contains(&shard) {
            continue;
        }
        let mut it = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(&shard)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("iterator")
            .shard_iterator()
            .map(str::to_owned);
        while let Some(i) = it {
            let out = client
                .get_records()
                .shard_iterator(i)
                .send()
                .await
                .expect("get");
            for r in out.records() {
                let text = String::from_utf8(r.data().as_ref().to_vec()).unwrap();
                let (k, n) = text.split_once(':').unwrap();
                seen.push((k.to_owned(), n.parse().unwrap()));
            }
            if out.next_shard_iterator().is_none() {
                assert!(
                    !out.child_shards().is_empty(),
                    "a closed shard ends with its children"
                );
                for c in out.child_shards() {
                    assert!(!c.parent_shards().is_empty());
                }
                finished.insert(shard.clone());
                for c in out.child_shards() {
                    let ready = c.parent_shards().iter().all(|p| finished.contains(p));
                    if ready {
                        queue.push_back(c.shard_id().to_owned());
                    }
                }
                break;
            }
            if out.records().is_empty() && out.millis_behind_latest() == Some(0) {
                finished.insert(shard.clone());
                break;
            }
            it = out.next_shard_iterator().map(str::to_owned);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lineage_following_reader_sees_every_record_once_in_key_order() {
    let t = TestServer::start().await;
    t.create_stream("flow", 1).await;
    let client = t.client.clone();
    let writer = tokio::spawn(async move {
        let mut next: HashMap<String, u64> = HashMap::new();
        let mut acked: Vec<(String, u64)> = Vec::new();
        for _round in 0..60 {
            let batch: Vec<(String, u64)> = (0..20)
                .map(|k| {
                    let key = format!("k{k}");
                    let n = next.entry(key.clone()).or_default();
                    *n += 1;
                    (key, *n)
                })
                .collect();
            let entries: Vec<PutRecordsRequestEntry> = batch
                .iter()
                .map(|(k, n)| {
                    PutRecordsRequestEntry::builder()
                        .partition_key(k)
                        .data(Blob::new(format!("{k}:{n}")))
                        .build()
                        .unwrap()
                })
                .collect();
            let out = client
                .put_records()
                .stream_name("flow")
                .set_records(Some(entries))
                .send()
                .await
                .expect("put");
            assert_eq!(out.failed_record_count(), Some(0));
            acked.extend(batch);
            tokio::task::yield_now().await;
        }
        acked
    });
    let active = |t: &TestServer| {
        let c = t.client.clone();
        async move {
            let s = c
                .describe_stream_summary()
                .stream_name("flow")
                .send()
                .await
                .unwrap();
            assert_eq!(
                s.stream_description_summary().unwrap().stream_status(),
                &StreamStatus::Active
            );
        }
    };
    t.client
        .split_shard()
        .stream_name("flow")
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key("170141183460469231731687303715884105728")
        .send()
        .await
        .expect("split");
    active(&t).await;
    t.client
        .merge_shards()
        .stream_name("flow")
        .shard_to_merge("shardId-000000000001")
        .adjacent_shard_to_merge("shardId-000000000002")
        .send()
        .await
        .expect("merge");
    for target in [2, 4, 2] {
        t.client
            .update_shard_count()
            .stream_name("flow")
            .target_shard_count(target)
            .scaling_type(ScalingType::UniformScaling)
            .send()
            .await
            .expect("scale");
        tokio::task::yield_now().await;
    }
    let acked = writer.await.expect("writer");
    let seen = consume_all(&t.client, "flow").await;
    let mut once: HashSet<(String, u64)> = HashSet::new();
    for r in &seen {
        assert!(once.insert(r.clone()), "record {r:?} delivered twice");
    }
    let acked_set: HashSet<(String, u64)> = acked.iter().cloned().collect();
    assert_eq!(
        once, acked_set,
        "every acknowledged record is read exactly once"
    );
    let mut last: HashMap<&str, u64> = HashMap::new();
    for (k, n) in &seen {
        let prev = last.insert(k, *n).unwrap_or(0);
        assert!(*n > prev, "key {k}: {n} after {prev}");
    }
    let open = shards(&t, "flow")
        .await
        .into_iter()
        .filter(|s| {
            s.sequence_number_range()
                .unwrap()
                .ending_sequence_number()
                .is_none()
        })
        .count();
    assert_eq!(open, 2);
}

#[tokio::test]
async fn closed_shards_disappear_once_their_data_expires() {
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |_| {}).await;
    t.create_stream("exp", 1).await;
    t.client
        .split_shard()
        .stream_name("exp")
        .shard_to_split("0")
        .new_starting_hash_key("99999")
        .send()
        .await
        .expect("split");
    assert_eq!(shards(&t, "exp").await.len(), 3);
    clock.advance(25 * 3_600_000);
    t.server.as_ref().unwrap().engine.enforce_retention();
    let left: Vec<String> = shards(&t, "exp")
        .await
        .iter()
        .map(|s| s.shard_id().to_owned())
        .collect();
    assert_eq!(left, ["shardId-000000000001", "shardId-000000000002"]);
}

#[tokio::test]
async fn resharding_is_refused_while_the_stream_is_updating() {
    let t = TestServer::start_with(Arc::new(nagare_engine::clock::SystemClock), |c| {
        c.engine.update_delay = std::time::Duration::from_millis(400);
    })
    .await;
    t.create_stream("busy", 1).await;
    t.client
        .split_shard()
        .stream_name("busy")
        .shard_to_split("0")
        .new_starting_hash_key("99999")
        .send()
        .await
        .expect("split");
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("busy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().stream_status(),
        &StreamStatus::Updating
    );
    let e = t
        .client
        .split_shard()
        .stream_name("busy")
        .shard_to_split("1")
        .new_starting_hash_key("999")
        .send()
        .await
        .expect_err("busy");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceInUseException".into(),
            "Stream busy under account 000000000000 not ACTIVE, instead in state UPDATING".into()
        )
    );
    // Data keeps flowing while UPDATING.
    t.client
        .put_record()
        .stream_name("busy")
        .partition_key("a")
        .data(Blob::new("x"))
        .send()
        .await
        .expect("put while updating");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("busy")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().stream_status(),
        &StreamStatus::Active
    );
}
