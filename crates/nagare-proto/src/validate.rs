//! AWS's batched validation message:
//! `N validation error(s) detected: Value '<v>' at '<path>' failed to satisfy constraint: <c>; …`
//!
//! Checks run in the order AWS reports them (member order, then constraint order within a
//! member) and stop recording after ten, as AWS does. A `None` value fails only `not_null`.

use crate::{ErrorCode, WireError};
use std::fmt::Write;

/// Most violations AWS lists in one message.
const MAX_VIOLATIONS: usize = 10;

/// How a value is rendered inside `Value … at`.
pub enum Shown<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Blob(usize),
    List(&'a [String]),
    Map(&'a [(String, String)]),
}

impl Shown<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Shown::Null => out.push_str("null"),
            Shown::Str(s) => {
                let _ = write!(out, "'{s}'");
            }
            Shown::Int(n) => {
                let _ = write!(out, "'{n}'");
            }
            Shown::Blob(n) => {
                let _ = write!(out, "'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]'");
            }
            Shown::List(items) => {
                let _ = write!(out, "'[{}]'", items.join(", "));
            }
            Shown::Map(entries) => {
                out.push_str("'{");
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{k}={v}");
                }
                out.push_str("}'");
            }
        }
    }
}

/// Collects constraint violations of one request.
#[derive(Default, Debug)]
pub struct Violations {
    messages: Vec<String>,
}

/// Length as Java counts it (UTF-16 code units), which is what AWS limits.
pub fn java_len(s: &str) -> usize {
    s.encode_utf16().count()
}

pub const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
pub const HASH_KEY_PATTERN: &str = "0|([1-9]\\d{0,38})";
pub const SEQUENCE_PATTERN: &str = "0|([1-9]\\d{0,128})";
pub const STREAM_ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+";
pub const RESOURCE_ARN_PATTERN: &str = "arn:aws.*:kinesis:.*:\\d{12}:.*(stream|channel|queue)/\\S+";

pub fn matches_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `0|([1-9]\d{0,max_extra})`
pub fn matches_decimal(s: &str, max_extra: usize) -> bool {
    let b = s.as_bytes();
    match b.split_first() {
        Some((b'0', rest)) => rest.is_empty(),
        Some((first, rest)) => {
            (b'1'..=b'9').contains(first)
                && rest.len() <= max_extra
                && rest.iter().all(u8::is_ascii_digit)
        }
        None => false,
    }
}

/// `arn:aws.*:kinesis:.*:\d{12}:<infix>` where the part after the account must satisfy `rest`.
fn matches_arn(s: &str, rest: impl Fn(&str) -> bool) -> bool {
    let Some(after) = s.strip_prefix("arn:aws") else {
        return false;
    };
    let Some(kin) = after.find(":kinesis:") else {
        return false;
    };
    let tail = &after[kin + ":kinesis:".len()..];
    // `.*:\d{12}:` — try every ':' that is followed by 12 digits and ':'.
    tail.match_indices(':').any(|(i, _)| {
        let acct = &tail[i + 1..];
        acct.len() > 13
            && acct.as_bytes()[..12].iter().all(u8::is_ascii_digit)
            && acct.as_bytes()[12] == b':'
            && rest(&acct[13..])
    })
}

fn non_space_tail(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_whitespace)
}

pub fn matches_stream_arn(s: &str) -> bool {
    matches_arn(s, |r| r.strip_prefix("stream/").is_some_and(non_space_tail))
}

pub fn matches_resource_arn(s: &str) -> bool {
    matches_arn(s, |r| {
        ["stream/", "channel/", "queue/"].iter().any(|kind| {
            r.match_indices(kind)
                .any(|(i, _)| non_space_tail(&r[i + kind.len()..]))
        })
    })
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one violation unless ten are already recorded.
    pub fn push(&mut self, value: Shown<'_>, path: &str, constraint: impl std::fmt::Display) {
        if self.messages.len() >= MAX_VIOLATIONS {
            return;
        }
        let mut m = String::from("Value ");
        value.render(&mut m);
        let _ = write!(m, " at '{path}' failed to satisfy constraint: {constraint}");
        self.messages.push(m);
    }

    pub fn not_null<T>(&mut self, v: &Option<T>, path: &str) {
        if v.is_none() {
            self.push(Shown::Null, path, "Member must not be null");
        }
    }

    pub fn pattern(
        &mut self,
        v: Option<&str>,
        path: &str,
        ok: impl Fn(&str) -> bool,
        pattern: &str,
    ) {
        if let Some(s) = v.filter(|s| !ok(s)) {
            self.push(
                Shown::Str(s),
                path,
                format_args!("Member must satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    pub fn min_len(&mut self, v: Option<&str>, path: &str, min: usize) {
        if let Some(s) = v.filter(|s| java_len(s) < min) {
            self.push(
                Shown::Str(s),
                path,
                format_args!("Member must have length greater than or equal to {min}"),
            );
        }
    }

    pub fn max_len(&mut self, v: Option<&str>, path: &str, max: usize) {
        if let Some(s) = v.filter(|s| java_len(s) > max) {
            self.push(
                Shown::Str(s),
                path,
                format_args!("Member must have length less than or equal to {max}"),
            );
        }
    }

    pub fn min_value(&mut self, v: Option<i64>, path: &str, min: i64) {
        if let Some(n) = v.filter(|n| *n < min) {
            self.push(
                Shown::Int(n),
                path,
                format_args!("Member must have value greater than or equal to {min}"),
            );
        }
    }

    pub fn max_value(&mut self, v: Option<i64>, path: &str, max: i64) {
        if let Some(n) = v.filter(|n| *n > max) {
            self.push(
                Shown::Int(n),
                path,
                format_args!("Member must have value less than or equal to {max}"),
            );
        }
    }

    pub fn one_of(&mut self, v: Option<&str>, path: &str, allowed: &[&str]) {
        if let Some(s) = v.filter(|s| !allowed.contains(s)) {
            self.push(
                Shown::Str(s),
                path,
                format_args!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// The standard checks of a stream name member: pattern, then 1..=128.
    pub fn stream_name(&mut self, v: Option<&str>, path: &str) {
        self.pattern(v, path, matches_name, NAME_PATTERN);
        self.min_len(v, path, 1);
        self.max_len(v, path, 128);
    }

    /// The standard checks of a stream ARN member: pattern, then 1..=2048.
    pub fn stream_arn(&mut self, v: Option<&str>, path: &str) {
        self.pattern(v, path, matches_stream_arn, STREAM_ARN_PATTERN);
        self.min_len(v, path, 1);
        self.max_len(v, path, 2048);
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// `Ok` when nothing was violated, else the ValidationException.
    pub fn finish(self) -> Result<(), WireError> {
        if self.messages.is_empty() {
            return Ok(());
        }
        let n = self.messages.len();
        let plural = if n > 1 { "s" } else { "" };
        Err(WireError::new(
            ErrorCode::Validation,
            format!(
                "{n} validation error{plural} detected: {}",
                self.messages.join("; ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_messages_like_aws() {
        let mut v = Violations::new();
        v.not_null::<()>(&None, "records");
        v.stream_name(Some("a b"), "streamName");
        let err = v.finish().expect_err("violations");
        assert_eq!(
            err.message.as_deref(),
            Some(
                "2 validation errors detected: Value null at 'records' failed to satisfy constraint: Member must not be null; \
                 Value 'a b' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
            )
        );
    }

    #[test]
    fn stops_after_ten_violations() {
        let mut v = Violations::new();
        for i in 0..15 {
            v.not_null::<()>(&None, &format!("m{i}"));
        }
        let msg = v
            .finish()
            .expect_err("violations")
            .message
            .unwrap_or_default();
        assert!(msg.starts_with("10 validation errors detected"));
    }

    #[test]
    fn decimal_patterns_match_aws_regexes() {
        assert!(matches_decimal("0", 38));
        assert!(!matches_decimal("01", 38));
        assert!(matches_decimal(&"9".repeat(39), 38));
        assert!(!matches_decimal(&"9".repeat(40), 38));
        assert!(!matches_decimal("", 38));
        assert!(!matches_decimal("-1", 38));
    }

    #[test]
    fn arn_patterns_accept_aws_arns() {
        assert!(matches_stream_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/foo"
        ));
        assert!(matches_stream_arn(
            "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a.b"
        ));
        assert!(!matches_stream_arn(
            "arn:aws:kinesis:us-east-1:0000:stream/foo"
        ));
        assert!(!matches_stream_arn(
            "arn:aws:sqs:us-east-1:000000000000:stream/foo"
        ));
        assert!(!matches_stream_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/"
        ));
        assert!(matches_resource_arn(
            "arn:aws:kinesis:us-east-1:000000000000:stream/foo/consumer/c:1"
        ));
    }
}
