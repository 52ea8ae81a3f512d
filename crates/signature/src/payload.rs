//! The signature payload (§1): strict parsing and canonical serialization.

use imprimatur_reference::{Digest, Reference};
use serde_json::{Map, Value};

use crate::json::{self, Value as Json};
use crate::{MAX_PAYLOAD_BYTES, PayloadError};

/// The value of `critical.type`.
pub const SIGNATURE_TYPE: &str = "atomic container signature";

/// The `creator` string this crate writes: `imprimatur <version>`.
pub const CREATOR: &str = concat!("imprimatur ", env!("CARGO_PKG_VERSION"));

/// An atomic container signature payload.
///
/// ```json
/// {"critical":{"identity":{"docker-reference":"…"},"image":{"docker-manifest-digest":"sha256:…"},
///  "type":"atomic container signature"},"optional":{"creator":"…","timestamp":1795344597}}
/// ```
///
/// Fields are public so a parsed payload can be inspected; build new ones
/// with [`Payload::new`]. The digest and reference are kept verbatim as
/// signed: they are validated by the verification steps (§3.1), not here.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Payload {
    /// `critical.image.docker-manifest-digest`, verbatim.
    pub docker_manifest_digest: String,
    /// `critical.identity.docker-reference`, verbatim.
    pub docker_reference: String,
    /// `optional.creator` (`Some("")` when the payload had `null`).
    pub creator: Option<String>,
    /// `optional.timestamp` in Unix seconds (`Some(0)` when the payload had `null`).
    pub timestamp: Option<i64>,
    /// Other members of `optional`, kept as parsed (informational only).
    pub other_optional: Map<String, Value>,
}

impl Payload {
    /// A payload for `reference` and `digest`, created at `timestamp` (Unix
    /// seconds, from the caller's clock), with creator `imprimatur <version>`.
    ///
    /// Prefer [`Payload::for_image`], which takes a parsed [`Reference`] and
    /// embeds its fully explicit form. This one keeps a raw string on
    /// purpose: `skopeo standalone-sign` writes the identity it is given
    /// verbatim (`busybox`, not `docker.io/library/busybox:latest`), and a
    /// policy with `exactReference`/`matchExact` rules may expect exactly
    /// that text, so reproducing such signatures needs the string as is. It
    /// is not checked: a string that is no docker reference makes a
    /// signature no `signedBy` requirement accepts.
    pub fn new(reference: &str, digest: &Digest, timestamp: i64) -> Payload {
        Payload {
            docker_manifest_digest: digest.to_string(),
            docker_reference: reference.to_owned(),
            creator: Some(CREATOR.to_owned()),
            timestamp: Some(timestamp),
            other_optional: Map::new(),
        }
    }

    /// A payload for the image `reference` (embedded fully explicit, e.g.
    /// `docker.io/library/busybox:1`) and `digest`, created at `timestamp`
    /// (Unix seconds, from the caller's clock).
    ///
    /// ```
    /// use imprimatur_reference::{Digest, Reference};
    /// use imprimatur_signature::Payload;
    /// let r = Reference::parse_normalized("busybox:1")?;
    /// let d = Digest::sha256_of(b"manifest");
    /// let p = Payload::for_image(&r, &d, 1_700_000_000);
    /// assert_eq!(p.docker_reference, "docker.io/library/busybox:1");
    /// # Ok::<(), imprimatur_reference::Error>(())
    /// ```
    pub fn for_image(reference: &Reference, digest: &Digest, timestamp: i64) -> Payload {
        Payload::new(&reference.to_string(), digest, timestamp)
    }

    /// Parses the digest claimed by the payload.
    pub fn digest(&self) -> Result<Digest, imprimatur_reference::Error> {
        Digest::parse(&self.docker_manifest_digest)
    }

    /// Serializes exactly as Go's `encoding/json` does for the RI's nested
    /// maps: compact, keys sorted byte-wise at every level, `<`, `>`, `&`,
    /// U+2028 and U+2029 escaped, no trailing newline.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            220 + self.docker_reference.len() + self.docker_manifest_digest.len(),
        );
        out.extend_from_slice(br#"{"critical":{"identity":{"docker-reference":"#);
        write_string(&mut out, &self.docker_reference);
        out.extend_from_slice(br#"},"image":{"docker-manifest-digest":"#);
        write_string(&mut out, &self.docker_manifest_digest);
        out.extend_from_slice(br#"},"type":"#);
        write_string(&mut out, SIGNATURE_TYPE);
        out.extend_from_slice(br#"},"optional":{"#);
        let mut members: Vec<(&str, Member<'_>)> = Vec::new();
        if let Some(c) = &self.creator {
            members.push(("creator", Member::Str(c)));
        }
        if let Some(t) = self.timestamp {
            members.push(("timestamp", Member::Int(t)));
        }
        for (k, v) in &self.other_optional {
            if k != "creator" && k != "timestamp" {
                members.push((k, Member::Value(v)));
            }
        }
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(&mut out, k);
            out.push(b':');
            match v {
                Member::Str(s) => write_string(&mut out, s),
                Member::Int(t) => out.extend_from_slice(t.to_string().as_bytes()),
                Member::Value(v) => write_value(&mut out, v),
            }
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// Parses a payload strictly (§1.3): one JSON object, no BOM, no trailing
    /// data, no duplicate keys (including directly inside `optional`), no
    /// unknown keys outside `optional`, every required key present,
    /// `critical.type` exactly [`SIGNATURE_TYPE`], `optional.timestamp` an
    /// integral number representable as `i64`, and the `null` rules of the
    /// reference implementation.
    pub fn parse(bytes: &[u8]) -> Result<Payload, PayloadError> {
        let json = json::parse_with(bytes, &json::Limits::default().max_bytes(MAX_PAYLOAD_BYTES))
            .map_err(PayloadError::Syntax)?;
        let top = object(&json, "")?;
        let top = Members::check(top, "", Some(&["critical", "optional"]))?;

        let mut payload = Payload {
            docker_manifest_digest: String::new(),
            docker_reference: String::new(),
            creator: None,
            timestamp: None,
            other_optional: Map::new(),
        };

        // optional
        let optional = object(top.get("optional"), "optional")?;
        let optional = Members::check(optional, "optional", None)?;
        for (k, v) in optional.0.iter() {
            match k.as_str() {
                "creator" => {
                    payload.creator = Some(string_or_null(v, "optional.creator")?);
                }
                "timestamp" => payload.timestamp = Some(timestamp(v)?),
                _ => {
                    payload.other_optional.insert(k.clone(), v.to_serde());
                }
            }
        }

        // critical
        let critical = object(top.get("critical"), "critical")?;
        let critical = Members::check(critical, "critical", Some(&["identity", "image", "type"]))?;
        let typ = string_or_null(critical.get("type"), "critical.type")?;
        if typ != SIGNATURE_TYPE {
            return Err(PayloadError::UnrecognizedType(typ));
        }
        let image = object(critical.get("image"), "critical.image")?;
        let image = Members::check(image, "critical.image", Some(&["docker-manifest-digest"]))?;
        payload.docker_manifest_digest = string_or_null(
            image.get("docker-manifest-digest"),
            "critical.image.docker-manifest-digest",
        )?;
        let identity = object(critical.get("identity"), "critical.identity")?;
        let identity = Members::check(identity, "critical.identity", Some(&["docker-reference"]))?;
        payload.docker_reference = string_or_null(
            identity.get("docker-reference"),
            "critical.identity.docker-reference",
        )?;
        Ok(payload)
    }
}

enum Member<'a> {
    Str(&'a str),
    Int(i64),
    Value(&'a Value),
}

/// Object members after the duplicate / unknown / missing checks.
struct Members<'a>(&'a [(String, Json)]);

impl<'a> Members<'a> {
    fn check(
        members: &'a [(String, Json)],
        path: &str,
        exact: Option<&[&str]>,
    ) -> Result<Members<'a>, PayloadError> {
        for (i, (k, _)) in members.iter().enumerate() {
            if members[..i].iter().any(|(p, _)| p == k) {
                return Err(PayloadError::DuplicateKey {
                    path: path.to_owned(),
                    key: k.clone(),
                });
            }
            if let Some(allowed) = exact
                && !allowed.contains(&k.as_str())
            {
                return Err(PayloadError::UnknownKey {
                    path: path.to_owned(),
                    key: k.clone(),
                });
            }
        }
        if let Some(allowed) = exact {
            for key in allowed {
                if !members.iter().any(|(k, _)| k == key) {
                    return Err(PayloadError::MissingKey {
                        path: path.to_owned(),
                        key: (*key).to_owned(),
                    });
                }
            }
        }
        Ok(Members(members))
    }

    /// The value of a key known to be present (checked by `check`).
    fn get(&self, key: &str) -> &'a Json {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or(&Json::Null)
    }
}

fn object<'a>(v: &'a Json, path: &str) -> Result<&'a [(String, Json)], PayloadError> {
    match v {
        Json::Object(m) => Ok(m),
        other => Err(PayloadError::ObjectExpected {
            path: path.to_owned(),
            found: other.type_name(),
        }),
    }
}

/// A string member; `null` reads as the empty string (Go semantics).
fn string_or_null(v: &Json, field: &str) -> Result<String, PayloadError> {
    match v {
        Json::String(s) => Ok(s.clone()),
        Json::Null => Ok(String::new()),
        other => Err(PayloadError::WrongType {
            field: field.to_owned(),
            expected: "string",
            found: other.type_name(),
        }),
    }
}

/// `optional.timestamp`: a number decoded as an IEEE double that must be
/// exactly an `i64`; `null` is 0.
fn timestamp(v: &Json) -> Result<i64, PayloadError> {
    match v {
        Json::Null => Ok(0),
        Json::Number(text) => {
            let f: f64 = text
                .as_str()
                .parse()
                .map_err(|_| PayloadError::TimestampNotInteger(text.to_string()))?;
            // 2^63 is exactly representable; the valid range is [-2^63, 2^63).
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f) {
                #[allow(clippy::cast_possible_truncation)]
                Ok(f as i64)
            } else {
                Err(PayloadError::TimestampNotInteger(text.to_string()))
            }
        }
        other => Err(PayloadError::WrongType {
            field: "optional.timestamp".to_owned(),
            expected: "number",
            found: other.type_name(),
        }),
    }
}

/// Writes a JSON string the way Go's `encoding/json` (Go 1.19, the anchor's
/// toolchain) does: `\"`, `\\`, `\n`, `\r`, `\t`, other control characters as
/// `\u00xx`, and `<`, `>`, `&`, U+2028, U+2029 as `\u` escapes.
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            '\u{2028}' => Some(b"\\u2028"),
            '\u{2029}' => Some(b"\\u2029"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let b = c as u32;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize & 0xf]);
                out.push(HEX[b as usize & 0xf]);
            }
        }
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Writes an arbitrary value compactly with sorted keys and Go escaping.
fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, x);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, k);
                out.push(b':');
                write_value(out, &m[k]);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";

    fn digest() -> Digest {
        Digest::parse(D).expect("valid digest")
    }

    #[test]
    fn canonical_layout() {
        let p = Payload::new("docker.io/library/busybox:latest", &digest(), 1_795_344_597);
        let expected = format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"docker.io/library/busybox:latest\"}},\
             \"image\":{{\"docker-manifest-digest\":\"{D}\"}},\"type\":\"atomic container signature\"}},\
             \"optional\":{{\"creator\":\"{CREATOR}\",\"timestamp\":1795344597}}}}"
        );
        assert_eq!(
            String::from_utf8(p.to_canonical_json()).ok(),
            Some(expected)
        );
    }

    #[test]
    fn go_escaping() {
        let mut out = Vec::new();
        write_string(&mut out, "x<y>&z\u{2028}\u{2029}\"\\\n\u{1}\u{7f}é");
        assert_eq!(
            String::from_utf8(out).ok().as_deref(),
            Some(r#""x\u003cy\u003e\u0026z\u2028\u2029\"\\\n\u0001"#.to_owned() + "\u{7f}é\"")
                .as_deref()
        );
    }

    #[test]
    fn round_trip_and_extras() {
        let text = br#" {"optional":{"zz":[{"b":1,"a":null}],"creator":null,"timestamp":null},
            "critical":{"type":"atomic container signature","image":{"docker-manifest-digest":"x"},
            "identity":{"docker-reference":"r"}}} "#;
        let p = Payload::parse(text).expect("parses");
        assert_eq!(p.creator.as_deref(), Some(""));
        assert_eq!(p.timestamp, Some(0));
        assert_eq!(p.docker_manifest_digest, "x");
        let canon = p.to_canonical_json();
        assert_eq!(
            String::from_utf8(canon.clone()).ok().as_deref(),
            Some(
                r#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"x"},"type":"atomic container signature"},"optional":{"creator":"","timestamp":0,"zz":[{"a":null,"b":1}]}}"#
            )
        );
        assert_eq!(Payload::parse(&canon), Ok(p));
    }

    #[test]
    fn timestamps() {
        let make = |t: &str| {
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r"}},"image":{{"docker-manifest-digest":"d"}},"type":"atomic container signature"}},"optional":{{"timestamp":{t}}}}}"#
            )
        };
        let ts = |t: &str| Payload::parse(make(t).as_bytes()).map(|p| p.timestamp);
        assert_eq!(ts("1.4e9"), Ok(Some(1_400_000_000)));
        assert_eq!(ts("1400000000.0"), Ok(Some(1_400_000_000)));
        assert_eq!(ts("-5"), Ok(Some(-5)));
        assert_eq!(ts("-9223372036854775808"), Ok(Some(i64::MIN)));
        assert!(ts("9223372036854775808").is_err());
        assert!(ts("1.5").is_err());
        assert!(ts("1e300").is_err());
        assert!(ts("1e400").is_err());
        assert!(ts("\"1\"").is_err());
    }
}
