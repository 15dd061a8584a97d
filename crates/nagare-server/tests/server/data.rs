//! Data plane through `aws-sdk-kinesis`.

use crate::common::{TestServer, err_parts, manual_clock_now};
use aws_sdk_kinesis::primitives::{Blob, DateTime};
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use std::sync::Arc;

fn entry(pk: &str, data: &[u8]) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(pk)
        .data(Blob::new(data))
        .build()
        .expect("entry")
}

async fn iterator(
    t: &TestServer,
    stream: &str,
    shard: &str,
    kind: ShardIteratorType,
    seq: Option<&str>,
) -> String {
    t.client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(kind)
        .set_starting_sequence_number(seq.map(str::to_owned))
        .send()
        .await
        .expect("iterator")
        .shard_iterator()
        .expect("some")
        .to_owned()
}

#[tokio::test]
async fn put_record_then_get_records_round_trips_bytes() {
    let t = TestServer::start().await;
    t.create_stream("rt", 1).await;
    let data: Vec<u8> = (0..=255u8).collect();
    let put = t
        .client
        .put_record()
        .stream_name("rt")
        .partition_key("key-1")
        .data(Blob::new(data.clone()))
        .send()
        .await
        .expect("put");
    assert_eq!(put.shard_id(), "shardId-000000000000");
    assert_eq!(put.encryption_type().map(|e| e.as_str()), Some("NONE"));
    let it = iterator(
        &t,
        "rt",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let got = t
        .client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect("get");
    assert_eq!(got.records().len(), 1);
    let r = &got.records()[0];
    assert_eq!(r.data().as_ref(), &data[..]);
    assert_eq!(r.partition_key(), Some("key-1"));
    assert_eq!(r.sequence_number(), put.sequence_number());
    assert!(r.approximate_arrival_timestamp().is_some());
    assert_eq!(got.millis_behind_latest(), Some(0));
    assert!(got.next_shard_iterator().is_some());
    assert!(got.child_shards().is_empty());
}

#[tokio::test]
async fn put_records_answers_in_input_order_with_increasing_sequence_numbers() {
    let t = TestServer::start().await;
    t.create_stream("pr", 4).await;
    let entries: Vec<_> = (0..200)
        .map(|i| entry(&format!("pk-{i}"), format!("v{i}").as_bytes()))
        .collect();
    let out = t
        .client
        .put_records()
        .stream_name("pr")
        .set_records(Some(entries))
        .send()
        .await
        .expect("put");
    assert_eq!(out.failed_record_count(), Some(0));
    assert_eq!(out.records().len(), 200);
    let mut last: std::collections::HashMap<String, u128> = Default::default();
    for (i, r) in out.records().iter().enumerate() {
        let shard = r.shard_id().expect("shard").to_owned();
        // MD5 routing: the shard must own the key's hash.
        let h = nagare_types::hash_partition_key(&format!("pk-{i}"));
        let idx = (h.0 / (u128::MAX / 4 + 1)) as u32;
        assert_eq!(shard, nagare_types::ShardId(idx).to_string());
        let seq: u128 = r.sequence_number().expect("seq").parse().expect("decimal");
        if let Some(prev) = last.insert(shard, seq) {
            assert!(seq > prev, "sequence numbers increase within a shard");
        }
    }
    // Everything is readable back, per shard in order.
    let mut total = 0;
    for s in 0..4 {
        let it = iterator(
            &t,
            "pr",
            &format!("shardId-00000000000{s}"),
            ShardIteratorType::TrimHorizon,
            None,
        )
        .await;
        let got = t
            .client
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .expect("get");
        total += got.records().len();
    }
    assert_eq!(total, 200);
}

#[tokio::test]
async fn explicit_hash_key_overrides_the_partition_key() {
    let t = TestServer::start().await;
    t.create_stream("ehk", 2).await;
    let out = t
        .client
        .put_record()
        .stream_name("ehk")
        .partition_key("a")
        .explicit_hash_key("340282366920938463463374607431768211455")
        .data(Blob::new("x"))
        .send()
        .await
        .expect("put");
    assert_eq!(out.shard_id(), "shardId-000000000001");
    let e = t
        .client
        .put_record()
        .stream_name("ehk")
        .partition_key("a")
        .explicit_hash_key("340282366920938463463374607431768211456")
        .data(Blob::new("x"))
        .send()
        .await
        .expect_err("range");
    assert_eq!(
        err_parts(&e),
        (
            "InvalidArgumentException".into(),
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was 340282366920938463463374607431768211456".into()
        )
    );
}

#[tokio::test]
async fn sequence_number_for_ordering_must_come_from_the_stream() {
    let t = TestServer::start().await;
    t.create_stream("ord", 1).await;
    let first = t
        .client
        .put_record()
        .stream_name("ord")
        .partition_key("k")
        .data(Blob::new("1"))
        .send()
        .await
        .expect("put");
    let second = t
        .client
        .put_record()
        .stream_name("ord")
        .partition_key("k")
        .data(Blob::new("2"))
        .sequence_number_for_ordering(first.sequence_number())
        .send()
        .await
        .expect("ordered put");
    assert!(
        second.sequence_number().parse::<u128>().unwrap()
            > first.sequence_number().parse::<u128>().unwrap()
    );
    let e = t
        .client
        .put_record()
        .stream_name("ord")
        .partition_key("k")
        .data(Blob::new("3"))
        .sequence_number_for_ordering("12345")
        .send()
        .await
        .expect_err("foreign");
    assert_eq!(
        err_parts(&e),
        ("InvalidArgumentException".into(), "ExclusiveMinimumSequenceNumber 12345 used in PutRecord on stream ord under account 000000000000 is invalid.".into())
    );
}

#[tokio::test]
async fn shard_iterators_of_every_type_start_where_aws_says() {
    let t = TestServer::start().await;
    t.create_stream("its", 1).await;
    let shard = "shardId-000000000000";
    let mut seqs = Vec::new();
    for i in 0..5 {
        let p = t
            .client
            .put_record()
            .stream_name("its")
            .partition_key("k")
            .data(Blob::new(format!("r{i}")))
            .send()
            .await
            .unwrap();
        seqs.push(p.sequence_number().to_owned());
    }
    let read = |it: String| {
        let c = t.client.clone();
        async move {
            let out = c
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .expect("get");
            out.records()
                .iter()
                .map(|r| String::from_utf8_lossy(r.data().as_ref()).into_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        read(iterator(&t, "its", shard, ShardIteratorType::TrimHorizon, None).await).await,
        ["r0", "r1", "r2", "r3", "r4"]
    );
    assert_eq!(
        read(
            iterator(
                &t,
                "its",
                shard,
                ShardIteratorType::AtSequenceNumber,
                Some(&seqs[2])
            )
            .await
        )
        .await,
        ["r2", "r3", "r4"]
    );
    assert_eq!(
        read(
            iterator(
                &t,
                "its",
                shard,
                ShardIteratorType::AfterSequenceNumber,
                Some(&seqs[2])
            )
            .await
        )
        .await,
        ["r3", "r4"]
    );
    let latest = iterator(&t, "its", shard, ShardIteratorType::Latest, None).await;
    assert!(read(latest.clone()).await.is_empty());
    t.client
        .put_record()
        .stream_name("its")
        .partition_key("k")
        .data(Blob::new("r5"))
        .send()
        .await
        .unwrap();
    assert_eq!(read(latest).await, ["r5"]);

    let ts = t
        .client
        .get_shard_iterator()
        .stream_name("its")
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(0))
        .send()
        .await
        .expect("at ts");
    assert_eq!(read(ts.shard_iterator().unwrap().to_owned()).await.len(), 6);
}

#[tokio::test]
async fn get_shard_iterator_rejects_mismatched_arguments() {
    let t = TestServer::start().await;
    t.create_stream("gsi", 1).await;
    let base = || {
        t.client
            .get_shard_iterator()
            .stream_name("gsi")
            .shard_id("shardId-000000000000")
    };
    let e = base()
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .send()
        .await
        .expect_err("no seq");
    assert_eq!(
        err_parts(&e).1,
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."
    );
    let e = base()
        .shard_iterator_type(ShardIteratorType::Latest)
        .starting_sequence_number("1")
        .send()
        .await
        .expect_err("seq");
    assert_eq!(
        err_parts(&e).1,
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified LATEST and also a StartingSequenceNumber."
    );
    let e = base()
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .send()
        .await
        .expect_err("no ts");
    assert_eq!(
        err_parts(&e).1,
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter."
    );
    let e = base()
        .shard_iterator_type(ShardIteratorType::AtTimestamp)
        .timestamp(DateTime::from_secs(4_000_000_000))
        .send()
        .await
        .expect_err("future");
    assert!(err_parts(&e).1.starts_with("The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: 4000000000000, currentTimestampInMillis: "));
    let e = base()
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number("12")
        .send()
        .await
        .expect_err("invalid seq");
    assert_eq!(err_parts(&e), ("InvalidArgumentException".into(), "StartingSequenceNumber 12 used in GetShardIterator on shard shardId-000000000000 in stream gsi under account 000000000000 is invalid.".into()));
    let e = t
        .client
        .get_shard_iterator()
        .stream_name("gsi")
        .shard_id("shardId-000000000009")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect_err("shard");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceNotFoundException".into(),
            "Shard shardId-000000000009 in stream gsi under account 000000000000 does not exist"
                .into()
        )
    );
    let e = t
        .client
        .get_shard_iterator()
        .stream_name("nope")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect_err("stream");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceNotFoundException".into(),
            "Shard shardId-000000000000 in stream nope under account 000000000000 does not exist"
                .into()
        )
    );
}

#[tokio::test]
async fn sequence_numbers_from_another_shard_or_stream_are_refused() {
    let t = TestServer::start().await;
    t.create_stream("x1", 2).await;
    t.create_stream("x2", 1).await;
    let p = t
        .client
        .put_record()
        .stream_name("x1")
        .partition_key("a")
        .explicit_hash_key("0")
        .data(Blob::new("v"))
        .send()
        .await
        .unwrap();
    let e = t
        .client
        .get_shard_iterator()
        .stream_name("x1")
        .shard_id("shardId-000000000001")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(p.sequence_number())
        .send()
        .await
        .expect_err("other shard");
    assert_eq!(
        err_parts(&e).1,
        "Invalid StartingSequenceNumber. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001"
    );
    let e = t
        .client
        .get_shard_iterator()
        .stream_name("x2")
        .shard_id("shardId-000000000000")
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(p.sequence_number())
        .send()
        .await
        .expect_err("other stream");
    assert_eq!(
        err_parts(&e).1,
        format!(
            "StartingSequenceNumber {} used in GetShardIterator on shard shardId-000000000000 in stream x2 under account 000000000000 is invalid because it did not come from this stream.",
            p.sequence_number()
        )
    );
}

#[tokio::test]
async fn get_records_pages_with_limit_and_reports_millis_behind() {
    let t = TestServer::start().await;
    t.create_stream("pg", 1).await;
    let entries: Vec<_> = (0..25)
        .map(|i| entry("k", format!("{i}").as_bytes()))
        .collect();
    t.client
        .put_records()
        .stream_name("pg")
        .set_records(Some(entries))
        .send()
        .await
        .unwrap();
    let mut it = iterator(
        &t,
        "pg",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let out = t
            .client
            .get_records()
            .shard_iterator(&it)
            .limit(10)
            .send()
            .await
            .expect("get");
        seen.extend(
            out.records()
                .iter()
                .map(|r| String::from_utf8_lossy(r.data().as_ref()).into_owned()),
        );
        it = out
            .next_shard_iterator()
            .expect("open shard always has a next iterator")
            .to_owned();
    }
    assert_eq!(seen, (0..25).map(|i| i.to_string()).collect::<Vec<_>>());
    let e = t
        .client
        .get_records()
        .shard_iterator(&it)
        .limit(10001)
        .send()
        .await
        .expect_err("limit");
    assert_eq!(err_parts(&e), ("ValidationException".into(), "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000".into()));
}

#[tokio::test]
async fn get_records_caps_a_response_at_ten_mebibytes() {
    let t = TestServer::start().await;
    t.create_stream("big", 1).await;
    let mb = vec![7u8; 1024 * 1024 - 16];
    for _ in 0..12 {
        t.client
            .put_record()
            .stream_name("big")
            .partition_key("k")
            .data(Blob::new(mb.clone()))
            .send()
            .await
            .expect("put");
    }
    let it = iterator(
        &t,
        "big",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let first = t
        .client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect("first");
    let bytes: usize = first
        .records()
        .iter()
        .map(|r| r.data().as_ref().len())
        .sum();
    assert!(bytes <= 10 * 1024 * 1024, "{bytes}");
    assert!(first.records().len() < 12);
    assert!(first.millis_behind_latest().is_some());
    let rest = t
        .client
        .get_records()
        .shard_iterator(first.next_shard_iterator().unwrap())
        .send()
        .await
        .expect("rest");
    assert_eq!(first.records().len() + rest.records().len(), 12);
}

#[tokio::test]
async fn iterators_expire_after_five_minutes() {
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |_| {}).await;
    t.create_stream("exp", 1).await;
    let it = iterator(
        &t,
        "exp",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    clock.advance(300_001);
    let e = t
        .client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect_err("expired");
    let (code, msg) = err_parts(&e);
    assert_eq!(code, "ExpiredIteratorException");
    assert!(
        msg.starts_with("Iterator expired. The iterator was created at time "),
        "{msg}"
    );
    assert!(
        msg.ends_with(
            "which is further in the future than the tolerated delay of 300000 milliseconds."
        ),
        "{msg}"
    );
}

#[tokio::test]
async fn tampered_iterators_are_invalid() {
    let t = TestServer::start().await;
    t.create_stream("tam", 1).await;
    let it = iterator(
        &t,
        "tam",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let mut bytes = it.into_bytes();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let e = t
        .client
        .get_records()
        .shard_iterator(String::from_utf8(bytes).unwrap())
        .send()
        .await
        .expect_err("tampered");
    assert_eq!(
        err_parts(&e),
        (
            "InvalidArgumentException".into(),
            "Invalid ShardIterator.".into()
        )
    );
}

#[tokio::test]
async fn records_past_retention_are_never_served() {
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |_| {}).await;
    t.create_stream("old", 1).await;
    t.client
        .put_record()
        .stream_name("old")
        .partition_key("k")
        .data(Blob::new("old"))
        .send()
        .await
        .unwrap();
    clock.advance(25 * 3_600_000);
    t.client
        .put_record()
        .stream_name("old")
        .partition_key("k")
        .data(Blob::new("new"))
        .send()
        .await
        .unwrap();
    let it = iterator(
        &t,
        "old",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let out = t
        .client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect("get");
    let data: Vec<_> = out
        .records()
        .iter()
        .map(|r| r.data().as_ref().to_vec())
        .collect();
    assert_eq!(data, [b"new".to_vec()]);
}

#[tokio::test]
async fn deleted_streams_invalidate_their_iterators() {
    let t = TestServer::start().await;
    t.create_stream("del", 1).await;
    let it = iterator(
        &t,
        "del",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    t.client
        .delete_stream()
        .stream_name("del")
        .send()
        .await
        .unwrap();
    t.create_stream("del", 1).await;
    let e = t
        .client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect_err("old incarnation");
    assert_eq!(
        err_parts(&e),
        (
            "ResourceNotFoundException".into(),
            "Shard shardId-000000000000 in stream del under account 000000000000 does not exist"
                .into()
        )
    );
}

#[tokio::test]
async fn retention_pass_reclaims_disk_space_of_expired_segments() {
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |c| {
        c.engine.log.segment_max_bytes = 4096
    })
    .await;
    t.create_stream("gc", 1).await;
    for _ in 0..20 {
        t.client
            .put_record()
            .stream_name("gc")
            .partition_key("k")
            .data(Blob::new(vec![1u8; 1000]))
            .send()
            .await
            .unwrap();
    }
    let engine = &t.server.as_ref().unwrap().engine;
    let log = engine
        .log_store()
        .log_names()
        .into_iter()
        .next()
        .expect("one log");
    let before = engine.log_store().log(&log).unwrap().disk_bytes();
    clock.advance(25 * 3_600_000);
    t.client
        .put_record()
        .stream_name("gc")
        .partition_key("k")
        .data(Blob::new("fresh"))
        .send()
        .await
        .unwrap();
    let reclaimed = engine.enforce_retention();
    let after = engine.log_store().log(&log).unwrap().disk_bytes();
    assert!(
        reclaimed > 0 && after < before,
        "reclaimed {reclaimed}, {before} -> {after}"
    );
    let it = iterator(
        &t,
        "gc",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let out = t
        .client
        .get_records()
        .shard_iterator(it)
        .send()
        .await
        .expect("get");
    assert_eq!(
        out.records()
            .iter()
            .map(|r| r.data().as_ref().to_vec())
            .collect::<Vec<_>>(),
        [b"fresh".to_vec()]
    );
}

#[tokio::test]
async fn dry_run_validates_without_writing_or_reading() {
    let t = TestServer::start().await;
    t.create_stream("dry", 1).await;
    let e = t
        .client
        .put_record()
        .stream_name("dry")
        .partition_key("k")
        .data(Blob::new("x"))
        .dry_run(true)
        .send()
        .await
        .expect_err("dry");
    assert_eq!(
        err_parts(&e),
        (
            "DryRunOperationException".into(),
            "Request would have succeeded, but DryRun flag is set.".into()
        )
    );
    let e = t
        .client
        .put_record()
        .stream_name("nope")
        .partition_key("k")
        .data(Blob::new("x"))
        .dry_run(true)
        .send()
        .await
        .expect_err("missing");
    assert_eq!(err_parts(&e).0, "ResourceNotFoundException");
    let e = t
        .client
        .put_records()
        .stream_name("dry")
        .records(entry("k", b"x"))
        .dry_run(true)
        .send()
        .await
        .expect_err("dry");
    assert_eq!(err_parts(&e).0, "DryRunOperationException");
    let it = iterator(
        &t,
        "dry",
        "shardId-000000000000",
        ShardIteratorType::TrimHorizon,
        None,
    )
    .await;
    let e = t
        .client
        .get_records()
        .shard_iterator(&it)
        .dry_run(true)
        .send()
        .await
        .expect_err("dry");
    assert_eq!(err_parts(&e).0, "DryRunOperationException");
    let out = t
        .client
        .get_records()
        .shard_iterator(&it)
        .send()
        .await
        .expect("real read");
    assert!(out.records().is_empty(), "dry runs wrote nothing");
}
