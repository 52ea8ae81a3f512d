//! A small order- and duplicate-preserving JSON tree, and a stable pretty
//! printer (4-space indentation, like `podman image trust set`).
//!
//! `serde_json` does the lexing (unescaping, number syntax, trailing data,
//! recursion limit); this module keeps every object member in document order
//! so that the policy walker can reject duplicate keys *after* unescaping, as
//! the reference implementation does.

use std::fmt::Write as _;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Largest `policy.json` accepted (the reference has no limit; real files are
/// a few KiB).
pub(crate) const MAX_POLICY_BYTES: usize = 4 * 1024 * 1024;

/// A JSON value with object members in document order (duplicates kept).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JValue {
    Null,
    Bool(bool),
    /// The number as `serde_json` printed it.
    Number(serde_json::Number),
    String(String),
    Array(Vec<JValue>),
    Object(Vec<(String, JValue)>),
}

impl JValue {
    /// The JSON type name used in error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            JValue::Null => "null",
            JValue::Bool(_) => "boolean",
            JValue::Number(_) => "number",
            JValue::String(_) => "string",
            JValue::Array(_) => "array",
            JValue::Object(_) => "object",
        }
    }
}

impl<'de> Deserialize<'de> for JValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<JValue, E> {
                Ok(JValue::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<JValue, E> {
                Ok(JValue::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<JValue, E> {
                Ok(JValue::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<JValue, E> {
                Ok(JValue::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<JValue, E> {
                Ok(JValue::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<JValue, E> {
                serde_json::Number::from_f64(v)
                    .map(JValue::Number)
                    .ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JValue, E> {
                Ok(JValue::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<JValue, E> {
                Ok(JValue::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JValue, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(JValue::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JValue, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, JValue>()? {
                    out.push((k, v));
                }
                Ok(JValue::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses bytes as exactly one JSON value (trailing data and comments are
/// errors; `serde_json` limits nesting to 128 levels).
pub(crate) fn parse(bytes: &[u8]) -> Result<JValue, String> {
    if bytes.len() > MAX_POLICY_BYTES {
        return Err(format!(
            "file is {} bytes, more than the limit of {MAX_POLICY_BYTES}",
            bytes.len()
        ));
    }
    serde_json::from_slice::<JValue>(bytes).map_err(|e| e.to_string())
}

/// Writes `v` with 4-space indentation; empty arrays/objects stay on one line.
pub(crate) fn to_pretty(v: &JValue) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out.push('\n');
    out
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_value(out: &mut String, v: &JValue, level: usize) {
    match v {
        JValue::Null => out.push_str("null"),
        JValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        JValue::Number(n) => {
            let _ = write!(out, "{n}");
        }
        JValue::String(s) => write_string(out, s),
        JValue::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                indent(out, level + 1);
                write_value(out, item, level + 1);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, level);
            out.push(']');
        }
        JValue::Object(members) => {
            if members.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push_str("{\n");
            for (i, (k, item)) in members.iter().enumerate() {
                indent(out, level + 1);
                write_string(out, k);
                out.push_str(": ");
                write_value(out, item, level + 1);
                if i + 1 < members.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            indent(out, level);
            out.push('}');
        }
    }
}

/// A JSON string literal (serde_json's escaping, which is RFC 8259 minimal).
pub(crate) fn write_string(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(lit) => out.push_str(&lit),
        // Serializing a &str cannot fail; keep a valid fallback anyway.
        Err(_) => out.push_str("\"\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_duplicates_and_order() {
        let v = parse(br#"{"b":1,"a":2,"b":3}"#).expect("parses");
        let JValue::Object(m) = v else {
            panic!("object")
        };
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
    }

    #[test]
    fn duplicates_compared_after_unescaping() {
        let v = parse(br#"{"default":1,"def\u0061ult":2}"#).expect("parses");
        let JValue::Object(m) = v else {
            panic!("object")
        };
        assert_eq!(m[0].0, m[1].0);
    }

    #[test]
    fn rejects_trailing_data_and_comments() {
        assert!(parse(b"{} x").is_err());
        assert!(parse(b"{} // c").is_err());
        assert!(parse(b"/* c */ {}").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn pretty_uses_four_spaces() {
        let v = parse(br#"{"a":[{"type":"reject"}],"b":{}}"#).expect("parses");
        assert_eq!(
            to_pretty(&v),
            "{\n    \"a\": [\n        {\n            \"type\": \"reject\"\n        }\n    ],\n    \"b\": {}\n}\n"
        );
    }
}
