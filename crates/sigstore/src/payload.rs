//! The cosign simple-signing payload: building, Go-compatible serializing,
//! strict parsing.

use imprimatur_reference::{Digest, Reference};
use imprimatur_signature::json::{self, Value};

use crate::PayloadError;
use crate::gojson::write_string;

/// The value of `critical.type`.
pub const SIGNATURE_TYPE: &str = "cosign container image signature";

/// Largest payload parsed (real ones are a few hundred bytes; the limit is
/// containers/image's for a signature body).
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;

/// A sigstore signature payload:
///
/// ```json
/// {"critical":{"identity":{"docker-reference":"…"},"image":{"docker-manifest-digest":"sha256:…"},
///  "type":"cosign container image signature"},"optional":{"creator":"…","timestamp":1700000000}}
/// ```
///
/// Parsed values are kept verbatim: the digest and the reference are
/// checked by verification, not here. Other members of `optional` (cosign
/// `-a key=value` annotations) are ignored, as containers/image does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigstorePayload {
    /// `critical.image.docker-manifest-digest`, verbatim.
    pub docker_manifest_digest: String,
    /// `critical.identity.docker-reference`, verbatim.
    pub docker_reference: String,
    /// `optional.creator`.
    pub creator: Option<String>,
    /// `optional.timestamp` (Unix seconds).
    pub timestamp: Option<i64>,
}

impl SigstorePayload {
    /// A payload for the image `reference` (embedded fully explicit, with
    /// its tag, as the signer wants it verified) and `digest`, created at
    /// `timestamp` (Unix seconds, from the caller's clock), with creator
    /// `imprimatur <version>`.
    ///
    /// ```
    /// use imprimatur_reference::{Digest, Reference};
    /// use imprimatur_sigstore::SigstorePayload;
    /// let r = Reference::parse_normalized("busybox:1")?;
    /// let d = Digest::sha256_of(b"manifest");
    /// let p = SigstorePayload::for_image(&r, &d, 1_700_000_000);
    /// assert_eq!(p.docker_reference, "docker.io/library/busybox:1");
    /// # Ok::<(), imprimatur_reference::Error>(())
    /// ```
    pub fn for_image(reference: &Reference, digest: &Digest, timestamp: i64) -> SigstorePayload {
        SigstorePayload::new(&reference.to_string(), digest, timestamp)
    }

    /// Like [`SigstorePayload::for_image`], with the reference embedded
    /// verbatim: `cosign sign` writes the identity as the user typed it
    /// (after its own parsing), and reproducing or testing such payloads
    /// needs the text as is. Not checked.
    pub fn new(reference: &str, digest: &Digest, timestamp: i64) -> SigstorePayload {
        SigstorePayload {
            docker_manifest_digest: digest.to_string(),
            docker_reference: reference.to_owned(),
            creator: Some(imprimatur_signature::CREATOR.to_owned()),
            timestamp: Some(timestamp),
        }
    }

    /// Serializes as containers/image does (Go's `json.Marshal` of nested
    /// maps: compact, keys sorted, `<`, `>`, `&`, U+2028, U+2029 escaped).
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            200 + self.docker_reference.len() + self.docker_manifest_digest.len(),
        );
        out.extend_from_slice(br#"{"critical":{"identity":{"docker-reference":"#);
        write_string(&mut out, &self.docker_reference);
        out.extend_from_slice(br#"},"image":{"docker-manifest-digest":"#);
        write_string(&mut out, &self.docker_manifest_digest);
        out.extend_from_slice(br#"},"type":"#);
        write_string(&mut out, SIGNATURE_TYPE);
        out.extend_from_slice(br#"},"optional":{"#);
        if let Some(c) = &self.creator {
            out.extend_from_slice(br#""creator":"#);
            write_string(&mut out, c);
        }
        if let Some(t) = self.timestamp {
            if self.creator.is_some() {
                out.push(b',');
            }
            out.extend_from_slice(br#""timestamp":"#);
            out.extend_from_slice(t.to_string().as_bytes());
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// Parses strictly, as containers/image does: one JSON object with
    /// exactly `critical` and `optional` (which may be `null`); `critical`
    /// with exactly `type`, `image`, `identity`; `image` with exactly
    /// `docker-manifest-digest`; `identity` with exactly `docker-reference`;
    /// no duplicate keys in any of these objects (nor directly in
    /// `optional`); `critical.type` exactly [`SIGNATURE_TYPE`];
    /// `optional.timestamp` an integral number that fits `i64`. A string
    /// member that is `null` reads as the empty string (Go's rule).
    pub fn parse(bytes: &[u8]) -> Result<SigstorePayload, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge {
                size: bytes.len(),
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        let v = json::parse_with(bytes, &json::Limits::default().max_bytes(MAX_PAYLOAD_BYTES))
            .map_err(PayloadError::Syntax)?;
        let top = exact(&v, "", &["critical", "optional"])?;

        let mut creator = None;
        let mut timestamp = None;
        let optional = get(top, "optional");
        if !matches!(optional, Value::Null) {
            for (k, v) in object(optional, "optional")? {
                match k.as_str() {
                    "creator" => creator = Some(string(v, "optional.creator")?),
                    "timestamp" => timestamp = Some(parse_timestamp(v)?),
                    _ => {}
                }
            }
        }

        let critical = exact(
            get(top, "critical"),
            "critical",
            &["type", "image", "identity"],
        )?;
        let typ = string(get(critical, "type"), "critical.type")?;
        if typ != SIGNATURE_TYPE {
            return Err(PayloadError::UnrecognizedType(typ));
        }
        let image = exact(
            get(critical, "image"),
            "critical.image",
            &["docker-manifest-digest"],
        )?;
        let docker_manifest_digest = string(
            get(image, "docker-manifest-digest"),
            "critical.image.docker-manifest-digest",
        )?;
        let identity = exact(
            get(critical, "identity"),
            "critical.identity",
            &["docker-reference"],
        )?;
        let docker_reference = string(
            get(identity, "docker-reference"),
            "critical.identity.docker-reference",
        )?;
        Ok(SigstorePayload {
            docker_manifest_digest,
            docker_reference,
            creator,
            timestamp,
        })
    }
}

type Members = [(String, Value)];

/// An object's members, duplicates refused.
fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Members, PayloadError> {
    let Value::Object(m) = v else {
        return Err(PayloadError::NotObject {
            path: path.to_owned(),
            found: v.type_name(),
        });
    };
    if let Some(k) = v.duplicate_key() {
        return Err(PayloadError::DuplicateKey {
            path: path.to_owned(),
            key: k.to_owned(),
        });
    }
    Ok(m)
}

/// An object with exactly `keys`.
fn exact<'a>(v: &'a Value, path: &str, keys: &[&str]) -> Result<&'a Members, PayloadError> {
    let m = object(v, path)?;
    if let Some((k, _)) = m.iter().find(|(k, _)| !keys.contains(&k.as_str())) {
        return Err(PayloadError::UnknownKey {
            path: path.to_owned(),
            key: k.clone(),
        });
    }
    if let Some(k) = keys.iter().find(|k| !m.iter().any(|(m, _)| m == *k)) {
        return Err(PayloadError::MissingKey {
            path: path.to_owned(),
            key: (*k).to_owned(),
        });
    }
    Ok(m)
}

fn get<'a>(m: &'a Members, key: &str) -> &'a Value {
    m.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or(&Value::Null)
}

fn string(v: &Value, path: &str) -> Result<String, PayloadError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(PayloadError::WrongType {
            path: path.to_owned(),
            expected: "string",
            found: other.type_name(),
        }),
    }
}

/// Go reads the timestamp as a float64 and requires it to convert to int64
/// and back unchanged.
fn parse_timestamp(v: &Value) -> Result<i64, PayloadError> {
    let n = match v {
        Value::Null => return Ok(0),
        Value::Number(n) => n,
        other => {
            return Err(PayloadError::WrongType {
                path: "optional.timestamp".to_owned(),
                expected: "number",
                found: other.type_name(),
            });
        }
    };
    // Exactly 2^63.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let f: f64 = n
        .as_str()
        .parse()
        .map_err(|_| PayloadError::Timestamp(n.as_str().to_owned()))?;
    if !f.is_finite() || f.fract() != 0.0 || !(-TWO_63..TWO_63).contains(&f) {
        return Err(PayloadError::Timestamp(n.as_str().to_owned()));
    }
    Ok(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: &str = "sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55";

    fn digest() -> Digest {
        Digest::parse(D).expect("digest")
    }

    #[test]
    fn serializes_like_containers_image() {
        let mut p = SigstorePayload::new("example.com/a/b:1<&>", &digest(), 1_700_000_000);
        p.creator = Some("containers/image 5.23.1".into());
        assert_eq!(
            String::from_utf8(p.to_json()).expect("utf8"),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"example.com/a/b:1\u003c\u0026\u003e"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":{{"creator":"containers/image 5.23.1","timestamp":1700000000}}}}"#
            )
        );
        assert_eq!(SigstorePayload::parse(&p.to_json()), Ok(p.clone()));
        p.creator = None;
        p.timestamp = None;
        assert!(p.to_json().ends_with(br#""optional":{}}"#));
        assert_eq!(SigstorePayload::parse(&p.to_json()), Ok(p));
    }

    #[test]
    fn strict_rules() {
        let good = |opt: &str| {
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"r:1"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":{opt}}}"#
            )
        };
        // cosign writes "optional": null when there are no annotations.
        let p = SigstorePayload::parse(good("null").as_bytes()).expect("null optional");
        assert_eq!((p.creator, p.timestamp), (None, None));
        let p =
            SigstorePayload::parse(good(r#"{"timestamp":1e3,"x":[1],"creator":null}"#).as_bytes())
                .expect("float integral timestamp");
        assert_eq!((p.creator.as_deref(), p.timestamp), (Some(""), Some(1000)));
        for (bad, why) in [
            (good(r#"{"timestamp":1.5}"#), "timestamp"),
            (good(r#"{"timestamp":"1"}"#), "number expected"),
            (good(r#"{"timestamp":1e40}"#), "timestamp"),
            (good(r#"{"creator":"a","creator":"b"}"#), "duplicate"),
            (good("[]"), "object expected"),
            (good("{}").replace(r#""type":"cosign container image signature""#, r#""type":"atomic container signature""#), "Unrecognized"),
            (good("{}").replace(r#""image":"#, r#""image":{"x":1},"image":"#), "duplicate"),
            (good("{}").replace(r#""type":"#, r#""extra":1,"type":"#), "unknown key"),
            (good("{}").replace(r#""docker-reference":"r:1""#, r#""docker-reference":"r:1","docker-reference":"r:2""#), "duplicate"),
            (good("{}").replace(r#""docker-reference":"r:1""#, r#""docker-reference":7"#), "string expected"),
            (good("{}").replace(r#","image":{"docker-manifest-digest":"sha256:20bf21ed457b390829cdbeec8795a7bea1626991fda603e0d01b4e7f60427e55"}"#, ""), "missing"),
            (format!("{} ", good("{}")).replace('}', "} x"), "invalid JSON"),
            (r#"{"critical":{},"optional":{},"critical":{}}"#.to_owned(), "duplicate"),
            ("[]".to_owned(), "object expected"),
        ] {
            let err = SigstorePayload::parse(bad.as_bytes()).expect_err(&bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(reference in "\\PC{0,40}", creator in proptest::option::of("\\PC{0,20}"), ts in proptest::option::of(any::<i64>().prop_filter("f64-exact", |t| (*t as f64) as i64 == *t && (*t as f64) < 9.2e18))) {
            let mut p = SigstorePayload::new(&reference, &digest(), 0);
            p.creator = creator;
            p.timestamp = ts;
            prop_assert_eq!(SigstorePayload::parse(&p.to_json()), Ok(p));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = SigstorePayload::parse(&bytes);
        }
    }
}
