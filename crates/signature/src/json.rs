//! The one strict JSON reader for untrusted input (signature payloads,
//! `policy.json`), and the stable pretty printer beside it.
//!
//! `serde_json` silently keeps the last of two equal keys; containers/image
//! rejects duplicate keys (compared *after* unescaping) at some levels and
//! not at others, so the parsers built on this module walk a [`Value`] that
//! keeps every object member in document order, duplicates included, and
//! decide themselves. Numbers keep their exact text.
//!
//! Rules (RFC 8259, with these choices):
//! - exactly one value, surrounded only by JSON whitespace; a UTF-8 BOM,
//!   comments and trailing data are errors;
//! - a lone UTF-16 surrogate escape (`"\ud800"`, or a high surrogate not
//!   followed by a low one) decodes to U+FFFD, as Go's `encoding/json` does
//!   for containers/image (skopeo 1.9.3 accepts such a `policy.json` and
//!   matches the key with U+FFFD; `tests/integration/policy.rs` pins it);
//! - raw bytes that are not UTF-8 are an error (Go replaces them with
//!   U+FFFD; the spec, §1.3, allows a strict consumer to refuse them);
//! - [`Limits`]: input size and nesting depth, checked before any
//!   allocation grows with them; no recursion deeper than the depth limit.
//!
//! ```
//! use imprimatur_signature::json::{self, Value};
//!
//! let v = json::parse(br#"{"a":1.50,"a":"\ud800"}"#)?;
//! let Value::Object(members) = &v else { unreachable!() };
//! assert_eq!(members.len(), 2); // the duplicate is kept, the caller decides
//! assert_eq!(members[0].1, Value::Number(json::Number::parse("1.50").unwrap()));
//! assert_eq!(members[1].1, Value::String("\u{FFFD}".into()));
//! assert_eq!(json::to_pretty(&v), "{\n    \"a\": 1.50,\n    \"a\": \"\u{FFFD}\"\n}\n");
//! # Ok::<(), json::JsonError>(())
//! ```

use std::fmt;

/// Size and depth limits of [`parse_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects (the top-level container is
    /// depth 1).
    pub max_depth: usize,
}

/// Default [`Limits::max_bytes`]: 4 MiB (real payloads and policies are a
/// few KiB; a signature blob is at most 4 MiB).
pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Default [`Limits::max_depth`].
pub const DEFAULT_MAX_DEPTH: usize = 512;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

impl Limits {
    /// Sets the size limit.
    pub fn max_bytes(mut self, n: usize) -> Limits {
        self.max_bytes = n;
        self
    }

    /// Sets the depth limit.
    pub fn max_depth(mut self, n: usize) -> Limits {
        self.max_depth = n;
        self
    }
}

/// A JSON number, kept exactly as written (validated against the grammar).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Number(String);

impl Number {
    /// Validates `text` as a JSON number (`-?int frac? exp?`).
    pub fn parse(text: &str) -> Option<Number> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
            limits: Limits::default(),
        };
        match p.number() {
            Ok(Value::Number(n)) if p.i == text.len() => Some(n),
            _ => None,
        }
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As `serde_json` reads it (`None` when out of `f64` range).
    pub fn to_serde(&self) -> Option<serde_json::Number> {
        self.0.parse().ok()
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed JSON value with object members in document order (duplicates
/// kept).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, its text as written.
    Number(Number),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object: `(key, value)` pairs as written, keys unescaped.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The JSON type name, for error messages: `null`, `boolean`, `number`,
    /// `string`, `array`, `object`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// The first key that appears twice in this object (compared after
    /// unescaping), if any. `None` for non-objects.
    pub fn duplicate_key(&self) -> Option<&str> {
        let Value::Object(m) = self else {
            return None;
        };
        m.iter()
            .enumerate()
            .find(|(i, (k, _))| m[..*i].iter().any(|(p, _)| p == k))
            .map(|(_, (k, _))| k.as_str())
    }

    /// Converts to a `serde_json::Value` (duplicate keys: the last one
    /// wins, as `serde_json` and Go do; a number out of `f64` range becomes
    /// `null`).
    pub fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value as S;
        match self {
            Value::Null => S::Null,
            Value::Bool(b) => S::Bool(*b),
            Value::Number(n) => n.to_serde().map(S::Number).unwrap_or(S::Null),
            Value::String(s) => S::String(s.clone()),
            Value::Array(a) => S::Array(a.iter().map(Value::to_serde).collect()),
            Value::Object(o) => {
                let mut m = serde_json::Map::new();
                for (k, v) in o {
                    m.insert(k.clone(), v.to_serde());
                }
                S::Object(m)
            }
        }
    }

    /// Converts from a `serde_json::Value` (numbers as `serde_json` prints
    /// them).
    pub fn from_serde(v: &serde_json::Value) -> Value {
        use serde_json::Value as S;
        match v {
            S::Null => Value::Null,
            S::Bool(b) => Value::Bool(*b),
            S::Number(n) => Value::Number(Number(n.to_string())),
            S::String(s) => Value::String(s.clone()),
            S::Array(a) => Value::Array(a.iter().map(Value::from_serde).collect()),
            S::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from_serde(v)))
                    .collect(),
            ),
        }
    }
}

/// Why input is not accepted, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// The input is larger than [`Limits::max_bytes`]; nothing was parsed.
    #[error("input is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Arrays and objects nest deeper than [`Limits::max_depth`].
    #[error("nesting deeper than {limit} levels at byte {offset} (line {line}, column {column})")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Byte offset of the container that is one level too deep.
        offset: usize,
        /// 1-based line of `offset`.
        line: usize,
        /// 1-based column (in bytes) of `offset`.
        column: usize,
    },
    /// Not valid JSON.
    #[error("invalid JSON at byte {offset} (line {line}, column {column}): {reason}")]
    Syntax {
        /// Byte offset of the error.
        offset: usize,
        /// 1-based line of `offset`.
        line: usize,
        /// 1-based column (in bytes) of `offset`.
        column: usize,
        /// What was wrong, with the offending byte when there is one.
        reason: String,
    },
}

impl JsonError {
    /// The byte offset the error refers to (0 for [`JsonError::TooLarge`]).
    pub fn offset(&self) -> usize {
        match self {
            JsonError::TooLarge { .. } => 0,
            JsonError::TooDeep { offset, .. } | JsonError::Syntax { offset, .. } => *offset,
        }
    }
}

/// Parses exactly one JSON value with the default [`Limits`].
pub fn parse(input: &[u8]) -> Result<Value, JsonError> {
    parse_with(input, &Limits::default())
}

/// Parses exactly one JSON value surrounded only by JSON whitespace.
pub fn parse_with(input: &[u8], limits: &Limits) -> Result<Value, JsonError> {
    if input.len() > limits.max_bytes {
        return Err(JsonError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let mut p = Parser {
        s: input,
        i: 0,
        limits: *limits,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(p.err("invalid character after top-level value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    limits: Limits,
}

fn line_col(s: &[u8], offset: usize) -> (usize, usize) {
    let before = &s[..offset.min(s.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

impl Parser<'_> {
    fn err(&self, reason: &str) -> JsonError {
        let reason = match self.s.get(self.i) {
            Some(&b) if b.is_ascii_graphic() => format!("{reason} ('{}')", b as char),
            Some(&b) => format!("{reason} (byte 0x{b:02x})"),
            None => format!("{reason} (unexpected end of input)"),
        };
        self.err_at(self.i, reason)
    }

    fn err_at(&self, offset: usize, reason: String) -> JsonError {
        let (line, column) = line_col(self.s, offset);
        JsonError::Syntax {
            offset,
            line,
            column,
            reason,
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn literal(&mut self, word: &[u8], v: Value) -> Result<Value, JsonError> {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err("invalid character looking for beginning of value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.limits.max_depth {
            let (line, column) = line_col(self.s, self.i);
            return Err(JsonError::TooDeep {
                limit: self.limits.max_depth,
                offset: self.i,
                line,
                column,
            });
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.i += 1; // '{'
        let mut members = Vec::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("object key string expected"));
            }
            let k = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("':' expected after object key"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth)?;
            members.push((k, v));
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.err("',' or '}' expected in object")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.enter(depth)?;
        self.i += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("',' or ']' expected in array")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.err("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("digit expected after decimal point"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.err("digit expected in exponent"));
            }
            self.digits();
        }
        // The slice is ASCII by construction.
        let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        Ok(Value::Number(Number(text)))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
    }

    fn hex4(&mut self) -> Result<u16, JsonError> {
        let mut v: u16 = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            v = (v << 4) | u16::from(d);
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let start = self.i;
        self.i += 1; // '"'
        // Fast path: no escapes.
        let rest = &self.s[self.i..];
        if let Some(end) = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            && rest[end] == b'"'
        {
            let text = std::str::from_utf8(&rest[..end])
                .map_err(|e| self.utf8_err(self.i + e.valid_up_to()))?
                .to_owned();
            self.i += end + 1;
            return Ok(text);
        }
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.err_at(start, "unterminated string".to_owned()));
            };
            match b {
                b'"' => {
                    self.i += 1;
                    break;
                }
                b'\\' => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            self.unicode(hi)?
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err("invalid escape in string"));
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => return Err(self.err("control character in string")),
                _ => {
                    out.push(b);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| {
            // Escapes are ASCII, so the raw text between the quotes is
            // invalid UTF-8 exactly where the unescaped text is.
            let raw = &self.s[start + 1..self.i - 1];
            let at = std::str::from_utf8(raw)
                .err()
                .map_or(0, |e| e.valid_up_to());
            self.utf8_err(start + 1 + at)
        })
    }

    fn utf8_err(&self, at: usize) -> JsonError {
        let b = self.s.get(at).copied().unwrap_or(0);
        self.err_at(at, format!("invalid UTF-8 in string (byte 0x{b:02x})"))
    }

    /// Decodes a `\u` escape (with a following low surrogate when needed).
    /// Lone surrogates become U+FFFD, as Go's decoder does.
    fn unicode(&mut self, hi: u16) -> Result<char, JsonError> {
        if (0xD800..0xDC00).contains(&hi) {
            if self.s.get(self.i..self.i + 2) == Some(b"\\u") {
                let save = self.i;
                self.i += 2;
                let lo = self.hex4()?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
                }
                // Not a low surrogate: it is decoded on its own, as Go does.
                self.i = save;
            }
            return Ok('\u{FFFD}');
        }
        Ok(char::from_u32(u32::from(hi)).unwrap_or('\u{FFFD}'))
    }
}

/// Writes `v` with 4-space indentation (as `podman image trust set` and
/// Go's `json.MarshalIndent(v, "", "    ")` lay it out); empty arrays and
/// objects stay on one line; a final newline. Numbers are written as they
/// were read; strings are escaped minimally ([`write_string`]).
pub fn to_pretty(v: &Value) -> String {
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

fn write_value(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n.as_str()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
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
        Value::Object(members) => {
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

/// Appends `s` as a JSON string literal with minimal (RFC 8259) escaping:
/// `"`, `\` and control characters; everything else verbatim.
pub fn write_string(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Value {
        Value::Number(Number(s.into()))
    }

    #[test]
    fn accepts_values_keeps_duplicates_and_number_text() {
        assert_eq!(parse(b" null ").ok(), Some(Value::Null));
        let v = parse(br#"{"a":[1,-0.5e3,true,1.0],"a":"x"}"#).expect("parses");
        assert_eq!(
            v,
            Value::Object(vec![
                (
                    "a".into(),
                    Value::Array(vec![num("1"), num("-0.5e3"), Value::Bool(true), num("1.0")])
                ),
                ("a".into(), Value::String("x".into())),
            ])
        );
        assert_eq!(v.duplicate_key(), Some("a"));
    }

    #[test]
    fn duplicates_compared_after_unescaping() {
        let v = parse(br#"{"default":1,"def\u0061ult":2}"#).expect("parses");
        assert_eq!(v.duplicate_key(), Some("default"));
        let v = parse(br#"{"a":{"b":1},"b":{"b":2}}"#).expect("parses");
        assert_eq!(v.duplicate_key(), None, "only direct members count");
    }

    #[test]
    fn escapes_and_lone_surrogates_like_go() {
        for (input, want) in [
            (&br#""l\u0061test\n\/""#[..], "latest\n/"),
            (br#""\ud83d\ude00""#, "\u{1F600}"),
            // Lone high, lone low, high followed by a non-surrogate escape,
            // high followed by another high and a valid pair.
            (br#""\ud800""#, "\u{FFFD}"),
            (br#""\udc00x""#, "\u{FFFD}x"),
            (br#""\ud800\u0041""#, "\u{FFFD}A"),
            (br#""\ud800\ud800\udc00""#, "\u{FFFD}\u{10000}"),
            (br#""a\ud800""#, "a\u{FFFD}"),
        ] {
            assert_eq!(
                parse(input).ok(),
                Some(Value::String(want.into())),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn rejects_with_offsets() {
        for (bad, offset) in [
            (&b""[..], 0),
            (b"{}{}", 2),
            (b"\xef\xbb\xbf{}", 0),
            (b"{\"a\":1,}", 7),
            (b"[1,]", 3),
            (b"01", 1),
            (b"1.", 2),
            (b"-", 1),
            (b"\"\x01\"", 1),
            (b"\"\\x\"", 2),
            (b"\"\xff\"", 1),
            (b"\"ab\xff\\n\"", 3),
            (b"tru", 0),
            (b"{\"a\" 1}", 5),
            (b"\"abc", 0),
            (b"{} // c", 3),
            (b"/* c */ {}", 0),
            (b"NaN", 0),
            (b"\"\\ud80\"", 6),
        ] {
            match parse(bad) {
                Err(e @ JsonError::Syntax { .. }) => {
                    assert_eq!(e.offset(), offset, "{bad:?}: {e}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let e = parse(b"{\n  \"a\": x}").expect_err("bad");
        assert!(
            matches!(
                e,
                JsonError::Syntax {
                    line: 2,
                    column: 8,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("line 2, column 8"), "{e}");
    }

    #[test]
    fn limits() {
        let deep = "[".repeat(DEFAULT_MAX_DEPTH + 1) + &"]".repeat(DEFAULT_MAX_DEPTH + 1);
        assert!(matches!(
            parse(deep.as_bytes()),
            Err(JsonError::TooDeep { limit: DEFAULT_MAX_DEPTH, offset, .. }) if offset == DEFAULT_MAX_DEPTH
        ));
        let ok = "[".repeat(DEFAULT_MAX_DEPTH) + &"]".repeat(DEFAULT_MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        let huge = "[".repeat(1_000_000);
        assert!(matches!(
            parse(huge.as_bytes()),
            Err(JsonError::TooDeep { .. })
        ));
        let small = Limits::default().max_bytes(4).max_depth(1);
        assert_eq!(
            parse_with(b"[1,2]", &small),
            Err(JsonError::TooLarge { size: 5, limit: 4 })
        );
        assert!(parse_with(b"[1]", &small).is_ok());
        assert!(matches!(
            parse_with(b"[[]]", &small),
            Err(JsonError::TooDeep { limit: 1, .. })
        ));
    }

    #[test]
    fn numbers() {
        assert_eq!(
            Number::parse("-1.5e+3").map(|n| n.to_string()),
            Some("-1.5e+3".into())
        );
        for bad in ["", "01", "+1", "1.", ".5", "1e", "1 ", "0x1"] {
            assert_eq!(Number::parse(bad), None, "{bad}");
        }
        assert_eq!(Number::parse("1e400").and_then(|n| n.to_serde()), None);
    }

    #[test]
    fn pretty_uses_four_spaces_and_keeps_numbers() {
        let v = parse(br#"{"a":[{"type":"reject"}],"b":{},"c":[],"n":1.50}"#).expect("parses");
        assert_eq!(
            to_pretty(&v),
            "{\n    \"a\": [\n        {\n            \"type\": \"reject\"\n        }\n    ],\n    \"b\": {},\n    \"c\": [],\n    \"n\": 1.50\n}\n"
        );
    }

    #[test]
    fn write_string_escapes_like_serde_json() {
        for s in [
            "plain",
            "q\"b\\s",
            "\n\r\t\u{8}\u{c}\u{1}\u{1f}",
            "é€😀<>&\u{2028}",
            "\u{7f}",
        ] {
            let mut ours = String::new();
            write_string(&mut ours, s);
            assert_eq!(ours, serde_json::to_string(s).expect("json"), "{s:?}");
        }
    }

    #[test]
    fn serde_round_trip() {
        let v = parse(br#"{"a":[1,2.5,"x",null,true],"b":{"c":-3}}"#).expect("parses");
        assert_eq!(Value::from_serde(&v.to_serde()), v);
    }
}
