//! Control plane through `aws-sdk-kinesis`.

use crate::common::{TestServer, err_parts};
use aws_sdk_kinesis::types::{
    ShardFilter, ShardFilterType, StreamMode, StreamModeDetails, StreamStatus,
};

#[tokio::test]
async fn create_describe_and_delete_a_stream() {
    let t = TestServer::start().await;
    t.create_stream("s1", 3).await;
    let d = t
        .client
        .describe_stream()
        .stream_name("s1")
        .send()
        .await
        .expect("describe");
    let d = d.stream_description().expect("description");
    assert_eq!(d.stream_name(), "s1");
    assert_eq!(
        d.stream_arn(),
        "arn:aws:kinesis:us-east-1:000000000000:stream/s1"
    );
    assert_eq!(d.stream_status(), &StreamStatus::Active);
    assert_eq!(d.retention_period_hours(), 24);
    assert!(!d.has_more_shards());
    let ids: Vec<&str> = d.shards().iter().map(|s| s.shard_id()).collect();
    assert_eq!(
        ids,
        [
            "shardId-000000000000",
            "shardId-000000000001",
            "shardId-000000000002"
        ]
    );
    let first = &d.shards()[0];
    assert_eq!(first.hash_key_range().unwrap().starting_hash_key(), "0");
    assert_eq!(
        first.hash_key_range().unwrap().ending_hash_key(),
        "113427455640312821154458202477256070484"
    );
    assert_eq!(
        d.shards()[2].hash_key_range().unwrap().ending_hash_key(),
        "340282366920938463463374607431768211455"
    );
    assert!(
        first
            .sequence_number_range()
            .unwrap()
            .ending_sequence_number()
            .is_none()
    );
    assert_eq!(
        d.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::Provisioned
    );

    let s = t
        .client
        .describe_stream_summary()
        .stream_name("s1")
        .send()
        .await
        .expect("summary");
    let s = s.stream_description_summary().expect("summary");
    assert_eq!(s.open_shard_count(), 3);
    assert_eq!(s.stream_status(), &StreamStatus::Active);

    t.client
        .delete_stream()
        .stream_name("s1")
        .send()
        .await
        .expect("delete");
    let e = t
        .client
        .describe_stream()
        .stream_name("s1")
        .send()
        .await
        .expect_err("gone");
    let (code, msg) = err_parts(&e);
    assert_eq!(code, "ResourceNotFoundException");
    assert_eq!(msg, "Stream s1 under account 000000000000 not found.");
}

#[tokio::test]
async fn rejects_duplicate_stream_names() {
    let t = TestServer::start().await;
    t.create_stream("dup", 1).await;
    let e = t
        .client
        .create_stream()
        .stream_name("dup")
        .shard_count(1)
        .send()
        .await
        .expect_err("dup");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceInUseException".into(),
            "Stream dup under account 000000000000 already exists.".into()
        )
    );
}

#[tokio::test]
async fn creates_on_demand_streams_with_four_shards() {
    let t = TestServer::start().await;
    t.client
        .create_stream()
        .stream_name("od")
        .stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(StreamMode::OnDemand)
                .build()
                .expect("mode"),
        )
        .send()
        .await
        .expect("create");
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("od")
        .send()
        .await
        .expect("summary");
    let s = s.stream_description_summary().expect("summary");
    assert_eq!(s.open_shard_count(), 4);
    assert_eq!(
        s.stream_mode_details().unwrap().stream_mode(),
        &StreamMode::OnDemand
    );
    let l = t.client.describe_limits().send().await.expect("limits");
    assert_eq!(l.on_demand_stream_count(), 1);
    assert_eq!(l.open_shard_count(), 4);
    assert_eq!(l.shard_limit(), 20_000);
    assert_eq!(l.on_demand_stream_count_limit(), 50);
}

#[tokio::test]
async fn enforces_the_account_shard_limit() {
    let t = TestServer::start_with(
        std::sync::Arc::new(nagare_engine::clock::SystemClock),
        |c| c.engine.shard_limit = 5,
    )
    .await;
    t.create_stream("a", 4).await;
    let e = t
        .client
        .create_stream()
        .stream_name("b")
        .shard_count(2)
        .send()
        .await
        .expect_err("limit");
    let (code, msg) = err_parts(&e);
    assert_eq!(code, "LimitExceededException");
    assert!(msg.starts_with("This request would exceed the shard limit for the account 000000000000 in us-east-1. Current shard count for the account: 4. Limit: 5. Number of additional shards that would have resulted from this request: 2."), "{msg}");
}

#[tokio::test]
async fn addresses_streams_by_arn() {
    let t = TestServer::start().await;
    t.create_stream("byarn", 1).await;
    let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/byarn";
    let s = t
        .client
        .describe_stream_summary()
        .stream_arn(arn)
        .send()
        .await
        .expect("summary");
    assert_eq!(
        s.stream_description_summary().unwrap().stream_name(),
        "byarn"
    );
    let e = t
        .client
        .describe_stream_summary()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/other")
        .send()
        .await
        .expect_err("missing");
    assert_eq!(
        err_parts(&e).1,
        "Stream other under account 000000000000 not found."
    );
}

#[tokio::test]
async fn describe_stream_paginates_shards() {
    let t = TestServer::start().await;
    t.create_stream("pages", 5).await;
    let p1 = t
        .client
        .describe_stream()
        .stream_name("pages")
        .limit(2)
        .send()
        .await
        .expect("p1");
    let d1 = p1.stream_description().unwrap();
    assert_eq!(d1.shards().len(), 2);
    assert!(d1.has_more_shards());
    let p2 = t
        .client
        .describe_stream()
        .stream_name("pages")
        .exclusive_start_shard_id("shardId-000000000003")
        .send()
        .await
        .expect("p2");
    let d2 = p2.stream_description().unwrap();
    assert_eq!(
        d2.shards().iter().map(|s| s.shard_id()).collect::<Vec<_>>(),
        ["shardId-000000000004"]
    );
    assert!(!d2.has_more_shards());
}

#[tokio::test]
async fn list_streams_paginates_in_name_order() {
    let t = TestServer::start().await;
    for n in ["c", "a", "b"] {
        t.create_stream(n, 1).await;
    }
    let p1 = t.client.list_streams().limit(2).send().await.expect("p1");
    assert_eq!(p1.stream_names(), ["a", "b"]);
    assert!(p1.has_more_streams());
    assert_eq!(p1.stream_summaries().len(), 2);
    let p2 = t
        .client
        .list_streams()
        .next_token(p1.next_token().expect("token"))
        .send()
        .await
        .expect("p2");
    assert_eq!(p2.stream_names(), ["c"]);
    assert!(!p2.has_more_streams());
    let p3 = t
        .client
        .list_streams()
        .exclusive_start_stream_name("a")
        .send()
        .await
        .expect("p3");
    assert_eq!(p3.stream_names(), ["b", "c"]);
}

#[tokio::test]
async fn list_shards_paginates_and_filters() {
    let t = TestServer::start().await;
    t.create_stream("ls", 3).await;
    let p1 = t
        .client
        .list_shards()
        .stream_name("ls")
        .max_results(2)
        .send()
        .await
        .expect("p1");
    assert_eq!(p1.shards().len(), 2);
    let token = p1.next_token().expect("token").to_owned();
    let p2 = t
        .client
        .list_shards()
        .next_token(&token)
        .send()
        .await
        .expect("p2");
    assert_eq!(
        p2.shards().iter().map(|s| s.shard_id()).collect::<Vec<_>>(),
        ["shardId-000000000002"]
    );
    assert!(p2.next_token().is_none());

    let e = t
        .client
        .list_shards()
        .stream_name("ls")
        .next_token(&token)
        .send()
        .await
        .expect_err("both");
    assert_eq!(
        err_parts(&e),
        (
            "InvalidArgumentException".into(),
            "NextToken and StreamName cannot be provided together.".into()
        )
    );
    let e = t.client.list_shards().send().await.expect_err("neither");
    assert_eq!(
        err_parts(&e),
        (
            "InvalidArgumentException".into(),
            "Either NextToken or StreamName should be provided.".into()
        )
    );

    let after = t
        .client
        .list_shards()
        .stream_name("ls")
        .shard_filter(
            ShardFilter::builder()
                .r#type(ShardFilterType::AfterShardId)
                .shard_id("shardId-000000000000")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("after");
    assert_eq!(after.shards().len(), 2);
    for kind in [
        ShardFilterType::AtLatest,
        ShardFilterType::AtTrimHorizon,
        ShardFilterType::FromTrimHorizon,
    ] {
        let r = t
            .client
            .list_shards()
            .stream_name("ls")
            .shard_filter(ShardFilter::builder().r#type(kind.clone()).build().unwrap())
            .send()
            .await
            .expect("filter");
        assert_eq!(r.shards().len(), 3, "{kind:?}");
    }
    let now = aws_sdk_kinesis::primitives::DateTime::from_millis(
        nagare_engine::clock::Clock::now_ms(&nagare_engine::clock::SystemClock),
    );
    for kind in [ShardFilterType::AtTimestamp, ShardFilterType::FromTimestamp] {
        let r = t
            .client
            .list_shards()
            .stream_name("ls")
            .shard_filter(
                ShardFilter::builder()
                    .r#type(kind.clone())
                    .timestamp(now)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("filter");
        assert_eq!(r.shards().len(), 3, "{kind:?}");
    }
}

#[tokio::test]
async fn expires_list_shards_tokens_after_five_minutes() {
    let clock = crate::common::manual_clock_now();
    let t = TestServer::start_with(std::sync::Arc::new(clock.clone()), |_| {}).await;
    t.create_stream("tok", 2).await;
    let p1 = t
        .client
        .list_shards()
        .stream_name("tok")
        .max_results(1)
        .send()
        .await
        .expect("p1");
    clock.advance(300_001);
    let e = t
        .client
        .list_shards()
        .next_token(p1.next_token().unwrap())
        .send()
        .await
        .expect_err("expired");
    assert_eq!(err_parts(&e).0, "ExpiredNextTokenException");
}

#[tokio::test]
async fn retention_changes_follow_aws_rules() {
    let t = TestServer::start().await;
    t.create_stream("ret", 1).await;
    t.client
        .increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(48)
        .send()
        .await
        .expect("inc");
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("ret")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary()
            .unwrap()
            .retention_period_hours(),
        48
    );

    let e = t
        .client
        .increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(30)
        .send()
        .await
        .expect_err("shorter");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "Requested retention period (30 hours) for stream ret can not be shorter than existing retention period (48 hours). Use DecreaseRetentionPeriod API.".into()));
    let e = t
        .client
        .decrease_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(72)
        .send()
        .await
        .expect_err("longer");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "Requested retention period (72 hours) for stream ret can not be longer than existing retention period (48 hours). Use IncreaseRetentionPeriod API.".into()));
    let e = t
        .client
        .decrease_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(23)
        .send()
        .await
        .expect_err("short");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is too short.".into()));
    let e = t
        .client
        .increase_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(8761)
        .send()
        .await
        .expect_err("long");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "Maximum allowed retention period is 8760 hours. Requested retention period (8761 hours) is too long.".into()));
    t.client
        .decrease_stream_retention_period()
        .stream_name("ret")
        .retention_period_hours(24)
        .send()
        .await
        .expect("dec");
    let e = t
        .client
        .increase_stream_retention_period()
        .stream_name("none")
        .retention_period_hours(48)
        .send()
        .await
        .expect_err("missing");
    assert_eq!(err_parts(&e).0, "ResourceNotFoundException");
}

#[tokio::test]
async fn stream_stays_creating_for_the_configured_time() {
    let t = TestServer::start_with(
        std::sync::Arc::new(nagare_engine::clock::SystemClock),
        |c| {
            c.engine.create_delay = std::time::Duration::from_millis(300);
        },
    )
    .await;
    t.create_stream("slow", 1).await;
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("slow")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().stream_status(),
        &StreamStatus::Creating
    );
    let e = t
        .client
        .put_record()
        .stream_name("slow")
        .partition_key("k")
        .data(aws_sdk_kinesis::primitives::Blob::new("x"))
        .send()
        .await
        .expect_err("creating");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceNotFoundException".into(),
            "Stream slow under account 000000000000 not found.".into()
        )
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let s = t
        .client
        .describe_stream_summary()
        .stream_name("slow")
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.stream_description_summary().unwrap().stream_status(),
        &StreamStatus::Active
    );
}

#[tokio::test]
async fn unsupported_operations_answer_a_clear_error() {
    let t = TestServer::start().await;
    t.create_stream("u", 1).await;
    let e = t
        .client
        .update_stream_record_distribution_strategy()
        .stream_arn("arn:aws:kinesis:us-east-1:000000000000:stream/u")
        .record_distribution_strategy(aws_sdk_kinesis::types::RecordDistributionStrategy::Auto)
        .send()
        .await
        .expect_err("unsupported");
    assert_eq!(
        err_parts(&e),
        (
            "InvalidArgumentException".into(),
            "UpdateStreamRecordDistributionStrategy is not supported by this server yet.".into()
        )
    );
}

#[tokio::test]
async fn control_plane_calls_beyond_aws_rates_are_limit_exceeded() {
    let clock = crate::common::manual_clock_now();
    let t = TestServer::start_with(std::sync::Arc::new(clock.clone()), |c| {
        c.engine.throughput_limits = true
    })
    .await;
    t.client
        .describe_limits()
        .send()
        .await
        .expect("first DescribeLimits");
    let e = t
        .client
        .describe_limits()
        .send()
        .await
        .expect_err("1 per second");
    assert_eq!(
        err_parts(&e),
        (
            "LimitExceededException".into(),
            "Rate exceeded for operation DescribeLimits under account 000000000000.".into()
        )
    );
    clock.advance(1_000);
    t.client
        .describe_limits()
        .send()
        .await
        .expect("a second later");
    for i in 0..5 {
        t.client
            .create_stream()
            .stream_name(format!("r{i}"))
            .shard_count(1)
            .send()
            .await
            .expect("5 CreateStream per second");
    }
    let e = t
        .client
        .create_stream()
        .stream_name("r5")
        .shard_count(1)
        .send()
        .await
        .expect_err("sixth");
    assert_eq!(err_parts(&e).0, "LimitExceededException");
}
