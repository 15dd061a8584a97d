//! `GET /metrics` and `GET /metrics/json` after known workloads.
//!
//! The recorder is process-global and `cargo test` runs these tests on threads of one process
//! (nextest gives each its own), so every test uses its own stream names and asserts only on
//! series labelled with them.

use crate::common::{RawResponse, TestServer, json_headers, manual_clock_now};
use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ACCOUNT: &str = "000000000000";
const THROTTLED: &str = "ProvisionedThroughputExceededException";

fn throttled_message(stream: &str) -> String {
    format!(
        "Rate exceeded for shard shardId-000000000000 in stream {stream} under account {ACCOUNT}."
    )
}

/// HTTP/1.1 `method path` over a fresh connection with `Connection: close`.
async fn request(
    t: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> RawResponse {
    let addr = t.addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write body");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let r = RawResponse {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    };
    // Every response here has a Content-Length; a chunked one would need decoding.
    assert_eq!(r.header("transfer-encoding"), None);
    r
}

async fn metrics_json(t: &TestServer) -> Value {
    let r = request(t, "GET", "/metrics/json", &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.json()
}

/// `streams.<name>.metrics` of `/metrics/json`.
async fn stream_metrics(t: &TestServer, stream: &str) -> Value {
    let doc = metrics_json(t).await;
    doc["streams"][stream]["metrics"].clone()
}

/// `/metrics` as series (`name{labels}`) → value text, plus the whole text.
async fn prometheus(t: &TestServer) -> (HashMap<String, String>, String) {
    let r = request(t, "GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    let series = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (series, text)
}

fn entry(pk: &str, data: &[u8]) -> PutRecordsRequestEntry {
    PutRecordsRequestEntry::builder()
        .partition_key(pk)
        .data(Blob::new(data))
        .build()
        .expect("entry")
}

async fn trim_horizon(t: &TestServer, stream: &str, shard: &str) -> String {
    t.client
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("iterator")
        .shard_iterator()
        .expect("some")
        .to_owned()
}

/// 500 entries of 1 KiB data each, keys `k0`…`k499`.
fn kib_batch() -> Vec<PutRecordsRequestEntry> {
    (0..500)
        .map(|i| entry(&format!("k{i}"), &[b'x'; 1024]))
        .collect()
}

#[tokio::test]
async fn workload_shows_exact_stream_metrics_in_json_and_prometheus() {
    let t = TestServer::start().await;
    let stream = "mx-workload";
    t.create_stream(stream, 2).await;

    // One PutRecords of 37 entries of varied sizes, then three PutRecord calls.
    let batch: Vec<(String, Vec<u8>)> = (0..37)
        .map(|i| (format!("pk-{i}"), vec![i as u8; 1 + (i * 7) % 50]))
        .collect();
    let batch_bytes: u64 = batch.iter().map(|(k, d)| (k.len() + d.len()) as u64).sum();
    let out = t
        .client
        .put_records()
        .stream_name(stream)
        .set_records(Some(batch.iter().map(|(k, d)| entry(k, d)).collect()))
        .send()
        .await
        .expect("put_records");
    assert_eq!(out.failed_record_count(), Some(0));
    let mut single_bytes = 0u64;
    for j in 0..3 {
        let (key, data) = (format!("single-{j}"), vec![b'y'; 100 + j]);
        single_bytes += (key.len() + data.len()) as u64;
        t.client
            .put_record()
            .stream_name(stream)
            .partition_key(key)
            .data(Blob::new(data))
            .send()
            .await
            .expect("put_record");
    }

    // Two GetRecords calls, one per shard, between them return all 40 records.
    let mut read_records = 0;
    let mut read_bytes = 0u64;
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let it = trim_horizon(&t, stream, shard).await;
        let got = t
            .client
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .expect("get_records");
        read_records += got.records().len();
        read_bytes += got
            .records()
            .iter()
            .map(|r| (r.data().as_ref().len() + r.partition_key().map_or(0, str::len)) as u64)
            .sum::<u64>();
    }
    assert_eq!(read_records, 40);
    let all_bytes = batch_bytes + single_bytes;
    assert_eq!(read_bytes, all_bytes);

    let doc = metrics_json(&t).await;
    assert_eq!(doc["global"], true);
    let m = &doc["streams"][stream]["metrics"];
    let expected: [(&str, u64); 17] = [
        ("IncomingRecords", 40),
        ("IncomingBytes", all_bytes),
        ("PutRecords.TotalRecords", 37),
        ("PutRecords.SuccessfulRecords", 37),
        ("PutRecords.FailedRecords", 0),
        ("PutRecords.ThrottledRecords", 0),
        ("PutRecords.Success", 1),
        ("PutRecords.Bytes", batch_bytes),
        ("PutRecord.Success", 3),
        ("PutRecord.Bytes", single_bytes),
        ("GetRecords.Records", 40),
        ("GetRecords.Bytes", all_bytes),
        ("GetRecords.Success", 2),
        ("ReadProvisionedThroughputExceeded", 0),
        ("WriteProvisionedThroughputExceeded", 0),
        ("PutRecord.Latency", 3),
        ("PutRecords.Latency", 1),
    ];
    for (name, want) in expected {
        let got = if name.ends_with(".Latency") {
            &m[name]["count"]
        } else {
            &m[name]
        };
        assert_eq!(got, want, "{name} in {m}");
    }
    assert_eq!(m["GetRecords.Latency"]["count"], 2, "{m}");
    let latency = &m["PutRecord.Latency"];
    let (min, max) = (latency["min"].as_f64(), latency["max"].as_f64());
    assert!(
        min.zip(max).is_some_and(|(lo, hi)| 0.0 <= lo && lo <= hi),
        "{latency}"
    );
    assert!(
        m["GetRecords.IteratorAgeMilliseconds"]
            .as_f64()
            .is_some_and(|a| a >= 0.0),
        "{m}"
    );
    // Shard-level series exist for every shard but stay zero: enhanced monitoring is off.
    let shards = doc["streams"][stream]["shards"]
        .as_object()
        .expect("shards");
    assert_eq!(shards.len(), 2, "{shards:?}");
    for (shard, metrics) in shards {
        for (name, v) in metrics.as_object().expect("shard metrics") {
            assert_eq!(v.as_f64(), Some(0.0), "{shard} {name}");
        }
    }
    // The server's own request counter is not a stream metric.
    assert!(
        doc["other"]["nagare_requests_total"]
            .as_array()
            .is_some_and(
                |a| a.iter().any(|s| s["labels"]["operation"] == "PutRecords"
                    && s["labels"]["outcome"] == "ok"
                    && s["value"].as_u64() >= Some(1))
            ),
        "{}",
        doc["other"]
    );

    let (series, text) = prometheus(&t).await;
    let label = format!("{{StreamName=\"{stream}\"}}");
    for (name, want) in [
        ("kinesis_IncomingRecords", 40),
        ("kinesis_IncomingBytes", all_bytes),
        ("kinesis_PutRecords_TotalRecords", 37),
        ("kinesis_PutRecords_SuccessfulRecords", 37),
        ("kinesis_PutRecords_Success", 1),
        ("kinesis_PutRecord_Success", 3),
        ("kinesis_GetRecords_Records", 40),
        ("kinesis_GetRecords_Bytes", all_bytes),
        ("kinesis_GetRecords_Success", 2),
        ("kinesis_PutRecord_Latency_count", 3),
    ] {
        assert_eq!(
            series.get(&format!("{name}{label}")).map(String::as_str),
            Some(want.to_string().as_str()),
            "{name}{label} in\n{text}"
        );
    }
    for (family, kind) in [
        ("kinesis_IncomingRecords", "counter"),
        ("kinesis_GetRecords_IteratorAgeMilliseconds", "gauge"),
        ("kinesis_PutRecord_Latency", "summary"),
    ] {
        assert!(
            text.contains(&format!("\n# TYPE {family} {kind}\n")),
            "{family}"
        );
    }
    assert!(series.contains_key(&format!(
        "kinesis_PutRecord_Latency{{StreamName=\"{stream}\",quantile=\"0.99\"}}"
    )));
    assert_eq!(
        series
            .get(&format!(
                "kinesis_IncomingRecords{{ShardId=\"shardId-000000000001\",StreamName=\"{stream}\"}}"
            ))
            .map(String::as_str),
        Some("0")
    );
}

#[tokio::test]
async fn every_series_of_a_stream_renders_with_the_kinesis_prefix() {
    // Guards the renderer's list of CloudWatch names against metrics the engine adds later.
    let t = TestServer::start().await;
    let stream = "mx-names";
    t.create_stream(stream, 1).await;
    let doc = metrics_json(&t).await;
    let (_, text) = prometheus(&t).await;
    let entry = &doc["streams"][stream];
    let stream_names = entry["metrics"].as_object().expect("metrics").keys();
    let shard_names = entry["shards"]["shardId-000000000000"]
        .as_object()
        .expect("shard")
        .keys();
    let mut checked = 0;
    for name in stream_names.chain(shard_names) {
        let family = format!("kinesis_{}", name.replace('.', "_"));
        assert!(
            text.contains(&format!("\n# TYPE {family} ")),
            "{name} is not rendered as {family}"
        );
        checked += 1;
    }
    // 19 stream-level and 7 shard-level series.
    assert_eq!(checked, 26);
}

#[tokio::test]
async fn metrics_paths_answer_get_and_leave_every_other_request_to_kinesis() {
    let t = TestServer::start().await;
    // A Kinesis call POSTed to /metrics is still a Kinesis call: AWS ignores the path.
    let r = request(
        &t,
        "POST",
        "/metrics",
        &json_headers("Kinesis_20131202.ListStreams"),
        b"{}",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["StreamNames"].is_array(), "{}", r.text());

    let r = request(&t, "GET", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(
        r.text()
            .contains("\n# TYPE nagare_requests_total counter\n"),
        "{}",
        r.text()
    );
    assert!(
        r.text()
            .contains("nagare_requests_total{operation=\"ListStreams\",outcome=\"ok\"} "),
        "{}",
        r.text()
    );
    let r = request(&t, "HEAD", "/metrics", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let doc = metrics_json(&t).await;
    assert!(
        doc["streams"].is_object() && doc["other"].is_object(),
        "{doc}"
    );

    // Other paths and methods keep the envelope's AccessDenied.
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/metrics/"),
        ("GET", "/metrics/prometheus"),
        ("PUT", "/metrics/json"),
        ("DELETE", "/metrics"),
    ] {
        let r = request(&t, method, path, &[], b"").await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
        assert!(
            r.text().starts_with("<AccessDeniedException>"),
            "{method} {path}: {}",
            r.text()
        );
    }
}

#[tokio::test]
async fn writes_over_a_shards_rate_are_throttled_per_entry_and_counted() {
    // A clock that stands still makes the token buckets exact: a shard admits 1000 records
    // (and 1 MiB) per second, and no time passes between the batches.
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |c| {
        c.engine.throughput_limits = true;
    })
    .await;
    let stream = "mx-throttle-writes";
    t.create_stream(stream, 1).await;

    // 4 × 500 × 1 KiB: about 2 MiB offered within one (frozen) second.
    let mut throttled = 0;
    let mut failed_per_batch = Vec::new();
    for _ in 0..4 {
        let out = t
            .client
            .put_records()
            .stream_name(stream)
            .set_records(Some(kib_batch()))
            .send()
            .await
            .expect("put_records");
        let mut failed = 0;
        for r in out.records() {
            if let Some(code) = r.error_code() {
                assert_eq!(code, THROTTLED);
                assert_eq!(r.error_message(), Some(throttled_message(stream).as_str()));
                assert_eq!(r.sequence_number(), None);
                failed += 1;
            }
        }
        assert_eq!(out.failed_record_count(), Some(failed));
        failed_per_batch.push(failed);
        throttled += failed as u64;
    }
    // The first 1000 records fit (1000 × ~1027 bytes < 1 MiB): the record rate binds.
    assert_eq!(failed_per_batch, [0, 0, 500, 500]);

    let m = stream_metrics(&t, stream).await;
    for (name, want) in [
        ("WriteProvisionedThroughputExceeded", throttled),
        ("PutRecords.ThrottledRecords", throttled),
        ("PutRecords.FailedRecords", throttled),
        ("PutRecords.TotalRecords", 2000),
        ("PutRecords.SuccessfulRecords", 1000),
        // A batch counts as a success when at least one of its records was stored.
        ("PutRecords.Success", 2),
        ("IncomingRecords", 1000),
        ("ReadProvisionedThroughputExceeded", 0),
    ] {
        assert_eq!(m[name], want, "{name} in {m}");
    }

    // PutRecord reports throttling for the whole request.
    let r = t
        .call(
            "PutRecord",
            &format!(r#"{{"StreamName":"{stream}","PartitionKey":"p","Data":"AAAA"}}"#),
        )
        .await;
    r.assert_error(400, THROTTLED, Some(&throttled_message(stream)));
    let m = stream_metrics(&t, stream).await;
    assert_eq!(
        m["WriteProvisionedThroughputExceeded"],
        throttled + 1,
        "{m}"
    );
    assert_eq!(m["PutRecord.Success"], 0, "{m}");

    // A second later the bucket has refilled.
    clock.advance(1000);
    t.client
        .put_record()
        .stream_name(stream)
        .partition_key("p")
        .data(Blob::new(&b"after"[..]))
        .send()
        .await
        .expect("put_record after refill");
    let m = stream_metrics(&t, stream).await;
    assert_eq!(m["PutRecord.Success"], 1, "{m}");
    assert_eq!(
        m["WriteProvisionedThroughputExceeded"],
        throttled + 1,
        "{m}"
    );
}

#[tokio::test]
async fn get_records_beyond_five_calls_per_second_are_throttled_and_counted() {
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |c| {
        c.engine.throughput_limits = true;
    })
    .await;
    let stream = "mx-throttle-reads";
    t.create_stream(stream, 1).await;
    let out = t
        .client
        .put_records()
        .stream_name(stream)
        .set_records(Some(vec![
            entry("a", b"one"),
            entry("b", b"two"),
            entry("c", b"three"),
        ]))
        .send()
        .await
        .expect("put_records");
    assert_eq!(out.failed_record_count(), Some(0));

    // Ten calls 1 ms apart: a shard allows five calls per second.
    let mut it = trim_horizon(&t, stream, "shardId-000000000000").await;
    let (mut ok, mut refused, mut records) = (0u64, 0u64, 0usize);
    for _ in 0..10 {
        clock.advance(1);
        match t.client.get_records().shard_iterator(&it).send().await {
            Ok(got) => {
                ok += 1;
                records += got.records().len();
                it = got.next_shard_iterator().expect("open shard").to_owned();
            }
            Err(e) => {
                let e = e.into_service_error();
                assert_eq!(e.code(), Some(THROTTLED));
                assert_eq!(e.message(), Some(throttled_message(stream).as_str()));
                refused += 1;
            }
        }
    }
    assert_eq!((ok, refused, records), (5, 5, 3));

    let m = stream_metrics(&t, stream).await;
    assert_eq!(m["ReadProvisionedThroughputExceeded"], refused, "{m}");
    assert_eq!(m["GetRecords.Success"], ok, "{m}");
    assert_eq!(m["GetRecords.Records"], 3, "{m}");
    assert_eq!(m["GetRecords.Latency"]["count"], ok, "{m}");
    assert_eq!(m["WriteProvisionedThroughputExceeded"], 0, "{m}");
}

#[tokio::test]
async fn with_limits_off_nothing_is_throttled_or_counted_as_throttled() {
    let t = TestServer::start().await;
    let stream = "mx-unlimited";
    t.create_stream(stream, 1).await;
    for _ in 0..4 {
        let out = t
            .client
            .put_records()
            .stream_name(stream)
            .set_records(Some(kib_batch()))
            .send()
            .await
            .expect("put_records");
        assert_eq!(out.failed_record_count(), Some(0));
    }
    let mut it = trim_horizon(&t, stream, "shardId-000000000000").await;
    let mut records = 0;
    for _ in 0..10 {
        let got = t
            .client
            .get_records()
            .shard_iterator(&it)
            .send()
            .await
            .expect("get_records is never throttled with limits off");
        records += got.records().len();
        it = got.next_shard_iterator().expect("open shard").to_owned();
    }
    assert_eq!(records, 2000);

    let m = stream_metrics(&t, stream).await;
    for (name, want) in [
        ("WriteProvisionedThroughputExceeded", 0),
        ("ReadProvisionedThroughputExceeded", 0),
        ("PutRecords.ThrottledRecords", 0),
        ("PutRecords.FailedRecords", 0),
        ("PutRecords.TotalRecords", 2000),
        ("PutRecords.SuccessfulRecords", 2000),
        ("PutRecords.Success", 4),
        ("IncomingRecords", 2000),
        ("GetRecords.Records", 2000),
        ("GetRecords.Success", 10),
    ] {
        assert_eq!(m[name], want, "{name} in {m}");
    }
}
