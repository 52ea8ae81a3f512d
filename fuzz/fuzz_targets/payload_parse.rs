//! Fuzz the strict signature payload parser: no panics, and every accepted
//! payload round-trips through its canonical serialization.

#![no_main]

use imprimatur::signature::Payload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Payload::parse(data) {
        let canonical = p.to_canonical_json();
        let again = Payload::parse(&canonical).expect("canonical output parses");
        assert_eq!(again.to_canonical_json(), canonical);
        assert_eq!(again.docker_reference, p.docker_reference);
        assert_eq!(again.docker_manifest_digest, p.docker_manifest_digest);
        assert_eq!(again.timestamp, p.timestamp);
        assert_eq!(again.creator, p.creator);
    }
});
