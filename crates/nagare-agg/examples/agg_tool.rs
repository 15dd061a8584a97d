//! Aggregate or de-aggregate records given as JSON on stdin; used by the interop test with the
//! reference Python implementation (`tests/compat/test_kpl_interop.py`).
//!
//! ```text
//! agg_tool aggregate    stdin:  [{"partition_key": "k", "explicit_hash_key": "1" | null, "data": "<base64>"}, ...]
//!                       stdout: {"data": "<base64 of the aggregated record>"}
//! agg_tool deaggregate  stdin:  [{"partition_key": "k", "data": "<base64>"}, ...]   (Kinesis records)
//!                       stdout: [{"partition_key", "explicit_hash_key", "data", "sub_sequence_number", "aggregated"}, ...]
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use std::io::Read as _;

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a Value, String> {
    v.get(name)
        .ok_or_else(|| format!("missing field {name:?} in {v}"))
}

fn string(v: &Value, name: &str) -> Result<String, String> {
    field(v, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("field {name:?} is not a string"))
}

fn bytes(v: &Value, name: &str) -> Result<Vec<u8>, String> {
    B64.decode(string(v, name)?)
        .map_err(|e| format!("field {name:?}: {e}"))
}

fn run(mode: &str, input: &Value) -> Result<Value, String> {
    let items = input.as_array().ok_or("input must be a JSON array")?;
    match mode {
        "aggregate" => {
            let mut records = Vec::with_capacity(items.len());
            for item in items {
                let mut r =
                    nagare_agg::Record::new(string(item, "partition_key")?, bytes(item, "data")?);
                if let Some(ehk) = item.get("explicit_hash_key").and_then(Value::as_str) {
                    r = r.with_explicit_hash_key(ehk);
                }
                records.push(r);
            }
            Ok(json!({ "data": B64.encode(nagare_agg::aggregate(&records)) }))
        }
        "deaggregate" => {
            let mut out = Vec::new();
            for item in items {
                let pk = string(item, "partition_key")?;
                for u in nagare_agg::deaggregate(&pk, &bytes(item, "data")?) {
                    out.push(json!({
                        "partition_key": u.record.partition_key,
                        "explicit_hash_key": u.record.explicit_hash_key,
                        "data": B64.encode(&u.record.data),
                        "sub_sequence_number": u.sub_sequence_number,
                        "aggregated": u.aggregated,
                    }));
                }
            }
            Ok(Value::Array(out))
        }
        other => Err(format!(
            "unknown mode {other:?}: use aggregate or deaggregate"
        )),
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut text = String::new();
    let result = std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("reading stdin: {e}"))
        .and_then(|_| {
            serde_json::from_str::<Value>(&text).map_err(|e| format!("stdin is not JSON: {e}"))
        })
        .and_then(|input| run(&mode, &input));
    match result {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("agg_tool: {e}");
            std::process::exit(2);
        }
    }
}
