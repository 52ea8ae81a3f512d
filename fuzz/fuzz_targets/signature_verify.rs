//! Fuzz signature verification of arbitrary bytes against the fixture keys
//! (and the storage classification and untrusted dump): no panics, bounded
//! memory, and nothing unsigned ever verifies.

#![no_main]

use std::sync::OnceLock;

use imprimatur::signature::{TrustedKeys, Verifier, classify_stored_blob, untrusted_dump};
use libfuzzer_sys::fuzz_target;

static KEYS: OnceLock<TrustedKeys> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let keys = KEYS.get_or_init(|| {
        TrustedKeys::from_bytes(include_bytes!(
            "../../tests/data/containers-image/pubring.gpg"
        ))
        .expect("fixture keyring")
    });
    let _ = classify_stored_blob(data);
    let _ = untrusted_dump(data);
    if let Ok(v) = Verifier::new(keys).verify(data) {
        // Only the fixture keys can have made it.
        assert!(keys.primary_fingerprints().contains(&v.primary));
    }
    let _ = TrustedKeys::from_bytes(data);
});
