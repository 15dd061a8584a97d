//! Fixtures built byte by byte from the spec, and properties of the transcoding.

use super::super::{Value, decode, encode};
use super::*;
use crate::conformance::check_request;
use crate::ops::Operation;
use crate::ops::records::{
    GetShardIteratorInput, PutRecordOutput, PutRecordsInput, PutRecordsResultEntry, RecordOut,
    ser_get_records_output, ser_put_records_output,
};
use crate::ops::shapes::{EnhancedMetrics, StreamDescriptionSummary, StreamModeDetails};
use crate::ops::streams::DescribeStreamSummaryOutput;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use nagare_types::{SequenceNumber, ShardId, StreamTag, caps};
use proptest::prelude::*;
use serde_json::Value as J;

/// A definite text string: head `0x60 | len` below 24, else `0x78 len` (RFC 8949 §3.1).
fn txt(s: &str) -> Vec<u8> {
    let mut out = match s.len() {
        n @ 0..=23 => vec![0x60 | n as u8],
        n => vec![0x78, u8::try_from(n).expect("fixture strings are short")],
    };
    out.extend_from_slice(s.as_bytes());
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn json_of(cbor: &[u8]) -> String {
    String::from_utf8(cbor_to_json(cbor).expect("transcodes")).expect("utf-8")
}

fn serialization() -> WireError {
    WireError::bare(ErrorCode::Serialization)
}

// Request fixtures: what the Java SDK sends (indefinite maps, tag 1 + millis).

/// PutRecord: `Data` is a byte string (major type 2), no base64.
fn put_record_request() -> Vec<u8> {
    cat(&[
        &[0xbf], // indefinite map, as Jackson writes it
        &txt("StreamName"),
        &txt("orders"),
        &txt("Data"),
        &[0x45],
        b"hello", // bytes(5)
        &txt("PartitionKey"),
        &txt("pk-1"),
        &[0xff], // break
    ])
}

#[test]
fn put_record_request_becomes_json() {
    assert_eq!(
        json_of(&put_record_request()),
        r#"{"StreamName":"orders","Data":"aGVsbG8=","PartitionKey":"pk-1"}"#
    );
}

/// PutRecords: an indefinite array of entries, one `Data` in chunks, one empty, a 39-digit
/// `ExplicitHashKey` that stays text, an indefinite-length text `PartitionKey`.
fn put_records_request() -> Vec<u8> {
    cat(&[
        &[0xa2], // map(2)
        &txt("Records"),
        &[0x9f], // indefinite array
        &[0xa2],
        &txt("Data"),
        &[0x5f, 0x42],
        b"he",
        &[0x43],
        b"llo",
        &[0xff], // bytes in chunks "he" "llo"
        &txt("PartitionKey"),
        &txt("a"),
        &[0xbf],
        &txt("Data"),
        &[0x40], // bytes(0)
        &txt("ExplicitHashKey"),
        &txt("340282366920938463463374607431768211455"),
        &txt("PartitionKey"),
        &[0x7f, 0x61, b'b', 0x61, b'c', 0xff], // text in chunks "b" "c"
        &[0xff],
        &[0xff], // end of Records
        &txt("StreamName"),
        &txt("orders"),
    ])
}

#[test]
fn put_records_request_becomes_json() {
    let json = json_of(&put_records_request());
    assert_eq!(
        json,
        r#"{"Records":[{"Data":"aGVsbG8=","PartitionKey":"a"},{"Data":"","ExplicitHashKey":"340282366920938463463374607431768211455","PartitionKey":"bc"}],"StreamName":"orders"}"#
    );
    let input: PutRecordsInput = serde_json::from_str(&json).expect("typed");
    let blobs = input
        .decode_and_validate(caps::DEFAULT_MAX_RECORD_BYTES)
        .expect("valid");
    assert_eq!(blobs.get(0), b"hello");
    assert_eq!(blobs.get(1), b"");
}

/// GetRecords: `Limit` is a 2-byte unsigned and stays an integer.
#[test]
fn get_records_request_becomes_json() {
    let cbor = cat(&[
        &[0xbf],
        &txt("ShardIterator"),
        &txt("AAAAAAAAAAGJeSRk8tQ5Zbc9/8P1wR+v"),
        &txt("Limit"),
        &[0x19, 0x27, 0x10], // uint16 10000
        &[0xff],
    ]);
    assert_eq!(
        json_of(&cbor),
        r#"{"ShardIterator":"AAAAAAAAAAGJeSRk8tQ5Zbc9/8P1wR+v","Limit":10000}"#
    );
}

/// GetShardIterator AT_TIMESTAMP: tag 1 + uint64 epoch milliseconds, as captured from an
/// unmodified Java v2 client (`c1 1b 000001a013accc38`).
fn get_shard_iterator_at_timestamp_request() -> Vec<u8> {
    cat(&[
        &[0xbf],
        &txt("StreamName"),
        &txt("orders"),
        &txt("ShardId"),
        &txt("shardId-000000000000"),
        &txt("ShardIteratorType"),
        &txt("AT_TIMESTAMP"),
        &txt("Timestamp"),
        &[0xc1, 0x1b, 0x00, 0x00, 0x01, 0xa0, 0x13, 0xac, 0xcc, 0x38],
        &[0xff],
    ])
}

#[test]
fn get_shard_iterator_at_timestamp_request_becomes_json_seconds() {
    let json = json_of(&get_shard_iterator_at_timestamp_request());
    assert_eq!(
        json,
        r#"{"StreamName":"orders","ShardId":"shardId-000000000000","ShardIteratorType":"AT_TIMESTAMP","Timestamp":1787036486.712}"#
    );
    let input: GetShardIteratorInput = serde_json::from_str(&json).expect("typed");
    assert_eq!(input.timestamp, Some(1_787_036_486_712));
}

#[test]
fn describe_stream_summary_request_becomes_json() {
    let cbor = cat(&[&[0xa1], &txt("StreamName"), &txt("orders")]);
    assert_eq!(json_of(&cbor), r#"{"StreamName":"orders"}"#);
}

const NOT_FOUND: &str = "Stream orders under account 000000000000 not found.";

fn not_found_error_body() -> Vec<u8> {
    cat(&[
        &[0xbf],
        &txt("__type"),
        &txt("ResourceNotFoundException"),
        &txt("message"),
        &txt(NOT_FOUND),
        &[0xff],
    ])
}

#[test]
fn error_body_round_trips_between_cbor_and_json() {
    let json = format!(r#"{{"__type":"ResourceNotFoundException","message":"{NOT_FOUND}"}}"#);
    assert_eq!(json_of(&not_found_error_body()), json);
    let err = WireError::new(ErrorCode::ResourceNotFound, NOT_FOUND);
    assert_eq!(err.to_json(), json.as_bytes());
    assert_eq!(
        json_to_cbor(&err.to_json()).expect("json"),
        not_found_error_body()
    );
    assert_eq!(ser_error(&err), not_found_error_body());
    // A bare error has only `__type`; SerializationException's text goes under `Message`.
    assert_eq!(
        ser_error(&serialization()),
        cat(&[
            &[0xbf],
            &txt("__type"),
            &txt("SerializationException"),
            &[0xff]
        ])
    );
    assert_eq!(
        ser_error(&WireError::new(ErrorCode::Serialization, "x")),
        cat(&[
            &[0xbf],
            &txt("__type"),
            &txt("SerializationException"),
            &txt("Message"),
            &txt("x"),
            &[0xff]
        ])
    );
}

// Response fixtures: the handlers' JSON, transcoded, against bytes written out by hand.

#[test]
fn put_record_response_becomes_cbor() {
    let json = serde_json::to_vec(&PutRecordOutput {
        shard_id: "shardId-000000000000".into(),
        sequence_number: "49590338271490256608559692538361571095921575989136588898".into(),
        encryption_type: "NONE".into(),
    })
    .expect("json");
    assert_eq!(
        json_to_cbor(&json).expect("cbor"),
        cat(&[
            &[0xbf],
            &txt("ShardId"),
            &txt("shardId-000000000000"),
            &txt("SequenceNumber"),
            &txt("49590338271490256608559692538361571095921575989136588898"),
            &txt("EncryptionType"),
            &txt("NONE"),
            &[0xff],
        ])
    );
}

#[test]
fn put_records_response_becomes_cbor() {
    let seq = SequenceNumber::new(StreamTag::new(5), ShardId(1), 7);
    let mut json = Vec::new();
    ser_put_records_output(
        &mut json,
        1,
        "NONE",
        [
            PutRecordsResultEntry::Success {
                sequence_number: seq,
                shard_id: ShardId(1),
            },
            PutRecordsResultEntry::Failure {
                error_code: ErrorCode::ProvisionedThroughputExceeded,
                error_message: "Rate exceeded for shard shardId-000000000001.",
            },
        ]
        .into_iter(),
    );
    assert_eq!(
        json_to_cbor(&json).expect("cbor"),
        cat(&[
            &[0xbf],
            &txt("FailedRecordCount"),
            &[0x01],
            &txt("EncryptionType"),
            &txt("NONE"),
            &txt("Records"),
            &[0x9f],
            &[0xbf],
            &txt("SequenceNumber"),
            &txt(&seq.to_string()),
            &txt("ShardId"),
            &txt("shardId-000000000001"),
            &[0xff],
            &[0xbf],
            &txt("ErrorCode"),
            &txt("ProvisionedThroughputExceededException"),
            &txt("ErrorMessage"),
            &txt("Rate exceeded for shard shardId-000000000001."),
            &[0xff],
            &[0xff],
            &[0xff],
        ])
    );
}

/// GetRecords: `Data` leaves as a byte string, `ApproximateArrivalTimestamp` as tag 1 +
/// integer milliseconds, `MillisBehindLatest` as an integer.
#[test]
fn get_records_response_becomes_cbor() {
    let seq = SequenceNumber::new(StreamTag::new(5), ShardId(0), 42);
    let mut json = Vec::new();
    ser_get_records_output(
        &mut json,
        std::iter::once(RecordOut {
            sequence_number: seq,
            arrival_ms: 1_787_036_486_712,
            data: b"hello",
            partition_key: b"pk-1",
            encryption_type: None,
        }),
        Some("AAAAAAAAAAGJeSRk8tQ5Zbc9/8P1wR+v"),
        1000,
        None,
    );
    assert_eq!(
        json_to_cbor(&json).expect("cbor"),
        cat(&[
            &[0xbf],
            &txt("Records"),
            &[0x9f, 0xbf],
            &txt("SequenceNumber"),
            &txt(&seq.to_string()),
            &txt("ApproximateArrivalTimestamp"),
            &[0xc1, 0x1b, 0x00, 0x00, 0x01, 0xa0, 0x13, 0xac, 0xcc, 0x38],
            &txt("Data"),
            &[0x45],
            b"hello",
            &txt("PartitionKey"),
            &txt("pk-1"),
            &[0xff, 0xff],
            &txt("NextShardIterator"),
            &txt("AAAAAAAAAAGJeSRk8tQ5Zbc9/8P1wR+v"),
            &txt("MillisBehindLatest"),
            &[0x19, 0x03, 0xe8],
            &[0xff],
        ])
    );
}

#[test]
fn get_shard_iterator_response_becomes_cbor() {
    assert_eq!(
        json_to_cbor(br#"{"ShardIterator":"AAAA"}"#).expect("cbor"),
        cat(&[&[0xbf], &txt("ShardIterator"), &txt("AAAA"), &[0xff]])
    );
}

#[test]
fn describe_stream_summary_response_becomes_cbor() {
    let json = serde_json::to_vec(&DescribeStreamSummaryOutput {
        stream_description_summary: StreamDescriptionSummary {
            stream_name: "orders".into(),
            stream_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/orders".into(),
            stream_status: "ACTIVE".into(),
            stream_mode_details: StreamModeDetails {
                stream_mode: "PROVISIONED".into(),
            },
            retention_period_hours: 24,
            stream_creation_timestamp: 1_700_000_000_123,
            enhanced_monitoring: vec![EnhancedMetrics {
                shard_level_metrics: vec![],
            }],
            encryption_type: "NONE".into(),
            key_id: None,
            open_shard_count: 1,
            consumer_count: 0,
            max_record_size_in_kib: 1024,
            warm_throughput: None,
        },
    })
    .expect("json");
    assert_eq!(
        json_to_cbor(&json).expect("cbor"),
        cat(&[
            &[0xbf],
            &txt("StreamDescriptionSummary"),
            &[0xbf],
            &txt("StreamName"),
            &txt("orders"),
            &txt("StreamARN"),
            &txt("arn:aws:kinesis:us-east-1:000000000000:stream/orders"),
            &txt("StreamStatus"),
            &txt("ACTIVE"),
            &txt("StreamModeDetails"),
            &[0xbf],
            &txt("StreamMode"),
            &txt("PROVISIONED"),
            &[0xff],
            &txt("RetentionPeriodHours"),
            &[0x18, 24],
            &txt("StreamCreationTimestamp"),
            &[0xc1, 0x1b, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b],
            &txt("EnhancedMonitoring"),
            &[0x9f, 0xbf],
            &txt("ShardLevelMetrics"),
            &[0x9f, 0xff],
            &[0xff, 0xff],
            &txt("EncryptionType"),
            &txt("NONE"),
            &txt("OpenShardCount"),
            &[0x01],
            &txt("ConsumerCount"),
            &[0x00],
            &txt("MaxRecordSizeInKiB"),
            &[0x19, 0x04, 0x00],
            &[0xff, 0xff],
        ])
    );
}

#[test]
fn empty_response_stays_empty() {
    assert_eq!(json_to_cbor(b"").expect("empty"), b"");
    assert!(json_to_cbor(b"{").is_err());
    assert!(json_to_cbor(b"{} x").is_err());
}

#[test]
fn integers_stay_integers_both_ways() {
    let cbor = cat(&[
        &[0xbf],
        &txt("A"),
        &[0x19, 0x27, 0x10],
        &txt("B"),
        &[0x38, 0x63],
        &txt("C"),
        &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &txt("D"),
        &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &txt("E"),
        &[0xfb, 0x40, 0x14, 0, 0, 0, 0, 0, 0], // 5.0 stays a float
        &txt("F"),
        &[0xf9, 0x3e, 0x00], // half 1.5
        &txt("G"),
        &[0xc2, 0x42, 0x01, 0x00], // bignum 256
        &[0xff],
    ]);
    assert_eq!(
        json_of(&cbor),
        r#"{"A":10000,"B":-100,"C":18446744073709551615,"D":-18446744073709551616,"E":5.0,"F":1.5,"G":256}"#
    );
    assert_eq!(
        json_to_cbor(br#"{"A":10000,"B":-100,"C":18446744073709551615,"E":5.0}"#).expect("cbor"),
        cat(&[
            &[0xbf],
            &txt("A"),
            &[0x19, 0x27, 0x10],
            &txt("B"),
            &[0x38, 0x63],
            &txt("C"),
            &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &txt("E"),
            &[0xfb, 0x40, 0x14, 0, 0, 0, 0, 0, 0],
            &[0xff],
        ])
    );
}

#[test]
fn timestamps_accept_every_numeric_form() {
    let ts = |value: &[u8]| json_of(&cat(&[&[0xa1], &txt("Timestamp"), value]));
    assert_eq!(
        ts(&[0x19, 0x05, 0xdc]),
        r#"{"Timestamp":1.500}"#,
        "untagged millis"
    );
    assert_eq!(
        ts(&[0xc1, 0x39, 0x05, 0xdb]),
        r#"{"Timestamp":-1.500}"#,
        "negative"
    );
    assert_eq!(ts(&[0xc1, 0x20]), r#"{"Timestamp":-0.001}"#);
    assert_eq!(ts(&[0xc1, 0x00]), r#"{"Timestamp":0.000}"#);
    assert_eq!(
        ts(&[0xc1, 0xf9, 0x3e, 0x00]),
        r#"{"Timestamp":0.0015}"#,
        "float millis"
    );
    assert_eq!(
        ts(&[0x61, b'x']),
        r#"{"Timestamp":"x"}"#,
        "text is left to the type check"
    );
    // Tag 1 means a time whatever the member's name.
    let other = json_of(&cat(&[&[0xa1], &txt("Limit"), &[0xc1, 0x19, 0x05, 0xdc]]));
    assert_eq!(other, r#"{"Limit":1.500}"#);
    // Responses: integer and fractional seconds both become integer millis.
    assert_eq!(
        json_to_cbor(br#"{"EndedAt":2,"StartedAt":1.5,"Other":1.5}"#).expect("cbor"),
        cat(&[
            &[0xbf],
            &txt("EndedAt"),
            &[0xc1, 0x19, 0x07, 0xd0],
            &txt("StartedAt"),
            &[0xc1, 0x19, 0x05, 0xdc],
            &txt("Other"),
            &[0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
            &[0xff],
        ])
    );
}

#[test]
fn blobs_only_where_the_value_is_one() {
    assert_eq!(
        json_of(&cat(&[&[0xa1], &txt("Data"), &txt("hi")])),
        r#"{"Data":"hi"}"#,
        "text Data stays text for the type check"
    );
    assert_eq!(
        json_to_cbor(br#"{"Data":"not base64!","Tag":"aGk="}"#).expect("cbor"),
        cat(&[
            &[0xbf],
            &txt("Data"),
            &txt("not base64!"),
            &txt("Tag"),
            &txt("aGk="),
            &[0xff]
        ])
    );
    assert_eq!(
        json_to_cbor(br#"{"Data":""}"#).expect("cbor"),
        cat(&[&[0xbf], &txt("Data"), &[0x40], &[0xff]])
    );
    // A byte string anywhere is a blob.
    assert_eq!(json_of(&[0xa1, 0x61, b'x', 0x41, 0xff]), r#"{"x":"/w=="}"#);
}

#[test]
fn text_is_escaped_for_json() {
    let s = "q\"b\\n\n\r\t\u{1}\u{7f}é☃\u{1F600}";
    let json = json_of(&cat(&[&[0xa1], &txt("K"), &txt(s)]));
    let back: J = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(back["K"], s);
    assert_eq!(
        json_of(&[0xa1, 0x61, b'u', 0xf7]),
        r#"{"u":null}"#,
        "undefined is absent"
    );
}

#[test]
fn rejects_requests_json_cannot_hold() {
    let cases: &[&[u8]] = &[
        &[],
        &[0x80],                                     // array top level
        &[0x01],                                     // integer top level
        &[0x61, b'a'],                               // text top level
        &[0xc1, 0xa0],                               // tagged top level
        &[0xa1, 0x01, 0x02],                         // non-text key
        &[0xa1, 0x41, b'k', 0x02],                   // byte-string key
        &[0xa1, 0x61, b'a', 0xf9, 0x7e, 0x00],       // NaN
        &[0xa1, 0x61, b'a', 0xfa, 0x7f, 0x80, 0, 0], // infinity
        &[0xa1, 0x61, b'a', 0xe0],                   // unassigned simple value
        &[
            0xa1, 0x61, b'a', 0xc2, 0x51, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ], // 129-bit bignum
    ];
    for c in cases {
        assert_eq!(cbor_to_json(c), Err(serialization()), "{c:02x?}");
    }
}

#[test]
fn rejects_malformed_requests() {
    // Every strict prefix of every request fixture.
    for fixture in [
        put_record_request(),
        put_records_request(),
        get_shard_iterator_at_timestamp_request(),
        not_found_error_body(),
    ] {
        assert!(cbor_to_json(&fixture).is_ok());
        for end in 0..fixture.len() {
            assert_eq!(
                cbor_to_json(&fixture[..end]),
                Err(serialization()),
                "prefix {end}"
            );
        }
        let mut trailing = fixture.clone();
        trailing.push(0x00);
        assert_eq!(cbor_to_json(&trailing), Err(serialization()));
    }
    // Lengths beyond the input, a depth bomb, invalid UTF-8 in a key and in a value.
    let mut huge = vec![0xa1, 0x61, b'a', 0x5b];
    huge.extend_from_slice(&[0xff; 8]);
    let mut bomb = vec![0xa1, 0x61, b'a'];
    bomb.extend(std::iter::repeat_n(0x81, 100_000));
    bomb.push(0);
    let cases: &[&[u8]] = &[
        &huge,
        &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        &bomb,
        &[0xa1, 0x62, 0xc3, 0x28, 0x01],
        &[0xa1, 0x61, b'a', 0x7f, 0x61, 0xc3, 0x61, 0xbc, 0xff],
        &[0xa1, 0x61, b'a', 0xff],
        &[0xbf, 0x61, b'a', 0x5f, 0x61, b'x', 0xff, 0xff],
    ];
    for c in cases {
        assert_eq!(
            cbor_to_json(c),
            Err(serialization()),
            "{:02x?}",
            &c[..c.len().min(12)]
        );
    }
    assert!(matches!(
        to_json(&bomb),
        Err(ToJsonError::Malformed(DecodeError {
            kind: DecodeErrorKind::TooDeep,
            ..
        }))
    ));
}

// One request model: every operation's input, sent as JSON or as the Java SDK's CBOR,
// reaches the proto layer as the same typed input with the same verdict.

/// A member's model type, read off the input structs in `ops/*`.
#[derive(Clone, Copy, Debug)]
enum Ty {
    Str,
    Int,
    Bool,
    Blob,
    Ts,
    List(&'static Ty),
    Map(&'static Ty),
    Struct(&'static [(&'static str, Ty)]),
}

const STR_LIST: Ty = Ty::List(&Ty::Str);
const STR_MAP: Ty = Ty::Map(&Ty::Str);
const MODE: Ty = Ty::Struct(&[("StreamMode", Ty::Str)]);

/// Every member of each operation's input, or `None` where the operation has no input.
fn model(op: Operation) -> Option<&'static [(&'static str, Ty)]> {
    use Operation as O;
    use Ty::*;
    Some(match op {
        O::CreateStream => &[
            ("ShardCount", Int),
            ("StreamName", Str),
            ("StreamModeDetails", MODE),
            ("Tags", STR_MAP),
            ("MaxRecordSizeInKiB", Int),
            ("WarmThroughputMiBps", Int),
        ],
        O::DeleteStream => &[
            ("StreamName", Str),
            ("StreamARN", Str),
            ("EnforceConsumerDeletion", Bool),
        ],
        O::DescribeStream => &[
            ("ExclusiveStartShardId", Str),
            ("Limit", Int),
            ("StreamName", Str),
            ("StreamARN", Str),
        ],
        O::DescribeStreamSummary => &[("StreamName", Str), ("StreamARN", Str)],
        O::ListStreams => &[
            ("ExclusiveStartStreamName", Str),
            ("Limit", Int),
            ("NextToken", Str),
        ],
        O::ListShards => &[
            ("ExclusiveStartShardId", Str),
            ("MaxResults", Int),
            ("NextToken", Str),
            ("StreamCreationTimestamp", Ts),
            ("StreamName", Str),
            ("StreamARN", Str),
            (
                "ShardFilter",
                Struct(&[("Type", Str), ("ShardId", Str), ("Timestamp", Ts)]),
            ),
        ],
        O::IncreaseStreamRetentionPeriod | O::DecreaseStreamRetentionPeriod => &[
            ("RetentionPeriodHours", Int),
            ("StreamName", Str),
            ("StreamARN", Str),
        ],
        O::PutRecord => &[
            ("Data", Blob),
            ("PartitionKey", Str),
            ("ExplicitHashKey", Str),
            ("SequenceNumberForOrdering", Str),
            ("StreamName", Str),
            ("StreamARN", Str),
            ("DryRun", Bool),
        ],
        O::PutRecords => &[
            (
                "Records",
                List(&Struct(&[
                    ("Data", Blob),
                    ("ExplicitHashKey", Str),
                    ("PartitionKey", Str),
                ])),
            ),
            ("StreamName", Str),
            ("StreamARN", Str),
            ("DryRun", Bool),
        ],
        O::GetShardIterator => &[
            ("ShardId", Str),
            ("ShardIteratorType", Str),
            ("StartingSequenceNumber", Str),
            ("StreamName", Str),
            ("StreamARN", Str),
            ("Timestamp", Ts),
            ("DryRun", Bool),
        ],
        O::GetRecords => &[
            ("Limit", Int),
            ("ShardIterator", Str),
            ("StreamARN", Str),
            ("DryRun", Bool),
        ],
        O::AddTagsToStream => &[("StreamName", Str), ("StreamARN", Str), ("Tags", STR_MAP)],
        O::RemoveTagsFromStream => &[
            ("StreamName", Str),
            ("StreamARN", Str),
            ("TagKeys", STR_LIST),
        ],
        O::ListTagsForStream => &[
            ("ExclusiveStartTagKey", Str),
            ("Limit", Int),
            ("StreamName", Str),
            ("StreamARN", Str),
        ],
        O::TagResource => &[("Tags", STR_MAP), ("ResourceARN", Str)],
        O::UntagResource => &[("TagKeys", STR_LIST), ("ResourceARN", Str)],
        O::ListTagsForResource => &[("ResourceARN", Str)],
        O::SplitShard => &[
            ("NewStartingHashKey", Str),
            ("ShardToSplit", Str),
            ("StreamName", Str),
            ("StreamARN", Str),
        ],
        O::MergeShards => &[
            ("AdjacentShardToMerge", Str),
            ("ShardToMerge", Str),
            ("StreamName", Str),
            ("StreamARN", Str),
        ],
        O::UpdateShardCount => &[
            ("ScalingType", Str),
            ("StreamName", Str),
            ("StreamARN", Str),
            ("TargetShardCount", Int),
        ],
        O::UpdateStreamMode => &[
            ("StreamARN", Str),
            ("StreamModeDetails", MODE),
            ("WarmThroughputMiBps", Int),
        ],
        O::UpdateMaxRecordSize => &[
            ("StreamARN", Str),
            ("StreamName", Str),
            ("MaxRecordSizeInKiB", Int),
        ],
        O::StartStreamEncryption | O::StopStreamEncryption => &[
            ("EncryptionType", Str),
            ("KeyId", Str),
            ("StreamName", Str),
            ("StreamARN", Str),
        ],
        O::EnableEnhancedMonitoring | O::DisableEnhancedMonitoring => &[
            ("ShardLevelMetrics", STR_LIST),
            ("StreamName", Str),
            ("StreamARN", Str),
        ],
        O::UpdateStreamWarmThroughput => &[
            ("StreamARN", Str),
            ("StreamName", Str),
            ("WarmThroughputMiBps", Int),
        ],
        O::UpdateAccountSettings => &[(
            "MinimumThroughputBillingCommitment",
            Struct(&[("Status", Str)]),
        )],
        O::PutResourcePolicy | O::GetResourcePolicy | O::DeleteResourcePolicy => {
            &[("ResourceARN", Str), ("Policy", Str)]
        }
        O::RegisterStreamConsumer => {
            &[("StreamARN", Str), ("ConsumerName", Str), ("Tags", STR_MAP)]
        }
        O::DescribeStreamConsumer | O::DeregisterStreamConsumer => &[
            ("StreamARN", Str),
            ("ConsumerName", Str),
            ("ConsumerARN", Str),
        ],
        O::ListStreamConsumers => &[
            ("StreamARN", Str),
            ("NextToken", Str),
            ("MaxResults", Int),
            ("StreamCreationTimestamp", Ts),
        ],
        O::SubscribeToShard => &[
            ("ConsumerARN", Str),
            ("ShardId", Str),
            (
                "StartingPosition",
                Struct(&[("Type", Str), ("SequenceNumber", Str), ("Timestamp", Ts)]),
            ),
            ("DryRun", Bool),
        ],
        O::DescribeLimits
        | O::DescribeAccountSettings
        | O::UpdateStreamRecordDistributionStrategy => return None,
    })
}

/// A float with at most 15 significant digits. `serde_json` (without `float_roundtrip`)
/// may parse a 17-digit float 1 ulp off — on the JSON path as much as after transcoding —
/// so exact comparisons stick to floats its fast path reads exactly.
fn arb_float(max: i64) -> impl Strategy<Value = f64> {
    (-max..max).prop_map(|n| n as f64 / 1000.0)
}

/// Any JSON value, with numbers of moderate size.
fn arb_any() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i32>().prop_map(J::from),
        arb_float(1_000_000_000_000).prop_map(J::from),
        any::<String>().prop_map(J::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

/// A value for a member of type `ty`: usually well-typed, sometimes null or anything.
fn arb_member(ty: Ty) -> BoxedStrategy<J> {
    let typed = match ty {
        Ty::Str => prop_oneof!["[A-Za-z0-9_.:/-]{0,16}", "[0-9]{1,40}", any::<String>(),]
            .prop_map(J::String)
            .boxed(),
        Ty::Int => prop_oneof![
            (-2_000i64..20_000).prop_map(J::from),
            any::<i64>().prop_map(J::from),
            any::<u64>().prop_map(J::from),
            arb_float(1_000_000_000).prop_map(J::from),
        ]
        .boxed(),
        Ty::Bool => any::<bool>().prop_map(J::Bool).boxed(),
        Ty::Blob => prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..48)
                .prop_map(|b| J::String(STANDARD.encode(b))),
            1 => "[A-Za-z0-9+/=!]{0,9}".prop_map(J::String),
        ]
        .boxed(),
        Ty::Ts => prop_oneof![
            (-1_000_000i64..4_000_000_000_000).prop_map(|ms| J::from(ms as f64 / 1000.0)),
            (0u64..4_000_000_000).prop_map(J::from),
        ]
        .boxed(),
        Ty::List(inner) => proptest::collection::vec(arb_member(*inner), 0..4)
            .prop_map(J::Array)
            .boxed(),
        Ty::Map(inner) => proptest::collection::btree_map(
            "[A-Za-z]{0,6}|Data|Timestamp",
            arb_member(*inner),
            0..4,
        )
        .prop_map(|m| J::Object(m.into_iter().collect()))
        .boxed(),
        Ty::Struct(fields) => arb_object(fields),
    };
    prop_oneof![12 => typed, 1 => Just(J::Null), 1 => arb_any()].boxed()
}

/// An object with any subset of `fields`, plus maybe an unknown member.
fn arb_object(fields: &'static [(&'static str, Ty)]) -> BoxedStrategy<J> {
    let members: Vec<_> = fields
        .iter()
        .map(|&(name, ty)| {
            proptest::option::of(arb_member(ty)).prop_map(move |v| v.map(|v| (name, v)))
        })
        .collect();
    (members, proptest::option::of(arb_any()))
        .prop_map(|(members, unknown)| {
            let mut obj = serde_json::Map::new();
            for (name, v) in members.into_iter().flatten() {
                obj.insert(name.to_owned(), v);
            }
            if let Some(v) = unknown {
                obj.insert("Unknown".to_owned(), v);
            }
            J::Object(obj)
        })
        .boxed()
}

/// The request as the Java SDK encodes it: Jackson's indefinite maps and arrays, blobs as
/// byte strings, timestamps as tag 1 + integer epoch milliseconds.
fn java_cbor(v: &J, member: &str, out: &mut Vec<u8>) {
    match v {
        J::Null => out.push(0xf6),
        J::Bool(b) => encode(&Value::Bool(*b), out),
        J::Number(n) if TIMESTAMP_MEMBERS.contains(&member) => {
            let millis = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => i128::from(u) * 1000,
                (_, Some(i)) => i128::from(i) * 1000,
                _ => (n.as_f64().expect("finite") * 1000.0).round() as i128,
            };
            let int = match u64::try_from(millis) {
                Ok(u) => Value::Unsigned(u),
                Err(_) => Value::Negative(u64::try_from(-1 - millis).expect("in range")),
            };
            encode(&Value::Tag(TAG_EPOCH, Box::new(int)), out);
        }
        J::Number(n) => encode(
            &match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => Value::Unsigned(u),
                (_, Some(i), _) => Value::Negative(!i as u64),
                (_, _, f) => Value::F64(f.expect("finite")),
            },
            out,
        ),
        J::String(s) => match STANDARD.decode(s) {
            Ok(bytes) if BLOB_MEMBERS.contains(&member) => encode(&Value::Bytes(bytes.into()), out),
            _ => encode(&Value::text(s.as_str()), out),
        },
        J::Array(items) => {
            out.push(0x9f);
            items.iter().for_each(|i| java_cbor(i, "", out));
            out.push(0xff);
        }
        J::Object(members) => {
            out.push(0xbf);
            for (k, v) in members {
                encode(&Value::text(k.as_str()), out);
                java_cbor(v, k, out);
            }
            out.push(0xff);
        }
    }
}

fn arb_request() -> impl Strategy<Value = (Operation, J)> {
    let ops: Vec<_> = Operation::ALL
        .into_iter()
        .filter_map(|op| model(op).map(|m| (op, m)))
        .collect();
    proptest::sample::select(ops).prop_flat_map(|(op, fields)| (Just(op), arb_object(fields)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn cbor_requests_reach_the_same_typed_input_as_json((op, request) in arb_request()) {
        let json = serde_json::to_vec(&request).expect("json");
        let mut cbor = Vec::new();
        java_cbor(&request, "", &mut cbor);
        let transcoded = cbor_to_json(&cbor).expect("the Java SDK's CBOR transcodes");
        let via_json = check_request(op, &json).expect("has an input model");
        let via_cbor = check_request(op, &transcoded).expect("has an input model");
        prop_assert_eq!(
            via_json,
            via_cbor,
            "{} {} → {}",
            op.name(),
            String::from_utf8_lossy(&json),
            String::from_utf8_lossy(&transcoded)
        );
    }
}

proptest! {
    #[test]
    fn transcoded_requests_are_json_objects(
        entries in proptest::collection::vec(
            (any::<String>(), super::super::tests::arb_value()),
            0..6,
        ),
    ) {
        let map = Value::Map(entries.into_iter().map(|(k, v)| (Value::text(k), v)).collect());
        if let Ok(json) = cbor_to_json(&map.to_vec()) {
            let parsed: J = serde_json::from_slice(&json).expect("valid JSON");
            prop_assert!(parsed.is_object());
        }
    }

    #[test]
    fn every_model_operation_has_a_conformance_check(op in proptest::sample::select(Operation::ALL.to_vec())) {
        prop_assert_eq!(model(op).is_some(), check_request(op, b"{}").is_some(), "{}", op.name());
    }

    #[test]
    fn cbor_responses_decode_back_to_the_json_values(request in arb_any()) {
        let json = serde_json::to_vec(&request).expect("json");
        let cbor = json_to_cbor(&json).expect("cbor");
        let value = decode(&cbor).expect("well-formed");
        // Generic members carry no blobs or timestamps, so CBOR → JSON is the identity.
        if request.is_object() {
            let back: J = serde_json::from_slice(&cbor_to_json(&cbor).expect("json")).expect("json");
            prop_assert_eq!(back, request);
        } else {
            prop_assert!(!matches!(value, Value::Map(_)));
        }
    }
}
