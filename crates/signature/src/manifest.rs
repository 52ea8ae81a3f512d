//! Manifest digests (§1.5), including signed schema-1 JWS stripping.

use base64::Engine as _;
use imprimatur_reference::Digest;
use serde_json::Value;

use crate::ManifestError;

/// Media types that mark a manifest as *not* schema 1.
const KNOWN_MEDIA_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Manifests larger than this are refused (registries limit manifests to 4 MiB).
pub const MAX_MANIFEST_BYTES: usize = 16 * 1024 * 1024;

/// The SHA-256 digest of a manifest as containers/image computes it: over
/// the bytes as stored, or for a *signed* schema-1 manifest over the JWS
/// payload (the first `formatLength` bytes followed by `formatTail`).
///
/// A signed schema-1 manifest whose `signatures` cannot be decoded is an
/// error (fixture `v2s1-invalid-signatures.manifest.json`).
pub fn manifest_digest(manifest: &[u8]) -> Result<Digest, ManifestError> {
    if manifest.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge {
            size: manifest.len(),
            limit: MAX_MANIFEST_BYTES,
        });
    }
    if let Some(payload) = schema1_payload(manifest)? {
        return Ok(Digest::sha256_of(&payload));
    }
    Ok(Digest::sha256_of(manifest))
}

/// True if `digest` (the string claimed by a signature) names exactly the
/// SHA-256 of `manifest` (§1.5 `MatchesDigest`): other algorithms and
/// uppercase hex never match. Errors when the digest can't be computed.
///
/// `digest` is a string, not a [`Digest`], on purpose: it is the untrusted
/// value a signature claims, compared byte for byte (a malformed one simply
/// does not match).
pub fn digest_matches(manifest: &[u8], digest: &str) -> Result<bool, ManifestError> {
    Ok(manifest_digest(manifest)?.as_str() == digest)
}

/// For a signed schema-1 manifest, the reconstructed JWS payload; `None` for
/// anything else.
fn schema1_payload(manifest: &[u8]) -> Result<Option<Vec<u8>>, ManifestError> {
    // Loose parse; unparseable → unknown type → hashed as is.
    let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(manifest) else {
        return Ok(None);
    };
    if let Some(Value::String(mt)) = m.get("mediaType")
        && KNOWN_MEDIA_TYPES.contains(&mt.as_str())
    {
        return Ok(None);
    }
    let is_v1 = m
        .get("schemaVersion")
        .and_then(Value::as_f64)
        .is_some_and(|v| v == 1.0);
    let sigs = match m.get("signatures") {
        Some(Value::Null) | None => return Ok(None),
        Some(s) if is_v1 => s,
        Some(_) => return Ok(None),
    };
    let bad = |problem: &'static str| ManifestError::Schema1Signatures {
        problem,
        detail: None,
    };
    let bad_with =
        |problem: &'static str, e: &dyn std::fmt::Display| ManifestError::Schema1Signatures {
            problem,
            detail: Some(e.to_string()),
        };
    let Value::Array(sigs) = sigs else {
        return Err(bad("signatures is not an array"));
    };
    if sigs.is_empty() {
        return Err(bad("no signatures"));
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut agreed: Option<(usize, Vec<u8>)> = None;
    for s in sigs {
        let protected = s
            .get("protected")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing protected header"))?;
        let header = b64
            .decode(protected.trim_end_matches('='))
            .map_err(|e| bad_with("protected header is not base64url", &e))?;
        let header: Value = serde_json::from_slice(&header)
            .map_err(|e| bad_with("protected header is not JSON", &e))?;
        let len = header
            .get("formatLength")
            .and_then(Value::as_u64)
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| bad("formatLength missing or not an integer"))?;
        let tail = header
            .get("formatTail")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("formatTail missing"))?;
        let tail = b64
            .decode(tail.trim_end_matches('='))
            .map_err(|e| bad_with("formatTail is not base64url", &e))?;
        match &agreed {
            None => agreed = Some((len, tail)),
            Some((l, t)) if *l == len && *t == tail => {}
            Some(_) => return Err(bad("signatures disagree on the payload format")),
        }
    }
    let Some((len, tail)) = agreed else {
        return Err(bad("no signatures"));
    };
    if len > manifest.len() {
        return Err(bad("formatLength exceeds the manifest length"));
    }
    let mut payload = manifest[..len].to_vec();
    payload.extend_from_slice(&tail);
    Ok(Some(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_manifest() {
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
        let d = manifest_digest(m).expect("digest");
        assert_eq!(d, Digest::sha256_of(m));
        assert_eq!(digest_matches(m, d.as_str()).ok(), Some(true));
        assert_eq!(
            digest_matches(m, &d.as_str().to_uppercase()).ok(),
            Some(false)
        );
        // Not JSON: hashed as is.
        assert_eq!(
            manifest_digest(b"\xff").ok(),
            Some(Digest::sha256_of(b"\xff"))
        );
    }

    #[test]
    fn signed_schema1() {
        let body = "{\n   \"schemaVersion\": 1,\n   \"name\": \"x\"";
        let tail = "\n}";
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let protected = b64.encode(format!(
            r#"{{"formatLength":{},"formatTail":"{}"}}"#,
            body.len(),
            b64.encode(tail)
        ));
        let manifest = format!(
            "{body},\n   \"signatures\": [{{\"protected\": \"{protected}\", \"signature\": \"x\"}}]\n}}"
        );
        let expected = Digest::sha256_of(format!("{body}{tail}").as_bytes());
        assert_eq!(manifest_digest(manifest.as_bytes()).ok(), Some(expected));

        let invalid = br#"{"schemaVersion":1,"signatures":1}"#;
        assert!(matches!(
            manifest_digest(invalid),
            Err(ManifestError::Schema1Signatures {
                problem: "signatures is not an array",
                ..
            })
        ));
        let bad_b64 = br#"{"schemaVersion":1,"signatures":[{"protected":"!!"}]}"#;
        match manifest_digest(bad_b64) {
            Err(
                e @ ManifestError::Schema1Signatures {
                    detail: Some(_), ..
                },
            ) => {
                assert!(
                    e.to_string()
                        .contains("protected header is not base64url: "),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert!(matches!(
            manifest_digest(&huge),
            Err(ManifestError::TooLarge { .. })
        ));
        // Unsigned schema 1 (no signatures member): hashed as is.
        let unsigned = br#"{"schemaVersion":1}"#;
        assert_eq!(
            manifest_digest(unsigned).ok(),
            Some(Digest::sha256_of(unsigned))
        );
    }
}
