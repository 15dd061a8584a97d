//! The awsJson1.1 envelope, byte for byte: every malformed-request kind of spec §1.1–1.2.

use crate::common::{AUTH, TestServer, json_headers};

#[tokio::test]
async fn non_post_is_access_denied_in_xml() {
    let t = TestServer::start().await;
    let r = t
        .raw(
            "GET",
            &[("X-Amz-Target", "Kinesis_20131202.ListStreams")],
            b"",
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text(),
        "<AccessDeniedException>\n  <Message>Unable to determine service/operation name to be authorized</Message>\n</AccessDeniedException>\n"
    );
    assert!(r.header("x-amzn-RequestId").is_some());
}

#[tokio::test]
async fn empty_body_is_a_serialization_error_for_known_operations() {
    let t = TestServer::start().await;
    let r = t.call("ListStreams", "").await;
    r.assert_error(400, "SerializationException", None);
    let r = t.call("Nope", "").await;
    r.assert_error(400, "UnknownOperationException", None);
}

#[tokio::test]
async fn empty_body_without_json_content_type_answers_in_cbor() {
    let t = TestServer::start().await;
    let r = t
        .raw(
            "POST",
            &[("X-Amz-Target", "Kinesis_20131202.ListStreams")],
            b"",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("content-type"), Some("application/x-amz-cbor-1.1"));
    let mut expected = vec![0xbf, 0x66];
    expected.extend_from_slice(b"__type");
    expected.push(0x76);
    expected.extend_from_slice(b"SerializationException");
    expected.push(0xff);
    assert_eq!(r.body, expected);
}

#[tokio::test]
async fn unknown_operation_and_service_are_rejected() {
    let t = TestServer::start().await;
    t.call("Nope", "{}")
        .await
        .assert_error(400, "UnknownOperationException", None);
    let r = t
        .raw("POST", &json_headers("Kinesis_20131203.ListStreams"), b"{}")
        .await;
    r.assert_error(400, "UnknownOperationException", None);
}

#[tokio::test]
async fn unparseable_json_is_a_serialization_error() {
    let t = TestServer::start().await;
    t.call("ListStreams", "{not json")
        .await
        .assert_error(400, "SerializationException", None);
    t.call("ListStreams", "[]")
        .await
        .assert_error(400, "SerializationException", None);
    t.call("Nope", "{bad")
        .await
        .assert_error(400, "SerializationException", None);
    // Operations whose handlers read no members still refuse malformed bodies.
    t.call("DescribeLimits", "{bad")
        .await
        .assert_error(400, "SerializationException", None);
    t.call("DescribeAccountSettings", "{\"a\":")
        .await
        .assert_error(400, "SerializationException", None);
    // Malformed JSON is reported before missing authentication.
    let h = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "Kinesis_20131202.PutRecords"),
    ];
    t.raw("POST", &h, b"{\"Records\":[")
        .await
        .assert_error(400, "SerializationException", None);
}

#[tokio::test]
async fn plain_json_content_type_gets_the_coral_wrapper() {
    let t = TestServer::start().await;
    let h = [
        ("Content-Type", "application/json"),
        ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
    ];
    let r = t.raw("POST", &h, b"{}").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        r#"{"Output":{"__type":"com.amazon.coral.service#UnknownOperationException"},"Version":"1.0"}"#
    );
    let r = t.raw("POST", &h, b"{x").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        r#"{"Output":{"__type":"com.amazon.coral.service#SerializationException"},"Version":"1.0"}"#
    );
}

#[tokio::test]
async fn other_content_types_are_unknown_operations_in_xml() {
    let t = TestServer::start().await;
    let r = t
        .raw(
            "POST",
            &[
                ("Content-Type", "text/plain"),
                ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
            ],
            b"{}",
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "<UnknownOperationException/>\n");
    let r = t
        .raw("POST", &[("Content-Type", "text/plain")], b"{}")
        .await;
    assert_eq!(r.status, 403);
    assert!(r.text().starts_with("<AccessDeniedException>"));
}

#[tokio::test]
async fn content_type_parameters_are_ignored() {
    let t = TestServer::start().await;
    let mut h = json_headers("Kinesis_20131202.ListStreams");
    h[0].1 = "application/x-amz-json-1.1; charset=utf-8".into();
    let r = t.raw("POST", &h, b"{}").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["StreamNames"], serde_json::json!([]));
}

#[tokio::test]
async fn missing_or_malformed_authentication_is_refused() {
    let t = TestServer::start().await;
    let base = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
    ];
    t.raw("POST", &base, b"{}").await.assert_error(
        400,
        "MissingAuthenticationTokenException",
        Some("Missing Authentication Token"),
    );

    let mut h = base.to_vec();
    h.push(("Authorization", "AWS4-HMAC-SHA256 Signature=abc"));
    t.raw("POST", &h, b"{}").await.assert_error(
        400,
        "IncompleteSignatureException",
        Some("Authorization header requires 'Credential' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Signature=abc"),
    );

    let mut h = base.to_vec();
    h.push(("Authorization", AUTH));
    h.push(("X-Amz-Date", "20260101T000000Z"));
    let r = crate::common::raw_request(t.addr(), "POST", &h, b"{}").await;
    assert_eq!(r.status, 200);

    let mut s = tokio::net::TcpStream::connect(t.addr()).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "POST /?X-Amz-Algorithm=AWS4-HMAC-SHA256 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.ListStreams\r\nAuthorization: {AUTH}\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(text.contains("InvalidSignatureException"), "{text}");
    assert!(text.contains(
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    ));
}

#[tokio::test]
async fn wrong_member_types_are_serialization_errors_with_aws_texts() {
    let t = TestServer::start().await;
    let cases = [
        (
            "DescribeStream",
            r#"{"StreamName":"s","Limit":"5"}"#,
            "class java.lang.String can not be converted to an Integer",
        ),
        (
            "DescribeStream",
            r#"{"StreamName":true}"#,
            "class java.lang.Boolean can not be converted to an String",
        ),
        (
            "DescribeStream",
            r#"{"StreamName":5}"#,
            "class java.math.BigDecimal can not be converted to an String",
        ),
        (
            "DescribeStream",
            r#"{"StreamName":{}}"#,
            "Start of structure or map found where not expected.",
        ),
        (
            "DescribeStream",
            r#"{"StreamName":[]}"#,
            "Start of list found where not expected",
        ),
        ("PutRecords", r#"{"Records":5}"#, "Expected list or null"),
        ("AddTagsToStream", r#"{"Tags":"x"}"#, "Expected map or null"),
        (
            "DeleteStream",
            r#"{"EnforceConsumerDeletion":"yes"}"#,
            "'YES' can not be converted to an Boolean",
        ),
        (
            "PutRecord",
            r#"{"StreamName":"s","PartitionKey":"a","Data":"abc"}"#,
            "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3",
        ),
        (
            "PutRecord",
            r#"{"StreamName":"s","PartitionKey":"a","Data":"ab#="}"#,
            "'ab#=' can not be converted to a Blob: Invalid Base64 character: '#'",
        ),
    ];
    for (op, body, msg) in cases {
        t.call(op, body)
            .await
            .assert_error(400, "SerializationException", Some(msg));
    }
}

#[tokio::test]
async fn validation_errors_are_batched_with_member_paths() {
    let t = TestServer::start().await;
    t.call("PutRecords", "{}").await.assert_error(
        400,
        "ValidationException",
        Some("1 validation error detected: Value null at 'records' failed to satisfy constraint: Member must not be null"),
    );
    t.call("CreateStream", r#"{"StreamName":"a b","ShardCount":0}"#).await.assert_error(
        400,
        "ValidationException",
        Some("2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"),
    );
    let long = "x".repeat(129);
    t.call("DescribeStreamSummary", &format!(r#"{{"StreamName":"{long}"}}"#)).await.assert_error(
        400,
        "ValidationException",
        Some(&format!("1 validation error detected: Value '{long}' at 'streamName' failed to satisfy constraint: Member must have length less than or equal to 128")),
    );
    t.call("GetShardIterator", r#"{"StreamName":"s","ShardId":"shardId-0","ShardIteratorType":"OLDEST"}"#).await.assert_error(
        400,
        "ValidationException",
        Some("1 validation error detected: Value 'OLDEST' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]"),
    );
    t.call("PutRecord", r#"{"StreamName":"s","Data":"","PartitionKey":""}"#).await.assert_error(
        400,
        "ValidationException",
        Some("1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    );
    t.call("ListShards", r#"{"StreamName":"s","MaxResults":0}"#).await.assert_error(
        400,
        "ValidationException",
        Some("1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"),
    );
    t.call("RemoveTagsFromStream", r#"{"StreamName":"s","TagKeys":[]}"#).await.assert_error(
        400,
        "ValidationException",
        Some("1 validation error detected: Value '[]' at 'tagKeys' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    );
    t.call("ListTagsForResource", r#"{"ResourceARN":"nope"}"#).await.assert_error(
        400,
        "ValidationException",
        Some("1 validation error detected: Value 'nope' at 'resourceARN' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*(stream|channel|queue)/\\S+"),
    );
}

#[tokio::test]
async fn neither_stream_name_nor_arn_is_an_invalid_argument() {
    let t = TestServer::start().await;
    t.call("DescribeStreamSummary", "{}").await.assert_error(
        400,
        "InvalidArgumentException",
        Some("Either StreamName or StreamARN must be provided."),
    );
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let t = TestServer::start().await;
    t.create_stream("safe", 1).await;
    let bad = r#"{"StreamName":"safe","Records":[{"Data":"YQ==","PartitionKey":"a"},{"Data":"YQ==","PartitionKey":""}]}"#;
    t.call("PutRecords", bad).await.assert_error(
        400,
        "ValidationException",
        Some("1 validation error detected: Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    );
    let r = t.call("GetShardIterator", r#"{"StreamName":"safe","ShardId":"shardId-000000000000","ShardIteratorType":"TRIM_HORIZON"}"#).await;
    let it = r.json()["ShardIterator"].as_str().unwrap().to_owned();
    let r = t
        .call("GetRecords", &format!(r#"{{"ShardIterator":"{it}"}}"#))
        .await;
    assert_eq!(r.json()["Records"], serde_json::json!([]));
}

#[tokio::test]
async fn every_response_carries_request_ids() {
    let t = TestServer::start().await;
    let r = t.call("ListStreams", "{}").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    assert_eq!(r.header("x-amzn-RequestId").map(str::len), Some(36));
    assert!(r.header("x-amz-id-2").is_some_and(|v| v.len() == 96));
    let r = t
        .call("DescribeStreamSummary", r#"{"StreamName":"missing"}"#)
        .await;
    r.assert_error(
        400,
        "ResourceNotFoundException",
        Some("Stream missing under account 000000000000 not found."),
    );
    assert!(r.header("x-amzn-RequestId").is_some());
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let t = TestServer::start().await;
    let body = vec![b' '; nagare_server::MAX_BODY_BYTES + 1];
    let r = t
        .raw("POST", &json_headers("Kinesis_20131202.ListStreams"), &body)
        .await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn serves_http2_with_prior_knowledge_on_the_same_port() {
    use http_body_util::{BodyExt, Full};
    let t = TestServer::start().await;
    let stream = tokio::net::TcpStream::connect(t.addr()).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(conn);
    let mut req = http::Request::post("/")
        .body(Full::new(bytes::Bytes::from_static(b"{}")))
        .unwrap();
    for (k, v) in json_headers("Kinesis_20131202.ListStreams") {
        req.headers_mut().insert(k, v.parse().unwrap());
    }
    let resp = send.send_request(req).await.expect("h2 request");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["HasMoreStreams"], false);
}
