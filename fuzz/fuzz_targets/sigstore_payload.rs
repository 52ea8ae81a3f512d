//! Fuzz the strict cosign payload parser: no panics, and every accepted
//! payload round-trips through the Go-compatible serialization.

#![no_main]

use imprimatur::sigstore::SigstorePayload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = SigstorePayload::parse(data) {
        let json = p.to_json();
        let again = SigstorePayload::parse(&json).expect("serialized payload parses");
        assert_eq!(again, p);
        assert_eq!(again.to_json(), json);
    }
});
