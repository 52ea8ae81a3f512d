//! Property tests: payload canonical serialization round trips through the
//! strict parser, and serialization of a parsed canonical payload is stable.

use imprimatur_signature::{Payload, PayloadError};
use proptest::prelude::*;

fn base(reference: &str, digest: &str) -> Payload {
    let d = imprimatur_reference::Digest::sha256_of(b"x");
    let mut p = Payload::new(reference, &d, 0);
    p.docker_manifest_digest = digest.to_owned();
    p
}

proptest! {
    #[test]
    fn round_trip(
        reference in any::<String>(),
        digest in any::<String>(),
        creator in proptest::option::of(any::<String>()),
        timestamp in proptest::option::of(any::<i64>()),
        extra_key in "[a-z]{1,8}",
        extra_val in any::<String>(),
    ) {
        let mut p = base(&reference, &digest);
        p.creator = creator;
        // Timestamps go through an f64 (as in Go): only exactly representable ones survive.
        p.timestamp = timestamp.filter(|t| (*t as f64) as i64 == *t && *t != i64::MAX);
        if extra_key != "creator" && extra_key != "timestamp" {
            p.other_optional.insert(extra_key, serde_json::Value::String(extra_val));
        }
        let json = p.to_canonical_json();
        // Canonical output is valid JSON for serde_json too.
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&json).is_ok());
        let back = Payload::parse(&json);
        prop_assert_eq!(back.as_ref(), Ok(&p));
        prop_assert_eq!(back.map(|b| b.to_canonical_json()), Ok(json));
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Payload::parse(&bytes);
    }

    #[test]
    fn escapes_are_go_like(s in any::<String>()) {
        let p = base(&s, "d");
        let json = p.to_canonical_json();
        let text = String::from_utf8(json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        let (ls, ps) = ('\u{2028}', '\u{2029}');
        prop_assert!(!text.contains(ls) && !text.contains(ps));
        prop_assert!(!text.bytes().any(|b| b < 0x20));
    }
}

#[test]
fn rejects_duplicate_in_optional() {
    let text = br#"{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"d"},"type":"atomic container signature"},"optional":{"x":1,"x":1}}"#;
    assert!(matches!(
        Payload::parse(text),
        Err(PayloadError::DuplicateKey { .. })
    ));
}
