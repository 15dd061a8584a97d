//! SubscribeToShard: an HTTP/2 (or chunked HTTP/1.1) response whose body is an
//! `application/vnd.amazon.eventstream`: an `initial-response` event, then one
//! `SubscribeToShardEvent` per engine event, until the subscription ends.
//!
//! The body is a stream pulled by the connection: an event is produced only when the previous
//! one was taken, so a slow client applies backpressure all the way to the log reads.

use crate::error::ServiceError;
use crate::handlers::parse;
use crate::protocol::Encoding;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use nagare_engine::Engine;
use nagare_engine::data::IteratorStart;
use nagare_engine::subscribe::{Subscription, SubscriptionEvent};
use nagare_proto::eventstream;
use nagare_proto::ops::Operation;
use nagare_proto::ops::consumers::SubscribeToShardInput;
use nagare_proto::ops::records::{RecordOut, ser_subscribe_event};
use nagare_proto::{ErrorCode, WireError};
use nagare_types::SequenceNumber;
use std::convert::Infallible;

pub const CONTENT_TYPE_EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

fn invalid(msg: String) -> ServiceError {
    ServiceError(WireError::new(ErrorCode::InvalidArgument, msg))
}

/// Answers SubscribeToShard: the event stream, or a plain error response if it cannot start.
pub async fn respond(engine: &Engine, body: &[u8], encoding: Encoding) -> Response<Body> {
    match subscribe_to_shard(engine, body, encoding).await {
        Ok(r) => r,
        Err(ServiceError(e)) => crate::protocol::error_response(&e, encoding),
    }
}

/// Validates, subscribes, and answers the event stream (or a plain error before it starts).
pub async fn subscribe_to_shard(
    engine: &Engine,
    body: &[u8],
    encoding: Encoding,
) -> Result<Response<Body>, ServiceError> {
    let input: SubscribeToShardInput = parse(Operation::SubscribeToShard, body)?;
    input.validate()?;
    if input.dry_run == Some(true) {
        engine.describe_consumer(nagare_engine::consumers::ConsumerRef {
            consumer_arn: input.consumer_arn.as_deref(),
            stream_arn: None,
            consumer_name: None,
        })?;
        return Err(crate::handlers::dry_run());
    }
    let pos = input.starting_position.as_ref();
    let kind = pos.and_then(|p| p.kind.as_deref()).unwrap_or_default();
    let seq = pos.and_then(|p| p.sequence_number.as_deref());
    let start = match (kind, seq) {
        ("AT_SEQUENCE_NUMBER", Some(s)) => IteratorStart::AtSequence(s),
        ("AFTER_SEQUENCE_NUMBER", Some(s)) => IteratorStart::AfterSequence(s),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(invalid(format!(
                "StartingPosition of type {kind} requires a SequenceNumber."
            )));
        }
        ("AT_TIMESTAMP", _) => match pos.and_then(|p| p.timestamp) {
            Some(t) => IteratorStart::AtTimestamp(t),
            None => {
                return Err(invalid(
                    "StartingPosition of type AT_TIMESTAMP requires a Timestamp.".into(),
                ));
            }
        },
        ("LATEST", _) => IteratorStart::Latest,
        _ => IteratorStart::TrimHorizon,
    };
    let sub = engine
        .subscribe_to_shard(
            input.consumer_arn.as_deref().unwrap_or_default(),
            input.shard_id.as_deref().unwrap_or_default(),
            start,
        )
        .await?;
    let frames = futures::stream::unfold(
        (sub, true, encoding),
        |(mut sub, initial, encoding)| async move {
            let mut out = Vec::new();
            if initial {
                eventstream::event(
                    &mut out,
                    "initial-response",
                    encoding.content_type(),
                    &payload(b"{}".to_vec(), encoding),
                );
            } else {
                let ev = sub.next_event().await?;
                event_frame(&mut out, &sub, &ev, encoding);
            }
            Some((
                Ok::<Bytes, Infallible>(Bytes::from(out)),
                (sub, false, encoding),
            ))
        },
    );
    let mut r =
        crate::protocol::respond(StatusCode::OK, Some(CONTENT_TYPE_EVENT_STREAM), Vec::new());
    *r.body_mut() = Body::from_stream(frames);
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    Ok(r)
}

/// The event payload in the request's encoding (JSON members, or their CBOR transcoding).
fn payload(json: Vec<u8>, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Json => json,
        Encoding::Cbor => nagare_proto::cbor::json_to_cbor(&json).unwrap_or_default(),
    }
}

fn event_frame(out: &mut Vec<u8>, sub: &Subscription, ev: &SubscriptionEvent, encoding: Encoding) {
    let (tag, shard) = sub.position();
    let children = ev
        .children
        .as_deref()
        .map(crate::handlers::child_shards_out);
    let mut json = Vec::with_capacity(
        64 + ev
            .records
            .iter()
            .map(|r| r.value.len() / 3 * 4 + 120)
            .sum::<usize>(),
    );
    ser_subscribe_event(
        &mut json,
        ev.records.iter().map(|r| RecordOut {
            sequence_number: SequenceNumber::of_record(tag, shard, r.offset.0),
            arrival_ms: r.timestamp_ms,
            data: &r.value,
            partition_key: &r.key,
            encryption_type: ev.encrypted.then_some("KMS"),
        }),
        ev.continuation,
        ev.millis_behind_latest,
        children.as_deref(),
    );
    eventstream::event(
        out,
        "SubscribeToShardEvent",
        encoding.content_type(),
        &payload(json, encoding),
    );
}
