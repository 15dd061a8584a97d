//! Prometheus text exposition format 0.0.4.
//!
//! Names: Amazon CloudWatch `AWS/Kinesis` metrics (the names of [`KINESIS_METRICS`]) become
//! `kinesis_<name>` with every character outside `[A-Za-z0-9_]` replaced by `_`
//! (`PutRecords.Success` → `kinesis_PutRecords_Success`); names already starting with
//! `nagare_` are only sanitized; anything else becomes `nagare_<name>`. Each family's
//! `# HELP` names the original metric, so the CloudWatch name stays visible.
//!
//! Kinds: counters render as `counter`, gauges as `gauge`, histograms as `summary`
//! (`{quantile="0.5"|"0.9"|"0.99"}`, `_sum`, `_count`). Labels keep their names (sanitized
//! like metric names) and their values escaped (`\` → `\\`, `"` → `\"`, newline → `\n`).
//!
//! Two metric names that sanitize alike, or one name registered as two kinds, would render as
//! clashing families; nothing in Nagare does either.

use crate::registry::{Kind, Sample, Snapshot, Value};
use crate::summary::SummarySnapshot;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric name of CloudWatch's `AWS/Kinesis` namespace (spec §6.4), deprecated ones
/// included, stream-level and shard-level.
pub const KINESIS_METRICS: &[&str] = &[
    "GetRecords.Bytes",
    "GetRecords.IteratorAge",
    "GetRecords.IteratorAgeMilliseconds",
    "GetRecords.Latency",
    "GetRecords.Records",
    "GetRecords.Success",
    "IncomingBytes",
    "IncomingRecords",
    "IteratorAgeMilliseconds",
    "OutgoingBytes",
    "OutgoingRecords",
    "PutRecord.Bytes",
    "PutRecord.Latency",
    "PutRecord.Success",
    "PutRecords.Bytes",
    "PutRecords.FailedRecords",
    "PutRecords.Latency",
    "PutRecords.Records",
    "PutRecords.Success",
    "PutRecords.SuccessfulRecords",
    "PutRecords.ThrottledRecords",
    "PutRecords.TotalRecords",
    "ReadProvisionedThroughputExceeded",
    "SubscribeToShard.RateExceeded",
    "SubscribeToShard.Success",
    "SubscribeToShardEvent.Bytes",
    "SubscribeToShardEvent.MillisBehindLatest",
    "SubscribeToShardEvent.Records",
    "SubscribeToShardEvent.Success",
    "WriteProvisionedThroughputExceeded",
];

/// Replaces every character outside `[A-Za-z0-9_]` with `_`. Colons are legal in Prometheus
/// names but reserved for recording rules, so they are replaced too.
fn sanitize(name: &str, out: &mut String) {
    out.extend(
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
}

/// The Prometheus name of metric `name` (see the module docs). Always matches
/// `[a-zA-Z_][a-zA-Z0-9_]*`: every prefix starts with a letter.
pub fn metric_name(name: &str) -> String {
    let prefix = if KINESIS_METRICS.contains(&name) {
        "kinesis_"
    } else if name.starts_with("nagare_") {
        ""
    } else {
        "nagare_"
    };
    let mut out = String::with_capacity(prefix.len() + name.len());
    out.push_str(prefix);
    sanitize(name, &mut out);
    out
}

/// A label name as Prometheus accepts it: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn label_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.push('_');
    }
    sanitize(name, &mut out);
    out
}

/// Appends `value` escaped for a label value between double quotes.
pub fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Appends `text` escaped for a `# HELP` line (no quotes there, so `"` stays).
fn escape_help(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A float as the format writes it: `NaN`, `+Inf`, `-Inf`, or Rust's shortest round-trip
/// decimal (never an exponent, which Go's parser would also accept).
fn push_float(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// `{k="v",…}` with an optional trailing `quantile` label; nothing when there are no labels.
fn push_labels(labels: &[(String, String)], quantile: Option<f64>, out: &mut String) {
    if labels.is_empty() && quantile.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in labels {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&label_name(k));
        out.push_str("=\"");
        escape_label_value(v, out);
        out.push('"');
    }
    if let Some(q) = quantile {
        if !first {
            out.push(',');
        }
        out.push_str("quantile=\"");
        push_float(q, out);
        out.push('"');
    }
    out.push('}');
}

fn push_summary(name: &str, labels: &[(String, String)], s: &SummarySnapshot, out: &mut String) {
    for (q, v) in s.quantiles {
        out.push_str(name);
        push_labels(labels, Some(q), out);
        out.push(' ');
        push_float(v.unwrap_or(f64::NAN), out);
        out.push('\n');
    }
    out.push_str(name);
    out.push_str("_sum");
    push_labels(labels, None, out);
    out.push(' ');
    push_float(s.sum, out);
    out.push('\n');
    out.push_str(name);
    out.push_str("_count");
    push_labels(labels, None, out);
    let _ = writeln!(out, " {}", s.count);
}

/// Renders every series of `snapshot`, one family per (name, kind), families sorted by name.
pub fn render(snapshot: &Snapshot) -> String {
    let mut families: BTreeMap<(String, Kind), (&str, Vec<&Sample>)> = BTreeMap::new();
    for s in &snapshot.samples {
        families
            .entry((metric_name(&s.key.name), s.value.kind()))
            .or_insert_with(|| (s.key.name.as_str(), Vec::new()))
            .1
            .push(s);
    }
    let mut out = String::with_capacity(families.len() * 160);
    if !snapshot.global {
        out.push_str(
            "# nagare-metrics: another metrics recorder was installed first; Nagare's metrics go to it.\n",
        );
    }
    for ((name, kind), (original, samples)) in &families {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        match snapshot.descriptions.get(*original) {
            Some(d) => escape_help(d, &mut out),
            None if name.starts_with("kinesis_") => {
                out.push_str("AWS/Kinesis ");
                escape_help(original, &mut out);
            }
            None => escape_help(original, &mut out),
        }
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "summary",
        };
        let _ = writeln!(out, "\n# TYPE {name} {kind}");
        for s in samples {
            match &s.value {
                Value::Counter(v) => {
                    out.push_str(name);
                    push_labels(&s.key.labels, None, &mut out);
                    let _ = writeln!(out, " {v}");
                }
                Value::Gauge(v) => {
                    out.push_str(name);
                    push_labels(&s.key.labels, None, &mut out);
                    out.push(' ');
                    push_float(*v, &mut out);
                    out.push('\n');
                }
                Value::Histogram(h) => push_summary(name, &s.key.labels, h, &mut out),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use proptest::prelude::*;

    fn is_valid_metric_name(n: &str) -> bool {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    fn is_valid_label_name(n: &str) -> bool {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    /// A sample line's name, labels and value text.
    type Parsed = (String, Vec<(String, String)>, String);

    /// Parses one sample line `name{k="v",…} value` back into its parts, undoing the escapes;
    /// `None` if the line is malformed.
    fn parse_sample(line: &str) -> Option<Parsed> {
        let name_end = line.find(['{', ' '])?;
        let name = line.get(..name_end)?.to_owned();
        let mut rest = line.get(name_end..)?;
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                rest = rest.strip_prefix(',').unwrap_or(rest);
                let eq = rest.find("=\"")?;
                let key = rest.get(..eq)?.to_owned();
                let mut chars = rest.get(eq + 2..)?.char_indices();
                let mut value = String::new();
                let end = loop {
                    match chars.next()? {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next()?.1 {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            _ => return None,
                        },
                        (_, '\n') => return None,
                        (_, c) => value.push(c),
                    }
                };
                labels.push((key, value));
                rest = rest.get(eq + 2 + end + 1..)?;
            }
        }
        let value = rest.strip_prefix(' ')?.to_owned();
        Some((name, labels, value))
    }

    fn render_with(f: impl FnOnce()) -> String {
        let r = Registry::new();
        r.mark_global();
        metrics::with_local_recorder(&r, f);
        render(&r.snapshot())
    }

    #[test]
    fn kinesis_names_get_the_kinesis_prefix_and_others_nagare() {
        assert_eq!(
            metric_name("PutRecords.Success"),
            "kinesis_PutRecords_Success"
        );
        assert_eq!(
            metric_name("GetRecords.IteratorAgeMilliseconds"),
            "kinesis_GetRecords_IteratorAgeMilliseconds"
        );
        assert_eq!(metric_name("IncomingBytes"), "kinesis_IncomingBytes");
        assert_eq!(
            metric_name("nagare_requests_total"),
            "nagare_requests_total"
        );
        assert_eq!(metric_name("log.fsync:ms"), "nagare_log_fsync_ms");
        assert_eq!(metric_name("9lives"), "nagare_9lives");
        assert_eq!(label_name("StreamName"), "StreamName");
        assert_eq!(label_name("9x-y"), "_9x_y");
    }

    #[test]
    fn renders_counters_gauges_and_summaries_as_exposition_text() {
        let text = render_with(|| {
            metrics::counter!("PutRecords.Success", "StreamName" => "orders").increment(2);
            metrics::gauge!("GetRecords.IteratorAgeMilliseconds", "StreamName" => "orders")
                .set(1500.0);
            metrics::histogram!("PutRecord.Latency", "StreamName" => "orders").record(4.0);
            metrics::counter!("nagare_requests_total", "operation" => "PutRecords", "outcome" => "ok")
                .increment(7);
        });
        assert_eq!(
            text,
            "# HELP kinesis_GetRecords_IteratorAgeMilliseconds AWS/Kinesis GetRecords.IteratorAgeMilliseconds\n\
             # TYPE kinesis_GetRecords_IteratorAgeMilliseconds gauge\n\
             kinesis_GetRecords_IteratorAgeMilliseconds{StreamName=\"orders\"} 1500\n\
             # HELP kinesis_PutRecord_Latency AWS/Kinesis PutRecord.Latency\n\
             # TYPE kinesis_PutRecord_Latency summary\n\
             kinesis_PutRecord_Latency{StreamName=\"orders\",quantile=\"0.5\"} 4\n\
             kinesis_PutRecord_Latency{StreamName=\"orders\",quantile=\"0.9\"} 4\n\
             kinesis_PutRecord_Latency{StreamName=\"orders\",quantile=\"0.99\"} 4\n\
             kinesis_PutRecord_Latency_sum{StreamName=\"orders\"} 4\n\
             kinesis_PutRecord_Latency_count{StreamName=\"orders\"} 1\n\
             # HELP kinesis_PutRecords_Success AWS/Kinesis PutRecords.Success\n\
             # TYPE kinesis_PutRecords_Success counter\n\
             kinesis_PutRecords_Success{StreamName=\"orders\"} 2\n\
             # HELP nagare_requests_total nagare_requests_total\n\
             # TYPE nagare_requests_total counter\n\
             nagare_requests_total{operation=\"PutRecords\",outcome=\"ok\"} 7\n"
        );
    }

    #[test]
    fn empty_summary_renders_nan_quantiles_and_zero_count() {
        let text = render_with(|| {
            let _ = metrics::histogram!("GetRecords.Latency", "StreamName" => "s");
        });
        assert!(
            text.contains("kinesis_GetRecords_Latency{StreamName=\"s\",quantile=\"0.5\"} NaN\n")
        );
        assert!(text.contains("kinesis_GetRecords_Latency_count{StreamName=\"s\"} 0\n"));
    }

    #[test]
    fn non_finite_gauges_use_the_format_spelling() {
        let text = render_with(|| {
            metrics::gauge!("g_inf").set(f64::INFINITY);
            metrics::gauge!("g_neg").set(f64::NEG_INFINITY);
            metrics::gauge!("g_nan").set(f64::NAN);
        });
        assert!(text.contains("nagare_g_inf +Inf\n"), "{text}");
        assert!(text.contains("nagare_g_neg -Inf\n"), "{text}");
        assert!(text.contains("nagare_g_nan NaN\n"), "{text}");
    }

    #[test]
    fn says_so_when_another_recorder_holds_the_metrics() {
        let r = Registry::new();
        assert!(render(&r.snapshot()).starts_with("# nagare-metrics: another metrics recorder"));
    }

    #[test]
    fn descriptions_become_help_text_with_escapes() {
        let text = render_with(|| {
            metrics::describe_counter!("nagare_x", "line one\nback\\slash");
            metrics::counter!("nagare_x").increment(1);
        });
        assert!(
            text.starts_with("# HELP nagare_x line one\\nback\\\\slash\n"),
            "{text}"
        );
    }

    #[test]
    fn parse_sample_rejects_raw_newlines_and_bad_escapes() {
        assert!(parse_sample("a{k=\"v\nw\"} 1").is_none());
        assert!(parse_sample("a{k=\"v\\x\"} 1").is_none());
        assert!(parse_sample("a{k=\"v\"} 1").is_some());
    }

    proptest! {
        #[test]
        fn any_name_sanitizes_to_a_valid_prometheus_name(name in any::<String>()) {
            let n = metric_name(&name);
            prop_assert!(is_valid_metric_name(&n), "{n:?}");
            prop_assert!(is_valid_label_name(&label_name(&name)));
        }

        #[test]
        fn dotted_cloudwatch_style_names_keep_their_letters(
            parts in prop::collection::vec("[A-Za-z][A-Za-z0-9]{0,8}", 1..4)
        ) {
            let name = parts.join(".");
            let n = metric_name(&name);
            prop_assert_eq!(n, format!("nagare_{}", parts.join("_")));
        }

        #[test]
        fn label_values_round_trip_through_the_escapes(
            stream in any::<String>(),
            shard in "[\\\\\"\n a-z]{0,12}",
            value in any::<u32>(),
        ) {
            let text = render_with(|| {
                metrics::counter!("IncomingRecords", "StreamName" => stream.clone(), "ShardId" => shard.clone())
                    .increment(u64::from(value));
            });
            let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
            // One line per sample: no value's newline survived unescaped.
            prop_assert_eq!(samples.len(), 1, "{}", text);
            let (name, labels, v) = parse_sample(samples[0]).expect("well-formed sample line");
            prop_assert_eq!(name, "kinesis_IncomingRecords");
            prop_assert_eq!(
                labels,
                vec![("ShardId".to_owned(), shard.clone()), ("StreamName".to_owned(), stream.clone())]
            );
            prop_assert_eq!(v, value.to_string());
        }
    }
}
