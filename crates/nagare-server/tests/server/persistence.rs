//! What survives a restart: streams, shards, tags, retention, records and iterators.

use crate::common::{TestServer, manual_clock_now};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::ShardIteratorType;
use std::sync::Arc;

#[tokio::test]
async fn streams_tags_retention_records_and_iterators_survive_a_restart() {
    let clock = manual_clock_now();
    let mut t = TestServer::start_with(Arc::new(clock.clone()), |_| {}).await;
    t.create_stream("keep", 2).await;
    t.client
        .add_tags_to_stream()
        .stream_name("keep")
        .tags("team", "data")
        .send()
        .await
        .unwrap();
    t.client
        .increase_stream_retention_period()
        .stream_name("keep")
        .retention_period_hours(72)
        .send()
        .await
        .unwrap();
    let put = t
        .client
        .put_record()
        .stream_name("keep")
        .partition_key("p")
        .explicit_hash_key("1")
        .data(Blob::new("before"))
        .send()
        .await
        .unwrap();
    let it = t
        .client
        .get_shard_iterator()
        .stream_name("keep")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator()
        .unwrap()
        .to_owned();

    t.restart(Arc::new(clock.clone())).await;

    let s = t
        .client
        .describe_stream_summary()
        .stream_name("keep")
        .send()
        .await
        .unwrap();
    let s = s.stream_description_summary().unwrap();
    assert_eq!(s.retention_period_hours(), 72);
    assert_eq!(s.open_shard_count(), 2);
    let tags = t
        .client
        .list_tags_for_stream()
        .stream_name("keep")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags()[0].key(), "team");
    let out = t
        .client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect("iterator survives restart");
    assert_eq!(out.records().len(), 1);
    assert_eq!(out.records()[0].sequence_number(), put.sequence_number());
    let next = t
        .client
        .put_record()
        .stream_name("keep")
        .partition_key("p")
        .explicit_hash_key("1")
        .data(Blob::new("after"))
        .send()
        .await
        .unwrap();
    assert!(
        next.sequence_number().parse::<u128>().unwrap()
            > put.sequence_number().parse::<u128>().unwrap()
    );
}
