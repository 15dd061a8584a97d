//! Enhanced fan-out through `aws-sdk-kinesis`: consumers and SubscribeToShard.

use crate::common::{TestServer, err_parts, manual_clock_now};
use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{
    ConsumerStatus, ShardIteratorType, StartingPosition, SubscribeToShardEvent,
    SubscribeToShardEventStream,
};
use std::ops::Not;
use std::sync::Arc;
use std::time::Duration;

fn stream_arn(name: &str) -> String {
    format!("arn:aws:kinesis:us-east-1:000000000000:stream/{name}")
}

async fn register(t: &TestServer, stream: &str, consumer: &str) -> String {
    let out = t
        .client
        .register_stream_consumer()
        .stream_arn(stream_arn(stream))
        .consumer_name(consumer)
        .send()
        .await
        .expect("register");
    out.consumer().expect("consumer").consumer_arn().to_owned()
}

fn position(kind: ShardIteratorType) -> StartingPosition {
    StartingPosition::builder()
        .r#type(kind)
        .build()
        .expect("position")
}

/// Collects events until `want` records arrived or the stream ends / times out.
async fn collect(
    client: &Client,
    consumer: &str,
    shard: &str,
    start: StartingPosition,
    want: usize,
    during: impl std::future::Future<Output = ()>,
) -> (Vec<String>, Vec<SubscribeToShardEvent>) {
    let mut out = client
        .subscribe_to_shard()
        .consumer_arn(consumer)
        .shard_id(shard)
        .starting_position(start)
        .send()
        .await
        .expect("subscribe");
    during.await;
    let mut data = Vec::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while data.len() < want {
        let next = tokio::time::timeout_at(deadline, out.event_stream.recv()).await;
        match next {
            Ok(Ok(Some(SubscribeToShardEventStream::SubscribeToShardEvent(e)))) => {
                data.extend(
                    e.records()
                        .iter()
                        .map(|r| String::from_utf8_lossy(r.data().as_ref()).into_owned()),
                );
                let end = e.continuation_sequence_number().is_empty();
                events.push(e);
                if end {
                    break;
                }
            }
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
        }
    }
    (data, events)
}

async fn put(t: &TestServer, stream: &str, data: &str) -> String {
    let out = t
        .client
        .put_record()
        .stream_name(stream)
        .partition_key("k")
        .data(Blob::new(data))
        .send()
        .await
        .expect("put");
    out.sequence_number().to_owned()
}

#[tokio::test]
async fn consumers_register_describe_list_and_deregister() {
    let t = TestServer::start().await;
    t.create_stream("fo", 1).await;
    let arn = register(&t, "fo", "app").await;
    assert!(
        arn.starts_with("arn:aws:kinesis:us-east-1:000000000000:stream/fo/consumer/app:"),
        "{arn}"
    );
    let e = t
        .client
        .register_stream_consumer()
        .stream_arn(stream_arn("fo"))
        .consumer_name("app")
        .send()
        .await
        .expect_err("dup");
    assert_eq!(err_parts(&e).0, "ResourceInUseException");
    let d = t
        .client
        .describe_stream_consumer()
        .consumer_arn(&arn)
        .send()
        .await
        .expect("by arn");
    let d = d.consumer_description().unwrap();
    assert_eq!(d.consumer_status(), &ConsumerStatus::Active);
    assert_eq!(d.stream_arn(), stream_arn("fo"));
    let d2 = t
        .client
        .describe_stream_consumer()
        .stream_arn(stream_arn("fo"))
        .consumer_name("app")
        .send()
        .await
        .expect("by name");
    assert_eq!(d2.consumer_description().unwrap().consumer_arn(), arn);
    register(&t, "fo", "second").await;
    let l = t
        .client
        .list_stream_consumers()
        .stream_arn(stream_arn("fo"))
        .max_results(1)
        .send()
        .await
        .expect("list");
    assert_eq!(l.consumers().len(), 1);
    let l2 = t
        .client
        .list_stream_consumers()
        .stream_arn(stream_arn("fo"))
        .next_token(l.next_token().unwrap())
        .send()
        .await
        .expect("page 2");
    assert_eq!(l2.consumers()[0].consumer_name(), "second");
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("fo")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().consumer_count(),
        Some(2)
    );

    let e = t
        .client
        .delete_stream()
        .stream_name("fo")
        .send()
        .await
        .expect_err("has consumers");
    assert_eq!(err_parts(&e).0, "ResourceInUseException");
    t.client
        .deregister_stream_consumer()
        .consumer_arn(&arn)
        .send()
        .await
        .expect("deregister");
    let e = t
        .client
        .describe_stream_consumer()
        .consumer_arn(&arn)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(err_parts(&e).0, "ResourceNotFoundException");
    t.client
        .delete_stream()
        .stream_name("fo")
        .enforce_consumer_deletion(true)
        .send()
        .await
        .expect("enforced delete");
}

#[tokio::test]
async fn subscription_delivers_old_then_new_records_in_order() {
    let t = TestServer::start_with(Arc::new(nagare_engine::clock::SystemClock), |c| {
        c.engine.subscription_heartbeat = Duration::from_millis(100);
    })
    .await;
    t.create_stream("push", 1).await;
    let arn = register(&t, "push", "app").await;
    put(&t, "push", "r0").await;
    put(&t, "push", "r1").await;
    let writes = async {
        for i in 2..6 {
            put(&t, "push", &format!("r{i}")).await;
        }
    };
    let (data, events) = collect(
        &t.client,
        &arn,
        "shardId-000000000000",
        position(ShardIteratorType::TrimHorizon),
        6,
        writes,
    )
    .await;
    assert_eq!(data, ["r0", "r1", "r2", "r3", "r4", "r5"]);
    assert!(
        events
            .iter()
            .all(|e| e.continuation_sequence_number().is_empty().not())
    );
    assert!(events.iter().all(|e| e.millis_behind_latest() >= 0));
}

#[tokio::test]
async fn every_starting_position_starts_where_aws_says() {
    let t = TestServer::start_with(Arc::new(nagare_engine::clock::SystemClock), |c| {
        c.engine.subscription_heartbeat = Duration::from_millis(50);
    })
    .await;
    t.create_stream("pos", 1).await;
    let arn = register(&t, "pos", "app").await;
    let shard = "shardId-000000000000";
    let mut seqs = Vec::new();
    for i in 0..3 {
        seqs.push(put(&t, "pos", &format!("r{i}")).await);
    }
    let at = StartingPosition::builder()
        .r#type(ShardIteratorType::AtSequenceNumber)
        .sequence_number(&seqs[1])
        .build()
        .unwrap();
    let (d, _) = collect(&t.client, &arn, shard, at, 2, async {}).await;
    assert_eq!(d, ["r1", "r2"]);
    tokio::time::sleep(Duration::from_millis(5100)).await; // the 5-second rule per consumer and shard
    let after = StartingPosition::builder()
        .r#type(ShardIteratorType::AfterSequenceNumber)
        .sequence_number(&seqs[1])
        .build()
        .unwrap();
    let (d, _) = collect(&t.client, &arn, shard, after, 1, async {}).await;
    assert_eq!(d, ["r2"]);
    let second = register(&t, "pos", "second").await;
    let ts = StartingPosition::builder()
        .r#type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(0))
        .build()
        .unwrap();
    let (d, _) = collect(&t.client, &second, shard, ts, 3, async {}).await;
    assert_eq!(d, ["r0", "r1", "r2"]);
    let third = register(&t, "pos", "third").await;
    let (d, _) = collect(
        &t.client,
        &third,
        shard,
        position(ShardIteratorType::Latest),
        1,
        put(&t, "pos", "r3").map_unit(),
    )
    .await;
    assert_eq!(d, ["r3"]);
}

trait MapUnit {
    fn map_unit(self) -> impl std::future::Future<Output = ()>;
}

impl<F: std::future::Future> MapUnit for F {
    async fn map_unit(self) {
        self.await;
    }
}

#[tokio::test]
async fn a_subscription_on_a_split_shard_ends_with_its_children() {
    let t = TestServer::start_with(Arc::new(nagare_engine::clock::SystemClock), |c| {
        c.engine.subscription_heartbeat = Duration::from_millis(50);
    })
    .await;
    t.create_stream("sps", 1).await;
    let arn = register(&t, "sps", "app").await;
    put(&t, "sps", "before").await;
    let split = async {
        t.client
            .split_shard()
            .stream_name("sps")
            .shard_to_split("0")
            .new_starting_hash_key("99999")
            .send()
            .await
            .expect("split");
    };
    let (data, events) = collect(
        &t.client,
        &arn,
        "shardId-000000000000",
        position(ShardIteratorType::TrimHorizon),
        100,
        split,
    )
    .await;
    assert_eq!(data, ["before"]);
    let last = events.last().expect("events");
    assert!(last.continuation_sequence_number().is_empty());
    let children: Vec<&str> = last.child_shards().iter().map(|c| c.shard_id()).collect();
    assert_eq!(children, ["shardId-000000000001", "shardId-000000000002"]);
    assert!(
        last.child_shards()
            .iter()
            .all(|c| c.parent_shards() == ["shardId-000000000000"])
    );
}

#[tokio::test]
async fn subscriptions_end_after_their_lifetime() {
    let t = TestServer::start_with(Arc::new(nagare_engine::clock::SystemClock), |c| {
        c.engine.subscription_lifetime = Duration::from_millis(600);
        c.engine.subscription_heartbeat = Duration::from_millis(100);
    })
    .await;
    t.create_stream("life", 1).await;
    let arn = register(&t, "life", "app").await;
    let started = std::time::Instant::now();
    let mut out = t
        .client
        .subscribe_to_shard()
        .consumer_arn(&arn)
        .shard_id("shardId-000000000000")
        .starting_position(position(ShardIteratorType::Latest))
        .send()
        .await
        .expect("subscribe");
    let mut heartbeats = 0;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(5), out.event_stream.recv())
        .await
        .expect("ends in time")
    {
        if let SubscribeToShardEventStream::SubscribeToShardEvent(e) = ev {
            assert!(
                e.continuation_sequence_number().is_empty().not(),
                "heartbeats are checkpointable"
            );
            heartbeats += 1;
        }
    }
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(heartbeats >= 2, "{heartbeats}");
}

#[tokio::test]
async fn a_second_subscription_within_five_seconds_is_refused_then_takes_over() {
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |c| {
        c.engine.subscription_heartbeat = Duration::from_millis(50);
    })
    .await;
    t.create_stream("rule", 1).await;
    let arn = register(&t, "rule", "app").await;
    let sub = || {
        t.client
            .subscribe_to_shard()
            .consumer_arn(&arn)
            .shard_id("shardId-000000000000")
            .starting_position(position(ShardIteratorType::Latest))
            .send()
    };
    let mut first = sub().await.expect("first");
    let e = sub().await.expect_err("within 5 s");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceInUseException".into(),
            format!(
                "Another active subscription exists for consumer {arn} on shard shardId-000000000000"
            )
        )
    );
    clock.advance(5_000);
    let _second = sub().await.expect("takes over after 5 s");
    // The first stream ends.
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = first.event_stream.recv().await {}
    })
    .await;
    assert!(ended.is_ok(), "the taken-over subscription ends");
}

#[tokio::test]
async fn subscribing_needs_an_active_consumer_and_a_real_shard() {
    let t = TestServer::start().await;
    t.create_stream("bad", 1).await;
    let arn = register(&t, "bad", "app").await;
    let e = t
        .client
        .subscribe_to_shard()
        .consumer_arn(&arn)
        .shard_id("shardId-000000000007")
        .starting_position(position(ShardIteratorType::Latest))
        .send()
        .await
        .expect_err("shard");
    assert_eq!(err_parts(&e).0, "ResourceNotFoundException");
    let e = t
        .client
        .subscribe_to_shard()
        .consumer_arn(format!("{}/consumer/nobody:1", stream_arn("bad")))
        .shard_id("shardId-000000000000")
        .starting_position(position(ShardIteratorType::Latest))
        .send()
        .await
        .expect_err("consumer");
    assert_eq!(err_parts(&e).0, "ResourceNotFoundException");
}
