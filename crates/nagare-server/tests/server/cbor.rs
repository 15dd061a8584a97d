//! `application/x-amz-cbor-1.1`, as the Java SDKs (and so KCL) send it: raw CBOR requests,
//! CBOR answers decoded with nagare-proto's decoder. Blobs travel as byte strings and
//! timestamps as tag 1 + integer epoch milliseconds, both ways.

use crate::common::{AUTH, RawResponse, TestServer, manual_clock_now};
use nagare_engine::clock::Clock;
use nagare_proto::cbor::{self, TAG_EPOCH, Value};
use std::sync::Arc;

const CBOR: &str = "application/x-amz-cbor-1.1";

fn headers(op: &str, content_type: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", content_type.to_owned()),
        ("X-Amz-Target", format!("Kinesis_20131202.{op}")),
        ("Authorization", AUTH.to_owned()),
        ("X-Amz-Date", "20260101T000000Z".to_owned()),
    ]
}

/// Jackson's layout: indefinite-length maps and arrays.
fn jackson(v: &Value<'_>, out: &mut Vec<u8>) {
    match v {
        Value::Map(entries) => {
            out.push(0xbf);
            for (k, v) in entries {
                jackson(k, out);
                jackson(v, out);
            }
            out.push(0xff);
        }
        Value::Array(items) => {
            out.push(0x9f);
            items.iter().for_each(|i| jackson(i, out));
            out.push(0xff);
        }
        other => cbor::encode(other, out),
    }
}

async fn call(t: &TestServer, op: &str, body: Value<'_>) -> RawResponse {
    let mut bytes = Vec::new();
    jackson(&body, &mut bytes);
    t.raw("POST", &headers(op, CBOR), &bytes).await
}

/// Asserts a 200 CBOR answer and decodes it.
fn ok(r: &RawResponse) -> Value<'static> {
    assert_eq!(r.status, 200, "body {:02x?}", r.body);
    assert_eq!(r.header("content-type"), Some(CBOR));
    let v = cbor::decode(&r.body).expect("a CBOR body");
    owned(v)
}

fn owned(v: Value<'_>) -> Value<'static> {
    match v {
        Value::Bytes(b) => Value::Bytes(b.into_owned().into()),
        Value::Text(t) => Value::Text(t.into_owned().into()),
        Value::Array(items) => Value::Array(items.into_iter().map(owned).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (owned(k), owned(v)))
                .collect(),
        ),
        Value::Tag(t, inner) => Value::Tag(t, Box::new(owned(*inner))),
        Value::Unsigned(n) => Value::Unsigned(n),
        Value::Negative(n) => Value::Negative(n),
        Value::Bool(b) => Value::Bool(b),
        Value::Null => Value::Null,
        Value::Undefined => Value::Undefined,
        Value::Simple(s) => Value::Simple(s),
        Value::F16(f) => Value::F16(f),
        Value::F32(f) => Value::F32(f),
        Value::F64(f) => Value::F64(f),
    }
}

/// Asserts a CBOR error answer: status, `x-amzn-ErrorType`, and a map with `__type`.
fn error<'a>(r: &'a RawResponse, status: u16, code: &str) -> Value<'a> {
    assert_eq!(r.status, status, "body {:02x?}", r.body);
    assert_eq!(r.header("content-type"), Some(CBOR));
    assert_eq!(r.header("x-amzn-ErrorType"), Some(code));
    let v = cbor::decode(&r.body).expect("a CBOR error body");
    assert_eq!(v.get("__type").and_then(Value::as_text), Some(code));
    v
}

fn text(v: &Value<'_>, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_text)
        .unwrap_or_else(|| panic!("text {key} in {v:?}"))
        .to_owned()
}

/// Integer epoch milliseconds under tag 1, as AWS answers CBOR clients.
fn millis(v: &Value<'_>, key: &str) -> i64 {
    match v.get(key) {
        Some(Value::Tag(TAG_EPOCH, inner)) => {
            let ms = inner.as_int().unwrap_or_else(|| panic!("integer {key}"));
            i64::try_from(ms).expect("fits")
        }
        other => panic!("{key} is {other:?}, not tag 1 + integer millis"),
    }
}

fn epoch(ms: i64) -> Value<'static> {
    Value::Tag(TAG_EPOCH, Box::new(Value::Unsigned(ms as u64)))
}

fn stream(name: &'static str) -> (&'static str, Value<'static>) {
    ("StreamName", Value::text(name))
}

async fn iterator(t: &TestServer, kind: &str, at: Option<i64>) -> String {
    let mut members = vec![
        stream("cb"),
        ("ShardId", Value::text("shardId-000000000000")),
        ("ShardIteratorType", Value::text(kind.to_owned())),
    ];
    if let Some(ms) = at {
        members.push(("Timestamp", epoch(ms)));
    }
    text(
        &ok(&call(t, "GetShardIterator", Value::map(members)).await),
        "ShardIterator",
    )
}

async fn records(t: &TestServer, iterator: String) -> Vec<Value<'static>> {
    let out = ok(&call(
        t,
        "GetRecords",
        Value::map([
            ("ShardIterator", Value::text(iterator)),
            ("Limit", Value::Unsigned(100)),
        ]),
    )
    .await);
    assert!(
        out.get("MillisBehindLatest")
            .and_then(Value::as_int)
            .is_some()
    );
    assert!(
        out.get("NextShardIterator")
            .and_then(Value::as_text)
            .is_some()
    );
    out.get("Records")
        .and_then(Value::as_array)
        .expect("Records")
        .to_vec()
}

#[tokio::test]
async fn cbor_client_writes_and_reads_records() {
    let clock = manual_clock_now();
    let t = TestServer::start_with(Arc::new(clock.clone()), |_| {}).await;

    let r = call(
        &t,
        "CreateStream",
        Value::map([stream("cb"), ("ShardCount", Value::Unsigned(1))]),
    )
    .await;
    assert_eq!(r.status, 200, "{:02x?}", r.body);
    assert_eq!(r.header("content-type"), Some(CBOR));
    assert!(r.body.is_empty(), "CreateStream has no output");

    let summary = ok(&call(&t, "DescribeStreamSummary", Value::map([stream("cb")])).await);
    let summary = summary.get("StreamDescriptionSummary").expect("summary");
    assert_eq!(text(summary, "StreamName"), "cb");
    assert_eq!(text(summary, "StreamStatus"), "ACTIVE");
    assert_eq!(summary.get("OpenShardCount"), Some(&Value::Unsigned(1)));
    assert_eq!(
        summary.get("RetentionPeriodHours"),
        Some(&Value::Unsigned(24))
    );
    let created = millis(summary, "StreamCreationTimestamp");
    assert!((created - clock.now_ms()).abs() < 1000, "{created}");

    // Not UTF-8, and not base64 text: a byte string in, the same bytes out.
    let first: &[u8] = &[0x00, 0xff, 0xfe, b'h', b'i'];
    let t0 = clock.now_ms();
    let put = ok(&call(
        &t,
        "PutRecord",
        Value::map([
            stream("cb"),
            ("Data", Value::Bytes(first.into())),
            ("PartitionKey", Value::text("k1")),
        ]),
    )
    .await);
    assert_eq!(text(&put, "ShardId"), "shardId-000000000000");
    let first_seq = text(&put, "SequenceNumber");
    assert!(first_seq.bytes().all(|b| b.is_ascii_digit()), "{first_seq}");

    clock.advance(1000);
    let t1 = clock.now_ms();
    let batch = ok(&call(
        &t,
        "PutRecords",
        Value::map([
            stream("cb"),
            (
                "Records",
                Value::Array(vec![
                    Value::map([
                        ("Data", Value::Bytes(b"second".as_slice().into())),
                        ("PartitionKey", Value::text("k2")),
                    ]),
                    Value::map([
                        ("Data", Value::Bytes(Vec::new().into())),
                        ("PartitionKey", Value::text("k3")),
                        (
                            "ExplicitHashKey",
                            Value::text("340282366920938463463374607431768211455"),
                        ),
                    ]),
                ]),
            ),
        ]),
    )
    .await);
    assert_eq!(batch.get("FailedRecordCount"), Some(&Value::Unsigned(0)));
    let entries = batch
        .get("Records")
        .and_then(Value::as_array)
        .expect("Records");
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert!(
            e.get("SequenceNumber").and_then(Value::as_text).is_some(),
            "{e:?}"
        );
        assert!(e.get("ErrorCode").is_none(), "{e:?}");
    }

    let all = records(&t, iterator(&t, "TRIM_HORIZON", None).await).await;
    let got: Vec<(&[u8], &str, i64)> = all
        .iter()
        .map(|r| {
            (
                r.get("Data")
                    .and_then(Value::as_bytes)
                    .expect("Data is a byte string"),
                r.get("PartitionKey")
                    .and_then(Value::as_text)
                    .expect("PartitionKey"),
                millis(r, "ApproximateArrivalTimestamp"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (first, "k1", t0),
            (b"second".as_slice(), "k2", t1),
            (b"".as_slice(), "k3", t1),
        ]
    );
    assert_eq!(text(&all[0], "SequenceNumber"), first_seq);

    // AT_TIMESTAMP in tag-1 milliseconds: only what arrived at or after it. Read as seconds it
    // would lie 30,000 years ahead and be refused.
    let later = records(&t, iterator(&t, "AT_TIMESTAMP", Some(t0 + 500)).await).await;
    let data: Vec<&[u8]> = later
        .iter()
        .map(|r| r.get("Data").and_then(Value::as_bytes).expect("Data"))
        .collect();
    assert_eq!(data, [b"second".as_slice(), b""]);
    let from_start = records(&t, iterator(&t, "AT_TIMESTAMP", Some(t0)).await).await;
    assert_eq!(from_start.len(), 3);
}

#[tokio::test]
async fn cbor_errors_come_back_as_cbor_maps() {
    let t = TestServer::start().await;
    let r = call(&t, "DescribeStreamSummary", Value::map([stream("nope")])).await;
    let body = error(&r, 400, "ResourceNotFoundException");
    let message = text(&body, "message");
    assert!(message.contains("nope"), "{message}");
    assert!(message.ends_with("not found."), "{message}");

    // Validation runs on the same model: a missing member is reported as in JSON.
    let r = call(&t, "PutRecord", Value::map([stream("nope")])).await;
    let body = error(&r, 400, "ValidationException");
    assert!(text(&body, "message").contains("Value null at 'partitionKey'"));

    // A text `Data` is checked as a JSON client's base64 would be.
    let r = call(
        &t,
        "PutRecord",
        Value::map([
            stream("nope"),
            ("Data", Value::text("abc")),
            ("PartitionKey", Value::text("k")),
        ]),
    )
    .await;
    let body = error(&r, 400, "SerializationException");
    assert_eq!(
        text(&body, "Message"),
        "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3"
    );
}

#[tokio::test]
async fn malformed_cbor_is_a_serialization_error_in_cbor() {
    let t = TestServer::start().await;
    let bodies: [&[u8]; 5] = [
        &[0xbf, 0x6a],                                           // truncated
        &[0x82, 0x01, 0x02],                                     // an array, not a map
        &[0xa1, 0x62, 0xc3, 0x28, 0x01],                         // invalid UTF-8 key
        &[0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // length beyond the input
        &[0xa1, 0x61, b'a', 0xa0, 0x00],                         // trailing bytes
    ];
    for body in bodies {
        let r = t.raw("POST", &headers("ListStreams", CBOR), body).await;
        let v = error(&r, 400, "SerializationException");
        assert_eq!(
            v,
            Value::map([("__type", Value::text("SerializationException"))])
        );
    }
    // A 200-level nesting bomb is refused, not followed.
    let mut bomb = vec![0xa1, 0x61, b'a'];
    bomb.extend(std::iter::repeat_n(0x81, 200));
    bomb.push(0x00);
    let r = t.raw("POST", &headers("ListStreams", CBOR), &bomb).await;
    error(&r, 400, "SerializationException");
}

#[tokio::test]
async fn cbor_content_type_parameters_and_envelope_order_are_honoured() {
    let t = TestServer::start().await;
    // Parameters after `;` are ignored, as for JSON.
    let mut body = Vec::new();
    jackson(&Value::map([("Limit", Value::Unsigned(5))]), &mut body);
    let r = t
        .raw(
            "POST",
            &headers("ListStreams", "application/x-amz-cbor-1.1; charset=utf-8"),
            &body,
        )
        .await;
    let v = ok(&r);
    assert_eq!(v.get("StreamNames"), Some(&Value::Array(vec![])));
    assert_eq!(v.get("HasMoreStreams"), Some(&Value::Bool(false)));

    // Unknown operations and missing authentication answer in CBOR too.
    let r = t.raw("POST", &headers("Nope", CBOR), &body).await;
    let v = error(&r, 400, "UnknownOperationException");
    assert!(v.get("message").is_none());
    let r = t
        .raw(
            "POST",
            &[
                ("Content-Type", CBOR),
                ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
            ],
            &body,
        )
        .await;
    let v = error(&r, 400, "MissingAuthenticationTokenException");
    assert_eq!(text(&v, "message"), "Missing Authentication Token");
}
