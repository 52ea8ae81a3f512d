//! Structured logs: one JSON object per line on stderr, so a cluster's log
//! pipeline (Loki, Elasticsearch, OpenShift Logging) can filter by field
//! rather than by matching prose.
//!
//! Every line has `time` (RFC 3339, UTC), `level` (`info`, `warn`,
//! `error`), `logger` (`imprimatur-controller`) and `msg`; the caller adds
//! fields naming what the line is about (`kind`, `namespace`, `name`,
//! `phase`, `reason`, `error`, …). Secrets never reach a log line: callers
//! pass names and reasons, never keys or Secret data.
//!
//! A line is written with one `write_all` on a locked stderr, so lines from
//! concurrent reconciles never interleave.
//!
//! Only the controller's own lines are structured: kube-rs reports through
//! `tracing`, which this process does not subscribe to (its errors reach
//! us as the results logged here).

use std::fmt::Display;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// How much a line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// What the controller did (a request finished, leadership taken).
    Info,
    /// Something went wrong that is retried or does not stop the work.
    Warn,
    /// The process cannot go on.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// Logs `msg` with `fields` (a JSON object; anything else is ignored).
pub(crate) fn log(level: Level, msg: impl Display, fields: Value) {
    let mut out = line(SystemTime::now(), level, &msg.to_string(), fields);
    out.push('\n');
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// [`log`] at [`Level::Info`].
pub(crate) fn info(msg: impl Display, fields: Value) {
    log(Level::Info, msg, fields);
}

/// [`log`] at [`Level::Warn`].
pub(crate) fn warn(msg: impl Display, fields: Value) {
    log(Level::Warn, msg, fields);
}

/// [`log`] at [`Level::Error`].
pub(crate) fn error(msg: impl Display, fields: Value) {
    log(Level::Error, msg, fields);
}

/// One line, without its newline: the fixed fields first, then the
/// caller's (which cannot replace the fixed ones).
fn line(time: SystemTime, level: Level, msg: &str, fields: Value) -> String {
    let mut object = Map::new();
    object.insert("time".into(), Value::String(timestamp(time)));
    object.insert("level".into(), Value::String(level.as_str().into()));
    object.insert(
        "logger".into(),
        Value::String("imprimatur-controller".into()),
    );
    object.insert("msg".into(), Value::String(msg.into()));
    if let Value::Object(extra) = fields {
        for (key, value) in extra {
            object.entry(key).or_insert(value);
        }
    }
    Value::Object(object).to_string()
}

/// `time` as RFC 3339 in UTC with milliseconds (`2026-11-29T15:04:05.123Z`).
fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn a_line_is_one_json_object_with_the_fixed_fields_then_the_callers() {
        let at = UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let text = line(
            at,
            Level::Warn,
            "reconcile failed:\n\"quoted\"",
            json!({"kind": "ImageSigningRequest", "name": "sign-app", "level": "forged"}),
        );
        assert!(!text.contains('\n'), "{text}");
        let parsed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            parsed,
            json!({
                "time": "2027-01-15T08:00:00.123Z",
                "level": "warn",
                "logger": "imprimatur-controller",
                "msg": "reconcile failed:\n\"quoted\"",
                "kind": "ImageSigningRequest",
                "name": "sign-app",
            })
        );
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400, "2000-02-29T00:00:00.000Z"),
            (1_798_761_599, "2026-12-31T23:59:59.000Z"),
            (4_107_542_400, "2100-03-01T00:00:00.000Z"),
        ];
        for (seconds, want) in cases {
            assert_eq!(timestamp(UNIX_EPOCH + Duration::from_secs(seconds)), want);
        }
    }

    #[test]
    fn fields_that_are_not_an_object_are_ignored() {
        let text = line(UNIX_EPOCH, Level::Info, "up", json!(["not", "fields"]));
        let parsed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(parsed.as_object().map(Map::len), Some(4));
    }
}
