//! A JSON document for tools, keeping CloudWatch's exact metric names:
//!
//! ```json
//! {"streams": {"<StreamName>": {"metrics": {"<name>": <value>},
//!                               "shards": {"<ShardId>": {"<name>": <value>}}}},
//!  "other": {"<name>": [{"labels": {"<key>": "<value>"}, "value": <value>}]},
//!  "global": true}
//! ```
//!
//! `global` is `false` when another recorder was installed first and this document is empty
//! for that reason (see [`crate::install`]).
//!
//! A series labelled exactly `StreamName` goes under its stream's `metrics`, one labelled
//! exactly `StreamName` and `ShardId` under its shard; every other series (no stream, or more
//! labels, like the server's `nagare_requests_total{operation,outcome}`) goes to `other`, so
//! nothing is dropped. A counter's value is an integer, a gauge's a number (`null` if not
//! finite), a histogram's `{"count","sum","min","max","p50","p99"}` (`null`s while empty).

use crate::registry::{Snapshot, Value};
use serde_json::{Map, Value as Json, json};

fn number(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
}

fn value(v: &Value) -> Json {
    match v {
        Value::Counter(c) => json!(c),
        Value::Gauge(g) => number(*g),
        Value::Histogram(h) => {
            let opt = |v: Option<f64>| v.map_or(Json::Null, number);
            json!({
                "count": h.count,
                "sum": number(h.sum),
                "min": opt(h.min),
                "max": opt(h.max),
                "p50": opt(h.quantile(0.5)),
                "p99": opt(h.quantile(0.99)),
            })
        }
    }
}

/// The stream's entry, with both of its sections present even when one stays empty.
fn stream_entry<'m>(streams: &'m mut Map<String, Json>, name: &str) -> &'m mut Map<String, Json> {
    let entry = section(streams, name);
    section(entry, "metrics");
    section(entry, "shards");
    entry
}

/// `map[key]` as an object, created empty if absent.
fn section<'m>(map: &'m mut Map<String, Json>, key: &str) -> &'m mut Map<String, Json> {
    let entry = map
        .entry(key.to_owned())
        .or_insert_with(|| Json::Object(Map::new()));
    if !entry.is_object() {
        *entry = Json::Object(Map::new());
    }
    match entry {
        Json::Object(m) => m,
        _ => unreachable!("made an object just above"),
    }
}

pub fn render(snapshot: &Snapshot) -> Json {
    let mut streams = Map::new();
    let mut other = Map::new();
    for s in &snapshot.samples {
        let labels = &s.key.labels;
        let stream = s.key.label("StreamName");
        let shard = s.key.label("ShardId");
        match (stream, shard, labels.len()) {
            (Some(stream), None, 1) => {
                let entry = stream_entry(&mut streams, stream);
                section(entry, "metrics").insert(s.key.name.clone(), value(&s.value));
            }
            (Some(stream), Some(shard), 2) => {
                let entry = stream_entry(&mut streams, stream);
                let shards = section(entry, "shards");
                section(shards, shard).insert(s.key.name.clone(), value(&s.value));
            }
            _ => {
                let labels: Map<String, Json> = labels
                    .iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect();
                let list = other
                    .entry(s.key.name.clone())
                    .or_insert_with(|| Json::Array(Vec::new()));
                if let Json::Array(list) = list {
                    list.push(json!({"labels": labels, "value": value(&s.value)}));
                }
            }
        }
    }
    json!({"streams": streams, "other": other, "global": snapshot.global})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    #[test]
    fn groups_series_by_stream_and_shard_with_cloudwatch_names() {
        let r = Registry::new();
        r.mark_global();
        metrics::with_local_recorder(&r, || {
            metrics::counter!("PutRecords.Success", "StreamName" => "orders").increment(2);
            metrics::gauge!("GetRecords.IteratorAgeMilliseconds", "StreamName" => "orders")
                .set(12.5);
            metrics::histogram!("PutRecord.Latency", "StreamName" => "orders").record(4.0);
            let _ = metrics::histogram!("GetRecords.Latency", "StreamName" => "orders");
            metrics::counter!(
                "IncomingRecords",
                "StreamName" => "orders",
                "ShardId" => "shardId-000000000001"
            )
            .increment(9);
            metrics::counter!("nagare_requests_total", "operation" => "ListStreams", "outcome" => "ok")
                .increment(1);
            metrics::counter!(
                "SubscribeToShard.Success",
                "StreamName" => "orders",
                "ConsumerName" => "c1"
            )
            .increment(1);
        });
        assert_eq!(
            render(&r.snapshot()),
            json!({
                "streams": {"orders": {
                    "metrics": {
                        "PutRecords.Success": 2,
                        "GetRecords.IteratorAgeMilliseconds": 12.5,
                        "PutRecord.Latency": {"count": 1, "sum": 4.0, "min": 4.0, "max": 4.0, "p50": 4.0, "p99": 4.0},
                        "GetRecords.Latency": {"count": 0, "sum": 0.0, "min": null, "max": null, "p50": null, "p99": null},
                    },
                    "shards": {"shardId-000000000001": {"IncomingRecords": 9}},
                }},
                "other": {
                    "nagare_requests_total": [
                        {"labels": {"operation": "ListStreams", "outcome": "ok"}, "value": 1}
                    ],
                    "SubscribeToShard.Success": [
                        {"labels": {"ConsumerName": "c1", "StreamName": "orders"}, "value": 1}
                    ],
                },
                "global": true,
            })
        );
    }

    #[test]
    fn non_finite_gauges_are_null() {
        let r = Registry::new();
        metrics::with_local_recorder(&r, || {
            metrics::gauge!("g", "StreamName" => "s").set(f64::INFINITY);
        });
        assert_eq!(
            render(&r.snapshot())["streams"]["s"]["metrics"]["g"],
            Json::Null
        );
    }
}
